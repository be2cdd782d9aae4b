package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/ring"
	"github.com/grafo/grafo/kv/transport"
)

// RPC method names on the node-to-node transport.
const (
	methodApply = "kv.apply"
	methodGet   = "kv.get"
	// methodDigest is kv.get answered with versions only (digest.go).
	methodDigest = "kv.digest"
	methodScan   = "kv.scan"
	methodRange  = "kv.range"
	// Anti-entropy: the Merkle tree of ranges, and the entries of leaves.
	methodTree   = "kv.ae.tree"
	methodLeaves = "kv.ae.leaves"
)

func (c *Coordinator) registerHandlers() {
	t := c.cfg.Transport
	t.Handle(methodApply, handler(decodeEntries, func(ctx context.Context, es []kv.Entry) ([]byte, error) {
		if err := c.admit(es); err != nil {
			return nil, err
		}
		c.observe(es)
		rs, err := c.applyLocal(ctx, es)
		if err != nil {
			return nil, err
		}
		return encodeApplyResults(rs), nil
	}))
	t.Handle(methodGet, c.servingOnly(handler(decodeKeys, c.serveRead(false))))
	t.Handle(methodDigest, c.servingOnly(handler(decodeKeys, c.serveRead(true))))
	t.Handle(methodScan, c.servingOnly(handler(decodeScanRequest, pages(c.scanLocal))))
	t.Handle(methodRange, c.servingOnly(handler(decodeRangeRequest, pages(c.rangeLocal))))
	t.Handle(methodLeaves, handler(decodeLeavesRequest, pages(c.leavesLocal)))
	t.Handle(methodTree, handler(decodeRangeRequest, func(ctx context.Context, r rangeRequest) ([]byte, error) {
		tr, err := c.treeLocal(ctx, r)
		if err != nil {
			return nil, err
		}
		return encodeTree(tr), nil
	}))
}

// handler is a transport handler that decodes its request, then serves it.
// ErrNotServing is returned to peers that read from a node the membership
// says is not serving: one rebuilding lost data (it would answer "not
// found" for keys it holds no more) or one whose engine is failing.
var ErrNotServing = errors.New("replica: not serving reads (rebuilding or unhealthy)")

// servingOnly refuses reads while this node does not count as a replica;
// a coordinator whose view is a moment behind then asks another one.
func (c *Coordinator) servingOnly(h transport.Handler) transport.Handler {
	return func(ctx context.Context, from string, req []byte) ([]byte, error) {
		if !c.cfg.Members.Alive(c.self) {
			return nil, ErrNotServing
		}
		return h(ctx, from, req)
	}
}

func handler[R any](decode func([]byte) (R, error), serve func(context.Context, R) ([]byte, error)) transport.Handler {
	return func(ctx context.Context, _ string, req []byte) ([]byte, error) {
		r, err := decode(req)
		if err != nil {
			return nil, err
		}
		return serve(ctx, r)
	}
}

// pages serves a request answered with a page of entries.
func pages[R any](local func(context.Context, R) ([]kv.Entry, bool, error)) func(context.Context, R) ([]byte, error) {
	return func(ctx context.Context, r R) ([]byte, error) {
		ents, more, err := local(ctx, r)
		if err != nil {
			return nil, err
		}
		return encodeScanResponse(ents, more), nil
	}
}

// observe moves the clock past versions written by other coordinators, so
// that this node's next write of the same key is newer.
func (c *Coordinator) observe(es []kv.Entry) {
	var max kv.Version
	for _, e := range es {
		if e.Cell.Version.Newer(max) {
			max = e.Cell.Version
		}
	}
	c.clock.Observe(max)
}

// admit refuses entries whose version is further ahead of this node's
// wall clock than Config.MaxClockSkew: no honest peer can have made them,
// and accepting one would drag the clock along (to saturation at worst)
// and leave a cell that no later write or delete can replace.
func (c *Coordinator) admit(es []kv.Entry) error {
	limit := c.aheadLimit()
	for _, e := range es {
		if e.Cell.Version.TS > limit {
			c.metrics.versionsRefused.Inc()
			return fmt.Errorf("%w: %v is more than %v ahead of this node's clock", ErrVersionAhead, e.Cell.Version, c.maxSkew)
		}
	}
	return nil
}

// aheadLimit is the largest timestamp admit accepts now.
func (c *Coordinator) aheadLimit() uint64 {
	return kv.PhysicalTS(c.clock.Wall().Add(c.maxSkew))
}

// admitted returns the entries of es that admit accepts (pulled by
// anti-entropy or rebalancing, where one bad entry must not stop the rest).
func (c *Coordinator) admitted(es []kv.Entry) []kv.Entry {
	out := es[:0:0]
	for _, e := range es {
		if c.admit([]kv.Entry{e}) == nil {
			out = append(out, e)
		}
	}
	return out
}

