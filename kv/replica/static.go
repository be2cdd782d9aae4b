package replica

import (
	"sync"

	"github.com/grafo/grafo/kv/ring"
)

// Static is a fixed membership: a ring over known nodes, all alive unless
// marked down. It serves tests of the coordinator on the in-memory
// transport; a running node uses the raft-backed kv/cluster instead.
type Static struct {
	mu      sync.RWMutex
	ring    *ring.Ring
	write   *ring.Ring // nil: no range is moving
	addrs   map[string]string
	down    map[string]bool
	n, w, r int
}

// NewStatic returns a membership of nodes (id → cluster address), each of
// weight 1, with n replicas and default quorums w and r (0: n/2+1).
func NewStatic(nodes map[string]string, vnodes, n, w, r int) *Static {
	ms := make([]ring.Member, 0, len(nodes))
	addrs := map[string]string{}
	for id, a := range nodes {
		ms = append(ms, ring.Member{ID: id, Weight: 1})
		addrs[id] = a
	}
	return &Static{ring: ring.New(ms, vnodes), addrs: addrs, down: map[string]bool{}, n: n, w: w, r: r}
}

// Rings implements Membership.
func (s *Static) Rings() (read, write *ring.Ring) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.write != nil {
		return s.ring, s.write
	}
	return s.ring, s.ring
}

// SetWriteRing makes w the ring of future owners (ranges moving towards
// it); nil ends the move.
func (s *Static) SetWriteRing(w *ring.Ring) {
	s.mu.Lock()
	s.write = w
	s.mu.Unlock()
}

// Addr implements Membership.
func (s *Static) Addr(id string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.addrs[id]
	return a, ok
}

// Alive implements Membership.
func (s *Static) Alive(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return !s.down[id]
}

// SetDown marks id down (skipped by coordinators) or up.
func (s *Static) SetDown(id string, down bool) {
	s.mu.Lock()
	s.down[id] = down
	s.mu.Unlock()
}

// Settings implements Membership.
func (s *Static) Settings() (n, w, r int) { return s.n, s.w, s.r }
