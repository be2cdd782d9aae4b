package golang

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
)

// narrowExtra is a package whose bodies reach the rest of the tree in
// every way a contribution digest covers: calls of another package's
// functions and methods, a method value, closures, a conversion to an
// interface, calls of function values and of interface methods.
const narrowExtra = `package use

import (
	"example.com/c/k"
	"example.com/c/shape"
	"example.com/c/v"
)

type Sq struct{ S float64 }

func (q Sq) Area() float64 { return q.S * q.S }
func (q *Sq) Name() string { return "sq" }

func Use(ss []shape.Shape, r k.Reader) float64 {
	f := shape.Shape.Area
	g := (&Sq{}).Name
	var s shape.Shape = &Sq{2}
	h := func() float64 { return s.Area() }
	t := 0.0
	for _, x := range ss {
		t += f(x) + x.Area()
	}
	_ = g()
	_ = r
	_ = v.Read()
	return t + h()
}
`

// TestNarrowMatchesWholeTree checks the invariant the body-only path
// rests on, package by package of the fixture tree: loaded alone (its
// dependencies without bodies), a well-typed package's files have the
// contribution digests the whole-tree analysis recorded, and each of
// its dynamic calls has recorded callees.
func TestNarrowMatchesWholeTree(t *testing.T) {
	files := goFixtureTree(t)
	files["use/use.go"] = narrowExtra
	dir := t.TempDir()
	var req ingest.Request
	req.Root, req.Callgraph, req.Logger = dir, "cha", slog.New(slog.DiscardHandler)
	tree := map[string]bool{}
	for p, data := range files {
		ingesttest.WriteFile(t, dir, p, data)
		tree[p] = true
		req.Files = append(req.Files, ingest.File{Path: p})
	}
	sort.Slice(req.Files, func(i, j int) bool { return req.Files[i].Path < req.Files[j].Path })
	ctx := context.Background()
	full, err := load(ctx, req, ".", tree, []string{"./..."})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range full.pkgs {
		if len(p.Errors) > 0 {
			t.Fatalf("the fixture tree does not type-check: %v", p.Errors)
		}
	}
	if err := full.indexDynamic("cha"); err != nil {
		t.Fatal(err)
	}
	an := newAnalysis("test")
	an.add(".", full)
	an.setFiles(req.Files, full.contrib)
	byDir := map[string][]string{}
	for p := range tree {
		if path.Ext(p) == ".go" {
			byDir[path.Dir(p)] = append(byDir[path.Dir(p)], p)
		}
	}
	narrowed := 0
	for d, ps := range byDir {
		if !allDigested(an, ps) {
			continue // ill-typed, or generic code: always the whole tree
		}
		nr := &narrowRun{req: req, an: an, m: &module{dir: "."}, prefix: ".\x00", dirs: map[string]bool{d: true}}
		nr.req.Changed = map[string]bool{}
		for _, p := range ps {
			nr.req.Changed[p] = true
		}
		if why := nr.load(ctx, tree); why != "" {
			t.Fatalf("%s: %s", d, why)
		}
		why := nr.analyse()
		switch {
		case d == "shape" && why == "":
			t.Errorf("shape alone: its generic Map calls a function value of a type-parameter signature, which has no record")
		case d != "shape" && why != "":
			t.Errorf("%s alone: %s", d, why)
		}
		narrowed++
	}
	if narrowed < 5 {
		t.Errorf("only %d packages of the fixture tree have digests for every file", narrowed)
	}
}

func allDigested(an *analysis, ps []string) bool {
	for _, p := range ps {
		if an.Files[p].Contrib == "" {
			return false
		}
	}
	return true
}

// TestRecordsArePruned keeps the most recent records of a cache
// directory and removes the rest.
func TestRecordsArePruned(t *testing.T) {
	dir := t.TempDir()
	for i := range 5 {
		name := filepath.Join(dir, fmt.Sprintf("r%d.gob", i))
		if err := writeAnalysis(name, newAnalysis("s")); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(time.Duration(i-10) * time.Minute)
		if err := os.Chtimes(name, at, at); err != nil {
			t.Fatal(err)
		}
	}
	pruneRecords(dir, 2)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if fmt.Sprint(names) != "[r3.gob r4.gob]" {
		t.Errorf("kept %v, want the two most recent, [r3.gob r4.gob]", names)
	}
}
