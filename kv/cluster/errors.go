package cluster

import (
	"errors"

	"github.com/grafo/grafo/kv"
)

var (
	// ErrInvalidConfig is wrapped by Config.Validate.
	ErrInvalidConfig = errors.New("cluster: invalid config")
	// ErrInvalidNode is returned by Join for a node without id or address.
	ErrInvalidNode = errors.New("cluster: invalid node")
	// ErrUnknownNode is returned by SetState for an id that is not a member.
	ErrUnknownNode = errors.New("cluster: unknown node")
	// ErrBadTransition is returned by SetState for a move the node state
	// machine does not allow (e.g. Left→Up, or storing Down).
	ErrBadTransition = errors.New("cluster: state transition not allowed")
	// ErrNotLeader is returned when a forwarded change reaches a node that
	// is no longer the leader; callers retry.
	ErrNotLeader = errors.New("cluster: not the leader")
	// ErrNodeAlive is returned by a replacing join (Config.Replace) while
	// heartbeats still see the member it would replace.
	ErrNodeAlive = errors.New("cluster: node is up")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("cluster: closed")
)

// Wire codes of the errors above, for forwarded changes.
var wireErrors = kv.Codes[string]{
	{Code: "invalid", Err: ErrInvalidNode},
	{Code: "unknown", Err: ErrUnknownNode},
	{Code: "transition", Err: ErrBadTransition},
	{Code: "not_leader", Err: ErrNotLeader},
	{Code: "closed", Err: ErrClosed},
	{Code: "alive", Err: ErrNodeAlive},
}

func wireCode(err error) string {
	if c, ok := wireErrors.Code(err); ok {
		return c
	}
	return "error"
}
