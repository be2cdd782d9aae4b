package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/graph"
	"github.com/grafo/grafo/ingest"
	_ "github.com/grafo/grafo/ingest/golang"
	"github.com/grafo/grafo/ingest/ingesttest"
)

// ingestGo ingests a small Go module (files: path → source) as graph g
// with the real Go frontend.
func (e *env) ingestGo(t *testing.T, g, module string, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	ingesttest.WriteFile(t, dir, "go.mod", "module "+module+"\n\ngo 1.22\n")
	for p, src := range files {
		ingesttest.WriteFile(t, dir, p, src)
	}
	if _, err := ingest.Run(context.Background(), dir, g, e.store, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
}

const storeSrc = `package kv

import "os"

// Store is what the coordinator needs.
type Store interface {
	Get(k string) string
	Put(k, v string)
}

type base struct{}

type Mem struct {
	base
	m map[string]string
}

func (s *Mem) Get(k string) string { return s.m[k] }
func (s *Mem) Put(k, v string)     { s.m[k] = v }

type Disk struct{}

func (Disk) Get(k string) string { return "" }
func (Disk) Put(k, v string)     {}

type Coordinator struct{ s Store }

func (c *Coordinator) Put(k, v string) { c.s.Put(k, v) }
func (c *Coordinator) Get(k string) string { return c.s.Get(k) }

func Putter() {}

func Fail() { os.Exit(2) }
`

type qnode struct {
	QualifiedName string
	Graph         struct{ ID string }
}

func qnames(ns []qnode) string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Graph.ID + ":" + n.QualifiedName
	}
	return strings.Join(out, " ")
}

func TestSearchAcrossGraphsAndGoSpellings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ingestGo(t, "alpha", "example.com/alpha/kv", map[string]string{"kv.go": storeSrc})
	e.ingestGo(t, "beta", "example.com/beta", map[string]string{"main.go": "package main\n\nimport \"os\"\n\nfunc Put() {}\n\nfunc main() { Put(); os.Exit(1) }\n"})

	cases := []struct{ query, want string }{
		// A dotted suffix finds the method first, whatever the spelling.
		{"Coordinator.Put", "alpha:example.com/alpha/kv.Coordinator.Put"},
		{"kv.Coordinator.Put", "alpha:example.com/alpha/kv.Coordinator.Put"},
		{"(*Coordinator).Put", "alpha:example.com/alpha/kv.Coordinator.Put"},
		{"example.com/alpha/kv.(*Coordinator).Put", "alpha:example.com/alpha/kv.Coordinator.Put"},
		{"coordinator.put", "alpha:example.com/alpha/kv.Coordinator.Put"},
		// The last segment may be a prefix.
		{"Coordinator.P", "alpha:example.com/alpha/kv.Coordinator.Put"},
		// A bare name: exact matches of every graph, shorter qualified
		// names first, then longer names with the prefix.
		{"Put", "beta:example.com/beta.Put alpha:example.com/alpha/kv.Mem.Put alpha:example.com/alpha/kv.Disk.Put alpha:example.com/alpha/kv.Store.Put alpha:example.com/alpha/kv.Coordinator.Put alpha:example.com/alpha/kv.Putter"},
		{"Mem.Get", "alpha:example.com/alpha/kv.Mem.Get"},
		{"Nowhere.Put", ""},
	}
	for _, c := range cases {
		var r struct{ Search []qnode }
		e.post(t, `query($q: String!) { search(query: $q) { qualifiedName graph { id } } }`, &r, client.Var("q", c.query))
		got := qnames(r.Search)
		if c.query == "Put" {
			// Ties in length keep alphabetical order; check the ranking
			// rule, not the tie-break: first the shortest exact, last the
			// only non-exact.
			if len(r.Search) != 6 || r.Search[0].QualifiedName != "example.com/beta.Put" || r.Search[5].QualifiedName != "example.com/alpha/kv.Putter" {
				t.Errorf("search %q = %s", c.query, got)
			}
			continue
		}
		if c.want == "" && got != "" || c.want != "" && !strings.HasPrefix(got, c.want) {
			t.Errorf("search %q = %q, want first %q", c.query, got, c.want)
		}
	}

	// kind and graphs narrow the search; first bounds it.
	var r struct{ Search []qnode }
	e.post(t, `{ search(query: "Put", kind: FUNCTION, graphs: ["beta"], first: 5) { qualifiedName graph { id } } }`, &r)
	if qnames(r.Search) != "beta:example.com/beta.Put" {
		t.Errorf("search in beta = %s", qnames(r.Search))
	}
	e.post(t, `{ search(query: "Store", kind: CLASS) { qualifiedName graph { id } } }`, &r)
	if qnames(r.Search) != "alpha:example.com/alpha/kv.Store" {
		t.Errorf("search Store CLASS = %s", qnames(r.Search))
	}
	e.post(t, `{ search(query: "Put", first: 2) { qualifiedName graph { id } } }`, &r)
	if len(r.Search) != 2 {
		t.Errorf("first: 2 gave %d", len(r.Search))
	}
	// Graph.search uses the same matcher within one graph.
	var g struct{ Graph struct{ Search []qnode } }
	e.post(t, `{ graph(id: "alpha") { search(query: "(*Coordinator).Put") { qualifiedName graph { id } } } }`, &g)
	if len(g.Graph.Search) != 1 || g.Graph.Search[0].QualifiedName != "example.com/alpha/kv.Coordinator.Put" {
		t.Errorf("graph search = %s", qnames(g.Graph.Search))
	}

	checkGoSpellings(t, e)
	checkUsagesAcrossScopes(t, e)
}

