package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
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

// maxWriteAttempts bounds the re-versioned retries of one write whose
// every replica held a newer version.
const maxWriteAttempts = 4

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
	peers   sync.Map // node id → *peerQueue (batch.go)
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

// Put implements kv.Store.
func (c *Coordinator) Put(ctx context.Context, key, value []byte, o kv.Options) (kv.Version, error) {
	if err := kv.CheckPair(key, value); err != nil {
		return kv.Version{}, err
	}
	if err := c.observeQuorum(ctx, [][]byte{key}, o); err != nil {
		return kv.Version{}, err
	}
	es := []kv.Entry{{Key: key, Cell: kv.Cell{Value: value, Version: c.clock.Now()}}}
	err := c.write(ctx, es, o)
	return es[0].Cell.Version, err
}

// Delete implements kv.Store.
func (c *Coordinator) Delete(ctx context.Context, key []byte, o kv.Options) (kv.Version, error) {
	if err := kv.CheckPair(key, nil); err != nil {
		return kv.Version{}, err
	}
	if err := c.observeQuorum(ctx, [][]byte{key}, o); err != nil {
		return kv.Version{}, err
	}
	es := []kv.Entry{{Key: key, Cell: kv.Cell{Version: c.clock.Now(), Tombstone: true}}}
	err := c.write(ctx, es, o)
	return es[0].Cell.Version, err
}

// Write implements kv.Store.
func (c *Coordinator) Write(ctx context.Context, writes []kv.Write, o kv.Options) error {
	es := make([]kv.Entry, len(writes))
	keys := make([][]byte, len(writes))
	for i, w := range writes {
		if err := kv.CheckPair(w.Key, w.Value); err != nil {
			return fmt.Errorf("write %d: %w", i, err)
		}
		keys[i] = w.Key
	}
	if err := c.observeQuorum(ctx, keys, o); err != nil {
		return err
	}
	for i, w := range writes {
		es[i] = kv.Entry{Key: w.Key, Cell: kv.Cell{Value: w.Value, Version: c.clock.Now(), Tombstone: w.Delete}}
	}
	return c.write(ctx, es, o)
}

// observeQuorum is the first phase of an ABD write at the linearizable
// level: it reads the keys' versions from a quorum and moves the clock past
// them, so the write's version is newer than every write that completed
// before it started, whichever node coordinated that one (without it, two
// coordinators writing in the same millisecond could order a later write
// before an earlier one). Other levels skip it.
func (c *Coordinator) observeQuorum(ctx context.Context, keys [][]byte, o kv.Options) error {
	if o.Level != kv.Linearizable || len(keys) == 0 {
		return nil
	}
	for _, g := range c.groupKeys(func(i int) []byte { return keys[i] }, len(keys)) {
		gk := make([][]byte, len(g.idxs))
		for j, i := range g.idxs {
			gk[j] = keys[i]
		}
		cells, err := c.readGroup(ctx, g.rs, gk, kv.Options{Level: kv.Quorum})
		if err != nil {
			return err
		}
		for _, cl := range cells {
			c.clock.Observe(cl.Version)
		}
	}
	return nil
}

// Replicate applies entries that already carry their versions (repairs,
// hints, rebalancing, anti-entropy) at the given consistency.
func (c *Coordinator) Replicate(ctx context.Context, es []kv.Entry, o kv.Options) error {
	return c.write(ctx, es, o)
}

type group struct {
	rs   replicaSet
	idxs []int
}

