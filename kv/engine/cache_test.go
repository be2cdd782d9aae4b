package engine

import (
	"testing"

	"github.com/grafo/grafo/kv"
)

// A committed cell shares its batch's arena (every key and encoding of an
// Apply call): the cache must keep a copy, on a refresh as on an add, or
// one cached cell would keep the whole batch alive.
func TestCacheApplyCopiesCells(t *testing.T) {
	c := newCache(16, 0)
	key := []byte("k")
	for i, arena := range [][]byte{[]byte("first"), []byte("second")} { // add, then refresh
		c.apply([]cacheUpdate{{key: key, cell: kv.Cell{Value: arena, Version: kv.Version{TS: uint64(i + 1)}}}})
		want := string(arena)
		arena[0] = 'X'
		got, ok, _ := c.get(key, false)
		if !ok || string(got.Value) != want {
			t.Fatalf("after apply %d and a write to the batch's bytes: cached %q (ok %v), want %q", i+1, got.Value, ok, want)
		}
	}
}