// checkGoSpellings: node(qualifiedName:) takes Go's receiver spellings.
func checkGoSpellings(t *testing.T, e *env) {
	t.Helper()
	// node(qualifiedName:) takes Go's receiver spellings.
	for q, want := range map[string]string{
		"example.com/alpha/kv.(*Mem).Get": "example.com/alpha/kv.Mem.Get",
		"example.com/alpha/kv.(Disk).Get": "example.com/alpha/kv.Disk.Get",
		"example.com/alpha/kv.Mem.Get":    "example.com/alpha/kv.Mem.Get",
		" example.com/alpha/kv.Fail() ":   "example.com/alpha/kv.Fail",
	} {
		var n struct{ Graph struct{ Node *qnode } }
		e.post(t, `query($q: String!) { graph(id: "alpha") { node(qualifiedName: $q) { qualifiedName graph { id } } } }`, &n, client.Var("q", q))
		if n.Graph.Node == nil || n.Graph.Node.QualifiedName != want {
			t.Errorf("node(qualifiedName: %q) = %+v, want %s", q, n.Graph.Node, want)
		}
	}

}

// checkUsagesAcrossScopes: usages of an external symbol span the graphs a
// token may see.
func checkUsagesAcrossScopes(t *testing.T, e *env) {
	t.Helper()
	var r struct{ Search []qnode }
	// usages of an external symbol span graphs.
	var u struct{ Usages []qnode }
	e.post(t, `{ usages(qualifiedName: "os.Exit", relation: CALLS) { qualifiedName graph { id } } }`, &u)
	if got := qnames(u.Usages); got != "alpha:example.com/alpha/kv.Fail beta:example.com/beta.main" {
		t.Errorf("usages os.Exit = %s", got)
	}
	e.post(t, `{ usages(qualifiedName: "os.Exit", relation: READS) { qualifiedName graph { id } } }`, &u)
	if len(u.Usages) != 0 {
		t.Errorf("usages os.Exit READS = %s", qnames(u.Usages))
	}

	// A third graph; a token scoped to beta and gamma sees only those two,
	// and may not name alpha.
	e.ingestGo(t, "gamma", "example.com/gamma", map[string]string{"g.go": "package gamma\n\nimport \"os\"\n\nfunc Putz() { os.Exit(3) }\n"})
	scoped := graph.NewHandler(&graph.Resolver{Store: e.store, KV: e.kv}, graph.HandlerOptions{})
	c := client.New(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p := auth.Principal{Role: auth.Read, Graphs: map[string]bool{"beta": true, "gamma": true}, ID: "t"}
		scoped.ServeHTTP(w, req.WithContext(auth.With(req.Context(), p)))
	}))
	if err := c.Post(`{ search(query: "Put") { qualifiedName graph { id } } }`, &r); err != nil || qnames(r.Search) != "beta:example.com/beta.Put gamma:example.com/gamma.Putz" {
		t.Errorf("scoped search = %s, %v", qnames(r.Search), err)
	}
	if err := c.Post(`{ usages(qualifiedName: "os.Exit") { qualifiedName graph { id } } }`, &u); err != nil || qnames(u.Usages) != "beta:example.com/beta.main gamma:example.com/gamma.Putz" {
		t.Errorf("scoped usages = %s, %v", qnames(u.Usages), err)
	}
	// Unscoped, usages spans all three.
	e.post(t, `{ usages(qualifiedName: "os.Exit") { qualifiedName graph { id } } }`, &u)
	if got := qnames(u.Usages); got != "alpha:example.com/alpha/kv.Fail beta:example.com/beta.main gamma:example.com/gamma.Putz" {
		t.Errorf("usages os.Exit over three graphs = %s", got)
	}
	err := c.Post(`{ search(query: "Put", graphs: ["alpha"]) { qualifiedName } }`, &r)
	if err == nil || !strings.Contains(err.Error(), "not scoped to graph") {
		t.Errorf("scoped search naming alpha: %v", err)
	}
}

