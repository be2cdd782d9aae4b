package replica

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/ring"
	"github.com/grafo/grafo/kv/transport"
)

// Local is what the coordinator needs of this node's storage engine.
type Local interface {
	Apply(ctx context.Context, entries ...kv.Entry) ([]bool, error)
	GetMany(ctx context.Context, keys [][]byte) ([]kv.Cell, error)
	// Versions is GetMany with versions and tombstone flags alone, for
	// digest reads (digest.go).
	Versions(ctx context.Context, keys [][]byte) ([]kv.Cell, error)
	Scan(ctx context.Context, prefix, after []byte, limit int, fn func(kv.Entry) bool) error
	ForEach(ctx context.Context, fn func(kv.Entry) bool) error
}

// Membership is what the coordinator needs to know of the cluster.
type Membership interface {
	// Rings returns the ring of current owners (reads, quorums) and of
	// future owners (writes also go there while ranges move).
	Rings() (read, write *ring.Ring)
	// Addr returns the cluster address of node id.
	Addr(id string) (string, bool)
	// Alive reports whether id answers heartbeats; coordinators skip nodes
	// that do not.
	Alive(id string) bool
	// Settings returns N and the default W and R.
	Settings() (n, w, r int)
}

// Knobs are testing hooks; nil in production.
type Knobs struct {
	// BrokenQuorumReads makes reads wait for a single answer whatever the
	// requested consistency, and skip linearizable write-back: a
	// deliberately broken store that the nemesis checker must catch.
	BrokenQuorumReads bool
}

// Config configures a Coordinator.
type Config struct {
	NodeID    string              // this node's id; required
	Local     Local               // this node's engine; required
	Transport transport.Transport // node-to-node RPC; required
	Members   Membership          // ring and liveness; required
	Clock     *kv.Clock           // nil: a new clock for NodeID
	// Timeout bounds each replica call, including the background
	// completion of calls the client did not wait for. 0 means 5s.
	Timeout time.Duration
	// Hints receives writes meant for replicas that are down (hinted
	// handoff). Nil means none are kept.
	Hints HintStore
	// MaxClockSkew bounds how far ahead of this node's wall clock a
	// version from a peer may be; entries further ahead are refused
	// (ErrVersionAhead). 0 means DefaultMaxClockSkew.
	MaxClockSkew time.Duration
	Logger       *slog.Logger
	Knobs        *Knobs
}

// DefaultMaxClockSkew is Config.MaxClockSkew's default.
const DefaultMaxClockSkew = time.Minute

// ErrVersionAhead is returned (to the peer that sent them) for entries
// whose version is more than Config.MaxClockSkew ahead of this node's
// clock.
var ErrVersionAhead = errors.New("replica: version too far ahead")

// HintStore keeps writes for replicas that could not take them.
type HintStore interface {
	Add(ctx context.Context, node string, entries []kv.Entry) error
}

// Coordinator implements kv.Store over the cluster.
type Coordinator struct {
	cfg     Config
	self    string
	clock   *kv.Clock
	log     *slog.Logger
	timeout time.Duration
	maxSkew time.Duration
	metrics *Metrics
	bg      sync.WaitGroup
	peers   sync.Map // node id → *peerQueues (batch.go)
	// readLatency times remote replica reads for speculation (speculate.go).
	readLatency latencies
}

var _ kv.Store = (*Coordinator)(nil)

// New returns a coordinator and registers the replica RPC handlers on the
// transport.
func New(cfg Config) (*Coordinator, error) {
	if cfg.NodeID == "" || cfg.Local == nil || cfg.Transport == nil || cfg.Members == nil {
		return nil, errors.New("replica: NodeID, Local, Transport and Members are required")
	}
	c := &Coordinator{cfg: cfg, self: cfg.NodeID, clock: cfg.Clock, log: cfg.Logger, timeout: cfg.Timeout, metrics: newMetrics()}
	if c.clock == nil {
		c.clock = kv.NewClock(cfg.NodeID)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.timeout <= 0 {
		c.timeout = 5 * time.Second
	}
	c.maxSkew = cfg.MaxClockSkew
	if c.maxSkew <= 0 {
		c.maxSkew = DefaultMaxClockSkew
	}
	c.registerHandlers()
	return c, nil
}

// Metrics returns the coordinator's Prometheus metrics.
func (c *Coordinator) Metrics() *Metrics { return c.metrics }

// Clock returns the node's hybrid logical clock.
func (c *Coordinator) Clock() *kv.Clock { return c.clock }

// Wait blocks until background replica calls (late acks, read repairs)
// have finished; used on shutdown and by tests.
func (c *Coordinator) Wait() { c.bg.Wait() }

// replicaSet is the replicas of one partition: owners count toward
// quorums; extras are future owners that also get writes.
type replicaSet struct {
	owners []string
	extras []string
}

func (rs replicaSet) id() string {
	return strings.Join(rs.owners, ",") + "|" + strings.Join(rs.extras, ",")
}

func (c *Coordinator) replicasFor(partition []byte) replicaSet {
	read, write := c.cfg.Members.Rings()
	n, _, _ := c.cfg.Members.Settings()
	var rs replicaSet
	if read != nil {
		rs.owners = read.Preference(partition, n)
	}
	if write != nil && write != read {
		for _, id := range write.Preference(partition, n) {
			if !contains(rs.owners, id) {
				rs.extras = append(rs.extras, id)
			}
		}
	}
	return rs
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (c *Coordinator) need(write bool, o kv.Options, n int) (int, error) {
	maxN, w, r := c.cfg.Members.Settings()
	need, err := o.Need(write, n, maxN, w, r)
	if err != nil {
		return 0, err
	}
	if !write && c.cfg.Knobs != nil && c.cfg.Knobs.BrokenQuorumReads {
		need = 1
	}
	return need, nil
}

// ordered reports whether a request gets the guarantees of the quorum
// level (see the package doc): writes ordered across coordinators by the
// replicas' refusals, reads that write a disagreement back before
// answering. It takes a majority: explicit W/R and the one and all levels
// keep their plain behaviour. Linearizable writes are ABD writes (they
// read versions first); its reads write back too.
func (c *Coordinator) ordered(o kv.Options, write bool, need, n int) bool {
	if !write && c.cfg.Knobs != nil && c.cfg.Knobs.BrokenQuorumReads {
		return false
	}
	explicit := o.R
	if write {
		explicit = o.W
	}
	if explicit != 0 || need*2 <= n {
		return false
	}
	switch o.Level {
	case kv.Quorum, kv.Default:
		return true
	case kv.Linearizable:
		return !write
	}
	return false
}

type group struct {
	rs   replicaSet
	idxs []int
}

func (c *Coordinator) groupKeys(keys func(i int) []byte, n int) []*group {
	if n == 1 { // most requests: no map, no replica-set id to build
		return []*group{{rs: c.replicasFor(kv.Partition(keys(0))), idxs: []int{0}}}
	}
	byID := map[string]*group{}
	var order []*group
	for i := 0; i < n; i++ {
		rs := c.replicasFor(kv.Partition(keys(i)))
		id := rs.id()
		g := byID[id]
		if g == nil {
			g = &group{rs: rs}
			byID[id] = g
			order = append(order, g)
		}
		g.idxs = append(g.idxs, i)
	}
	return order
}

// pick returns xs[i] for each i of idxs, in that order.
func pick[T any](xs []T, idxs []int) []T {
	out := make([]T, len(idxs))
	for j, i := range idxs {
		out[j] = xs[i]
	}
	return out
}
