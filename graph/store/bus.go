package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// maxQueued bounds the bytes of events waiting for the peers: during a
// bulk load each event names thousands of nodes, and a slow peer must not
// make the queue hold gigabytes. Past it events are not broadcast (as
// when the queue is full), which subscribers recover from with since.
const maxQueued = 32 << 20

// Peers carries serialized changes to the other nodes of a cluster. The
// server implements it on the node-to-node transport. Broadcast is called
// with one event at a time, in publish order, and must deliver each peer's
// events in that order; it should not block on a slow peer.
type Peers interface {
	Broadcast(ctx context.Context, ev []byte)
}

// BusOptions configure a Bus. The zero value is usable.
type BusOptions struct {
	// Origin identifies this bus in events sent to peers, so that an
	// event is never delivered twice to the same node; "" means random.
	Origin string
	// History is how many recent changes are kept for subscribers that
	// ask for changes since a time; 0 means 4096. HistoryNodes bounds the
	// node ids they hold in all (0 means 262144, about 16 MiB): one
	// ingest batch can name tens of thousands, and a bulk load's last
	// 4096 batches held hundreds of MiB. The newest change is always kept.
	History      int
	HistoryNodes int
	// Buffer is each subscriber's queue; a subscriber that falls further
	// behind is closed (it can resubscribe with since). 0 means 1024.
	Buffer int
	// Logger; nil discards.
	Logger *slog.Logger
}

// Bus fans changes out to subscribers in this process and, through Peers,
// to the other nodes of a cluster. It is safe for concurrent use.
type Bus struct {
	o   BusOptions
	log *slog.Logger

	mu      sync.Mutex
	subs    map[*subscriber]struct{}
	history []Change // oldest first
	ids     int      // node ids in history
	peers   Peers
	out     chan []byte
	queued  atomic.Int64 // bytes in out
	done    chan struct{}
	closed  bool
}

type subscriber struct {
	graph string
	ch    chan Change
}

// envelope is the wire form of a change between peers.
type envelope struct {
	Origin string `json:"origin"`
	Change Change `json:"change"`
}

// NewBus returns a bus. Close it to stop the peer sender.
func NewBus(o BusOptions) *Bus {
	if o.Origin == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.Origin = hex.EncodeToString(b[:])
	}
	o.History = orDefault(o.History, 4096)
	o.HistoryNodes = orDefault(o.HistoryNodes, 1<<18)
	o.Buffer = orDefault(o.Buffer, 1024)
	return &Bus{o: o, log: orDiscard(o.Logger), subs: map[*subscriber]struct{}{},
		done: make(chan struct{})}
}

// SetPeers starts broadcasting local changes to p.
func (b *Bus) SetPeers(p Peers) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.peers = p
	if b.out == nil {
		b.out = make(chan []byte, 4096)
		go b.send()
	}
}

// send delivers to peers one event at a time, in publish order, detached
// from the request that caused the change.
func (b *Bus) send() {
	for {
		select {
		case ev := <-b.out:
			b.queued.Add(-int64(len(ev)))
			b.mu.Lock()
			p := b.peers
			b.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			p.Broadcast(ctx, ev)
			cancel()
		case <-b.done:
			return
		}
	}
}

// Close stops the peer sender and ends every subscription.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	close(b.done)
	for s := range b.subs {
		close(s.ch)
		delete(b.subs, s)
	}
}

// Publish delivers c to local subscribers and broadcasts it to peers.
func (b *Bus) Publish(ctx context.Context, c Change) {
	b.deliver(c)
	b.mu.Lock()
	out := b.out
	b.mu.Unlock()
	if out == nil {
		return
	}
	ev, err := json.Marshal(envelope{Origin: b.o.Origin, Change: c})
	if err != nil {
		b.log.Error("bus encode", "err", err)
		return
	}
	// One event alone always goes: nothing else waits.
	size := int64(len(ev))
	if n := b.queued.Add(size); n <= maxQueued || n == size {
		select {
		case out <- ev:
			return
		default:
		}
	}
	b.queued.Add(-size)
	b.log.Warn("bus peer queue full, change not broadcast", "graph", c.GraphID, "kind", c.Kind, "bytes", size)
}

// Deliver accepts an event broadcast by a peer. Events this bus sent
// itself are ignored.
func (b *Bus) Deliver(ev []byte) error {
	var e envelope
	if err := json.Unmarshal(ev, &e); err != nil {
		return fmt.Errorf("%w: bus event: %v", ErrInvalid, err)
	}
	if e.Origin == b.o.Origin {
		return nil
	}
	if e.Change.Nodes == nil {
		e.Change.Nodes = []string{}
	}
	b.deliver(e.Change)
	return nil
}

func (b *Bus) deliver(c Change) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.history = append(b.history, c)
	b.ids += len(c.Nodes)
	for len(b.history) > b.o.History || b.ids > b.o.HistoryNodes && len(b.history) > 1 {
		b.ids -= len(b.history[0].Nodes)
		b.history[0] = Change{} // its slot stays in the array until append moves the rest
		b.history = b.history[1:]
	}
	for s := range b.subs {
		if s.graph != c.GraphID {
			continue
		}
		select {
		case s.ch <- c:
		default:
			// Too slow: end the subscription rather than lose events
			// silently; the client resubscribes with since.
			b.log.Warn("bus subscriber too slow, closing", "graph", c.GraphID)
			close(s.ch)
			delete(b.subs, s)
		}
	}
}

// Subscribe returns changes of graph until ctx ends (then the channel is
// closed). A non-zero since first replays the kept changes newer than it.
func (b *Bus) Subscribe(ctx context.Context, graph string, since time.Time) <-chan Change {
	b.mu.Lock()
	var replay []Change
	if !since.IsZero() {
		for _, c := range b.history {
			if c.GraphID == graph && c.At.After(since) {
				replay = append(replay, c)
			}
		}
	}
	s := &subscriber{graph: graph, ch: make(chan Change, b.o.Buffer+len(replay))}
	if b.closed {
		b.mu.Unlock()
		close(s.ch)
		return s.ch
	}
	for _, c := range replay {
		s.ch <- c
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
		case <-b.done:
		}
		b.mu.Lock()
		if _, ok := b.subs[s]; ok {
			delete(b.subs, s)
			close(s.ch)
		}
		b.mu.Unlock()
	}()
	return s.ch
}