// applyLocal applies es to this node's engine and says, per entry, whether
// it was applied, already held, or refused because the engine holds a newer
// version (which it reports: the coordinator orders its write above it).
func (c *Coordinator) applyLocal(ctx context.Context, es []kv.Entry) ([]applyResult, error) {
	applied, err := c.cfg.Local.Apply(ctx, es...)
	if err != nil {
		return nil, err
	}
	return c.localResults(ctx, es, applied)
}

// asyncLocal is an engine that can apply without a goroutine waiting
// (engine.Engine.ApplyAsync).
type asyncLocal interface {
	ApplyAsync(ctx context.Context, done func(applied []bool, err error), entries ...kv.Entry) error
}

// applyLocalAsync is applyLocal that returns at once and hands its outcome
// to deliver later; false (nothing done) when the engine cannot.
func (c *Coordinator) applyLocalAsync(ctx context.Context, es []kv.Entry, deliver func([]applyResult, error)) bool {
	a, ok := c.cfg.Local.(asyncLocal)
	if !ok {
		return false
	}
	err := a.ApplyAsync(ctx, func(applied []bool, err error) {
		switch {
		case err != nil:
			deliver(nil, err)
		case !slices.Contains(applied, false):
			rs, _ := c.localResults(ctx, es, applied) // no engine read
			deliver(rs, nil)
		default:
			// The engine's committer calls this: the read of what it
			// holds instead runs in a goroutine of its own.
			go func() { deliver(c.localResults(ctx, es, applied)) }()
		}
	}, es...)
	if err != nil {
		deliver(nil, err)
	}
	return true
}

// localResults turns the engine's applied flags into applyResults.
func (c *Coordinator) localResults(ctx context.Context, es []kv.Entry, applied []bool) ([]applyResult, error) {
	rs := make([]applyResult, len(es))
	var idx []int
	var keys [][]byte
	for i, ok := range applied {
		if ok {
			rs[i].Status = statusApplied
			continue
		}
		idx = append(idx, i)
		keys = append(keys, es[i].Key)
	}
	if len(idx) == 0 {
		return rs, nil
	}
	// Rare: a duplicate, or a write that lost to a newer one. Read what
	// the engine holds now; it can only have grown since Apply.
	cells, err := c.cfg.Local.GetMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	for j, i := range idx {
		switch held := cells[j].Version; {
		case held == es[i].Cell.Version:
			rs[i].Status = statusHeld
		case held.Newer(es[i].Cell.Version):
			rs[i] = applyResult{Status: statusRefused, Held: held}
		default:
			// Purged or removed between Apply and GetMany: it is not
			// stored, and no newer version is there to order against.
			return nil, fmt.Errorf("replica: %q changed under apply", es[i].Key)
		}
	}
	return rs, nil
}

// maxPage bounds one page a replica answers (a limit of 0 means it too).
const maxPage = 10000

// collectPage runs walk and keeps, in order, the entries keep accepts (nil:
// all), up to limit (0 or over maxPage: maxPage); more reports that an
// accepted entry was left out.
func collectPage(limit int, keep func(kv.Entry) bool, walk func(fn func(kv.Entry) bool) error) (ents []kv.Entry, more bool, err error) {
	if limit <= 0 || limit > maxPage {
		limit = maxPage
	}
	err = walk(func(e kv.Entry) bool {
		if keep != nil && !keep(e) {
			return true
		}
		if len(ents) == limit {
			more = true
			return false
		}
		ents = append(ents, e)
		return true
	})
	return ents, more, err
}

func (c *Coordinator) scanLocal(ctx context.Context, r scanRequest) ([]kv.Entry, bool, error) {
	return collectPage(r.Limit, nil, func(fn func(kv.Entry) bool) error {
		return c.cfg.Local.Scan(ctx, r.Prefix, r.After, 0, fn)
	})
}

// rangeLocal returns this node's entries whose partition hashes into one of
// the ranges, after r.After in key order. It walks the whole engine; that
// is the price of hashing partitions (keys of a range are not adjacent).
func (c *Coordinator) rangeLocal(ctx context.Context, r rangeRequest) ([]kv.Entry, bool, error) {
	ranges := r.ranges()
	keep := func(e kv.Entry) bool {
		return (r.After == nil || bytes.Compare(e.Key, r.After) > 0) && inRanges(ranges, ring.Hash(kv.Partition(e.Key)))
	}
	return collectPage(r.Limit, keep, func(fn func(kv.Entry) bool) error {
		return c.cfg.Local.ForEach(ctx, fn)
	})
}

