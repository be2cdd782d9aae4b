package transport

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Network is an in-memory network of transports for tests of the layers
// above. Faults are immediate and deterministic: a call that cannot get
// through (partitioned, disconnected, dropped, unknown or closed peer)
// fails at once with ErrUnreachable instead of timing out, so tests need
// no long timeouts. Drops use a seeded generator. Handler errors go through
// the same code mapping as on the wire.
type Network struct {
	mu     sync.Mutex
	nodes  map[string]*memNode
	group  map[string]int // partition group per addr; absent = group 0
	cut    map[string]bool
	drop   map[link]float64
	delay  map[link]time.Duration
	rng    *rand.Rand
	parted bool
}

type link struct{ from, to string }

// NewNetwork returns an empty network with a fixed drop seed.
func NewNetwork() *Network {
	return &Network{
		nodes: make(map[string]*memNode),
		group: make(map[string]int),
		cut:   make(map[string]bool),
		drop:  make(map[link]float64),
		delay: make(map[link]time.Duration),
		rng:   rand.New(rand.NewPCG(1, 2)),
	}
}

// Seed resets the drop generator.
func (n *Network) Seed(seed uint64) {
	n.mu.Lock()
	n.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	n.mu.Unlock()
}

// Node attaches a transport at addr, replacing (as a restart does) any
// earlier one there. Faults set for addr stay in force.
func (n *Network) Node(addr string) Transport {
	m := &memNode{net: n, addr: addr, handlers: make(map[string]Handler)}
	n.mu.Lock()
	n.nodes[addr] = m
	n.mu.Unlock()
	return m
}

// Partition splits the network: only nodes within the same group can talk.
// Nodes not listed form one more group together.
func (n *Network) Partition(groups ...[]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.group = make(map[string]int)
	for i, g := range groups {
		for _, a := range g {
			n.group[a] = i + 1
		}
	}
	n.parted = true
}

// Heal removes the partition (not disconnects, drops or delays).
func (n *Network) Heal() {
	n.mu.Lock()
	n.group = make(map[string]int)
	n.parted = false
	n.mu.Unlock()
}

// Disconnect isolates addr in both directions until Reconnect.
func (n *Network) Disconnect(addr string) {
	n.mu.Lock()
	n.cut[addr] = true
	n.mu.Unlock()
}

// Reconnect undoes Disconnect.
func (n *Network) Reconnect(addr string) {
	n.mu.Lock()
	delete(n.cut, addr)
	n.mu.Unlock()
}

// SetDrop makes messages from→to get lost with probability p (requests on
// the way out, replies on the way back: a lost reply means the handler ran).
func (n *Network) SetDrop(from, to string, p float64) {
	n.mu.Lock()
	setOrClear(n.drop, link{from, to}, p)
	n.mu.Unlock()
}

// SetDelay delays every message from→to by d.
func (n *Network) SetDelay(from, to string, d time.Duration) {
	n.mu.Lock()
	setOrClear(n.delay, link{from, to}, d)
	n.mu.Unlock()
}

// setOrClear sets a link's fault, or clears it for a value of 0 or less.
func setOrClear[V float64 | time.Duration](m map[link]V, l link, v V) {
	if v <= 0 {
		delete(m, l)
	} else {
		m[l] = v
	}
}

// pass decides the fate of one message from→to: its delay, or an error.
func (n *Network) pass(from, to string) (time.Duration, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cut[from] || n.cut[to] {
		return 0, fmt.Errorf("%w: %s -> %s disconnected", ErrUnreachable, from, to)
	}
	if n.parted && n.group[from] != n.group[to] {
		return 0, fmt.Errorf("%w: %s -> %s partitioned", ErrUnreachable, from, to)
	}
	if p, ok := n.drop[link{from, to}]; ok && n.rng.Float64() < p {
		return 0, fmt.Errorf("%w: %s -> %s dropped", ErrUnreachable, from, to)
	}
	return n.delay[link{from, to}], nil
}

type memNode struct {
	net  *Network
	addr string

	mu       sync.RWMutex
	handlers map[string]Handler
	closed   bool
}

func (m *memNode) Addr() string { return m.addr }

func (m *memNode) Handle(method string, h Handler) {
	m.mu.Lock()
	m.handlers[method] = h
	m.mu.Unlock()
}

func (m *memNode) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.net.mu.Lock()
	if m.net.nodes[m.addr] == m {
		delete(m.net.nodes, m.addr)
	}
	m.net.mu.Unlock()
	return nil
}

func (m *memNode) Call(ctx context.Context, addr, method string, req []byte) ([]byte, error) {
	m.mu.RLock()
	closed := m.closed
	m.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if err := m.travel(ctx, m.addr, addr, method); err != nil {
		return nil, err
	}
	m.net.mu.Lock()
	peer := m.net.nodes[addr]
	m.net.mu.Unlock()
	if peer == nil {
		return nil, fmt.Errorf("%w: %s: no such node", ErrUnreachable, addr)
	}
	peer.mu.RLock()
	h, ok := peer.handlers[method]
	closed = peer.closed
	peer.mu.RUnlock()
	if closed {
		return nil, fmt.Errorf("%w: %s: closed", ErrUnreachable, addr)
	}
	var resp []byte
	var err error
	if !ok {
		err = fmt.Errorf("%w %q", ErrUnknownMethod, method)
	} else {
		// Copies keep caller and handler from sharing buffers, as on the wire.
		resp, err = callHandler(ctx, h, m.addr, slices.Clone(req))
	}
	if terr := m.travel(ctx, addr, m.addr, method); terr != nil {
		return nil, terr
	}
	if err != nil {
		return nil, remoteError(addr, method, err)
	}
	return slices.Clone(resp), nil
}

// travel applies the network's verdict on one message, honouring ctx.
func (m *memNode) travel(ctx context.Context, from, to, method string) error {
	d, err := m.net.pass(from, to)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("transport: %s on %s: %w", method, to, ctx.Err())
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("transport: %s on %s: %w", method, to, err)
	}
	return nil
}
