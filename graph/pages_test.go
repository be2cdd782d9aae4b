package graph_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
)

// pageFixture stores 25 files, each defining two functions; every
// function of file i calls hub and is called by hub, some twice (from its
// file and through a mutation, two rows of the same pair), and hub writes
// a variable.
func pageFixture(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	var facts []ingest.FileFacts
	hub := ingest.Node{Kind: ingest.Function, Name: "hub", QualifiedName: "p.hub", Path: "hub.go", Line: 1}
	v := ingest.Node{Kind: ingest.Variable, Name: "v", QualifiedName: "p.v", Path: "hub.go", Line: 2}
	hubFile := ingest.FileFacts{File: file("hub.go"), Nodes: []ingest.Node{hub, v},
		Edges: []ingest.Edge{{From: "p.hub", To: "p.v", Relation: ingest.Writes, Path: "hub.go", Line: 3}}}
	for i := 0; i < 25; i++ {
		path := fmt.Sprintf("f%02d.go", i)
		ff := ingest.FileFacts{File: file(path)}
		for j := 0; j < 2; j++ {
			qn := fmt.Sprintf("p.f%02d_%d", i, j)
			ff.Nodes = append(ff.Nodes, ingest.Node{Kind: ingest.Function, Name: qn[2:], QualifiedName: qn, Path: path, Line: 1 + j})
			ff.Edges = append(ff.Edges, ingest.Edge{From: qn, To: "p.hub", Relation: ingest.Calls, Path: path, Line: 1 + j})
			hubFile.Edges = append(hubFile.Edges, ingest.Edge{From: "p.hub", To: qn, Relation: ingest.Calls, Path: "hub.go", Line: 10 + 2*i + j})
		}
		facts = append(facts, ff)
	}
	facts = append(facts, hubFile)
	if err := e.store.PutFiles(ctx, "pg", facts); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.UpsertEdges(ctx, "pg", []ingest.Edge{{From: "p.f03_0", To: "p.hub", Relation: ingest.Calls, Line: 99}}); err != nil {
		t.Fatal(err)
	}
}

func file(path string) ingest.File {
	return ingest.File{Path: path, Name: path, MD5: strings.Repeat("0", 32), Adler32: "00000001", Language: "go"}
}

type pagedEdge struct {
	Relation string
	Line     *int
	Cursor   string
	Node     struct{ QualifiedName string }
}

func (p pagedEdge) String() string {
	l := 0
	if p.Line != nil {
		l = *p.Line
	}
	return fmt.Sprintf("%s %s:%d", p.Relation, p.Node.QualifiedName, l)
}

func TestPagesWalkEveryEdgeOnce(t *testing.T) {
	e := newEnv(t)
	pageFixture(t, e)
	for _, args := range []string{"direction: BOTH", "direction: IN", "direction: OUT", "direction: OUT, relation: CALLS", "direction: BOTH, relation: WRITES"} {
		var all struct {
			Graph struct {
				Node struct {
					Edges     []pagedEdge
					EdgeCount int
				}
			}
		}
		e.post(t, `{ graph(id: "pg") { node(qualifiedName: "p.hub") {
			edges(`+args+`) { relation line cursor node { qualifiedName } } edgeCount(`+args+`) } } }`, &all)
		want := all.Graph.Node.Edges
		if all.Graph.Node.EdgeCount != len(want) || len(want) == 0 {
			t.Fatalf("%s: edgeCount %d, %d edges", args, all.Graph.Node.EdgeCount, len(want))
		}
		for _, size := range []int{1, 3, 7, 50, 200} {
			var got []pagedEdge
			var after any // null: the first page
			for pages := 0; ; pages++ {
				if pages > len(want)+1 {
					t.Fatalf("%s first %d: pages never end", args, size)
				}
				var r struct {
					Graph struct{ Node struct{ Edges []pagedEdge } }
				}
				e.post(t, `query($after: String, $first: Int) { graph(id: "pg") { node(qualifiedName: "p.hub") {
					edges(`+args+`, first: $first, after: $after) { relation line cursor node { qualifiedName } } } } }`, &r,
					client.Var("after", after), client.Var("first", size))
				page := r.Graph.Node.Edges
				if len(page) > size {
					t.Fatalf("%s first %d: a page of %d", args, size, len(page))
				}
				got = append(got, page...)
				if len(page) < size {
					break
				}
				after = page[len(page)-1].Cursor
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s, pages of %d:\n got %v\nwant %v", args, size, got, want)
			}
		}
	}
	// Both rows of the pair f03_0 → hub (the file's, the mutation's) are
	// listed, once each.
	var r struct {
		Graph struct{ Node struct{ Edges []pagedEdge } }
	}
	e.post(t, `{ graph(id: "pg") { node(qualifiedName: "p.hub") { edges(direction: IN) { relation line cursor node { qualifiedName } } } } }`, &r)
	n := 0
	for _, ed := range r.Graph.Node.Edges {
		if ed.Node.QualifiedName == "p.f03_0" {
			n++
		}
	}
	if n != 2 || len(r.Graph.Node.Edges) != 51 {
		t.Errorf("f03_0 → hub listed %d times (want 2), %d incoming edges (want 51)", n, len(r.Graph.Node.Edges))
	}

	// A cursor of another list, direction or relation is refused.
	var f struct {
		Graph struct{ Files []struct{ Cursor string } }
	}
	e.post(t, `{ graph(id: "pg") { files(first: 1) { cursor } } }`, &f)
	out := r.Graph.Node.Edges[0].Cursor
	for q, vars := range map[string]map[string]any{
		`query($c: String) { graph(id: "pg") { node(qualifiedName: "p.hub") { edges(direction: IN, after: $c) { line } } } }`:                   {"c": f.Graph.Files[0].Cursor},
		`query($c: String) { graph(id: "pg") { node(qualifiedName: "p.hub") { edges(direction: OUT, after: $c) { line } } } }`:                  {"c": out},
		`query($c: String) { graph(id: "pg") { node(qualifiedName: "p.hub") { edges(direction: IN, relation: WRITES, after: $c) { line } } } }`: {"c": out},
		`query($c: String) { graph(id: "pg") { files(after: $c) { path } } }`:                                                                   {"c": "not a cursor"},
		`query($c: String) { graph(id: "pg") { node(qualifiedName: "p.hub") { edges(first: -1) { line } } } }`:                                  {"c": nil},
	} {
		e.errorOf(t, q, vars) // fails the test unless refused
	}
}

