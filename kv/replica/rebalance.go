package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/ring"
)

// Mover is what the rebalancer needs of membership: this node's state in
// the ring's life cycle, and the means to move it on.
type Mover interface {
	SelfState() string // "joining", "up", "leaving", "left"
	// MoveSelf moves this node from one state to the next, only while it
	// is still in from. When an admin moved it meanwhile (a leave ordered
	// while it was joining) nothing changes and MoveSelf returns nil: the
	// move that won signals the rebalancer, whose next step follows it.
	MoveSelf(ctx context.Context, from, to string) error
}

// Rebalancer moves data when this node's ownership changes: a joining node
// pulls the ranges it will own from the current owners before it is marked
// up (and so before it serves reads), and a leaving node pushes everything
// it holds to the future owners before it is marked left. Writes reach the
// future owners all along (see replicasFor), so nothing written during the
// move is missed.
type Rebalancer struct {
	// owned is the read ring whose ranges this node last held in full: a
	// member removed for good (it handed nothing off) leaves the ranges
	// this node gains against it to be pulled from surviving replicas.
	owned *ring.Ring
	// cleaned is the ring whose foreign copies were last cleaned up;
	// stableSince when the current ring was first seen settled.
	cleaned     *ring.Ring
	stableSince time.Time
	stableRing  *ring.Ring
	cells       *prometheus.CounterVec // streamed by kind: pulled, pushed, repaired
	bytes       *prometheus.CounterVec // the same, in key+value bytes
	progress    progress
	c           *Coordinator
	local       Local
	m           Mover
	log         *slog.Logger
	signal      chan struct{}
	stop        chan struct{}
	done        chan struct{}
	once        sync.Once
}

// NewRebalancer starts the rebalancer's worker.
func NewRebalancer(c *Coordinator, local Local, m Mover, log *slog.Logger) *Rebalancer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Rebalancer{c: c, local: local, m: m, log: log, signal: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		cells: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grafo_rebalance_cells_total", Help: "Cells streamed by membership changes: pulled on join, pushed on leave, repaired after a removal.",
		}, []string{"kind"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grafo_rebalance_bytes_total", Help: "Key and value bytes streamed by membership changes, by kind as grafo_rebalance_cells_total.",
		}, []string{"kind"})}
	go r.run()
	return r
}

// Collectors returns the rebalancer's metrics, for registration.
func (r *Rebalancer) Collectors() []prometheus.Collector {
	return []prometheus.Collector{r.cells, r.bytes}
}

// Progress reports the current (or last) stream of ranges into or out of
// this node.
func (r *Rebalancer) Progress() Progress { return r.progress.get() }

