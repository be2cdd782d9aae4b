package server

import (
	"sync/atomic"

	"github.com/grafo/grafo/kv/cluster"
	"github.com/grafo/grafo/kv/ring"
)

// members adapts kv/cluster to what the coordinator needs, caching the
// address book so the hot path does not copy the cluster state.
type members struct {
	c    *cluster.Cluster
	snap atomic.Pointer[memberSnap]
}

type memberSnap struct {
	addrs   map[string]string
	n, w, r int
}

func newMembers(c *cluster.Cluster) *members {
	m := &members{c: c}
	m.refresh(c.State())
	return m
}

func (m *members) refresh(st cluster.State) {
	s := &memberSnap{addrs: map[string]string{}, n: st.Replicas, w: st.WriteQuorum, r: st.ReadQuorum}
	for _, n := range st.Nodes {
		s.addrs[n.ID] = n.Cluster
	}
	m.snap.Store(s)
}

func (m *members) Rings() (read, write *ring.Ring) { return m.c.Rings() }

func (m *members) Addr(id string) (string, bool) {
	a, ok := m.snap.Load().addrs[id]
	return a, ok
}

// Alive is what coordinators and the rebalancer ask before sending to a
// replica: a member rebuilding lost data or flagged unhealthy counts as
// down (its writes become hints, it is no source for streaming).
func (m *members) Alive(id string) bool { return m.c.Serving(id) }

func (m *members) Settings() (n, w, r int) {
	s := m.snap.Load()
	return s.n, s.w, s.r
}
