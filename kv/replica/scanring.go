package replica

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/ring"
)

// ScanRing lists, in key order, up to limit live entries whose keys start
// with prefix, come after after, and satisfy keep — across the whole ring,
// not one partition. Keys of different partitions live on different
// nodes, so candidates come from every live member's local scan (each node
// walks its engine from after); the first limit candidates are then read
// through GetMany at consistency o, so each answer is the newest version
// the level guarantees (stale replicas repaired as on any read) and a key
// held by any live replica is listed once. next is the cursor of the next
// page ("" when there is none); a page may hold fewer than limit entries
// when candidates turned out deleted.
func (c *Coordinator) ScanRing(ctx context.Context, prefix, after []byte, limit int, keep func(key []byte) bool, o kv.Options) (ents []kv.Entry, next []byte, err error) {
	if limit <= 0 {
		limit = 1
	}
	start := time.Now()
	defer func() { c.metrics.observe("scan", start, err) }()
	read, write := c.cfg.Members.Rings()
	seen := map[string]bool{}
	var members []string
	for _, rg := range []*ring.Ring{read, write} {
		if rg == nil {
			continue
		}
		for _, m := range rg.Members() {
			if !seen[m.ID] {
				seen[m.ID] = true
				members = append(members, m.ID)
			}
		}
	}
	// Down members are not asked: their keys have live replicas, and
	// GetMany enforces o.
	f := fanOut(c, ctx, withRequest, members, func(ctx context.Context, id string) (candidatePage, error) {
		keys, more, err := c.candidates(ctx, id, prefix, after, limit+1, keep)
		return candidatePage{keys, more}, err
	})
	defer f.release(nil)
	// cut bounds what is known complete: beyond the smallest last key of a
	// node that has more, other keys of that node may be missing.
	var cands [][]byte
	var cut []byte
	uniq := map[string]bool{}
	// Every key lives on N nodes: while fewer than N members fail to
	// answer, each key still has a replica that listed it.
	n, _, _ := c.cfg.Members.Settings()
	failed := len(members) - f.sent
	for {
		a, more, err := f.next(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: scan: %d of %d nodes answered before %v", kv.ErrUnavailable, f.got, len(members), err)
		}
		if !more {
			break
		}
		if a.err != nil {
			if failed++; failed >= n {
				return nil, nil, fmt.Errorf("%w: scan: %d of %d nodes did not answer (last %s: %v); with N=%d some keys may have no replica to list them",
					kv.ErrUnavailable, failed, len(members), a.node, a.err, n)
			}
			continue
		}
		if a.val.more && len(a.val.keys) > 0 {
			if last := a.val.keys[len(a.val.keys)-1]; cut == nil || bytes.Compare(last, cut) < 0 {
				cut = last
			}
		}
		for _, k := range a.val.keys {
			if !uniq[string(k)] {
				uniq[string(k)] = true
				cands = append(cands, k)
			}
		}
	}
	sort.Slice(cands, func(i, j int) bool { return bytes.Compare(cands[i], cands[j]) < 0 })
	more := cut != nil
	if cut != nil {
		n := sort.Search(len(cands), func(i int) bool { return bytes.Compare(cands[i], cut) > 0 })
		cands = cands[:n]
	}
	if len(cands) > limit {
		cands, more = cands[:limit], true
	}
	if len(cands) == 0 {
		return nil, nil, nil
	}
	cells, err := c.GetMany(ctx, cands, o)
	if err != nil {
		return nil, nil, err
	}
	for i, cl := range cells {
		if cl.Live() {
			ents = append(ents, kv.Entry{Key: cands[i], Cell: cl})
		}
	}
	if more {
		next = cands[len(cands)-1]
	}
	return ents, next, nil
}

// candidatePage is one node's answer to ScanRing.
type candidatePage struct {
	keys [][]byte
	more bool // the node holds more candidates after its last key
}

// candidates returns up to n keys of node id's engine that start with
// prefix, come after after and pass keep, and whether it holds more. Rows
// that keep rejects (another keyspace) are paged through, not counted.
func (c *Coordinator) candidates(ctx context.Context, id string, prefix, after []byte, n int, keep func([]byte) bool) ([][]byte, bool, error) {
	var out [][]byte
	req := scanRequest{Prefix: prefix, After: after, Limit: 1000}
	for {
		cctx, cancel := context.WithTimeout(ctx, c.timeout)
		ents, more, err := c.scanFrom(cctx, id, req)
		cancel()
		if err != nil {
			return nil, false, err
		}
		for _, e := range ents {
			if keep != nil && !keep(e.Key) {
				continue
			}
			if len(out) == n {
				return out, true, nil
			}
			// Tombstones count: a deleted key on one node may be live on a
			// stale one, and GetMany settles which.
			out = append(out, e.Key)
		}
		if !more || len(ents) == 0 {
			return out, false, nil
		}
		req.After = ents[len(ents)-1].Key
	}
}