func TestPagesWalkEveryFileOnce(t *testing.T) {
	e := newEnv(t)
	pageFixture(t, e)
	type fileList struct {
		Graph struct {
			Files     []struct{ Path, Cursor string }
			FileCount int
		}
	}
	var all fileList
	e.post(t, `{ graph(id: "pg") { files { path cursor } fileCount } }`, &all)
	var want []string
	for _, f := range all.Graph.Files {
		want = append(want, f.Path)
	}
	if len(want) != 26 || all.Graph.FileCount != 26 || !slices.IsSorted(want) {
		t.Fatalf("files %v, fileCount %d", want, all.Graph.FileCount)
	}
	walk := func(size int, between func(page int)) []string {
		var got []string
		var after any
		for page := 0; page <= len(want)+1; page++ {
			var r fileList
			e.post(t, `query($a: String, $n: Int) { graph(id: "pg") { files(first: $n, after: $a) { path cursor } } }`, &r,
				client.Var("a", after), client.Var("n", size))
			for _, f := range r.Graph.Files {
				got = append(got, f.Path)
			}
			if len(r.Graph.Files) < size {
				return got
			}
			after = r.Graph.Files[len(r.Graph.Files)-1].Cursor
			between(page)
		}
		t.Fatalf("pages of %d never end", size)
		return nil
	}
	for _, size := range []int{1, 4, 26, 100} {
		if got := walk(size, func(int) {}); !slices.Equal(got, want) {
			t.Errorf("pages of %d: %v", size, got)
		}
	}
	// Files added while paging: one before the cursor is not seen, one
	// after it is; nothing is listed twice.
	got := walk(5, func(page int) {
		if page == 1 {
			if err := e.store.PutFiles(context.Background(), "pg", []ingest.FileFacts{{File: file("a_early.go")}, {File: file("z_late.go")}}); err != nil {
				t.Fatal(err)
			}
		}
	})
	if !slices.Equal(got, append(slices.Clone(want), "z_late.go")) {
		t.Errorf("pages while files were added: %v", got)
	}
	if msg, _ := e.errorOf(t, `{ graph(id: "pg") { files(first: -1) { path } } }`); !strings.Contains(msg, "first") {
		t.Errorf("files(first: -1): %q", msg)
	}
	var none fileList
	e.post(t, `{ graph(id: "pg") { files(first: 0) { path } } }`, &none)
	if len(none.Graph.Files) != 0 {
		t.Errorf("files(first: 0) = %v", none.Graph.Files)
	}
}

func TestSourceOfIngestedGraphs(t *testing.T) {
	e := newEnv(t)
	repo := t.TempDir()
	ingesttest.WriteFile(t, repo, "go.mod", "module example.com/g\n\ngo 1.22\n")
	ingesttest.WriteFile(t, repo, "g.go", "package g\n\nfunc G() {}\n")
	commit := ingesttest.GitCommitAll(t, repo, "release")
	plain := t.TempDir()
	ingesttest.WriteFile(t, plain, "go.mod", "module example.com/p\n\ngo 1.22\n")
	ingesttest.WriteFile(t, plain, "p.go", "package p\n\nfunc P() {}\n")
	for dir, g := range map[string]string{repo: "git", plain: "plain"} {
		if _, err := ingest.Run(context.Background(), dir, g, e.store, ingest.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	e.createGraph(t, "byhand")
	type src struct {
		Root       string
		Commit     *string
		Branch     *string
		IngestedAt *string
	}
	var r struct {
		Graphs []struct {
			ID     string
			Source *src
		}
	}
	e.post(t, `{ graphs { id source { root commit branch ingestedAt } } }`, &r)
	got := map[string]*src{}
	for _, g := range r.Graphs {
		got[g.ID] = g.Source
	}
	if s := got["git"]; s == nil || s.Root != repo || s.Commit == nil || *s.Commit != commit || s.Branch == nil || *s.Branch != "release" || s.IngestedAt == nil {
		t.Errorf("git graph's source %+v, want root %s commit %s branch release", s, repo, commit)
	}
	if s := got["plain"]; s == nil || s.Root != plain || s.Commit != nil || s.Branch != nil || s.IngestedAt == nil {
		t.Errorf("plain graph's source %+v, want root %s and no git", s, plain)
	}
	if s, ok := got["byhand"]; !ok || s != nil {
		t.Errorf("graph made by mutation: source %+v (listed %v), want null", s, ok)
	}
}
