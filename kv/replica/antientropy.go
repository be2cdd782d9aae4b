package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/ring"
)

// Anti-entropy: every Interval each node compares, with every other live
// node, a Merkle tree of the hash ranges both replicate, and exchanges the
// cells of the leaves that differ. The tree is two levels: the entries of
// the shared ranges are bucketed by the hash of their key into Leaves
// leaves; a leaf's hash is the XOR of xxhash(key, version, tombstone) of
// its entries (order-independent, so both sides compute it in one pass of
// their engine); the root is the hash of the leaves. Equal roots end the
// exchange; otherwise the initiator asks for the entries of the differing
// leaves (paged), applies those that are newer than its own and pushes
// back those the peer lacks or holds older. Apply keeps the newest version,
// so the exchange is idempotent and never goes back in time.
//
// Tombstones older than TombstoneGrace are purged (engine.Purge) once every
// other replica of their partition was seen holding the same tombstone in
// the same round. The grace should exceed the hint window: a hint older
// than a purged tombstone would otherwise bring the deleted value back.

// Leaves is the number of leaves of an anti-entropy tree.
const Leaves = 256

// AntiEntropyConfig configures the anti-entropy loop.
type AntiEntropyConfig struct {
	// Interval between rounds. 0 means 30s; negative disables the loop
	// (Round can still be called).
	Interval time.Duration
	// TombstoneGrace is the age a tombstone must reach before it may be
	// purged. 0 means 24h; negative disables purging.
	TombstoneGrace time.Duration
	Logger         *slog.Logger
}

// Purger is the optional engine capability anti-entropy uses to drop
// tombstones every replica holds.
type Purger interface {
	Purge(ctx context.Context, keys [][]byte, versions []kv.Version) error
}

// AntiEntropy runs rounds in the background.
type AntiEntropy struct {
	c    *Coordinator
	cfg  AntiEntropyConfig
	log  *slog.Logger
	stop chan struct{}
	done chan struct{}
	once sync.Once
	mu   sync.Mutex // one round at a time
}

// RoundStats says what a round did.
type RoundStats struct {
	Peers    int // peers compared
	Failed   int // peers that could not be compared
	Differ   int // leaves that differed, over all peers
	Pulled   int // cells taken from peers
	Pushed   int // cells sent to peers
	Purged   int // tombstones purged
	Duration time.Duration
}

// NewAntiEntropy returns the loop and starts it (unless Interval < 0).
func NewAntiEntropy(c *Coordinator, cfg AntiEntropyConfig) *AntiEntropy {
	if cfg.Interval == 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.TombstoneGrace == 0 {
		cfg.TombstoneGrace = 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = c.log
	}
	a := &AntiEntropy{c: c, cfg: cfg, log: cfg.Logger, stop: make(chan struct{}), done: make(chan struct{})}
	if cfg.Interval > 0 {
		go a.run()
	} else {
		close(a.done)
	}
	return a
}

// Stop ends the loop and waits for a running round.
func (a *AntiEntropy) Stop() {
	a.once.Do(func() { close(a.stop) })
	<-a.done
}

// maxBusy bounds anti-entropy's share of the time: the pause after a
// round is at least maxBusy times the round's duration.
const maxBusy = 20

func (a *AntiEntropy) run() {
	defer close(a.done)
	ctx, cancel := kv.UntilClosed(a.stop)
	defer cancel()
	wait := a.cfg.Interval
	for {
		select {
		case <-a.stop:
			return
		case <-time.After(wait):
		}
		start := time.Now()
		st, err := a.Round(ctx)
		// A round walks the whole engine several times; on a large store
		// that is expensive, so rounds are spaced to spend at most about
		// 1/maxBusy of the time comparing (never more often than Interval).
		// The time is measured here: a round that failed (a peer timed
		// out on a busy cluster) reports none, yet walked as much.
		wait = max(a.cfg.Interval, maxBusy*time.Since(start))
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			a.log.Warn("anti-entropy round", "err", err)
		} else if st.Pulled+st.Pushed+st.Purged > 0 {
			a.log.Info("anti-entropy repaired", "peers", st.Peers, "leaves", st.Differ, "pulled", st.Pulled, "pushed", st.Pushed, "purged", st.Purged, "took", st.Duration)
		}
	}
}

