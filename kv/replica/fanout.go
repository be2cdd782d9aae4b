package replica

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/transport"
)

// This file holds the one quorum fan-out that writes, reads and scans
// share: a call to each live replica (counted in Coordinator.bg, so Wait
// covers it) in its own goroutine, or queued on a peer's coalescer where
// the caller gives an async start; answers taken in arrival order until
// the caller has what it needs or the request's context ends, and the
// answers still in flight handed to the caller in the background.

// callScope says how long a fan-out's replica calls may run.
type callScope int

const (
	// outliveRequest: calls complete after the client stopped waiting
	// (late write acks still land, late read answers still get repaired),
	// bounded by Config.Timeout.
	outliveRequest callScope = iota
	// withRequest: calls end with the request's context (each call bounds
	// its own round trips); nothing is left to do with a late answer.
	withRequest
)

// reply is one replica's answer to a fan-out.
type reply[T any] struct {
	node string
	val  T
	err  error
}

// fanout is one request's calls to a set of replicas.
type fanout[T any] struct {
	c      *Coordinator
	ch     chan reply[T]
	sent   int
	got    int
	status map[string]string // node → "ok", "down", "timeout", "error: …"
	cancel context.CancelFunc
	cctx   context.Context
	call   func(ctx context.Context, id string) (T, error)
	async  asyncStart[T]
	spares []string // alive replicas not asked yet (fanOutFirst)

	// mu orders deliveries against releaseEach: once released, answers go
	// to onLate instead of ch.
	mu       sync.Mutex
	onLate   func(reply[T])
	lateLeft int
}

// asyncStart starts the call to id without a goroutine of its own and has
// deliver called once with its answer, on whatever goroutine completes
// it; deliver does not block. It returns false for a node it does not
// serve (the fan-out then calls it in a goroutine).
type asyncStart[T any] func(ctx context.Context, id string, deliver func(T, error)) bool

// fanOut starts call on every node of ids that the membership sees alive;
// the others are recorded as down. call must check its answer's shape
// (returning errBadMessage) so that every reply with a nil err is usable.
func fanOut[T any](c *Coordinator, ctx context.Context, scope callScope, ids []string, call func(ctx context.Context, id string) (T, error)) *fanout[T] {
	return newFanout(c, ctx, scope, ids, len(ids), false, call, nil)
}

// fanOutAsync is fanOut that starts the calls async serves without a
// goroutine each (a write's calls to peers ride on their coalescers: a
// goroutine per call, parked until the peer answers, cost more than the
// call's bookkeeping). The others run in goroutines as with fanOut.
func fanOutAsync[T any](c *Coordinator, ctx context.Context, scope callScope, ids []string, call func(ctx context.Context, id string) (T, error), async asyncStart[T]) *fanout[T] {
	return newFanout(c, ctx, scope, ids, len(ids), false, call, async)
}

// fanOutFirst is fanOutAsync that asks only the first k alive nodes of
// ids and keeps the others as spares for more: a read that needs R answers
// asks R replicas, not N. This node's own call, when it is among them,
// runs inline once the others are sent: a local read takes microseconds,
// less than a goroutine and a channel hand-off cost.
func fanOutFirst[T any](c *Coordinator, ctx context.Context, scope callScope, ids []string, k int, call func(ctx context.Context, id string) (T, error), async asyncStart[T]) *fanout[T] {
	return newFanout(c, ctx, scope, ids, k, true, call, async)
}

func newFanout[T any](c *Coordinator, ctx context.Context, scope callScope, ids []string, k int, selfInline bool, call func(ctx context.Context, id string) (T, error), async asyncStart[T]) *fanout[T] {
	f := &fanout[T]{c: c, ch: make(chan reply[T], len(ids)), status: make(map[string]string, len(ids)), call: call, async: async}
	if scope == outliveRequest {
		f.cctx, f.cancel = c.detached(ctx)
	} else {
		f.cctx, f.cancel = context.WithCancel(ctx)
	}
	self := false
	for _, id := range ids {
		switch {
		case !c.cfg.Members.Alive(id):
			f.status[id] = "down"
		case f.sent >= k:
			f.spares = append(f.spares, id)
			f.status[id] = "not asked"
		case selfInline && id == c.self:
			self = true
			f.sent++
		default:
			f.start(id)
		}
	}
	if self {
		v, err := call(f.cctx, c.self)
		f.ch <- reply[T]{node: c.self, val: v, err: err} // buffered for every id
	}
	return f
}

func (f *fanout[T]) start(id string) {
	delete(f.status, id)
	f.sent++
	f.c.bg.Add(1)
	if f.async != nil && f.async(f.cctx, id, func(v T, err error) {
		f.deliver(reply[T]{node: id, val: v, err: err})
		f.c.bg.Done()
	}) {
		return
	}
	go func() {
		defer f.c.bg.Done()
		v, err := f.call(f.cctx, id)
		f.deliver(reply[T]{node: id, val: v, err: err})
	}()
}

// deliver hands one call's answer to the caller, or to onLate once the
// caller has released the fan-out with releaseEach. It never blocks: ch
// has room for every call.
func (f *fanout[T]) deliver(r reply[T]) {
	f.mu.Lock()
	late := f.onLate
	if late == nil {
		f.ch <- r
		f.mu.Unlock()
		return
	}
	f.lateLeft--
	last := f.lateLeft == 0
	f.mu.Unlock()
	late(r)
	if last {
		f.cancel()
	}
}

// more asks the next spare replica; false when none is left.
func (f *fanout[T]) more() bool {
	if len(f.spares) == 0 {
		return false
	}
	id := f.spares[0]
	f.spares = f.spares[1:]
	f.start(id)
	return true
}