func TestHierarchiesAndTestFlag(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ingestGo(t, "h", "example.com/h", map[string]string{"kv.go": storeSrc})
	type rel struct {
		Graph struct {
			Node *struct {
				Implementations, Supertypes, Subtypes []qnode
			}
		}
	}
	get := func(q string) rel {
		var r rel
		e.post(t, `query($q: String!) { graph(id: "h") { node(qualifiedName: $q) {
			implementations { qualifiedName graph { id } }
			supertypes { qualifiedName graph { id } }
			subtypes { qualifiedName graph { id } } } } }`, &r, client.Var("q", q))
		if r.Graph.Node == nil {
			t.Fatalf("no node %s", q)
		}
		return r
	}
	p := "example.com/h."
	iface := get(p + "Store")
	if got := qnames(iface.Graph.Node.Implementations); got != "h:"+p+"Coordinator h:"+p+"Disk h:"+p+"Mem" {
		// Coordinator has Get and Put too: it realizes Store.
		t.Errorf("implementations of Store = %s", got)
	}
	if got := qnames(iface.Graph.Node.Subtypes); got != qnames(iface.Graph.Node.Implementations) {
		t.Errorf("subtypes of Store = %s", got)
	}
	method := get(p + "Store.Put")
	if got := qnames(method.Graph.Node.Implementations); got != "h:"+p+"Coordinator.Put h:"+p+"Disk.Put h:"+p+"Mem.Put" {
		t.Errorf("implementations of Store.Put = %s", got)
	}
	mem := get(p + "(*Mem)")
	if got := qnames(mem.Graph.Node.Supertypes); got != "h:"+p+"Store h:"+p+"base" {
		t.Errorf("supertypes of Mem = %s", got)
	}
	if got := qnames(get(p + "base").Graph.Node.Subtypes); got != "h:"+p+"Mem" {
		t.Errorf("subtypes of base = %s", got)
	}
	if n := get(p + "Mem.Get").Graph.Node; len(n.Implementations)+len(n.Supertypes)+len(n.Subtypes) != 0 {
		t.Errorf("a concrete method has no hierarchy: %+v", n)
	}

	e.upsert(t, "h", []map[string]any{
		{"kind": "FUNCTION", "name": "TestX", "qualifiedName": "example.com/h.TestX", "path": "kv_test.go"},
		{"kind": "FUNCTION", "name": "test_y", "qualifiedName": "tests.test_y", "path": "tests/test_y.py"},
	}, nil)
	var tf struct {
		Graph struct{ X, Y, Z struct{ Test bool } }
	}
	e.post(t, fmt.Sprintf(`{ graph(id: "h") { x: node(qualifiedName: "%sTestX") { test } y: node(qualifiedName: "tests.test_y") { test } z: node(qualifiedName: "%sFail") { test } } }`, p, p), &tf)
	if !tf.Graph.X.Test || !tf.Graph.Y.Test || tf.Graph.Z.Test {
		t.Errorf("test flags = %+v, want true true false", tf.Graph)
	}
}

// first bounds edges, callers and callees: nearest levels first for the
// walks, relation and other-end order for edges.
func TestFirstBoundsEdgesAndWalks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createGraph(t, "f")
	e.upsert(t, "f", nodeInputs("root", "a", "b", "c", "d"), []map[string]any{
		calls("a", "root"), calls("b", "root"), calls("c", "a"), calls("d", "c"),
	})
	type res struct {
		Graph struct {
			Node struct {
				Edges   []struct{ Node struct{ Name string } }
				All     []struct{ Node struct{ Name string } }
				Callers nameList
				Deep    nameList
				None    nameList
			}
		}
	}
	var r res
	e.post(t, `{ graph(id: "f") { node(qualifiedName: "p.root") {
		edges(direction: IN, first: 1) { node { name } }
		all: edges(direction: IN) { node { name } }
		callers(depth: 3, first: 3) { name }
		deep: callers(depth: 3) { name }
		none: callers(depth: 3, first: 0) { name } } } }`, &r)
	n := r.Graph.Node
	if len(n.Edges) != 1 || n.Edges[0].Node.Name != n.All[0].Node.Name || len(n.All) != 2 {
		t.Errorf("edges first 1 = %+v of %+v", n.Edges, n.All)
	}
	if fmt.Sprint(n.Callers.sorted()) != "[a b c]" || fmt.Sprint(n.Deep.sorted()) != "[a b c d]" || len(n.None) != 0 {
		t.Errorf("callers first 3 = %v, all = %v, first 0 = %v", n.Callers, n.Deep, n.None)
	}
	if msg, _ := e.errorOf(t, `{ graph(id: "f") { node(qualifiedName: "p.root") { callers(first: -1) { name } } } }`); !strings.Contains(msg, "first") {
		t.Errorf("negative first: %q", msg)
	}
}