func (c *Coordinator) groupKeys(keys func(i int) []byte, n int) []*group {
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

func (c *Coordinator) write(ctx context.Context, es []kv.Entry, o kv.Options) error {
	if len(es) == 0 {
		return nil
	}
	start := time.Now()
	groups := c.groupKeys(func(i int) []byte { return es[i].Key }, len(es))
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for gi, g := range groups {
		part := make([]kv.Entry, len(g.idxs))
		for j, i := range g.idxs {
			part[j] = es[i]
		}
		run := func() {
			errs[gi] = c.writeGroup(ctx, g.rs, part, o)
			// A retried write has a new version: the caller reports it.
			for j, i := range g.idxs {
				es[i].Cell.Version = part[j].Cell.Version
			}
		}
		if len(groups) == 1 {
			run()
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run()
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	c.metrics.observe("write", start, err)
	return err
}

// answer is one replica's reply to a fan-out.
type answer struct {
	node  string
	err   error
	cells []kv.Cell
	ents  []kv.Entry
	res   []applyResult
	more  bool
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

func (c *Coordinator) writeGroup(ctx context.Context, rs replicaSet, es []kv.Entry, o kv.Options) error {
	need, err := c.need(true, o, len(rs.owners))
	if err != nil {
		return err
	}
	if c.localOnly(rs, need) {
		// The only replica is this node's engine: no fan-out to set up.
		if _, err := c.cfg.Local.Apply(ctx, es...); err != nil {
			return fmt.Errorf("%w: quorum not reached: 0 of 1 required acks (replicas: %s %s)", kv.ErrUnavailable, c.self, describe(err))
		}
		return nil
	}
	ordered := c.ordered(o, true, need, len(rs.owners))
	cur := es
	idx := make([]int, len(es)) // cur[j] is es[idx[j]]
	for i := range idx {
		idx[i] = i
	}
	for attempt := 1; ; attempt++ {
		retry, err := c.writeAttempt(ctx, rs, cur, o, need, ordered)
		if err != nil || len(retry) == 0 {
			return err
		}
		if attempt == maxWriteAttempts {
			return fmt.Errorf("%w: write refused %d times: replicas hold newer versions", kv.ErrUnavailable, attempt)
		}
		// Every replica refused these entries, so they are stored nowhere:
		// give them versions above what the replicas hold and send again.
		next := make([]kv.Entry, len(retry))
		nidx := make([]int, len(retry))
		for j, r := range retry {
			c.clock.Observe(r.held)
			e := &es[idx[r.i]]
			e.Cell.Version = c.clock.Now()
			next[j], nidx[j] = *e, idx[r.i]
		}
		c.metrics.writeRetries.Add(float64(len(retry)))
		cur, idx = next, nidx
	}
}

// retryEntry is an entry of a write attempt that every replica refused,
// with the newest version they hold.
type retryEntry struct {
	i    int
	held kv.Version
}

// writeAttempt sends es to the replicas and waits for need acks per entry.
// Unordered writes count every answer as an ack (a replica that holds a
// newer version has no use for the write). Ordered writes count only
// replicas that took the entry's version; an entry that a replica refused
// is settled
//
//   - acknowledged, if need owners took it;
//   - acknowledged as superseded, if it landed on at least one replica and
//     need owners answered: a concurrent newer write won, no extra round
//     trip (see the package doc for why it is not retried);
//   - returned for a retry, if every replica answered and refused it, so
//     that it is stored nowhere.
func (c *Coordinator) writeAttempt(ctx context.Context, rs replicaSet, es []kv.Entry, o kv.Options, need int, ordered bool) ([]retryEntry, error) {
	status := make(map[string]string, len(rs.owners))
	ch := make(chan answer, len(rs.owners)+len(rs.extras))
	bctx, cancel := c.detached(ctx)
	sent := 0
	var down []string
	for _, id := range append(append([]string(nil), rs.owners...), rs.extras...) {
		if !c.cfg.Members.Alive(id) {
			status[id] = "down"
			down = append(down, id)
			continue
		}
		sent++
		c.bg.Add(1)
		go func() {
			defer c.bg.Done()
			res, err := c.applyCoalesced(bctx, id, es)
			if err == nil && len(res) != len(es) {
				err = errBadMessage
			}
			ch <- answer{node: id, err: err, res: res}
		}()
	}
	owner := func(id string) bool { return contains(rs.owners, id) }
	hinted := 0
	// An ordered write may be re-versioned: down replicas get a hint of
	// its final version only (after the attempt), so a hint never delivers
	// an attempt that was retried. Sloppy writes count hints toward W, and
	// get them now.
	hintNow := !ordered || o.Sloppy
	if hintNow && len(down) > 0 && c.cfg.Hints != nil {
		for _, id := range down {
			if err := c.cfg.Hints.Add(ctx, id, es); err == nil && o.Sloppy && owner(id) {
				hinted++
			}
		}
	}
	// A replica that fails gets a hint, whether it failed before or after
	// the client was answered (late failures are hinted in the background).
	hint := func(ctx context.Context, a answer) bool {
		if c.cfg.Hints == nil {
			return false
		}
		return c.cfg.Hints.Add(ctx, a.node, es) == nil && o.Sloppy && owner(a.node)
	}
	lateFail := func(a answer) {
		if a.err != nil {
			hint(context.Background(), a)
		}
	}
	acc := make([]int, len(es)) // owners holding the entry's version
	ref := make([]int, len(es)) // owners holding a newer one
	landed := make([]bool, len(es))
	held := make([]kv.Version, len(es))
	acks := func(i int) int {
		if ordered {
			return acc[i] + hinted
		}
		return acc[i] + ref[i] + hinted
	}
	settled := func() bool {
		for i := range es {
			if a := acks(i); a < need && !(ordered && landed[i] && a+ref[i] >= need) {
				return false
			}
		}
		return true
	}
	got, failed := 0, 0
	var ctxErr error
wait:
	for got < sent && !settled() {
		select {
		case a := <-ch:
			got++
			if a.err != nil {
				failed++
				status[a.node] = describe(a.err)
				if hint(ctx, a) {
					hinted++
				}
				continue
			}
			status[a.node] = "ok"
			for i, r := range a.res {
				if r.accepted() {
					landed[i] = true
					if owner(a.node) {
						acc[i]++
					}
					continue
				}
				if ordered {
					c.metrics.refusals.Inc()
				}
				if owner(a.node) {
					ref[i]++
				}
				if r.Held.Newer(held[i]) {
					held[i] = r.Held
				}
			}
		case <-ctx.Done():
			ctxErr = ctx.Err()
			break wait
		}
	}
	c.finish(ch, sent-got, cancel, lateFail)
	allRefused := got == sent && failed == 0
	var retry []retryEntry
	final := es
	short, shortAcks := 0, 0
	for i := range es {
		a := acks(i)
		switch {
		case a >= need:
			continue
		case !ordered || a+ref[i] < need:
			if short == 0 || a < shortAcks {
				shortAcks = a
			}
			short++
			continue
		case !landed[i] && allRefused:
			retry = append(retry, retryEntry{i: i, held: held[i]})
		default:
			c.metrics.superseded.Inc()
		}
	}
	retry = c.dropOverwritten(es, retry)
	if !hintNow && len(down) > 0 && c.cfg.Hints != nil {
		if len(retry) > 0 {
			final = make([]kv.Entry, 0, len(es)-len(retry))
			r := 0
			for i, e := range es {
				if r < len(retry) && retry[r].i == i {
					r++
					continue
				}
				final = append(final, e)
			}
		}
		if len(final) > 0 {
			hctx := context.WithoutCancel(ctx)
			for _, id := range down {
				c.cfg.Hints.Add(hctx, id, final)
			}
		}
	}
	if short == 0 {
		return retry, nil
	}
	if ctxErr != nil {
		return nil, fmt.Errorf("%w: quorum not reached: %d of %d required acks before %v (replicas: %s)",
			kv.ErrUnavailable, shortAcks, need, ctxErr, statusLine(rs.owners, status))
	}
	return nil, fmt.Errorf("%w: quorum not reached: %d of %d required acks (replicas: %s)%s",
		kv.ErrUnavailable, shortAcks, need, statusLine(rs.owners, status), c.beyondReplicas(need, len(rs.owners)))
}

// beyondReplicas explains a quorum larger than the replicas the key has
// (w=2 on a single node): the configured N, W and R are capped by the
// membership, so it names the effective values. Empty otherwise.
func (c *Coordinator) beyondReplicas(need, owners int) string {
	if need <= owners {
		return ""
	}
	n, w, r := c.cfg.Members.Settings()
	n = min(n, owners)
	return fmt.Sprintf("; the key has %d replica(s) with the current membership: effective N=%d W=%d R=%d", owners, n, min(max(w, 1), n), min(max(r, 1), n))
}

// dropOverwritten removes from retry the entries that a later entry of the
// same batch writes again: their refusal may come from that entry (it is
// newer), and retrying them would put the older value on top.
func (c *Coordinator) dropOverwritten(es []kv.Entry, retry []retryEntry) []retryEntry {
	if len(retry) == 0 || len(es) == 1 {
		return retry
	}
	last := make(map[string]int, len(es))
	for i, e := range es {
		last[string(e.Key)] = i
	}
	out := retry[:0]
	for _, r := range retry {
		if last[string(es[r.i].Key)] == r.i {
			out = append(out, r)
		} else {
			c.metrics.superseded.Inc()
		}
	}
	return out
}

// detached returns a context for replica calls that outlive the client's
// request: late replicas still complete (bounded by the timeout).
func (c *Coordinator) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
}

// finish drains the remaining answers in the background, passing each to
// late, and then releases the detached context.
func (c *Coordinator) finish(ch chan answer, pending int, cancel context.CancelFunc, late func(answer)) {
	if pending == 0 {
		cancel()
		return
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer cancel()
		for i := 0; i < pending; i++ {
			late(<-ch)
		}
	}()
}

// localOnly reports whether this node's engine is the one and only
// replica of a request that needs one answer: a single node, or N=1 with
// the key on this node.
func (c *Coordinator) localOnly(rs replicaSet, need int) bool {
	return need == 1 && len(rs.owners) == 1 && len(rs.extras) == 0 && rs.owners[0] == c.self
}

func describe(err error) string {
	switch {
	case errors.Is(err, transport.ErrUnreachable):
		return "down"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "error: " + err.Error()
}

func statusLine(owners []string, status map[string]string) string {
	parts := make([]string, len(owners))
	for i, id := range owners {
		s := status[id]
		if s == "" {
			s = "no answer"
		}
		parts[i] = id + " " + s
	}
	return strings.Join(parts, ", ")
}

// Get implements kv.Store.
func (c *Coordinator) Get(ctx context.Context, key []byte, o kv.Options) (kv.Cell, error) {
	if len(kv.Partition(key)) == 0 {
		return kv.Cell{}, kv.ErrEmptyKey
	}
	cells, err := c.GetMany(ctx, [][]byte{key}, o)
	if err != nil {
		return kv.Cell{}, err
	}
	if !cells[0].Live() {
		return kv.Cell{}, kv.ErrNotFound
	}
	return cells[0], nil
}

// GetMany implements kv.Store.
func (c *Coordinator) GetMany(ctx context.Context, keys [][]byte, o kv.Options) ([]kv.Cell, error) {
	start := time.Now()
	out := make([]kv.Cell, len(keys))
	groups := c.groupKeys(func(i int) []byte { return keys[i] }, len(keys))
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for gi, g := range groups {
		gk := make([][]byte, len(g.idxs))
		for j, i := range g.idxs {
			gk[j] = keys[i]
		}
		run := func() {
			cells, err := c.readGroup(ctx, g.rs, gk, o)
			errs[gi] = err
			for j, i := range g.idxs {
				if err == nil {
					out[i] = cells[j]
				}
			}
		}
		if len(groups) == 1 {
			run()
			break
		}
		wg.Add(1)
		go func() { defer wg.Done(); run() }()
	}
	wg.Wait()
	err := errors.Join(errs...)
	c.metrics.observe("read", start, err)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if !out[i].Live() {
			out[i] = kv.Cell{}
		}
	}
	return out, nil
}

func (c *Coordinator) readGroup(ctx context.Context, rs replicaSet, keys [][]byte, o kv.Options) ([]kv.Cell, error) {
	need, err := c.need(false, o, len(rs.owners))
	if err != nil {
		return nil, err
	}
	if c.localOnly(rs, need) {
		// One replica, and it is ours: read it inline — no goroutine,
		// channel or repair to arrange (there is nothing to repair).
		cells, err := c.cfg.Local.GetMany(ctx, keys)
		if err != nil {
			return nil, fmt.Errorf("%w: quorum not reached: 0 of 1 required answers (replicas: %s %s)", kv.ErrUnavailable, c.self, describe(err))
		}
		return cells, nil
	}
	status := make(map[string]string, len(rs.owners))
	ch := make(chan answer, len(rs.owners))
	bctx, cancel := c.detached(ctx)
	sent := 0
	for _, id := range rs.owners {
		if !c.cfg.Members.Alive(id) {
			status[id] = "down"
			continue
		}
		sent++
		go func() {
			cells, err := c.getFrom(bctx, id, keys)
			ch <- answer{node: id, err: err, cells: cells}
		}()
	}
	var answers []answer
	got := 0
	for got < sent && len(answers) < need {
		select {
		case a := <-ch:
			got++
			if a.err != nil || len(a.cells) != len(keys) {
				if a.err == nil {
					a.err = errBadMessage
				}
				status[a.node] = describe(a.err)
				continue
			}
			status[a.node] = "ok"
			answers = append(answers, a)
		case <-ctx.Done():
			c.repairLater(ch, sent-got, answers, keys, cancel)
			return nil, fmt.Errorf("%w: quorum not reached: %d of %d required answers before %v (replicas: %s)",
				kv.ErrUnavailable, len(answers), need, ctx.Err(), statusLine(rs.owners, status))
		}
	}
	if len(answers) < need {
		cancel()
		return nil, fmt.Errorf("%w: quorum not reached: %d of %d required answers (replicas: %s)%s",
			kv.ErrUnavailable, len(answers), need, statusLine(rs.owners, status), c.beyondReplicas(need, len(rs.owners)))
	}
	newest := newestOf(answers, len(keys))
	if c.ordered(o, false, need, len(rs.owners)) {
		// Make sure a quorum holds what we are about to return, so no
		// later read can see an older value (ABD's second phase, taken
		// only when the answers disagree).
		if err := c.writeBack(ctx, answers, newest, keys, need); err != nil {
			cancel()
			return nil, err
		}
	}
	c.repairLater(ch, sent-got, answers, keys, cancel)
	return newest, nil
}

func newestOf(answers []answer, n int) []kv.Cell {
	out := make([]kv.Cell, n)
	for _, a := range answers {
		for i, cl := range a.cells {
			out[i] = kv.Newest(out[i], cl)
		}
	}
	return out
}

// stale returns the entries that replica a lacks relative to newest.
func stale(a answer, newest []kv.Cell, keys [][]byte) []kv.Entry {
	var es []kv.Entry
	for i, cl := range a.cells {
		if newest[i].Version.Newer(cl.Version) {
			es = append(es, kv.Entry{Key: keys[i], Cell: newest[i]})
		}
	}
	return es
}

// writeBack brings the stale replicas among answers up to newest and
// waits for them, so that need replicas hold newest (or newer: a replica
// that refuses holds a newer version, which serves as well) before the
// read answers. Replicas written back count as up to date for the
// background repair that follows.
func (c *Coordinator) writeBack(ctx context.Context, answers []answer, newest []kv.Cell, keys [][]byte, need int) error {
	upToDate := 0
	behind := make([][]kv.Entry, len(answers))
	for k, a := range answers {
		if behind[k] = stale(a, newest, keys); len(behind[k]) == 0 {
			upToDate++
		}
	}
	if upToDate == len(answers) {
		return nil
	}
	c.metrics.writeBacks.Inc()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	var repaired []int
	for k, a := range answers {
		es := behind[k]
		if len(es) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.applyResults(ctx, a.node, es)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				upToDate++
				repaired = append(repaired, k)
				c.metrics.repairs.Add(float64(len(es)))
			} else if firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	for _, k := range repaired {
		answers[k].cells = newest
	}
	if upToDate < need {
		return fmt.Errorf("%w: read write-back reached %d of %d replicas: %v", kv.ErrUnavailable, upToDate, need, firstErr)
	}
	return nil
}

// repairLater collects the answers still in flight and brings every replica
// that answered with an older version up to the newest one seen.
func (c *Coordinator) repairLater(ch chan answer, pending int, answers []answer, keys [][]byte, cancel context.CancelFunc) {
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer cancel()
		all := answers
		for i := 0; i < pending; i++ {
			if a := <-ch; a.err == nil && len(a.cells) == len(keys) {
				all = append(all, a)
			}
		}
		newest := newestOf(all, len(keys))
		for _, a := range all {
			if es := stale(a, newest, keys); len(es) > 0 {
				ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
				if err := c.applyTo(ctx, a.node, es); err == nil {
					c.metrics.repairs.Add(float64(len(es)))
				}
				cancel()
			}
		}
	}()
}

// Scan implements kv.Store. It asks R replicas of prefix's partition and
// merges their pages by newest version.
func (c *Coordinator) Scan(ctx context.Context, prefix, after []byte, limit int, o kv.Options) ([]kv.Entry, error) {
	if len(kv.Partition(prefix)) == 0 {
		return nil, kv.ErrEmptyKey
	}
	start := time.Now()
	rs := c.replicasFor(kv.Partition(prefix))
	need, err := c.need(false, o, len(rs.owners))
	if err != nil {
		return nil, err
	}
	var out []kv.Entry
	page := 1000
	if limit > 0 && limit+16 < page {
		page = limit + 16
	}
	for {
		ents, more, next, err := c.scanRound(ctx, rs, prefix, after, page, need)
		if err != nil {
			c.metrics.observe("scan", start, err)
			return nil, err
		}
		for _, e := range ents {
			if e.Cell.Live() {
				out = append(out, e)
				if limit > 0 && len(out) == limit {
					c.metrics.observe("scan", start, nil)
					return out, nil
				}
			}
		}
		if !more {
			break
		}
		after = next
	}
	c.metrics.observe("scan", start, nil)
	return out, nil
}

// scanRound gets one page from need replicas and merges it. When a replica
// hit its page limit, entries beyond its last key may be missing from its
// answer, so the merged page is cut at the smallest such last key.
func (c *Coordinator) scanRound(ctx context.Context, rs replicaSet, prefix, after []byte, page, need int) ([]kv.Entry, bool, []byte, error) {
	status := map[string]string{}
	ch := make(chan answer, len(rs.owners))
	sent := 0
	req := scanRequest{Prefix: prefix, After: after, Limit: page}
	for _, id := range rs.owners {
		if !c.cfg.Members.Alive(id) {
			status[id] = "down"
			continue
		}
		sent++
		go func() {
			cctx, cancel := context.WithTimeout(ctx, c.timeout)
			defer cancel()
			ents, more, err := c.scanFrom(cctx, id, req)
			ch <- answer{node: id, err: err, ents: ents, more: more}
		}()
	}
	var answers []answer
	for got := 0; got < sent && len(answers) < need; got++ {
		a := <-ch
		if a.err != nil {
			status[a.node] = describe(a.err)
			continue
		}
		status[a.node] = "ok"
		answers = append(answers, a)
	}
	if len(answers) < need {
		return nil, false, nil, fmt.Errorf("%w: quorum not reached: %d of %d required answers (replicas: %s)",
			kv.ErrUnavailable, len(answers), need, statusLine(rs.owners, status))
	}
	var cut []byte
	more := false
	for _, a := range answers {
		if a.more && len(a.ents) > 0 {
			last := a.ents[len(a.ents)-1].Key
			if cut == nil || bytes.Compare(last, cut) < 0 {
				cut = last
			}
			more = true
		}
	}
	merged := map[string]kv.Cell{}
	for _, a := range answers {
		for _, e := range a.ents {
			if cut != nil && bytes.Compare(e.Key, cut) > 0 {
				continue
			}
			merged[string(e.Key)] = kv.Newest(merged[string(e.Key)], e.Cell)
		}
	}
	out := make([]kv.Entry, 0, len(merged))
	for k, cl := range merged {
		out = append(out, kv.Entry{Key: []byte(k), Cell: cl})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out, more, cut, nil
}
