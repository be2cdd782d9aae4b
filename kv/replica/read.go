package replica

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/grafo/grafo/kv"
)

// cellsReply is one replica's answer to a read.
type cellsReply = reply[[]kv.Cell]

// Get implements kv.Store.
func (c *Coordinator) Get(ctx context.Context, key []byte, o kv.Options) (kv.Cell, error) {
	part := kv.Partition(key)
	if len(part) == 0 {
		return kv.Cell{}, kv.ErrEmptyKey
	}
	// One key has one replica set: straight to readGroup, without
	// GetMany's grouping, its per-group closure and its copy of the
	// answers (a tenth of a cached GET's CPU on one node).
	start := time.Now()
	cells, err := c.readGroup(ctx, c.replicasFor(part), [][]byte{key}, o)
	c.metrics.observe("read", start, err)
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
	err := forGroups(groups, func(g *group) error {
		cells, err := c.readGroup(ctx, g.rs, pick(keys, g.idxs), o)
		if err != nil {
			return err
		}
		for j, i := range g.idxs {
			out[i] = cells[j]
		}
		return nil
	})
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

// readGroup reads keys, which share a replica set, from need of its
// owners and returns the newest cells; the replicas that answered with
// older ones are repaired in the background.
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
			return nil, c.errLocalQuorum("answers", err)
		}
		return cells, nil
	}
	// Ask need replicas, this node first (no round trip), not all N: the
	// others are spares, asked when one fails or is late. All but the
	// first send versions only (digest.go).
	order := c.selfFirst(rs.owners)
	digests := c.digestNodes(order, need)
	f := fanOutFirst(c, ctx, outliveRequest, order, need, func(ctx context.Context, id string) ([]kv.Cell, error) {
		t := time.Now()
		read := c.getCoalesced
		if slices.Contains(digests, id) {
			read = c.digestCoalesced
		}
		cells, err := read(ctx, id, keys)
		if err == nil && len(cells) != len(keys) {
			err = errBadMessage
		}
		if err == nil && id != c.self {
			c.readLatency.observe(time.Since(t))
		}
		return cells, err
	}, func(ctx context.Context, id string, deliver func([]kv.Cell, error)) bool {
		if id == c.self {
			return false
		}
		t := time.Now()
		c.readQueued(id, keys, slices.Contains(digests, id), func(cells []kv.Cell, err error) {
			if err == nil && len(cells) != len(keys) {
				err = errBadMessage
			}
			if err == nil {
				c.readLatency.observe(time.Since(t))
			}
			deliver(cells, err)
		})
		return true
	})
	answers, ctxErr := f.collectSpeculative(ctx, need, c.readLatency.speculateAfter())
	if ctxErr != nil {
		f.release(c.repairLater(answers, keys, digests, nil))
		return nil, errQuorum(len(answers), need, "answers", ctxErr, f.statusLine(rs.owners))
	}
	if len(answers) < need {
		f.release(nil)
		return nil, fmt.Errorf("%w%s", errQuorum(len(answers), need, "answers", nil, f.statusLine(rs.owners)), c.beyondReplicas(need, len(rs.owners)))
	}
	newest, err := c.resolve(ctx, answers, keys, digests)
	if err != nil {
		f.release(c.repairLater(answers, keys, digests, nil))
		return nil, err
	}
	if c.ordered(o, false, need, len(rs.owners)) {
		// Make sure a quorum holds what we are about to return, so no
		// later read can see an older value (ABD's second phase, taken
		// only when the answers disagree).
		if err := c.writeBack(ctx, answers, newest, keys, need); err != nil {
			f.release(nil)
			return nil, err
		}
	}
	f.release(c.repairLater(answers, keys, digests, newest))
	return newest, nil
}

// stale returns the entries that replica a lacks relative to newest.
func stale(a cellsReply, newest []kv.Cell, keys [][]byte) []kv.Entry {
	var es []kv.Entry
	for i, cl := range a.val {
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
func (c *Coordinator) writeBack(ctx context.Context, answers []cellsReply, newest []kv.Cell, keys [][]byte, need int) error {
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
		answers[k].val = newest
	}
	if upToDate < need {
		return fmt.Errorf("%w: read write-back reached %d of %d replicas: %v", kv.ErrUnavailable, upToDate, need, firstErr)
	}
	return nil
}

// repairLater returns what to do with a read's answers still in flight:
// bring every replica that answered with an older version up to the
// newest value known — resolved (nil when the read failed) and the data
// answers. A digest has no value to spread: a replica whose digest is
// newer than that is left to the next read or to anti-entropy.
func (c *Coordinator) repairLater(answers []cellsReply, keys [][]byte, digests []string, resolved []kv.Cell) func(rest []cellsReply) {
	return func(rest []cellsReply) {
		all := answers
		for _, a := range rest {
			if a.err == nil {
				all = append(all, a)
			}
		}
		newest := make([]kv.Cell, len(keys))
		copy(newest, resolved)
		newest = newestData(newest, all, digests)
		for _, a := range all {
			if es := stale(a, newest, keys); len(es) > 0 {
				ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
				if err := c.applyTo(ctx, a.node, es); err == nil {
					c.metrics.repairs.Add(float64(len(es)))
				}
				cancel()
			}
		}
	}
}
