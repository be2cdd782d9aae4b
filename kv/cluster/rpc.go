package cluster

import (
	"context"
	"encoding/json"
	"fmt"
)

// rpcRequest is the payload of cluster.join and cluster.state.
type rpcRequest struct {
	Hops  int        `json:"hops,omitempty"`
	Node  storedNode `json:"node,omitzero"`
	ID    string     `json:"id,omitempty"`
	State NodeState  `json:"state,omitempty"`
	// From, when set, makes the move conditional: it happens only while
	// the node is still in From (see Transition).
	From NodeState `json:"from,omitempty"`
	// Force takes a node to Left from any state (Remove): a dead node
	// cannot hand its ranges off, so the survivors re-replicate them.
	Force bool `json:"force,omitempty"`
	// Fresh and Replace: see Config.
	Fresh   bool `json:"fresh,omitempty"`
	Replace bool `json:"replace,omitempty"`
	// Unhealthy is cluster.health's value.
	Unhealthy bool `json:"unhealthy,omitempty"`
}

// rpcReply carries a cluster error as a code, so errors.Is works on the
// caller's side (the transport only maps kv sentinels).
type rpcReply struct {
	Code string `json:"code,omitempty"`
	Err  string `json:"err,omitempty"`
}

func encodeReply(err error) []byte {
	if err == nil {
		return []byte("{}")
	}
	b, _ := json.Marshal(rpcReply{Code: wireCode(err), Err: err.Error()})
	return b
}

func decodeReply(b []byte) error {
	var r rpcReply
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("cluster: bad reply: %w", err)
	}
	if r.Code == "" {
		return nil
	}
	if s := wireErrors.Err(r.Code); s != nil {
		return fmt.Errorf("%w (remote: %s)", s, r.Err)
	}
	return fmt.Errorf("cluster: remote: %s", r.Err)
}

func (c *Cluster) registerHandlers() {
	t := c.cfg.Transport
	t.Handle(methodJoin, func(ctx context.Context, _ string, b []byte) ([]byte, error) {
		var req rpcRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("cluster: bad join request: %w", err)
		}
		return encodeReply(c.join(ctx, req)), nil
	})
	t.Handle(methodState, func(ctx context.Context, _ string, b []byte) ([]byte, error) {
		var req rpcRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("cluster: bad state request: %w", err)
		}
		return encodeReply(c.setState(ctx, req)), nil
	})
	t.Handle(methodHealth, func(ctx context.Context, _ string, b []byte) ([]byte, error) {
		var req rpcRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("cluster: bad health request: %w", err)
		}
		return encodeReply(c.setHealth(ctx, req)), nil
	})
	t.Handle(methodRebuild, func(ctx context.Context, _ string, b []byte) ([]byte, error) {
		var req rpcRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("cluster: bad rebuild request: %w", err)
		}
		return encodeReply(c.rebuild(ctx, req)), nil
	})
	t.Handle(methodPing, func(_ context.Context, _ string, b []byte) ([]byte, error) {
		if c.closed.Load() {
			return nil, ErrClosed
		}
		// The pinger names whom it expects: another node now listening on
		// a dead member's address must not keep that member alive.
		if string(b) != c.cfg.NodeID {
			return nil, fmt.Errorf("cluster: ping for %q reached %q", b, c.cfg.NodeID)
		}
		if c.cfg.Report == nil {
			return []byte(c.cfg.NodeID), nil
		}
		return append([]byte(c.cfg.NodeID+"\n"), c.cfg.Report()...), nil
	})
}
