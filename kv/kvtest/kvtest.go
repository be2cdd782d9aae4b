// Package kvtest gives tests real key-value stores: NewCluster builds n
// coordinators over real bbolt engines (kv/engine/enginetest: a file in
// t.TempDir(), invariants checked when the test ends) joined by the
// in-memory transport, whose fault hooks (Net.Disconnect, Partition,
// SetDelay, with Members.SetDown) stand in for a network; NewStore is the one-node case that the layers
// above the store (graph store, GraphQL, ingest, front ends) test against.
//
// kv/replica's own tests cannot import this package (it imports
// kv/replica); they build their cluster from enginetest the same way.
package kvtest

import (
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/engine"
	"github.com/grafo/grafo/kv/engine/enginetest"
	"github.com/grafo/grafo/kv/replica"
	"github.com/grafo/grafo/kv/transport"
)

// Options shape a test cluster; the zero value is one node, N=1.
type Options struct {
	Nodes    int           // 0: 1
	Replicas int           // N; 0: min(Nodes, 3)
	W, R     int           // default quorums; 0: N/2+1
	Timeout  time.Duration // replica call timeout; 0: replica's default
}

// Cluster is n coordinators n1…nN over real engines, addressed nI:7071 on
// one in-memory network.
type Cluster struct {
	Net     *transport.Network
	Members *replica.Static
	Coords  []*replica.Coordinator
	Engines []*engine.Engine
}

// NewCluster builds the cluster for t. Its engines skip fsync (NoSync):
// these tests are about what is stored and where, not about durability,
// which kv/engine's own tests cover. On cleanup it waits for the
// coordinators' background calls, then checks and closes the engines.
func NewCluster(t testing.TB, o Options) *Cluster {
	t.Helper()
	n := max(o.Nodes, 1)
	if o.Replicas == 0 {
		o.Replicas = min(n, 3)
	}
	cfg := engine.DefaultConfig()
	cfg.NoSync = true
	nodes, addrs := enginetest.Nodes(t, n, cfg)
	c := &Cluster{Net: transport.NewNetwork(), Members: replica.NewStatic(addrs, 64, o.Replicas, o.W, o.R)}
	for _, nd := range nodes {
		co, err := replica.New(replica.Config{NodeID: nd.ID, Local: nd.Engine, Transport: c.Net.Node(nd.Addr), Members: c.Members, Timeout: o.Timeout})
		if err != nil {
			t.Fatal(err)
		}
		c.Coords = append(c.Coords, co)
		c.Engines = append(c.Engines, nd.Engine)
	}
	// Registered after the engines' cleanups, so it runs before them.
	t.Cleanup(func() {
		for _, co := range c.Coords {
			co.Wait()
		}
	})
	return c
}

// NewStore returns a single-node store for t: NewCluster's one node.
func NewStore(t testing.TB) kv.Store {
	t.Helper()
	return NewCluster(t, Options{}).Coords[0]
}
