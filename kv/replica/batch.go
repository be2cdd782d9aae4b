package replica

import (
	"context"
	"sync"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/prometheus/client_golang/prometheus"
)

// Calls to a peer are coalesced, writes and reads alike: while up to
// maxInflight calls of one kind to it are in flight, further requests
// queue, and the next call carries all of them (up to maxBatchBytes).
// Under load this turns many small RPCs — a goroutine, a stream and two
// syscalls on each side — into a few large ones: the peer's engine commits
// a write batch together and reads a read batch in one transaction; an idle
// peer still gets each request at once. Each entry keeps its own version
// and each key gets its own answer, so combining requests changes nothing
// about what they mean.
const (
	maxInflight   = 2
	maxBatchBytes = 4 << 20
)

// peerQueues are one peer's coalescers, one per kind of call.
type peerQueues struct {
	apply  coalescer[kv.Entry, applyResult]
	get    coalescer[[]byte, kv.Cell]
	digest coalescer[[]byte, kv.Cell]
}

// coalescer queues requests of items Q, answered one A per item, for the
// next call to one peer, which s makes (bounded by timeout).
type coalescer[Q, A any] struct {
	s       batchSender[Q, A]
	timeout time.Duration
	mu      sync.Mutex
	queue   []*pendingCall[Q, A]
	running int
}

type pendingCall[Q, A any] struct {
	items []Q
	size  int
	done  chan callDone[A] // buffered: the sender never blocks
	// deliver, when set, takes the answer instead of done (enqueue).
	deliver func(callDone[A])
}

type callDone[A any] struct {
	out []A
	err error
}

// batchSender makes one call for a batch of items and returns one answer
// per item, in order; sent reports how many requests the call carried.
type batchSender[Q, A any] struct {
	send func(ctx context.Context, items []Q) ([]A, error)
	sent func(requests int)
}

func entriesSize(es []kv.Entry) int {
	n := 0
	for _, e := range es {
		n += len(e.Key) + len(e.Cell.Value) + 32
	}
	return n
}

func keysSize(keys [][]byte) int {
	n := 0
	for _, k := range keys {
		n += len(k) + 8
	}
	return n
}

func (c *Coordinator) queuesOf(id string) *peerQueues {
	v, ok := c.peers.Load(id)
	if !ok {
		v, _ = c.peers.LoadOrStore(id, c.newPeerQueues(id))
	}
	return v.(*peerQueues)
}

// newPeerQueues builds peer id's coalescers, each with the call it makes.
func (c *Coordinator) newPeerQueues(id string) *peerQueues {
	q := &peerQueues{}
	q.apply.s = batchSender[kv.Entry, applyResult]{
		send: func(ctx context.Context, es []kv.Entry) ([]applyResult, error) { return c.applyResults(ctx, id, es) },
		sent: func(n int) { c.metrics.peerCalls.Inc(); c.metrics.peerWrites.Add(float64(n)) },
	}
	q.get.s = c.readSender(id, methodGet, c.metrics.readCalls, c.metrics.readKeys)
	q.digest.s = c.readSender(id, methodDigest, c.metrics.digestCalls, c.metrics.digestKeys)
	q.apply.timeout, q.get.timeout, q.digest.timeout = c.timeout, c.timeout, c.timeout
	return q
}

// applyCoalesced is applyResults for the write path: remote peers get
// coalesced calls; the local engine already groups its commits.
func (c *Coordinator) applyCoalesced(ctx context.Context, id string, es []kv.Entry) ([]applyResult, error) {
	if id == c.self {
		return c.applyResults(ctx, id, es)
	}
	return coalesce(ctx, &c.queuesOf(id).apply, es, entriesSize(es))
}

// applyQueued is applyCoalesced without a caller waiting: the write is
// queued for peer id and deliver gets its answer from the call that
// carries it.
func (c *Coordinator) applyQueued(id string, es []kv.Entry, deliver func([]applyResult, error)) {
	enqueue(&c.queuesOf(id).apply, es, entriesSize(es), func(d callDone[applyResult]) { deliver(d.out, d.err) })
}

// getCoalesced is getFrom for the read path: reads of remote peers share
// calls; each caller checks the versions of its own keys only, so one
// bad cell fails only the reads that asked for it.
func (c *Coordinator) getCoalesced(ctx context.Context, id string, keys [][]byte) ([]kv.Cell, error) {
	return c.readCoalesced(ctx, id, keys, func(q *peerQueues) *coalescer[[]byte, kv.Cell] { return &q.get })
}