// segment is one token interval of the ring with its replicas.
type segment struct {
	rg    ring.Range
	prefs []string
}

// segments cuts the circle at the tokens of the current (read) and
// future (write) rings, each interval with the union of its n current and
// n future replicas, ordered by End. When no range moves both rings are
// the same and so is every list.
func segments(read, write *ring.Ring, n int) []segment {
	var toks []uint64
	for _, r := range []*ring.Ring{read, write} {
		for _, m := range r.Members() {
			toks = append(toks, r.Tokens(m.ID)...)
		}
	}
	slices.Sort(toks)
	toks = slices.Compact(toks)
	if len(toks) == 0 {
		return nil
	}
	out := make([]segment, 0, len(toks))
	for i, t := range toks {
		start := toks[(i-1+len(toks))%len(toks)]
		prefs := read.PreferenceHash(t, n)
		if write != read {
			for _, id := range write.PreferenceHash(t, n) {
				if !contains(prefs, id) {
					prefs = append(prefs, id)
				}
			}
		}
		out = append(out, segment{rg: ring.Range{Start: start, End: t}, prefs: prefs})
	}
	return out
}

// find returns the segment holding hash h.
func find(segs []segment, h uint64) *segment {
	i := sort.Search(len(segs), func(i int) bool { return segs[i].rg.End >= h })
	if i == len(segs) {
		i = 0 // wraps: (last token, first token]
	}
	return &segs[i]
}

func leafOf(key []byte) int { return int(xxhash.Sum64(key) >> 56) }

func digest(e kv.Entry) uint64 {
	d := xxhash.New()
	d.Write(e.Key)
	var b [32]byte
	vb := e.Cell.Version.AppendBinary(b[:0])
	if e.Cell.Tombstone {
		vb = append(vb, 1)
	} else {
		vb = append(vb, 0)
	}
	d.Write(vb)
	return d.Sum64()
}

type tree [Leaves]uint64

type tomb struct {
	key     []byte
	version kv.Version
	others  []string
	holders map[string]bool
}

// Round runs one anti-entropy round with every live peer.
func (a *AntiEntropy) Round(ctx context.Context) (RoundStats, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := time.Now()
	var st RoundStats
	c := a.c
	read, write := c.cfg.Members.Rings()
	if read == nil || !read.Has(c.self) && !write.Has(c.self) {
		return st, nil // not a member
	}
	// While ranges move, compare against current and future owners alike
	// (the rebalancer streams the bulk; this keeps everything else
	// converging).
	n, _, _ := c.cfg.Members.Settings()
	segs := segments(read, write, n)
	tombs := map[string]*tomb{}
	if read == write {
		// No purging while ranges move: a future owner still streaming
		// could miss the tombstone and bring the value back.
		var err error
		if tombs, err = a.purgeCandidates(ctx, segs); err != nil {
			return st, err
		}
	}
	errs, err := a.syncPeers(ctx, sharedRanges(segs, c.self), tombs, &st)
	if err != nil {
		return st, err
	}
	if err := a.purgeHeld(ctx, tombs, &st); err != nil {
		errs = append(errs, err)
	}
	st.Duration = time.Since(start)
	c.metrics.aeRound(st, errors.Join(errs...))
	return st, errors.Join(errs...)
}

// sharedRanges returns, per peer, the ranges self and it both replicate,
// adjacent ranges merged.
func sharedRanges(segs []segment, self string) map[string][]ring.Range {
	shared := map[string][]ring.Range{}
	for _, s := range segs {
		if !contains(s.prefs, self) {
			continue
		}
		for _, p := range s.prefs {
			if p == self {
				continue
			}
			rs := shared[p]
			if len(rs) > 0 && rs[len(rs)-1].End == s.rg.Start {
				rs[len(rs)-1].End = s.rg.End
			} else {
				rs = append(rs, s.rg)
			}
			shared[p] = rs
		}
	}
	return shared
}

