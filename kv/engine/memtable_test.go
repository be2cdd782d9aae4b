package engine

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMemTableModel checks the WAL state's table against a map through
// random batches of writes and removals: get, prefix iteration from a
// key, and the checkpoint's walk (removed keys included), and that an
// older table is unchanged by newer batches.
func TestMemTableModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string][]byte{} // nil value: removed
	tab := emptyTable
	var old *memTable
	var oldModel map[string][]byte
	for batch := range 300 {
		n := 1 + rng.IntN(64)
		if batch%50 == 0 {
			n = 500
		}
		seen := map[string]bool{}
		var changes []change
		for range n {
			k := fmt.Sprintf("p%d/%04d", rng.IntN(3), rng.IntN(2000))
			if seen[k] {
				continue
			}
			seen[k] = true
			var enc []byte
			if rng.IntN(5) > 0 {
				enc = fmt.Appendf(nil, "v%d", batch)
			}
			changes = append(changes, change{key: []byte(k), enc: enc})
			model[k] = enc
		}
		tab = tab.with(changes)
		if batch == 100 {
			old, oldModel = tab, maps.Clone(model)
		}
	}
	if len(tab.runs) > 12 {
		t.Errorf("%d runs for %d entries: merging does not keep them logarithmic", len(tab.runs), tab.n)
	}
	check := func(tab *memTable, model map[string][]byte) {
		t.Helper()
		for i := range 2000 {
			for p := range 3 {
				k := fmt.Sprintf("p%d/%04d", p, i)
				enc, found := tab.get([]byte(k))
				want, ok := model[k]
				if found != ok || !bytes.Equal(enc, want) || (found && (enc == nil) != (want == nil)) {
					t.Fatalf("get %s = %q, %v; want %q, %v", k, enc, found, want, ok)
				}
			}
		}
		var keys []string
		for k := range model {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		it := tab.all()
		for _, k := range keys {
			gk, gv, ok := it.next()
			if !ok || string(gk) != k || !bytes.Equal(gv, model[k]) || (gv == nil) != (model[k] == nil) {
				t.Fatalf("all: got %q=%q (%v), want %q=%q", gk, gv, ok, k, model[k])
			}
		}
		if k, _, ok := it.next(); ok {
			t.Fatalf("all: extra key %q", k)
		}
		// A scan of p1 from p1/1000 sees the live keys only.
		m := newMergeIter(tab.iters(nil, []byte("p1/"), []byte("p1/1000"))...)
		for _, k := range keys {
			if k < "p1/1000" || k >= "p2" || model[k] == nil {
				continue
			}
			gk, _, ok := m.next()
			if !ok || string(gk) != k {
				t.Fatalf("scan: got %q (%v), want %q", gk, ok, k)
			}
		}
		if k, _, ok := m.next(); ok {
			t.Fatalf("scan: extra key %q", k)
		}
	}
	check(tab, model)
	check(old, oldModel)
}
