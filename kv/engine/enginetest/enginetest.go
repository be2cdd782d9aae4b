// Package enginetest helps tests open real engines: a bbolt file in
// t.TempDir(), closed on cleanup after checking the engine's invariants
// (bbolt consistency, every cell decodes, counters equal a recount, Keys
// equals the live cells a full walk sees).
package enginetest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/engine"
)

// MustOpen opens an engine on a fresh file in t.TempDir() with cfg[0] (or
// the zero Config, i.e. defaults) and checks and closes it on cleanup. If
// the test closed it already, the file is reopened for the check.
func MustOpen(t testing.TB, cfg ...engine.Config) *engine.Engine {
	t.Helper()
	var c engine.Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	return MustOpenPath(t, filepath.Join(t.TempDir(), "engine.db"), c)
}

// MustOpenPath opens the engine at path with cfg, with the same cleanup as
// MustOpen. Use it to reopen a file a test closed.
func MustOpenPath(t testing.TB, path string, cfg engine.Config) *engine.Engine {
	t.Helper()
	e, err := engine.Open(path, cfg)
	if err != nil {
		t.Fatalf("enginetest: open %s: %v", path, err)
	}
	t.Cleanup(func() {
		err := CheckInvariants(e)
		if errors.Is(err, kv.ErrClosed) {
			// Closed by the test: check what it left on disk.
			cfg.TestingBeforeCommit = nil
			re, oerr := engine.Open(path, cfg)
			if oerr != nil {
				t.Errorf("enginetest: reopen %s for check: %v", path, oerr)
				return
			}
			err = CheckInvariants(re)
			e = re
		}
		if err != nil {
			t.Errorf("enginetest: %s: %v", path, err)
		}
		if err := e.Close(); err != nil {
			t.Errorf("enginetest: close %s: %v", path, err)
		}
	})
	return e
}

// CheckInvariants runs e.Check and compares Keys and Stats with a full
// walk. The engine must be quiet (no concurrent writes).
func CheckInvariants(e *engine.Engine) error {
	ctx := context.Background()
	if err := e.Check(ctx); err != nil {
		return err
	}
	var live, tombs int64
	if err := e.ForEach(ctx, func(ent kv.Entry) bool {
		if ent.Cell.Tombstone {
			tombs++
		} else {
			live++
		}
		return true
	}); err != nil {
		return err
	}
	st := e.Stats()
	if e.Keys() != live || st.Keys != live || st.Tombstones != tombs {
		return fmt.Errorf("%w: Keys()=%d Stats.Keys=%d Stats.Tombstones=%d, a walk found %d live and %d tombstones",
			engine.ErrCorrupt, e.Keys(), st.Keys, st.Tombstones, live, tombs)
	}
	return nil
}

// Remove physically deletes keys whatever they hold, as a disk that lost
// them would: it drops each key at the version the engine holds now. The
// engine must be quiet (no concurrent writes to keys).
func Remove(t testing.TB, e *engine.Engine, keys ...[]byte) {
	t.Helper()
	ctx := context.Background()
	cells, err := e.GetMany(ctx, keys)
	if err != nil {
		t.Fatalf("enginetest: remove: %v", err)
	}
	var held [][]byte
	var versions []kv.Version
	for i, cl := range cells {
		if !cl.Version.IsZero() {
			held = append(held, keys[i])
			versions = append(versions, cl.Version)
		}
	}
	if err := e.Drop(ctx, held, versions); err != nil {
		t.Fatalf("enginetest: remove: %v", err)
	}
}

// Node is one engine of a test cluster: node id nI, in-memory address
// nI:7071.
type Node struct {
	ID, Addr string
	Engine   *engine.Engine
}

// Nodes opens the engines of nodes n1…nN with cfg, each as MustOpen does,
// and returns them with the id → address map a membership wants.
func Nodes(t testing.TB, n int, cfg engine.Config) ([]Node, map[string]string) {
	t.Helper()
	nodes := make([]Node, n)
	addrs := make(map[string]string, n)
	for i := range nodes {
		id := fmt.Sprintf("n%d", i+1)
		nodes[i] = Node{ID: id, Addr: id + ":7071", Engine: MustOpen(t, cfg)}
		addrs[id] = nodes[i].Addr
	}
	return nodes, addrs
}
