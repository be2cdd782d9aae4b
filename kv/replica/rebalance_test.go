package replica

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/grafo/grafo/kv/ring"
)

func inRangeList(rs []ring.Range, h uint64) bool {
	for _, r := range rs {
		if r.Contains(h) {
			return true
		}
	}
	return false
}

// subtract(a, b) holds exactly the hashes in a and not in b: checked on the
// ranges of real rings before and after a member goes, at every endpoint,
// next to it, and at random points.
func TestSubtractRanges(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := 0; trial < 40; trial++ {
		var ms []ring.Member
		for i := 0; i < 3+trial%5; i++ {
			ms = append(ms, ring.Member{ID: fmt.Sprintf("n%d", i), Weight: 1 + i%2})
		}
		before := ring.New(ms, 8)
		gone := ms[rng.IntN(len(ms))].ID
		after := ring.New(func() (out []ring.Member) {
			for _, m := range ms {
				if m.ID != gone {
					out = append(out, m)
				}
			}
			return
		}(), 8)
		self := ms[rng.IntN(len(ms))].ID
		if self == gone {
			continue
		}
		n := 1 + trial%3
		a, b := after.Ranges(self, n), before.Ranges(self, n)
		got := subtract(a, b)
		var pts []uint64
		for _, rs := range [][]ring.Range{a, b} {
			for _, r := range rs {
				pts = append(pts, r.Start, r.Start+1, r.End, r.End+1, r.End-1)
			}
		}
		for i := 0; i < 2000; i++ {
			pts = append(pts, rng.Uint64())
		}
		for _, h := range pts {
			if want := inRangeList(a, h) && !inRangeList(b, h); inRangeList(got, h) != want {
				t.Fatalf("trial %d (self %s, %s gone, n=%d): hash %d in subtract = %v, want %v", trial, self, gone, n, h, !want, want)
			}
		}
	}
	if got := subtract([]ring.Range{{Start: 5, End: 5}}, nil); len(got) != 1 || !got[0].Contains(0) || !got[0].Contains(5) {
		t.Errorf("whole circle minus nothing = %v", got)
	}
	if got := subtract([]ring.Range{{Start: 10, End: 20}}, []ring.Range{{Start: 5, End: 5}}); len(got) != 0 {
		t.Errorf("anything minus the whole circle = %v", got)
	}
}

// A joining node streams each arc it gains from the one member giving it
// up; when that member is dead, from every live owner; when every owner is
// dead, the arc is reported by name.
func TestStreamSources(t *testing.T) {
	tc := newTestCluster(t, 4, 3)
	r := &Rebalancer{c: tc.coords[3]} // n4
	var three []ring.Member
	for _, id := range []string{"n1", "n2", "n3"} {
		three = append(three, ring.Member{ID: id, Weight: 1})
	}
	old := ring.New(three, 64)
	next, _ := tc.members.Rings()
	mine := next.Ranges("n4", 3)

	groups, _, missing := r.sources(old, next, mine, 3)
	arcs := 0
	for key, g := range groups {
		if len(g.from) != 1 {
			t.Fatalf("join arcs %s stream from %v, want the one member giving them up", key, g.from)
		}
		arcs += g.arcs
	}
	if arcs == 0 || len(missing) != 0 {
		t.Fatalf("join: %d arcs, missing %v", arcs, missing)
	}

	tc.members.SetDown("n1", true)
	groups, _, missing = r.sources(old, next, mine, 3)
	for key, g := range groups {
		for _, id := range g.from {
			if id == "n1" {
				t.Fatalf("arcs %s stream from dead n1", key)
			}
		}
		if len(g.from) == 2 {
			arcs = -1 // some arc n1 gave up now comes from both live owners
		}
	}
	if arcs != -1 || len(missing) != 0 {
		t.Fatalf("with n1 dead no arc fell back to every live owner (missing %v)", missing)
	}

	tc.members.SetDown("n2", true)
	tc.members.SetDown("n3", true)
	groups, _, missing = r.sources(old, next, mine, 3)
	if len(groups) != 0 || len(missing) == 0 {
		t.Fatalf("with every owner dead: %d groups, %d missing ranges", len(groups), len(missing))
	}
	t.Logf("unavailable ranges are named, e.g. %s", missing[0])
}
