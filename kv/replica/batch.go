package replica

import (
	"context"
	"sync"

	"github.com/grafo/grafo/kv"
)

// Writes to a peer are coalesced: while up to maxInflight apply calls to
// it are in flight, further writes queue, and the next call carries all
// of them (up to maxBatchBytes). Under load this turns many small RPCs —
// a goroutine, a stream and two syscalls each — into a few large ones
// whose entries the peer's engine commits together; an idle peer still
// gets each write at once. Each entry keeps its own version, so combining
// writes changes nothing about what they mean.
const (
	maxInflight   = 2
	maxBatchBytes = 4 << 20
)

type peerQueue struct {
	mu      sync.Mutex
	queue   []*pendingApply
	running int
}

type pendingApply struct {
	es   []kv.Entry
	size int
	done chan applyDone // buffered: the sender never blocks
}

type applyDone struct {
	rs  []applyResult
	err error
}

func entriesSize(es []kv.Entry) int {
	n := 0
	for _, e := range es {
		n += len(e.Key) + len(e.Cell.Value) + 32
	}
	return n
}

// applyCoalesced is applyResults for the write path: remote peers get
// coalesced calls; the local engine already groups its commits.
func (c *Coordinator) applyCoalesced(ctx context.Context, id string, es []kv.Entry) ([]applyResult, error) {
	if id == c.self {
		return c.applyResults(ctx, id, es)
	}
	v, _ := c.peers.LoadOrStore(id, &peerQueue{})
	q := v.(*peerQueue)
	p := &pendingApply{es: es, size: entriesSize(es), done: make(chan applyDone, 1)}
	q.mu.Lock()
	q.queue = append(q.queue, p)
	start := q.running < maxInflight
	if start {
		q.running++
	}
	q.mu.Unlock()
	if start {
		go c.drain(id, q)
	}
	select {
	case d := <-p.done:
		return d.rs, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// drain sends queued writes to id until the queue is empty.
func (c *Coordinator) drain(id string, q *peerQueue) {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.running--
			q.mu.Unlock()
			return
		}
		n, size := 0, 0
		for n < len(q.queue) && (n == 0 || size+q.queue[n].size <= maxBatchBytes) {
			size += q.queue[n].size
			n++
		}
		batch := append([]*pendingApply(nil), q.queue[:n]...)
		q.queue = append(q.queue[:0:0], q.queue[n:]...)
		q.mu.Unlock()

		es := batch[0].es
		if len(batch) > 1 {
			es = make([]kv.Entry, 0, size/64)
			for _, p := range batch {
				es = append(es, p.es...)
			}
		}
		c.metrics.peerCalls.Inc()
		c.metrics.peerWrites.Add(float64(len(batch)))
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		rs, err := c.applyResults(ctx, id, es)
		cancel()
		off := 0
		for _, p := range batch {
			d := applyDone{err: err}
			if err == nil {
				d.rs = rs[off : off+len(p.es) : off+len(p.es)]
			}
			off += len(p.es)
			p.done <- d
		}
	}
}
