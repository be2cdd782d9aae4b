package golang

import (
	"go/token"
	"slices"
	"testing"
)

// The index answers what was added, in order, before and after seal, and
// after seal the sites with the same callees share one list.
func TestCalleeIndexSharesEqualLists(t *testing.T) {
	x := newCalleeIndex()
	w1, w2, r := callee{qn: "a.W.Write"}, callee{qn: "b.W.Write"}, callee{qn: "c.R.Read", ext: "io"}
	add := map[token.Pos][]callee{1: {w1, w2}, 2: {w1, w2}, 3: {w2, w1}, 4: {r}, 5: {w1, w2}}
	for pos := token.Pos(1); pos <= 5; pos++ {
		for _, ce := range add[pos] {
			x.add(pos, ce)
		}
	}
	check := func(when string) {
		for pos, want := range add {
			got := slices.Collect(x.at(pos).all())
			if len(got) != len(want) {
				t.Fatalf("%s: site %d has %d callees, want %d", when, pos, len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("%s: site %d callee %d is %v, want %v", when, pos, i, got[i], want[i])
				}
			}
		}
		if x.at(9).len() != 0 {
			t.Errorf("%s: a site never added has callees", when)
		}
	}
	check("before seal")
	if len(x.callees) != 3 {
		t.Errorf("%d callees stored, want each of the 3 once", len(x.callees))
	}
	x.seal()
	check("after seal")
	same := func(a, b token.Pos) bool { return &x.sites[a][0] == &x.sites[b][0] }
	if !same(1, 2) || !same(1, 5) {
		t.Error("sites with the same callees do not share their list")
	}
	if same(1, 3) {
		t.Error("sites with the callees in another order share a list")
	}
}
