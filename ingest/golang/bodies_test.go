package golang

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
)

// TestDroppedBodiesSameIndex checks that building SSA a package at a
// time while the packages are checked, each package's bodies summarised
// and dropped (bodies.go) and its types.Info pruned (pipeline.go), finds
// exactly what building the whole program and keeping every body finds:
// the same callees for every dynamic call, the same contribution digests
// and dynamic-call keys for the next body-only re-ingest — and that the
// bodies were indeed dropped.
func TestDroppedBodiesSameIndex(t *testing.T) {
	fixtures := []string{"calls", "tests", "occurrences", "oracle/uuid", "oracle/golang-lru"}
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			dir := ingesttest.Unpack(t, filepath.Join("testdata", name+".txtar"))
			dir, err := filepath.EvalSymlinks(dir)
			if err != nil {
				t.Fatal(err)
			}
			whole, wholeDropped := dynIndex(t, dir, true)
			sliced, slicedDropped := dynIndex(t, dir, false)
			if len(whole.dyn) == 0 {
				t.Fatal("the fixture has no dynamic calls: it tests nothing")
			}
			if d := mapDiff(whole.dyn, sliced.dyn); d != "" {
				t.Errorf("dynamic callees differ (whole program vs a package at a time):\n%s", d)
			}
			if d := mapDiff(whole.contrib, sliced.contrib); d != "" {
				t.Errorf("contribution digests differ:\n%s", d)
			}
			if d := mapDiff(whole.keys, sliced.keys); d != "" {
				t.Errorf("dynamic-call keys differ:\n%s", d)
			}
			if wholeDropped != 0 {
				t.Errorf("the whole-program build dropped %d bodies", wholeDropped)
			}
			if slicedDropped == 0 {
				t.Error("building a package at a time dropped no bodies")
			}
		})
	}
}

// dynIndex loads the module in dir and indexes its dynamic calls with
// CHA, the whole program at once or a package at a time; it returns the
// index spelled without positions' file-set offsets, and how many
// functions' bodies were dropped.
func dynIndex(t *testing.T, dir string, whole bool) (spelled struct{ dyn, contrib, keys map[string]string }, dropped int) {
	t.Helper()
	dropHook = func(int) { dropped++ }
	defer func() { dropHook = nil }()
	l, _, _ := loadCHA(t, dir, whole)
	if err := l.indexDynamic("cha"); err != nil {
		t.Fatal(err)
	}
	spelled.dyn, spelled.contrib, spelled.keys = map[string]string{}, l.contrib, map[string]string{}
	for pos := range l.dyn.sites {
		spelled.dyn[l.fset.Position(pos).String()] = spellCallees(slices.Collect(l.dyn.at(pos).all()))
	}
	for k, cs := range l.keys {
		spelled.keys[k] = spellCallees(cs)
	}
	return spelled, dropped
}

func spellCallees(cs []callee) string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s anon=%v ext=%s fn=%v", c.qn, c.anon, c.ext, c.fn != nil))
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}

func mapDiff(a, b map[string]string) string {
	var out string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if a[k] != b[k] {
			out += fmt.Sprintf("  %s: %q vs %q\n", k, a[k], b[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if _, ok := a[k]; !ok {
			out += fmt.Sprintf("  %s: missing vs %q\n", k, b[k])
		}
	}
	return out
}

// loadCHA loads the module in dir for CHA, the whole SSA program built
// at once or with the pipeline; it returns the tree's files too, and the
// request.
func loadCHA(t *testing.T, dir string, whole bool) (*loaded, []string, ingest.Request) {
	t.Helper()
	paths, err := ingest.Walk(context.Background(), dir, ingest.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tree := map[string]bool{}
	for _, p := range paths {
		tree[p] = true
	}
	req := ingest.Request{Root: dir, Callgraph: "cha", Logger: slog.New(slog.DiscardHandler), Parsed: func(int) {}}
	l, err := loadWith(context.Background(), req, ".", tree, []string{"./..."}, loadOptions{wholeSSA: whole})
	if err != nil {
		t.Fatal(err)
	}
	return l, paths, req
}
