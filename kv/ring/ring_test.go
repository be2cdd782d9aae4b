package ring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// keys returns count random partitions from a fixed seed.
func keys(seed uint64, count int) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([][]byte, count)
	for i := range out {
		out[i] = fmt.Appendf(nil, "graph/%d/node/%x", i, rng.Uint64())
	}
	return out
}

func equalMembers(k int) []Member {
	ms := make([]Member, k)
	for i := range ms {
		ms[i] = Member{ID: fmt.Sprintf("n%d", i+1), Weight: 1}
	}
	return ms
}

// counts maps each member to the number of keys it is the primary of.
func counts(r *Ring, ks [][]byte) map[string]int {
	c := map[string]int{}
	for _, k := range ks {
		c[r.Preference(k, 1)[0]]++
	}
	return c
}

func TestHashIsXXHash64(t *testing.T) {
	t.Parallel()
	// Every node must hash identically, across versions of Grafo: pin the
	// function to its published test vector.
	if got := Hash(nil); got != 0xef46db3751d8e999 {
		t.Fatalf("Hash(nil) = %#x, want xxh64 of empty input", got)
	}
	if HashKey([]byte("p\x00row")) != Hash([]byte("p")) {
		t.Fatal("HashKey must hash only the partition")
	}
}

func TestBalance(t *testing.T) {
	t.Parallel()
	for _, k := range []int{3, 5, 10} {
		r := New(equalMembers(k), 128)
		c := counts(r, keys(1, 50000))
		mean := 50000.0 / float64(k)
		var ss float64
		for _, m := range r.Members() {
			d := float64(c[m.ID]) - mean
			ss += d * d
		}
		rel := math.Sqrt(ss/float64(k)) / mean
		t.Logf("k=%d std-dev/mean=%.3f", k, rel)
		if rel >= 0.10 {
			t.Errorf("k=%d: std-dev is %.1f%% of mean, want < 10%%: %v", k, rel*100, c)
		}
	}
}

func TestWeightProportional(t *testing.T) {
	t.Parallel()
	r := New([]Member{{"a", 1}, {"b", 1}, {"c", 2}}, 128)
	if r.VNodes("c") != 256 || r.VNodes("a") != 128 {
		t.Fatalf("vnodes: a=%d c=%d", r.VNodes("a"), r.VNodes("c"))
	}
	c := counts(r, keys(2, 3000))
	share := float64(c["c"]) / 3000
	if math.Abs(share-0.5) > 0.07 {
		t.Fatalf("weight-2 node holds %.3f of keys, want 0.5±0.07 (%v)", share, c)
	}
}

func TestAddMovesOnlyOntoNewNode(t *testing.T) {
	t.Parallel()
	ks := keys(3, 5000)
	for _, k := range []int{1, 2, 4, 7} {
		old := New(equalMembers(k), 128)
		grown := old.With(Member{ID: "new", Weight: 1})
		for _, n := range []int{1, 3} {
			moved := 0
			for _, key := range ks {
				before, after := old.Preference(key, n), grown.Preference(key, n)
				if slices.Equal(before, after) {
					continue
				}
				moved++
				// Whatever changed, the only newcomer in the list is the new node.
				for _, id := range after {
					if id != "new" && !slices.Contains(before, id) {
						t.Fatalf("k=%d n=%d key %q: %v -> %v gained %s, not the new node", k, n, key, before, after, id)
					}
				}
				if !slices.Contains(after, "new") {
					t.Fatalf("k=%d n=%d key %q: %v -> %v changed without the new node", k, n, key, before, after)
				}
			}
			if n == 1 {
				frac, limit := float64(moved)/float64(len(ks)), 1/float64(k+1)+0.1
				if frac >= limit {
					t.Errorf("k=%d: %.3f of keys moved adding one node, want < %.3f", k, frac, limit)
				}
				if moved == 0 {
					t.Errorf("k=%d: no key moved onto the new node", k)
				}
			}
		}
	}
}

func TestRemoveMovesOnlyThatNodesKeys(t *testing.T) {
	t.Parallel()
	ks := keys(4, 5000)
	full := New(equalMembers(6), 128)
	shrunk := full.Without("n3")
	if shrunk.Has("n3") || shrunk.Len() != 5 {
		t.Fatalf("Without: has n3=%v len=%d", shrunk.Has("n3"), shrunk.Len())
	}
	for _, n := range []int{1, 3} {
		onN3 := 0
		for _, key := range ks {
			before, after := full.Preference(key, n), shrunk.Preference(key, n)
			if !slices.Contains(before, "n3") {
				if !slices.Equal(before, after) {
					t.Fatalf("n=%d key %q did not live on n3 but moved: %v -> %v", n, key, before, after)
				}
				continue
			}
			// The survivors keep their order and the next distinct member
			// clockwise takes n3's place at the end.
			onN3++
			kept := slices.DeleteFunc(slices.Clone(before), func(id string) bool { return id == "n3" })
			if len(after) != n || !slices.Equal(after[:len(kept)], kept) || slices.Contains(before, after[n-1]) {
				t.Fatalf("n=%d key %q: %v -> %v", n, key, before, after)
			}
		}
		if onN3 == 0 {
			t.Fatalf("n=%d: no key lived on n3", n)
		}
	}
}