// digestCoalesced is getCoalesced for versions only (digest.go): the
// cells a peer returns have no values.
func (c *Coordinator) digestCoalesced(ctx context.Context, id string, keys [][]byte) ([]kv.Cell, error) {
	return c.readCoalesced(ctx, id, keys, func(q *peerQueues) *coalescer[[]byte, kv.Cell] { return &q.digest })
}

// readCoalesced reads this node's engine directly, a peer through the
// coalescer which picks.
func (c *Coordinator) readCoalesced(ctx context.Context, id string, keys [][]byte, which func(*peerQueues) *coalescer[[]byte, kv.Cell]) ([]kv.Cell, error) {
	if id == c.self {
		return c.cfg.Local.GetMany(ctx, keys)
	}
	cells, err := coalesce(ctx, which(c.queuesOf(id)), keys, keysSize(keys))
	if err != nil {
		return nil, err
	}
	return cells, c.checkAhead(id, cells)
}

// readQueued is getCoalesced (digestCoalesced if digest) for peer id
// without a caller waiting: deliver gets the answer from the call that
// carries the read, on the coalescer's drainer.
func (c *Coordinator) readQueued(id string, keys [][]byte, digest bool, deliver func([]kv.Cell, error)) {
	pq := c.queuesOf(id)
	q := &pq.get
	if digest {
		q = &pq.digest
	}
	enqueue(q, keys, keysSize(keys), func(d callDone[kv.Cell]) {
		if d.err == nil {
			d.err = c.checkAhead(id, d.out)
		}
		deliver(d.out, d.err)
	})
}

func (c *Coordinator) readSender(id, method string, calls, reads prometheus.Counter) batchSender[[]byte, kv.Cell] {
	return batchSender[[]byte, kv.Cell]{
		send: func(ctx context.Context, keys [][]byte) ([]kv.Cell, error) { return c.getRemote(ctx, id, method, keys) },
		sent: func(n int) { calls.Inc(); reads.Add(float64(n)) },
	}
}

// coalesce queues items on q and waits for the call that carries them.
// The call runs detached from ctx (bounded by timeout): others' requests
// ride on it.
func coalesce[Q, A any](ctx context.Context, q *coalescer[Q, A], items []Q, size int) ([]A, error) {
	p := &pendingCall[Q, A]{items: items, size: size, done: make(chan callDone[A], 1)}
	q.push(p)
	select {
	case d := <-p.done:
		return d.out, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// enqueue queues items on q; deliver gets their answers (on the drainer's
// goroutine: it must not block).
func enqueue[Q, A any](q *coalescer[Q, A], items []Q, size int, deliver func(callDone[A])) {
	q.push(&pendingCall[Q, A]{items: items, size: size, deliver: deliver})
}

// push queues p and starts a drainer if fewer than maxInflight run.
func (q *coalescer[Q, A]) push(p *pendingCall[Q, A]) {
	q.mu.Lock()
	q.queue = append(q.queue, p)
	start := q.running < maxInflight
	if start {
		q.running++
	}
	q.mu.Unlock()
	if start {
		go q.drain()
	}
}

// drain sends queued requests until the queue is empty.
func (q *coalescer[Q, A]) drain() {
	for {
		batch, size := q.take()
		if batch == nil {
			return
		}
		items := batch[0].items
		if len(batch) > 1 {
			items = make([]Q, 0, size/64)
			for _, p := range batch {
				items = append(items, p.items...)
			}
		}
		q.s.sent(len(batch))
		ctx, cancel := context.WithTimeout(context.Background(), q.timeout)
		out, err := q.s.send(ctx, items)
		cancel()
		if err == nil && len(out) != len(items) {
			err = errBadMessage
		}
		off := 0
		for _, p := range batch {
			d := callDone[A]{err: err}
			if err == nil {
				d.out = out[off : off+len(p.items) : off+len(p.items)]
			}
			off += len(p.items)
			if p.deliver != nil {
				p.deliver(d)
			} else {
				p.done <- d
			}
		}
	}
}

// take removes the next batch from the queue; nil (and one drainer less)
// when it is empty.
func (q *coalescer[Q, A]) take() ([]*pendingCall[Q, A], int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.queue) == 0 {
		q.running--
		return nil, 0
	}
	n, size := 0, 0
	for n < len(q.queue) && (n == 0 || size+q.queue[n].size <= maxBatchBytes) {
		size += q.queue[n].size
		n++
	}
	batch := append([]*pendingCall[Q, A](nil), q.queue[:n]...)
	q.queue = append(q.queue[:0:0], q.queue[n:]...)
	return batch, size
}
