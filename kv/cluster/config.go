package cluster

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"

	"github.com/grafo/grafo/kv/transport"
)

// NodeState is a member's place in the ring's life cycle.
type NodeState string

const (
	// Joining: in the write ring (receives new writes for its future
	// ranges) but not yet in the read ring; its data is streaming in.
	Joining NodeState = "joining"
	// Up: a full owner.
	Up NodeState = "up"
	// Leaving: still in the read ring while it hands its ranges off, no
	// longer in the write ring.
	Leaving NodeState = "leaving"
	// Left: gone; removed from the state and from the raft configuration.
	Left NodeState = "left"
	// Down is only reported, from heartbeats; never stored in raft.
	Down NodeState = "down"
	// Unhealthy is only reported: an Up member that flagged its own engine
	// as failing (Node.Unhealthy). Coordinators treat it as down.
	Unhealthy NodeState = "unhealthy"
)

// Node is one member.
type Node struct {
	ID      string
	HTTP    string // public API address
	Cluster string // transport (and raft) address
	Weight  int
	State   NodeState
	Voter   bool
	// Rebuilding: a Joining member that holds its tokens in both rings
	// while it rebuilds data it lost (a replacement, or a wiped disk).
	Rebuilding bool
	// Unhealthy: the member reported its engine failing.
	Unhealthy bool
	// LastContact is the last heartbeat answer seen by this node; not raft.
	LastContact time.Time
}

// State is a consistent snapshot of the membership.
type State struct {
	Nodes       []Node // sorted by ID, excludes Left
	Replicas    int
	WriteQuorum int
	ReadQuorum  int
	VNodes      int
	Leader      string // node id, empty while there is none
	Index       uint64 // raft index of the last applied change
}

// Config configures Open.
type Config struct {
	NodeID      string // required, unique
	Dir         string // required; raft state lives in Dir/raft
	HTTPAddr    string // public address, recorded in the node's entry
	ClusterAddr string // transport address; empty = Transport.Addr()

	// Settings, proposed at bootstrap only (a joining node takes the
	// cluster's). Weight is this node's: 0 = 1.
	Weight      int
	VNodes      int // 0 = 128
	Replicas    int // 0 = 3
	WriteQuorum int // 0 = Replicas/2+1
	ReadQuorum  int // 0 = Replicas/2+1

	// Fresh says this node's data directory held no data at start. A
	// member the cluster already knows then rejoins as Joining with its
	// tokens kept (Node.Rebuilding) and serves nothing until it has
	// rebuilt its ranges, instead of answering as a full replica.
	Fresh bool
	// Replace makes the join a replacement of a dead member of the same
	// NodeID at a new address: refused (ErrNodeAlive) while heartbeats see
	// that member up, and (ErrUnknownNode) when there is no such member.
	// Implies Fresh.
	Replace bool

	// Join lists cluster addresses of any members. Empty = bootstrap a new
	// cluster, unless Dir already holds raft state: then just restart.
	Join []string
	// ResolveJoin, when set, turns Join into cluster addresses before every
	// join attempt (a member's public address answers only once it is up,
	// and it names the members' cluster addresses). Nil uses Join as given.
	ResolveJoin func(ctx context.Context) []string
	// JoinFailed, when set, is told the cause of every failed join attempt
	// while Open waits (the node answers its public routes with it). Nil =
	// only logged.
	JoinFailed func(err error)

	// Transport carries join/state forwarding and heartbeats. Required.
	Transport transport.Transport
	// Raft is the stream layer raft rides on, from (*transport.TCP).RaftLayer().
	Raft raft.StreamLayer
	// RaftTransport, if set, is used instead of Raft (e.g.
	// raft.NewInmemTransport). Its address must equal the node's
	// ClusterAddr: members are added to raft at their cluster address.
	RaftTransport raft.Transport

	Heartbeat time.Duration // 0 = 1s; 5 misses in a row = Down
	// Report, when set, is what this node says about itself in every
	// heartbeat answer (its load, for the autoscaler); Reports collects
	// the members' latest. At most 4 KiB; opaque to the cluster.
	Report    func() []byte
	MaxVoters int          // 0 = 5; later nodes join as non-voters
	Logger    *slog.Logger // nil = discard
}

// DefaultConfig returns the defaults; NodeID, Dir and Transport must still
// be set.
func DefaultConfig() Config {
	return Config{
		Weight: 1, VNodes: 128, Replicas: 3,
		Heartbeat: time.Second, MaxVoters: 5,
	}
}

// withDefaults fills zero values.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.Weight = cmp.Or(c.Weight, d.Weight)
	c.VNodes = cmp.Or(c.VNodes, d.VNodes)
	c.Replicas = cmp.Or(c.Replicas, d.Replicas)
	c.WriteQuorum = cmp.Or(c.WriteQuorum, c.Replicas/2+1)
	c.ReadQuorum = cmp.Or(c.ReadQuorum, c.Replicas/2+1)
	c.Heartbeat = cmp.Or(c.Heartbeat, d.Heartbeat)
	c.MaxVoters = cmp.Or(c.MaxVoters, d.MaxVoters)
	if c.ClusterAddr == "" && c.Transport != nil {
		c.ClusterAddr = c.Transport.Addr()
	}
	return c
}

// Validate reports a config Open cannot use (zero values count as their
// defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.NodeID == "":
		return fmt.Errorf("%w: empty NodeID", ErrInvalidConfig)
	case c.Dir == "":
		return fmt.Errorf("%w: empty Dir", ErrInvalidConfig)
	case c.Transport == nil:
		return fmt.Errorf("%w: nil Transport", ErrInvalidConfig)
	case c.Raft == nil && c.RaftTransport == nil:
		return fmt.Errorf("%w: neither Raft nor RaftTransport set", ErrInvalidConfig)
	case c.Weight < 0 || c.VNodes < 0 || c.Replicas < 0:
		return fmt.Errorf("%w: negative Weight, VNodes or Replicas", ErrInvalidConfig)
	case c.WriteQuorum < 1 || c.WriteQuorum > c.Replicas:
		return fmt.Errorf("%w: WriteQuorum %d outside 1..%d", ErrInvalidConfig, c.WriteQuorum, c.Replicas)
	case c.ReadQuorum < 1 || c.ReadQuorum > c.Replicas:
		return fmt.Errorf("%w: ReadQuorum %d outside 1..%d", ErrInvalidConfig, c.ReadQuorum, c.Replicas)
	case c.Heartbeat < 0:
		return fmt.Errorf("%w: negative Heartbeat", ErrInvalidConfig)
	case c.MaxVoters < 1:
		return fmt.Errorf("%w: MaxVoters %d < 1", ErrInvalidConfig, c.MaxVoters)
	}
	return nil
}