// Changed tells the rebalancer that membership changed.
func (r *Rebalancer) Changed(ctx context.Context) {
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// Stop ends the worker and waits for it.
func (r *Rebalancer) Stop() {
	r.once.Do(func() { close(r.stop) })
	<-r.done
}

func (r *Rebalancer) run() {
	defer close(r.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-r.stop; cancel() }()
	backoff := 200 * time.Millisecond
	for {
		select {
		case <-r.stop:
			return
		case <-r.signal:
		}
		err := r.step(ctx)
		if err == nil {
			backoff = 200 * time.Millisecond
			continue
		}
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("rebalance step failed; retrying", "err", err, "in", backoff)
		select {
		case <-r.stop:
			return
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
		r.Changed(ctx)
	}
}

func (r *Rebalancer) step(ctx context.Context) error {
	switch r.m.SelfState() {
	case "joining":
		if err := r.pull(ctx); err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		read, _ := r.c.cfg.Members.Rings()
		r.owned = read
		return r.m.MoveSelf(ctx, "joining", "up")
	case "leaving":
		r.progress.begin("leave", 0, nil)
		if err := r.push(ctx); err != nil {
			return fmt.Errorf("push: %w", err)
		}
		r.progress.finish()
		return r.m.MoveSelf(ctx, "leaving", "left")
	case "up":
		if err := r.repair(ctx); err != nil {
			return err
		}
		return r.autoCleanup(ctx)
	}
	return nil
}

// CleanupGrace is how long a ring must stay settled before this node
// deletes the copies it no longer owns (Coordinator.Cleanup): readers that
// still route by the old ring, and owners still catching up, get time.
var CleanupGrace = 2 * time.Minute

// autoCleanup runs Cleanup once per settled ring, CleanupGrace after it
// settled.
func (r *Rebalancer) autoCleanup(ctx context.Context) error {
	read, write := r.c.cfg.Members.Rings()
	p, ok := r.local.(Dropper)
	if !ok || read == nil || read != write || read == r.cleaned {
		return nil
	}
	if read != r.stableRing {
		r.stableRing, r.stableSince = read, time.Now()
	}
	if r.cleaned == nil {
		// First sight after start: take the ring as clean; the next
		// change it sees is what a cleanup follows.
		r.cleaned = read
		return nil
	}
	if wait := CleanupGrace - time.Since(r.stableSince); wait > 0 {
		time.AfterFunc(wait, func() { r.Changed(ctx) })
		return nil
	}
	st, err := r.c.Cleanup(ctx, p)
	if errors.Is(err, ErrRingMoving) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	r.cleaned = read
	r.cells.WithLabelValues("cleaned").Add(float64(st.Purged))
	r.log.Info("cleaned up copies this node no longer owns", "checked", st.Checked, "purged", st.Purged, "kept", st.Kept)
	return nil
}

// repair pulls the ranges this node gained since the ring it last held in
// full, when they were not streamed to it: a joining node pulls before it
// is up and a leaving one pushes before it goes, but a member removed for
// good hands nothing off, and its ranges move to nodes that are already up.
// Sources are the surviving members of the old ring (dead ones skipped);
// Apply keeps the newest version of each key.
func (r *Rebalancer) repair(ctx context.Context) error {
	read, write := r.c.cfg.Members.Rings()
	if read != write {
		return nil // ranges are moving; the movers stream them
	}
	old := r.owned
	if old == nil || old == read {
		r.owned = read
		return nil
	}
	n, _, _ := r.c.cfg.Members.Settings()
	gained := subtract(read.Ranges(r.c.self, n), old.Ranges(r.c.self, n))
	lost := false
	for _, m := range old.Members() {
		if !read.Has(m.ID) {
			lost = true // a member left without handing off (removed)
		}
	}
	if len(gained) == 0 || !lost {
		r.owned = read
		return nil
	}
	// The removed member gives nothing: every live former owner of each
	// gained arc is a source, so whichever holds an acknowledged write
	// passes it on.
	if err := r.stream(ctx, "repair", "repaired", old, read, gained); err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	r.owned = read
	return nil
}

// subtract returns the parts of a not covered by b. Ranges are (Start,
// End] arcs of the hash circle; every endpoint of a and b bounds an
// elementary arc that lies wholly inside or outside each range, so testing
// one point of each (its end) decides it.
func subtract(a, b []ring.Range) []ring.Range {
	if len(a) == 0 {
		return nil
	}
	var pts []uint64
	for _, rs := range [][]ring.Range{a, b} {
		for _, rg := range rs {
			pts = append(pts, rg.Start, rg.End)
		}
	}
	slices.Sort(pts)
	pts = slices.Compact(pts)
	in := func(rs []ring.Range, h uint64) bool {
		for _, rg := range rs {
			if rg.Contains(h) {
				return true
			}
		}
		return false
	}
	var out []ring.Range
	for i, end := range pts {
		start := pts[(i-1+len(pts))%len(pts)]
		if !in(a, end) || in(b, end) {
			continue
		}
		if k := len(out) - 1; k >= 0 && out[k].End == start {
			out[k].End = end
			continue
		}
		out = append(out, ring.Range{Start: start, End: end})
	}
	if len(out) > 1 && out[len(out)-1].End == out[0].Start {
		out[0].Start = out[len(out)-1].Start
		out = out[:len(out)-1]
	}
	return out
}

// pull streams the ranges this node will replicate: each from the member
// that gives it up when that one is alive (one copy of the new share, and
// the copy that holds whatever that member acknowledged), else from every
// live current owner. A rebuilding node gives nothing up and keeps its
// place, so it pulls from every live replica of its ranges.
func (r *Rebalancer) pull(ctx context.Context) error {
	read, write := r.c.cfg.Members.Rings()
	n, _, _ := r.c.cfg.Members.Settings()
	kind := "join"
	if read.Has(r.c.self) {
		kind = "rebuild"
	}
	return r.stream(ctx, kind, "pulled", read, write, write.Ranges(r.c.self, n))
}

// stream copies the ranges mine into this node's engine, choosing the
// sources of each arc by how its owners change from old to next (see
// pull), and records progress and metrics under kind and label.
func (r *Rebalancer) stream(ctx context.Context, kind, label string, old, next *ring.Ring, mine []ring.Range) error {
	n, _, _ := r.c.cfg.Members.Settings()
	start := time.Now()
	groups, order, missing := r.sources(old, next, mine, n)
	total := len(missing)
	for _, g := range groups {
		total += g.arcs
	}
	r.progress.begin(kind, total, missing)
	if len(missing) > 0 {
		r.log.Error("ranges with no live replica to stream from", "kind", kind, "ranges", missing)
	}
	moved := 0
	for _, key := range order {
		g := groups[key]
		for _, src := range g.from {
			err := r.c.FetchRanges(ctx, src, g.ranges, r.applyFetched(ctx, label, &moved))
			if err != nil {
				return fmt.Errorf("from %s: %w", src, err)
			}
		}
		r.progress.add(g.arcs, 0)
	}
	r.progress.finish()
	r.log.Info("ranges streamed", "kind", kind, "ranges", total, "entries", moved, "took", time.Since(start))
	return nil
}

// sourceGroup is the arcs that stream from the same members.
type sourceGroup struct {
	from   []string
	ranges []ring.Range
	arcs   int
}

// sources splits mine into arcs with one owner list each in old and next
// and groups them by the members to stream from; arcs without any live
// source come back by name.
func (r *Rebalancer) sources(old, next *ring.Ring, mine []ring.Range, n int) (map[string]*sourceGroup, []string, []string) {
	groups := map[string]*sourceGroup{}
	var order, missing []string
	if old.Len() == 0 || len(mine) == 0 {
		return groups, order, missing
	}
	var pts []uint64
	for _, m := range old.Members() {
		pts = append(pts, old.Tokens(m.ID)...)
	}
	for _, rg := range mine {
		pts = append(pts, rg.Start, rg.End)
	}
	slices.Sort(pts)
	pts = slices.Compact(pts)
	for i, end := range pts {
		if !inRanges(mine, end) {
			continue
		}
		arc := ring.Range{Start: pts[(i-1+len(pts))%len(pts)], End: end}
		owners := old.PreferenceHash(end, n)
		future := next.PreferenceHash(end, n)
		var from []string
		for _, id := range owners {
			if id != r.c.self && !contains(future, id) && r.c.cfg.Members.Alive(id) {
				from = []string{id} // the member giving the arc up
				break
			}
		}
		if from == nil {
			for _, id := range owners {
				if id != r.c.self && r.c.cfg.Members.Alive(id) {
					from = append(from, id)
				}
			}
		}
		if from == nil {
			missing = append(missing, fmt.Sprintf("(%016x,%016x]", arc.Start, arc.End))
			continue
		}
		key := strings.Join(from, ",")
		g := groups[key]
		if g == nil {
			g = &sourceGroup{from: from}
			groups[key] = g
			order = append(order, key)
		}
		g.arcs++
		if k := len(g.ranges) - 1; k >= 0 && g.ranges[k].End == arc.Start {
			g.ranges[k].End = arc.End
		} else {
			g.ranges = append(g.ranges, arc)
		}
	}
	return groups, order, missing
}

func entryBytes(es []kv.Entry) int64 {
	var b int64
	for _, e := range es {
		b += int64(len(e.Key) + len(e.Cell.Value))
	}
	return b
}

// push sends every local entry to its future owners.
func (r *Rebalancer) push(ctx context.Context) error {
	_, write := r.c.cfg.Members.Rings()
	n, _, _ := r.c.cfg.Members.Settings()
	batch := map[string][]kv.Entry{}
	size := 0
	flush := func() error {
		for id, es := range batch {
			r.cells.WithLabelValues("pushed").Add(float64(len(es)))
			r.bytes.WithLabelValues("pushed").Add(float64(entryBytes(es)))
			r.progress.add(0, entryBytes(es))
			if err := r.c.applyTo(ctx, id, es); err != nil {
				return fmt.Errorf("to %s: %w", id, err)
			}
		}
		clear(batch)
		size = 0
		return nil
	}
	var ferr error
	err := r.local.ForEach(ctx, func(e kv.Entry) bool {
		for _, id := range write.Preference(kv.Partition(e.Key), n) {
			// A future owner that is down gets what it misses from
			// anti-entropy when it returns, or from the repair pull of
			// whoever replaces it if it is removed.
			if id != r.c.self && r.c.cfg.Members.Alive(id) {
				batch[id] = append(batch[id], e)
			}
		}
		if size++; size >= 500 {
			if ferr = flush(); ferr != nil {
				return false
			}
		}
		return true
	})
	if err == nil {
		err = ferr
	}
	if err == nil {
		err = flush()
	}
	return err
}

// applyFetched returns the FetchRanges callback that applies fetched
// entries to this node's engine (those admit accepts),
// counting them in moved, in the cells and bytes metrics under label and
// in the progress.
func (r *Rebalancer) applyFetched(ctx context.Context, label string, moved *int) func([]kv.Entry) error {
	return func(es []kv.Entry) error {
		es = r.c.admitted(es)
		*moved += len(es)
		b := entryBytes(es)
		r.cells.WithLabelValues(label).Add(float64(len(es)))
		r.bytes.WithLabelValues(label).Add(float64(b))
		r.progress.add(0, b)
		_, err := r.local.Apply(ctx, es...)
		return err
	}
}