// pending is the number of calls that have not answered yet.
func (f *fanout[T]) pending() int { return f.sent - f.got }

// next waits for the next answer and records its node's status. It
// returns ctx's error when the request ends first, and false when no call
// is pending.
func (f *fanout[T]) next(ctx context.Context) (reply[T], bool, error) {
	if f.pending() == 0 {
		return reply[T]{}, false, nil
	}
	select {
	case r := <-f.ch:
		f.got++
		if r.err != nil {
			f.status[r.node] = describe(r.err)
		} else {
			f.status[r.node] = "ok"
		}
		return r, true, nil
	case <-ctx.Done():
		return reply[T]{}, false, ctx.Err()
	}
}

// collect waits for need successful answers (fewer if too few replicas
// answer, or ctx ends first, whose error it then returns).
func (f *fanout[T]) collect(ctx context.Context, need int) ([]reply[T], error) {
	var ok []reply[T]
	for len(ok) < need {
		r, more, err := f.next(ctx)
		if err != nil || !more {
			return ok, err
		}
		if r.err == nil {
			ok = append(ok, r)
		}
	}
	return ok, nil
}

// collectSpeculative is collect for a fanOutFirst: a failed answer is
// replaced by a spare at once, and when need answers are not in after
// `after` (a late replica, as Cassandra's speculative retry judges it),
// one more spare is asked, and again each `after` that passes.
func (f *fanout[T]) collectSpeculative(ctx context.Context, need int, after time.Duration) ([]reply[T], error) {
	var ok []reply[T]
	timer := time.NewTimer(after)
	defer timer.Stop()
	for len(ok) < need {
		if f.pending() == 0 && !f.more() {
			return ok, nil
		}
		select {
		case r := <-f.ch:
			f.got++
			if r.err != nil {
				f.status[r.node] = describe(r.err)
				f.more()
				continue
			}
			f.status[r.node] = "ok"
			ok = append(ok, r)
		case <-timer.C:
			if f.more() {
				f.c.metrics.speculative.Inc()
			}
			timer.Reset(after)
		case <-ctx.Done():
			return ok, ctx.Err()
		}
	}
	return ok, nil
}

// release hands the answers still in flight to late, once they are all in,
// in a goroutine Wait covers; then it ends the calls' context. With late
// nil it ends the calls at once and drops their answers (the channel is
// buffered: no call blocks).
func (f *fanout[T]) release(late func(rest []reply[T])) {
	if late == nil {
		f.cancel()
		return
	}
	pending := f.pending()
	f.got = f.sent
	f.c.bg.Add(1)
	go func() {
		defer f.c.bg.Done()
		defer f.cancel()
		rest := make([]reply[T], 0, pending)
		for i := 0; i < pending; i++ {
			rest = append(rest, <-f.ch)
		}
		late(rest)
	}()
}

// releaseEach is release for answers that need no company: each answer
// still to come is handed to late as it arrives, on the goroutine that
// delivers it (late must not block), and no goroutine waits for them.
func (f *fanout[T]) releaseEach(late func(reply[T])) {
	f.mu.Lock()
	pending := f.pending()
	f.got = f.sent
	var arrived []reply[T]
	for len(f.ch) > 0 {
		arrived = append(arrived, <-f.ch)
	}
	left := pending - len(arrived)
	if left > 0 {
		f.onLate, f.lateLeft = late, left
	}
	f.mu.Unlock()
	for _, r := range arrived {
		late(r)
	}
	if left == 0 {
		f.cancel()
	}
}

// statusLine describes the owners' answers for an error message.
func (f *fanout[T]) statusLine(owners []string) string {
	parts := make([]string, len(owners))
	for i, id := range owners {
		s := f.status[id]
		if s == "" {
			s = "no answer"
		}
		parts[i] = id + " " + s
	}
	return strings.Join(parts, ", ")
}

// errQuorum is the one "quorum not reached" error: got of need required
// acks (writes) or answers (reads, scans), before ctxErr when the request
// ended first, with each replica's status.
func errQuorum(got, need int, noun string, ctxErr error, replicas string) error {
	if ctxErr != nil {
		return fmt.Errorf("%w: quorum not reached: %d of %d required %s before %v (replicas: %s)",
			kv.ErrUnavailable, got, need, noun, ctxErr, replicas)
	}
	return fmt.Errorf("%w: quorum not reached: %d of %d required %s (replicas: %s)",
		kv.ErrUnavailable, got, need, noun, replicas)
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

// errLocalQuorum is errQuorum for a request whose one replica is this
// node's engine (see localOnly), which failed with err.
func (c *Coordinator) errLocalQuorum(noun string, err error) error {
	return errQuorum(0, 1, noun, nil, c.self+" "+describe(err))
}

// detached returns a context for replica calls that outlive the client's
// request: late replicas still complete (bounded by the timeout).
func (c *Coordinator) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
}

// localOnly reports whether this node's engine is the one and only
// replica of a request that needs one answer: a single node, or N=1 with
// the key on this node.
func (c *Coordinator) localOnly(rs replicaSet, need int) bool {
	return need == 1 && len(rs.owners) == 1 && len(rs.extras) == 0 && rs.owners[0] == c.self
}

// forGroups runs fn for each group of a multi-key request, in parallel
// when there is more than one, and joins their errors.
func forGroups(groups []*group, fn func(g *group) error) error {
	if len(groups) == 1 {
		return fn(groups[0])
	}
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for gi, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[gi] = fn(g)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
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
