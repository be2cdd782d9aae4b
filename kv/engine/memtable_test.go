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
				enc, found := tab.get([]byte(k), keyHash([]byte(k)))
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

// The filters let a key that no run holds skip nearly every run's search:
// false positives stay near the 2% that 10 bits and 3 probes a key give.
func TestMemTableFiltersSkipAbsentKeys(t *testing.T) {
	tab := emptyTable
	for b := range 300 {
		var changes []change
		for i := range 40 {
			changes = append(changes, change{key: fmt.Appendf(nil, "in/%03d/%02d", b, i), enc: []byte("v")})
		}
		tab = tab.with(changes)
	}
	searched, filtered := 0, 0
	for i := range 10000 {
		k := fmt.Appendf(nil, "out/%05d", i)
		h := keyHash(k)
		for j := range tab.runs {
			if tab.filters[j] == nil {
				continue
			}
			filtered++
			if tab.filters[j].mayHold(h) {
				searched++
			}
		}
		if _, found := tab.get(k, h); found {
			t.Fatalf("absent key %s found", k)
		}
	}
	if filtered == 0 || float64(searched) > 0.05*float64(filtered) {
		t.Fatalf("absent keys passed %d of %d run filters, want under 5%%", searched, filtered)
	}
}

// BenchmarkMemTableGetAbsent looks up keys no run holds (what most of a
// write's version checks and reads ask the log's state), with the runs'
// filters and without.
//
//	go test -bench MemTableGetAbsent -run '^$' ./kv/engine
func BenchmarkMemTableGetAbsent(b *testing.B) {
	tab := emptyTable
	for batch := range 1000 {
		var changes []change
		for i := range 10 {
			changes = append(changes, change{key: fmt.Appendf(nil, "bench/%014x", mix64(uint64(batch*10+i))), enc: []byte("v")})
		}
		tab = tab.with(changes)
	}
	bare := &memTable{runs: tab.runs, filters: make([]filter, len(tab.runs)), n: tab.n}
	keys := make([][]byte, 4096)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "bench/%014x", mix64(uint64(1<<40+i)))
	}
	for _, c := range []struct {
		name string
		tab  *memTable
	}{{"filtered", tab}, {"unfiltered", bare}} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				k := keys[i%len(keys)]
				if _, found := c.tab.get(k, keyHash(k)); found {
					b.Fatal("absent key found")
				}
			}
		})
	}
}

func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}
