// Package kvtest gives tests of the layers above the key-value store (the
// graph store, GraphQL, ingest) a real kv.Store: a single-node coordinator
// over a bbolt engine in t.TempDir(), closed when the test ends.
package kvtest

import (
	"path/filepath"
	"testing"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/engine"
	"github.com/grafo/grafo/kv/replica"
	"github.com/grafo/grafo/kv/transport"
)

// NewStore returns a single-node store for t. Its engine skips fsync
// (NoSync): these tests are about what is stored, not about durability,
// which kv/engine's own tests cover.
func NewStore(t testing.TB) kv.Store {
	t.Helper()
	cfg := engine.DefaultConfig()
	cfg.NoSync = true
	e, err := engine.Open(filepath.Join(t.TempDir(), "data.db"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	members := replica.NewStatic(map[string]string{"test": "test"}, 16, 1, 1, 1)
	c, err := replica.New(replica.Config{NodeID: "test", Local: e, Transport: transport.NewNetwork().Node("test"), Members: members})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Wait()
		if err := e.Close(); err != nil {
			t.Errorf("closing engine: %v", err)
		}
	})
	return c
}