// purgeCandidates returns this node's tombstones old enough to be purged,
// each with the other replicas that must hold it first; none when the
// engine cannot purge or tombstones are kept forever.
func (a *AntiEntropy) purgeCandidates(ctx context.Context, segs []segment) (map[string]*tomb, error) {
	c := a.c
	tombs := map[string]*tomb{}
	if _, ok := c.cfg.Local.(Purger); !ok || a.cfg.TombstoneGrace <= 0 {
		return tombs, nil
	}
	err := c.cfg.Local.ForEach(ctx, func(e kv.Entry) bool {
		if !a.pastGrace(e.Cell) {
			return true
		}
		s := find(segs, ring.HashKey(e.Key))
		if !contains(s.prefs, c.self) {
			return true
		}
		others := make([]string, 0, len(s.prefs))
		for _, p := range s.prefs {
			if p != c.self {
				others = append(others, p)
			}
		}
		tombs[string(e.Key)] = &tomb{key: e.Key, version: e.Cell.Version, others: others, holders: map[string]bool{}}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("anti-entropy: tombstones: %w", err)
	}
	return tombs, nil
}

// syncPeers runs syncPeer with each live peer in turn, adding to st. It
// returns the peers' errors, and ctx's error if the round must stop.
func (a *AntiEntropy) syncPeers(ctx context.Context, shared map[string][]ring.Range, tombs map[string]*tomb, st *RoundStats) ([]error, error) {
	peers := make([]string, 0, len(shared))
	for p := range shared {
		peers = append(peers, p)
	}
	sort.Strings(peers)
	var errs []error
	for _, p := range peers {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !a.c.cfg.Members.Alive(p) {
			st.Failed++
			continue
		}
		st.Peers++
		ps, err := a.syncPeer(ctx, p, shared[p], tombs)
		st.Differ += ps.Differ
		st.Pulled += ps.Pulled
		st.Pushed += ps.Pushed
		if err != nil {
			st.Failed++
			errs = append(errs, fmt.Errorf("peer %s: %w", p, err))
		}
	}
	return errs, nil
}

// purgeHeld purges the tombstones every other replica was seen to hold.
func (a *AntiEntropy) purgeHeld(ctx context.Context, tombs map[string]*tomb, st *RoundStats) error {
	pg, ok := a.c.cfg.Local.(Purger)
	if !ok || len(tombs) == 0 {
		return nil
	}
	var keys [][]byte
	var vers []kv.Version
	for _, t := range tombs {
		all := true
		for _, o := range t.others {
			if !t.holders[o] {
				all = false
				break
			}
		}
		if all {
			keys = append(keys, t.key)
			vers = append(vers, t.version)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	if err := pg.Purge(ctx, keys, vers); err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	st.Purged = len(keys)
	return nil
}

// pastGrace reports whether cl is a tombstone old enough to be purged.
func (a *AntiEntropy) pastGrace(cl kv.Cell) bool {
	return a.cfg.TombstoneGrace > 0 && cl.Tombstone && time.Since(cl.Version.Time()) > a.cfg.TombstoneGrace
}

// syncPeer compares this node's tree of ranges with peer's and exchanges
// the entries of the leaves that differ. A tombstone past its grace period
// and an absent key mean the same (a replica may already have purged it),
// so such a tombstone is neither pushed to nor pulled from a replica that
// lacks the key, and counts as held by it.
func (a *AntiEntropy) syncPeer(ctx context.Context, peer string, ranges []ring.Range, tombs map[string]*tomb) (RoundStats, error) {
	var st RoundStats
	c := a.c
	addr, err := c.addr(peer)
	if err != nil {
		return st, err
	}
	req := rangeRequest{}
	for _, r := range ranges {
		req.Ranges = append(req.Ranges, [2]uint64{r.Start, r.End})
	}
	cctx, cancel := context.WithTimeout(ctx, 4*c.timeout)
	defer cancel()
	differ, err := a.differingLeaves(ctx, cctx, addr, req)
	if err != nil {
		return st, err
	}
	st.Differ = differ.count()
	// Tombstones in equal leaves are held by the peer.
	for _, t := range tombs {
		if contains(t.others, peer) && !differ.has(t.key) && inRanges(ranges, ring.HashKey(t.key)) {
			t.holders[peer] = true
		}
	}
	if st.Differ == 0 {
		return st, nil
	}
	their, err := c.fetchLeaves(cctx, addr, leavesRequest{rangeRequest: rangeRequest{Ranges: req.Ranges, Limit: 2000}, Leaves: differ})
	if err != nil {
		return st, err
	}
	pull, push, err := a.compareLeaves(ctx, peer, ranges, differ, their, tombs)
	if err != nil {
		return st, err
	}
	if st.Pulled, err = a.applyPulled(ctx, pull); err != nil {
		return st, err
	}
	st.Pushed, err = a.pushTo(cctx, peer, push)
	return st, err
}

// leafSet is a set of leaves, as a bitmap (the wire form too).
type leafSet [Leaves / 8]byte

func (s *leafSet) add(l int)          { s[l/8] |= 1 << (l % 8) }
func (s *leafSet) hasLeaf(l int) bool { return s[l/8]&(1<<(l%8)) != 0 }

// has reports whether key's leaf is in the set.
func (s *leafSet) has(key []byte) bool { return s.hasLeaf(leafOf(key)) }

func (s *leafSet) count() int {
	n := 0
	for l := range Leaves {
		if s.hasLeaf(l) {
			n++
		}
	}
	return n
}

// differingLeaves returns the leaves where peer's tree over req's ranges
// differs from this node's. rpc bounds the call to the peer, ctx the walk
// of this node's engine.
func (a *AntiEntropy) differingLeaves(ctx, rpc context.Context, addr string, req rangeRequest) (leafSet, error) {
	var differ leafSet
	resp, err := a.c.cfg.Transport.Call(rpc, addr, methodTree, req.encode())
	if err != nil {
		return differ, err
	}
	theirs, err := decodeTree(resp)
	if err != nil {
		return differ, err
	}
	// Ours, computed after theirs: a write landing in between shows as a
	// difference and is exchanged, never missed.
	mine, err := a.c.treeLocal(ctx, req)
	if err != nil {
		return differ, err
	}
	for l := range Leaves {
		if theirs[l] != mine[l] {
			differ.add(l)
		}
	}
	return differ, nil
}

// fetchLeaves pages through the peer's entries of the leaves and ranges of
// lreq.
func (c *Coordinator) fetchLeaves(ctx context.Context, addr string, lreq leavesRequest) (map[string]kv.Cell, error) {
	their := map[string]kv.Cell{}
	for {
		resp, err := c.cfg.Transport.Call(ctx, addr, methodLeaves, lreq.encode())
		if err != nil {
			return nil, err
		}
		ents, more, err := decodeScanResponse(resp)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			their[string(e.Key)] = e.Cell
		}
		if !more || len(ents) == 0 {
			return their, nil
		}
		lreq.After = ents[len(ents)-1].Key
	}
}

// compareLeaves walks this node's entries of the differing leaves against
// the peer's (their, emptied on the way) and returns what to pull (theirs
// newer) and to push (ours newer), marking the tombstones the peer holds.
func (a *AntiEntropy) compareLeaves(ctx context.Context, peer string, ranges []ring.Range, differ leafSet, their map[string]kv.Cell, tombs map[string]*tomb) (pull, push []kv.Entry, err error) {
	err = a.c.cfg.Local.ForEach(ctx, func(e kv.Entry) bool {
		if !differ.has(e.Key) || !inRanges(ranges, ring.HashKey(e.Key)) {
			return true
		}
		tc, ok := their[string(e.Key)]
		delete(their, string(e.Key))
		if t := tombs[string(e.Key)]; t != nil && (!ok || tc.Tombstone && tc.Version == t.version) {
			t.holders[peer] = true
		}
		switch {
		case !ok && a.pastGrace(e.Cell):
			// The peer purged it, or never had it: the same as ours.
		case !ok || e.Cell.Version.Newer(tc.Version):
			push = append(push, e)
		case tc.Version.Newer(e.Cell.Version):
			pull = append(pull, kv.Entry{Key: e.Key, Cell: tc})
		}
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	for k, cl := range their {
		if !a.pastGrace(cl) {
			pull = append(pull, kv.Entry{Key: []byte(k), Cell: cl})
		}
	}
	return pull, push, nil
}

// exchangeBatch bounds the entries of one apply while pulling or pushing.
const exchangeBatch = 500

// applyPulled applies the peer's newer entries to this node's engine (those
// admit accepts) and returns how many.
func (a *AntiEntropy) applyPulled(ctx context.Context, pull []kv.Entry) (int, error) {
	n := 0
	for b := range slices.Chunk(pull, exchangeBatch) {
		b = a.c.admitted(b)
		if len(b) == 0 {
			continue
		}
		a.c.observe(b)
		if _, err := a.c.cfg.Local.Apply(ctx, b...); err != nil {
			return n, fmt.Errorf("apply pulled: %w", err)
		}
		n += len(b)
	}
	return n, nil
}

// pushTo sends this node's newer entries to peer and returns how many.
func (a *AntiEntropy) pushTo(ctx context.Context, peer string, push []kv.Entry) (int, error) {
	n := 0
	for b := range slices.Chunk(push, exchangeBatch) {
		if err := a.c.applyTo(ctx, peer, b); err != nil {
			return n, fmt.Errorf("push: %w", err)
		}
		n += len(b)
	}
	return n, nil
}

// treeLocal computes this node's tree over the ranges (the peer side of
// methodTree).
func (c *Coordinator) treeLocal(ctx context.Context, r rangeRequest) (*tree, error) {
	ranges := r.ranges()
	t := new(tree)
	err := c.cfg.Local.ForEach(ctx, func(e kv.Entry) bool {
		if inRanges(ranges, ring.HashKey(e.Key)) {
			t[leafOf(e.Key)] ^= digest(e)
		}
		return true
	})
	return t, err
}

// leavesLocal returns this node's entries of the given leaves in the
// ranges, after r.After, at most r.Limit.
func (c *Coordinator) leavesLocal(ctx context.Context, r leavesRequest) ([]kv.Entry, bool, error) {
	ranges := r.ranges()
	keep := func(e kv.Entry) bool { return r.Leaves.has(e.Key) && inRanges(ranges, ring.HashKey(e.Key)) }
	return collectPage(r.Limit, keep, func(fn func(kv.Entry) bool) error {
		return c.cfg.Local.Scan(ctx, nil, r.After, 0, fn)
	})
}

func (r rangeRequest) ranges() []ring.Range {
	out := make([]ring.Range, len(r.Ranges))
	for i, rg := range r.Ranges {
		out[i] = ring.Range{Start: rg[0], End: rg[1]}
	}
	return out
}

func encodeTree(t *tree) []byte {
	b := make([]byte, 0, Leaves*8)
	for _, h := range t {
		b = binary.BigEndian.AppendUint64(b, h)
	}
	return b
}

func decodeTree(b []byte) (*tree, error) {
	if len(b) != Leaves*8 {
		return nil, errBadMessage
	}
	t := new(tree)
	for i := range t {
		t[i] = binary.BigEndian.Uint64(b[i*8:])
	}
	return t, nil
}

// leavesRequest is a rangeRequest restricted to a set of leaves (bitmap).
type leavesRequest struct {
	rangeRequest
	Leaves leafSet
}

func (r leavesRequest) encode() []byte {
	return append(r.rangeRequest.encode(), r.Leaves[:]...)
}

func decodeLeavesRequest(b []byte) (leavesRequest, error) {
	if len(b) < Leaves/8 {
		return leavesRequest{}, errBadMessage
	}
	rr, err := decodeRangeRequest(b[:len(b)-Leaves/8])
	if err != nil {
		return leavesRequest{}, err
	}
	r := leavesRequest{rangeRequest: rr}
	copy(r.Leaves[:], b[len(b)-Leaves/8:])
	return r, nil
}