func inRanges(rs []ring.Range, h uint64) bool {
	for _, r := range rs {
		if r.Contains(h) {
			return true
		}
	}
	return false
}

func (c *Coordinator) addr(id string) (string, error) {
	a, ok := c.cfg.Members.Addr(id)
	if !ok {
		return "", errUnknownNode(id)
	}
	return a, nil
}

// call sends one RPC to node id.
func (c *Coordinator) call(ctx context.Context, id, method string, req []byte) ([]byte, error) {
	a, err := c.addr(id)
	if err != nil {
		return nil, err
	}
	return c.cfg.Transport.Call(ctx, a, method, req)
}

type errUnknownNode string

func (e errUnknownNode) Error() string { return "replica: unknown node " + string(e) }

// ApplyTo applies entries that carry their own versions on node id (this
// node's engine or a peer); hinted handoff delivers through it.
func (c *Coordinator) ApplyTo(ctx context.Context, id string, es []kv.Entry) error {
	return c.applyTo(ctx, id, es)
}

// Alive reports the membership's liveness view of id.
func (c *Coordinator) Alive(id string) bool { return c.cfg.Members.Alive(id) }

func (c *Coordinator) applyTo(ctx context.Context, id string, es []kv.Entry) error {
	if id == c.self {
		_, err := c.cfg.Local.Apply(ctx, es...)
		return err
	}
	_, err := c.call(ctx, id, methodApply, encodeEntries(es))
	return err
}

// applyResults is applyTo that also returns what the replica did with each
// entry (the write path and read write-backs need refusals).
func (c *Coordinator) applyResults(ctx context.Context, id string, es []kv.Entry) ([]applyResult, error) {
	if id == c.self {
		return c.applyLocal(ctx, es)
	}
	resp, err := c.call(ctx, id, methodApply, encodeEntries(es))
	if err != nil {
		return nil, err
	}
	rs, err := decodeApplyResults(resp)
	if err == nil && len(rs) != len(es) {
		err = errBadMessage
	}
	return rs, err
}

// serveRead answers a read of this replica's cells, without their values
// for a digest.
func (c *Coordinator) serveRead(digest bool) func(context.Context, [][]byte) ([]byte, error) {
	read := c.cfg.Local.GetMany
	if digest {
		read = c.cfg.Local.Versions
	}
	return func(ctx context.Context, keys [][]byte) ([]byte, error) {
		cells, err := read(ctx, keys)
		if err != nil {
			return nil, err
		}
		return encodeCells(cells), nil
	}
}

// getRemote reads keys from peer id, one cell per key: whole cells with
// methodGet, versions only with methodDigest.
func (c *Coordinator) getRemote(ctx context.Context, id, method string, keys [][]byte) ([]kv.Cell, error) {
	resp, err := c.call(ctx, id, method, encodeKeys(keys))
	if err != nil {
		return nil, err
	}
	return decodeCells(resp)
}

// checkAhead refuses a read answer from id holding a version no honest
// node can have written: a read must not return (or write back) it.
func (c *Coordinator) checkAhead(id string, cells []kv.Cell) error {
	limit := c.aheadLimit()
	for _, cl := range cells {
		if cl.Version.TS > limit {
			c.metrics.versionsRefused.Inc()
			return fmt.Errorf("%w: %v from %s", ErrVersionAhead, cl.Version, id)
		}
	}
	return nil
}

func (c *Coordinator) scanFrom(ctx context.Context, id string, r scanRequest) ([]kv.Entry, bool, error) {
	if id == c.self {
		return c.scanLocal(ctx, r)
	}
	resp, err := c.call(ctx, id, methodScan, r.encode())
	if err != nil {
		return nil, false, err
	}
	return decodeScanResponse(resp)
}

// FetchRanges pages through node id's entries in the given hash ranges,
// calling fn for each page. Rebalancing and anti-entropy use it.
func (c *Coordinator) FetchRanges(ctx context.Context, id string, ranges []ring.Range, fn func([]kv.Entry) error) error {
	req := rangeRequest{Limit: 2000}
	for _, r := range ranges {
		req.Ranges = append(req.Ranges, [2]uint64{r.Start, r.End})
	}
	for {
		var ents []kv.Entry
		var more bool
		var err error
		if id == c.self {
			ents, more, err = c.rangeLocal(ctx, req)
		} else {
			resp, cerr := c.call(ctx, id, methodRange, req.encode())
			if cerr != nil {
				return cerr
			}
			ents, more, err = decodeScanResponse(resp)
		}
		if err != nil {
			return err
		}
		if len(ents) > 0 {
			if err := fn(ents); err != nil {
				return err
			}
			req.After = ents[len(ents)-1].Key
		}
		if !more {
			return nil
		}
	}
}
