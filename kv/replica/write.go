package replica

import (
	"context"
	"fmt"
	"time"

	"github.com/grafo/grafo/kv"
)

// maxWriteAttempts bounds the re-versioned retries of one write whose
// every replica held a newer version.
const maxWriteAttempts = 4

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
		cells, err := c.readGroup(ctx, g.rs, pick(keys, g.idxs), kv.Options{Level: kv.Quorum})
		if err != nil {
			return err
		}
		for _, cl := range cells {
			c.clock.Observe(cl.Version)
		}
	}
	return nil
}

// write sends entries that carry their versions to their replicas, one
// replica set at a time in parallel. A retried entry gets a new version,
// which it reports back in es.
func (c *Coordinator) write(ctx context.Context, es []kv.Entry, o kv.Options) error {
	if len(es) == 0 {
		return nil
	}
	start := time.Now()
	groups := c.groupKeys(func(i int) []byte { return es[i].Key }, len(es))
	err := forGroups(groups, func(g *group) error {
		part := pick(es, g.idxs)
		err := c.writeGroup(ctx, g.rs, part, o)
		for j, i := range g.idxs {
			es[i].Cell.Version = part[j].Cell.Version
		}
		return err
	})
	c.metrics.observe("write", start, err)
	return err
}

func (c *Coordinator) writeGroup(ctx context.Context, rs replicaSet, es []kv.Entry, o kv.Options) error {
	need, err := c.need(true, o, len(rs.owners))
	if err != nil {
		return err
	}
	if c.localOnly(rs, need) {
		// The only replica is this node's engine: no fan-out to set up.
		if _, err := c.cfg.Local.Apply(ctx, es...); err != nil {
			return c.errLocalQuorum("acks", err)
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
	ids := append(append([]string(nil), rs.owners...), rs.extras...)
	f := fanOutAsync(c, ctx, outliveRequest, ids, func(ctx context.Context, id string) ([]applyResult, error) {
		res, err := c.applyCoalesced(ctx, id, es)
		if err == nil && len(res) != len(es) {
			err = errBadMessage
		}
		return res, err
	}, func(ctx context.Context, id string, deliver func([]applyResult, error)) bool {
		if id == c.self {
			return c.applyLocalAsync(ctx, es, deliver)
		}
		c.applyQueued(id, es, deliver) // the drainer checks each answer's length
		return true
	})
	var down []string
	for _, id := range ids {
		if f.status[id] == "down" {
			down = append(down, id)
		}
	}
	t := newWriteTally(len(es), need, ordered)
	// An ordered write may be re-versioned: down replicas get a hint of
	// its final version only (after the attempt, hintFinal), so a hint
	// never delivers an attempt that was retried. Sloppy writes count
	// hints toward W, and get them now.
	hintNow := !ordered || o.Sloppy
	if hintNow {
		for _, id := range down {
			if c.hint(ctx, rs, id, es, o) {
				t.hinted++
			}
		}
	}
	failed := 0
	var ctxErr error
	for !t.settled() {
		r, more, err := f.next(ctx)
		if err != nil || !more {
			ctxErr = err
			break
		}
		if r.err != nil {
			// A replica that fails gets a hint.
			failed++
			if c.hint(ctx, rs, r.node, es, o) {
				t.hinted++
			}
			continue
		}
		t.add(r.val, contains(rs.owners, r.node), c.metrics)
	}
	allRefused := f.pending() == 0 && failed == 0
	c.releaseWrite(f, rs, es, o)
	retry, short, shortAcks := t.outcome(allRefused, c.metrics)
	retry = c.dropOverwritten(es, retry)
	if !hintNow {
		c.hintFinal(ctx, down, es, retry)
	}
	if short == 0 {
		return retry, nil
	}
	return nil, fmt.Errorf("%w%s", errQuorum(shortAcks, need, "acks", ctxErr, f.statusLine(rs.owners)), c.beyondReplicas(need, len(rs.owners)))
}

// releaseWrite lets the replicas that have not answered complete in the
// background; those that fail after the client was answered get a hint
// too (in a goroutine: the answer may arrive on a peer's drainer).
func (c *Coordinator) releaseWrite(f *fanout[[]applyResult], rs replicaSet, es []kv.Entry, o kv.Options) {
	if f.pending() == 0 {
		f.release(nil)
		return
	}
	f.releaseEach(func(r reply[[]applyResult]) {
		if r.err == nil {
			return
		}
		c.bg.Add(1)
		go func() {
			defer c.bg.Done()
			c.hint(context.Background(), rs, r.node, es, o)
		}()
	})
}

// hint hands es to the hint store for node, and reports whether the hint
// counts toward W (a sloppy write, and node one of the owners).
func (c *Coordinator) hint(ctx context.Context, rs replicaSet, node string, es []kv.Entry, o kv.Options) bool {
	if c.cfg.Hints == nil {
		return false
	}
	return c.cfg.Hints.Add(ctx, node, es) == nil && o.Sloppy && contains(rs.owners, node)
}

// hintFinal hints to the down replicas the entries of an ordered attempt
// that are final: all but those about to be retried with a new version.
func (c *Coordinator) hintFinal(ctx context.Context, down []string, es []kv.Entry, retry []retryEntry) {
	if len(down) == 0 || c.cfg.Hints == nil {
		return
	}
	final := es
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
	if len(final) == 0 {
		return
	}
	hctx := context.WithoutCancel(ctx)
	for _, id := range down {
		c.cfg.Hints.Add(hctx, id, final)
	}
}

// writeTally counts, per entry of a write attempt, what the replicas did
// with it.
type writeTally struct {
	need    int
	ordered bool
	hinted  int          // hints that count toward W (sloppy writes)
	acc     []int        // owners holding the entry's version
	ref     []int        // owners holding a newer one
	landed  []bool       // some replica (owner or not) took the version
	held    []kv.Version // the newest version a refusing replica holds
}

func newWriteTally(n, need int, ordered bool) *writeTally {
	return &writeTally{need: need, ordered: ordered, acc: make([]int, n), ref: make([]int, n), landed: make([]bool, n), held: make([]kv.Version, n)}
}

// add counts one replica's results.
func (t *writeTally) add(res []applyResult, owner bool, m *Metrics) {
	for i, r := range res {
		if r.accepted() {
			t.landed[i] = true
			if owner {
				t.acc[i]++
			}
			continue
		}
		if t.ordered {
			m.refusals.Inc()
		}
		if owner {
			t.ref[i]++
		}
		if r.Held.Newer(t.held[i]) {
			t.held[i] = r.Held
		}
	}
}

func (t *writeTally) acks(i int) int {
	if t.ordered {
		return t.acc[i] + t.hinted
	}
	return t.acc[i] + t.ref[i] + t.hinted
}

// settled reports whether every entry is acknowledged, or (ordered)
// landed somewhere and answered by need owners.
func (t *writeTally) settled() bool {
	for i := range t.acc {
		if a := t.acks(i); a < t.need && !(t.ordered && t.landed[i] && a+t.ref[i] >= t.need) {
			return false
		}
	}
	return true
}

// outcome sorts the entries once the attempt is over: the ones to retry
// (refused by every replica, allRefused saying that each answered), and
// how many fell short of need, with the fewest acks among them.
func (t *writeTally) outcome(allRefused bool, m *Metrics) (retry []retryEntry, short, shortAcks int) {
	for i := range t.acc {
		a := t.acks(i)
		switch {
		case a >= t.need:
		case !t.ordered || a+t.ref[i] < t.need:
			if short == 0 || a < shortAcks {
				shortAcks = a
			}
			short++
		case !t.landed[i] && allRefused:
			retry = append(retry, retryEntry{i: i, held: t.held[i]})
		default:
			m.superseded.Inc()
		}
	}
	return retry, short, shortAcks
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