func TestPreferenceDistinctAndStable(t *testing.T) {
	t.Parallel()
	ms := []Member{{"a", 1}, {"b", 3}, {"c", 0}, {"d", 2}, {"e", 1}}
	r := New(ms, 64)
	rng := rand.New(rand.NewPCG(5, 5))
	shuffled := slices.Clone(ms)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	// Same membership in another order, and a round trip through
	// With/Without, must give the very same ring.
	rebuilt := []*Ring{New(shuffled, 64), r.With(Member{"z", 4}).Without("z")}
	for _, key := range keys(6, 2000) {
		for n := 1; n <= 7; n++ {
			p := r.Preference(key, n)
			if want := min(n, 5); len(p) != want {
				t.Fatalf("n=%d: %d members %v", n, len(p), p)
			}
			if len(slices.Compact(slices.Sorted(slices.Values(p)))) != len(p) {
				t.Fatalf("n=%d: duplicates in %v", n, p)
			}
			if q := r.Preference(key, n-1); n > 1 && !slices.Equal(q, p[:len(q)]) {
				t.Fatalf("preference lists must be prefixes of each other: %v vs %v", q, p)
			}
			for _, o := range rebuilt {
				if q := o.Preference(key, n); !slices.Equal(p, q) {
					t.Fatalf("rebuild changed preference of %q: %v vs %v", key, p, q)
				}
			}
		}
	}
	for _, m := range ms {
		if !slices.Equal(r.Tokens(m.ID), rebuilt[0].Tokens(m.ID)) {
			t.Fatalf("tokens of %s differ across rebuilds", m.ID)
		}
		if len(r.Tokens(m.ID)) != r.VNodes(m.ID) {
			t.Fatalf("%s: %d tokens, VNodes %d", m.ID, len(r.Tokens(m.ID)), r.VNodes(m.ID))
		}
	}
	if r.VNodes("c") != 64 {
		t.Fatalf("weight 0 must count as 1: VNodes(c)=%d", r.VNodes("c"))
	}
}

func TestRangesMatchPreference(t *testing.T) {
	t.Parallel()
	r := New([]Member{{"a", 1}, {"b", 2}, {"c", 1}, {"d", 1}}, 16)
	rng := rand.New(rand.NewPCG(7, 7))
	// Random hashes plus the token boundaries themselves, where an
	// off-by-one in (Start, End] would show.
	var hs []uint64
	for range 3000 {
		hs = append(hs, rng.Uint64())
	}
	for _, tk := range r.tokens {
		hs = append(hs, tk, tk+1, tk-1)
	}
	hs = append(hs, 0, math.MaxUint64)
	for n := 1; n <= 5; n++ {
		for _, m := range r.Members() {
			rs := r.Ranges(m.ID, n)
			for _, h := range hs {
				in := slices.Contains(r.PreferenceHash(h, n), m.ID)
				covered := slices.ContainsFunc(rs, func(rg Range) bool { return rg.Contains(h) })
				if in != covered {
					t.Fatalf("n=%d %s h=%#x: in preference=%v, in ranges=%v", n, m.ID, h, in, covered)
				}
			}
		}
	}
	if rs := r.Ranges("a", 4); len(rs) != 1 || rs[0].Start != rs[0].End {
		t.Fatalf("n = members: want the whole circle, got %v", rs)
	}
}

func TestRangeContainsWraps(t *testing.T) {
	t.Parallel()
	cases := []struct {
		rg   Range
		h    uint64
		want bool
	}{
		{Range{10, 20}, 10, false},
		{Range{10, 20}, 11, true},
		{Range{10, 20}, 20, true},
		{Range{10, 20}, 21, false},
		{Range{20, 10}, 5, true},
		{Range{20, 10}, math.MaxUint64, true},
		{Range{20, 10}, 15, false},
		{Range{20, 10}, 10, true},
		{Range{7, 7}, 123, true},
	}
	for _, c := range cases {
		if got := c.rg.Contains(c.h); got != c.want {
			t.Errorf("%v.Contains(%d) = %v, want %v", c.rg, c.h, got, c.want)
		}
	}
}

func TestEmptyAndDegenerateRings(t *testing.T) {
	t.Parallel()
	var nilRing *Ring
	if nilRing.Preference([]byte("k"), 3) != nil || nilRing.Len() != 0 || nilRing.Has("a") || nilRing.Ranges("a", 1) != nil {
		t.Fatal("nil ring must be empty")
	}
	if New(nil, 128).Preference([]byte("k"), 3) != nil {
		t.Fatal("empty ring must give nil")
	}
	r := New([]Member{{"a", 1}, {"a", 2}, {"", 5}}, 0)
	if r.Len() != 1 || r.VNodes("a") != 2*DefaultVNodes {
		t.Fatalf("duplicates keep the last entry, empty ids dropped: len=%d vnodes=%d", r.Len(), r.VNodes("a"))
	}
	if p := r.Preference([]byte("k"), 3); !slices.Equal(p, []string{"a"}) {
		t.Fatalf("one member: %v", p)
	}
	if r.Preference([]byte("k"), 0) != nil {
		t.Fatal("n=0 must give nil")
	}
	one := New([]Member{{"solo", 1}}, 1)
	if rs := one.Ranges("solo", 1); len(rs) != 1 || !rs[0].Contains(0) || !rs[0].Contains(math.MaxUint64) {
		t.Fatalf("single token ring: %v", rs)
	}
}

func BenchmarkPreference(b *testing.B) {
	ks := keys(8, 1024)
	for _, k := range []int{3, 10, 50} {
		for _, n := range []int{1, 3} {
			r := New(equalMembers(k), 128)
			b.Run(fmt.Sprintf("members=%d/n=%d", k, n), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					r.Preference(ks[i&1023], n)
					i++
				}
			})
		}
	}
}
