package graph_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/99designs/gqlgen/client"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
)

// ingestFixture writes a Go golden fixture of ingest/golang to a temporary
// tree, ingests it as graph g and returns the tree.
func (e *env) ingestFixture(t *testing.T, g, fixture string) string {
	t.Helper()
	return e.ingestFixtureOf(t, "golang", g, fixture)
}

// ingestFixtureOf does the same for a fixture of ingest/{frontend}.
func (e *env) ingestFixtureOf(t *testing.T, frontend, g, fixture string) string {
	t.Helper()
	dir := ingesttest.Unpack(t, filepath.Join("..", "ingest", frontend, "testdata", fixture))
	if _, err := ingest.Run(context.Background(), dir, g, e.store, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

type callEdge struct {
	Relation string
	Line     int
	Column   int
	Dynamic  bool
	File     struct{ Path string }
	Node     struct {
		QualifiedName string
		External      bool
	}
}

// symbolAt asks the graph for the node under path:line:col ("" if none).
func (e *env) symbolAt(t *testing.T, g, path string, line, col int) string {
	qn, _ := e.symbolKindAt(t, g, path, line, col)
	return qn
}

func (e *env) symbolKindAt(t *testing.T, g, path string, line, col int) (qn, kind string) {
	t.Helper()
	var r struct {
		Graph struct {
			SymbolAt *struct{ QualifiedName, Kind string }
		}
	}
	e.post(t, `query($g: ID!, $p: String!, $l: Int!, $c: Int!) { graph(id: $g) { symbolAt(path: $p, line: $l, column: $c) { qualifiedName kind } } }`,
		&r, client.Var("g", g), client.Var("p", path), client.Var("l", line), client.Var("c", col))
	if r.Graph.SymbolAt == nil {
		return "", ""
	}
	return r.Graph.SymbolAt.QualifiedName, r.Graph.SymbolAt.Kind
}

// On every call site of the Go golden fixtures, symbolAt on the callee's
// name (its first and its last character) answers the function the CALLS
// edge of that site names: the static callee, or for a call through an
// interface one of the site's targets.
func TestSymbolAtEveryCallSiteOfTheGoldens(t *testing.T) {
	e := newEnv(t)
	checked := e.checkCallSites(t, "golang", func(_, dir string, s callSite) (string, [][2]int) {
		id, src := calleeAt(t, filepath.Join(dir, s.path), s.line, s.col)
		if id == nil {
			return "", nil // a call of a function literal or of a call's result
		}
		return id.Name, identColumns(src, id)
	})
	if checked < 40 {
		t.Fatalf("only %d call sites checked", checked)
	}
}

// checkCallSites ingests each golden fixture of ingest/{frontend} as a
// graph named after it and asks symbolAt, at every site of its CALLS
// edges, at the line:column positions calleeOf gives (the callee's name's
// first and last character; none to skip the site). The answer must be
// the site's static callee; where the site has only dynamic edges, a
// function answered must be one of their targets (a call of a function
// value answers the variable, or nothing for a local). It returns the
// number of positions checked.
func (e *env) checkCallSites(t *testing.T, frontend string, calleeOf func(g, dir string, s callSite) (string, [][2]int)) int {
	t.Helper()
	fixtures, _ := filepath.Glob(filepath.Join("..", "ingest", frontend, "testdata", "*.txtar"))
	if len(fixtures) < 5 {
		t.Fatalf("found %d fixtures", len(fixtures))
	}
	checked := 0
	for _, fx := range fixtures {
		g := strings.TrimSuffix(filepath.Base(fx), ".txtar")
		dir := e.ingestFixtureOf(t, frontend, g, filepath.Base(fx))
		static, dynamic := e.callSites(t, g)
		// A Go edge keeps the first site of its pair, so a callee called
		// twice from one function has one site: check exactly those.
		sites := map[callSite]bool{}
		for s := range static {
			sites[s] = true
		}
		for s := range dynamic {
			sites[s] = true
		}
		for s := range sites {
			name, ats := calleeOf(g, dir, s)
			for _, at := range ats {
				got, kind := e.symbolKindAt(t, g, s.path, at[0], at[1])
				want := static[s]
				switch {
				case len(want) > 0 && !slices.Contains(want, got):
					t.Errorf("%s: symbolAt %s:%d:%d (%s) = %q, want %q (CALLS edge)", g, s.path, at[0], at[1], name, got, want)
				case len(want) == 0 && kind == "FUNCTION" && !slices.Contains(dynamic[s], got):
					t.Errorf("%s: symbolAt %s:%d:%d (%s) = %q, want one of %v", g, s.path, at[0], at[1], name, got, dynamic[s])
				}
				checked++
			}
		}
	}
	return checked
}

// callSite is where a CALLS edge appears: path, line and the frontend's
// column.
type callSite struct {
	path      string
	line, col int
}

// callSites reads every CALLS edge of graph g, page by page, as the
// targets of each site: static and dynamic.
func (e *env) callSites(t *testing.T, g string) (static, dynamic map[callSite][]string) {
	t.Helper()
	static, dynamic = map[callSite][]string{}, map[callSite][]string{}
	for after := ""; ; {
		var r struct {
			Graph struct {
				Nodes struct {
					Nodes    []struct{ Edges []callEdge }
					PageInfo struct {
						EndCursor   string
						HasNextPage bool
					}
				}
			}
		}
		e.post(t, `query($g: ID!, $after: String) { graph(id: $g) { nodes(kind: FUNCTION, first: 40, after: $after) {
			nodes { edges(direction: OUT, relation: CALLS) { relation line column dynamic file { path } node { qualifiedName external } } }
			pageInfo { endCursor hasNextPage } } } }`,
			&r, client.Var("g", g), client.Var("after", after))
		for _, n := range r.Graph.Nodes.Nodes {
			for _, ed := range n.Edges {
				s := callSite{ed.File.Path, ed.Line, ed.Column}
				if ed.Dynamic {
					dynamic[s] = append(dynamic[s], ed.Node.QualifiedName)
				} else {
					static[s] = append(static[s], ed.Node.QualifiedName)
				}
			}
		}
		if !r.Graph.Nodes.PageInfo.HasNextPage {
			return static, dynamic
		}
		after = r.Graph.Nodes.PageInfo.EndCursor
	}
}

// calleeAt parses a file and returns the identifier naming the callee of
// the call expression starting at line:col (go/token columns).
func calleeAt(t *testing.T, file string, line, col int) (*ast.Ident, []byte) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, _ := parser.ParseFile(fset, file, src, parser.SkipObjectResolution)
	if f == nil {
		t.Fatalf("%s does not parse", file)
	}
	var found *ast.Ident
	ast.Inspect(f, func(n ast.Node) bool {
		c, ok := n.(*ast.CallExpr)
		if !ok || found != nil {
			return found == nil
		}
		if p := fset.Position(c.Pos()); p.Line == line && p.Column == col {
			fun := ast.Unparen(c.Fun)
			switch x := fun.(type) {
			case *ast.IndexExpr:
				fun = ast.Unparen(x.X)
			case *ast.IndexListExpr:
				fun = ast.Unparen(x.X)
			}
			switch x := fun.(type) {
			case *ast.Ident:
				found = x
			case *ast.SelectorExpr:
				found = x.Sel
			}
			if found != nil {
				found.NamePos = token.Pos(fset.Position(found.Pos()).Offset) // byte offset in src
			}
		}
		return true
	})
	return found, src
}

// identColumns gives the line and character columns of an identifier's
// first and last character (NamePos holding its byte offset).
func identColumns(src []byte, id *ast.Ident) [][2]int {
	off := int(id.NamePos)
	lineStart := strings.LastIndexByte(string(src[:off]), '\n') + 1
	line := strings.Count(string(src[:off]), "\n") + 1
	col := utf8.RuneCount(src[lineStart:off]) + 1
	n := utf8.RuneCountInString(id.Name)
	return [][2]int{{line, col}, {line, col + n - 1}}
}

// The references of a variable are exactly its definition, reads, writes
// and references, with character columns (the Unicode line of the
// occurrences fixture puts "é" before one).
func TestReferencesOfAVariable(t *testing.T) {
	e := newEnv(t)
	e.ingestFixture(t, "vars", "vars.txtar")
	e.ingestFixture(t, "occ", "occurrences.txtar")
	for _, c := range []struct {
		g, qn string
		roles []string
		want  []string
	}{
		{"vars", "example.com/v.Count", nil, []string{"v.go:6:2-7 definition", "v.go:21:2-7 write", "v.go:22:2-7 write", "v.go:23:2-7 write",
			"v.go:31:9-14 reference", "v.go:39:5-10 read", "v.go:47:3-8 write", "v.go:60:2-7 write"}},
		{"vars", "example.com/v.Config.Size", nil, []string{"v.go:13:2-6 definition", "v.go:24:6-10 write", "v.go:34:11-15 reference",
			"v.go:40:27-31 read", "v.go:52:16-20 write"}},
		{"vars", "example.com/v.Count", []string{"read", "reference"}, []string{"v.go:31:9-14 reference", "v.go:39:5-10 read"}},
		{"occ", "example.com/o.Count", nil, []string{"o.go:7:5-10 definition", "o.go:33:2-7 write", "o.go:34:8-13 reference",
			"o.go:37:30-35 reference", "o.go:40:28-33 write"}},
	} {
		if got := e.references(t, c.g, c.qn, c.roles...); !slices.Equal(got, c.want) {
			t.Errorf("references of %s (roles %v):\n got %q\nwant %q", c.qn, c.roles, got, c.want)
		}
	}

	// Pages: two at a time, in order, ending where totalCount says.
	var all []string
	after := ""
	for range 10 {
		var r struct {
			Graph struct {
				Node struct {
					References struct {
						Nodes    []struct{ Line, Column int }
						PageInfo struct {
							EndCursor   string
							HasNextPage bool
						}
					}
				}
			}
		}
		e.post(t, `query($after: String) { graph(id: "vars") { node(qualifiedName: "example.com/v.Count") {
			references(first: 2, after: $after) { nodes { line column } pageInfo { endCursor hasNextPage } } } } }`,
			&r, client.Var("after", after))
		for _, o := range r.Graph.Node.References.Nodes {
			all = append(all, fmt.Sprint(o.Line, ":", o.Column))
		}
		if !r.Graph.Node.References.PageInfo.HasNextPage {
			break
		}
		after = r.Graph.Node.References.PageInfo.EndCursor
	}
	if want := "[6:2 21:2 22:2 23:2 31:9 39:5 47:3 60:2]"; fmt.Sprint(all) != want {
		t.Errorf("paged references = %v, want %s", all, want)
	}
}

// references lists the occurrences of node qn of graph g (of the roles
// given, all without) as "path:line:col-end role", checking that each
// names the node and that totalCount agrees.
func (e *env) references(t *testing.T, g, qn string, roles ...string) []string {
	t.Helper()
	var r struct {
		Graph struct {
			Node struct {
				References struct {
					TotalCount int
					Nodes      []struct {
						File                    struct{ Path string }
						Line, Column, EndColumn int
						Role                    string
						Node                    struct{ QualifiedName string }
					}
				}
			}
		}
	}
	e.post(t, `query($g: ID!, $q: String!, $roles: [String!]) { graph(id: $g) { node(qualifiedName: $q) {
		references(roles: $roles) { totalCount nodes { file { path } line column endColumn role node { qualifiedName } } } } } }`,
		&r, client.Var("g", g), client.Var("q", qn), client.Var("roles", roles))
	var out []string
	for _, o := range r.Graph.Node.References.Nodes {
		if o.Node.QualifiedName != qn {
			t.Errorf("reference %+v names %s", o, o.Node.QualifiedName)
		}
		out = append(out, fmt.Sprintf("%s:%d:%d-%d %s", o.File.Path, o.Line, o.Column, o.EndColumn, o.Role))
	}
	if r.Graph.Node.References.TotalCount != len(out) {
		t.Errorf("totalCount %d, %d nodes", r.Graph.Node.References.TotalCount, len(out))
	}
	return out
}

// occurrenceAt gives the span and role; File.nodes lists a file's nodes;
// symbolAt on a non-ASCII line counts characters.
func TestOccurrenceAtAndFileNodes(t *testing.T) {
	e := newEnv(t)
	e.ingestFixture(t, "occ", "occurrences.txtar")
	var r struct {
		Graph struct {
			OccurrenceAt struct {
				Line, Column, EndColumn int
				Role                    string
				Node                    struct{ QualifiedName string }
			}
			File struct {
				Nodes []struct{ QualifiedName string }
			}
			Node struct {
				Definition struct{ Line, Column, EndColumn int }
			}
		}
	}
	// Line 42: func Wide() { _ = "世界"; Use() } — Use at character 25.
	e.post(t, `{ graph(id: "occ") { occurrenceAt(path: "o.go", line: 42, column: 26) { line column endColumn role node { qualifiedName } }
		file(path: "o.go") { nodes { qualifiedName } }
		node(qualifiedName: "example.com/o.Square.Side") { definition { line column endColumn } } } }`, &r)
	if d := r.Graph.Node.Definition; d.Line != 17 || d.Column != 2 || d.EndColumn != 6 {
		t.Errorf("definition of Square.Side = %+v, want 17:2-6", d)
	}
	o := r.Graph.OccurrenceAt
	if o.Line != 42 || o.Column != 25 || o.EndColumn != 28 || o.Role != "call" || o.Node.QualifiedName != "example.com/o.Use" {
		t.Errorf("occurrenceAt o.go:42:26 = %+v", o)
	}
	var names []string
	for _, n := range r.Graph.File.Nodes {
		names = append(names, n.QualifiedName)
	}
	if len(names) != 18 || names[0] != "example.com/o.Limit" || !slices.Contains(names, "example.com/o.Square.Side") {
		t.Errorf("file nodes = %v", names)
	}
	if got := e.symbolAt(t, "occ", "o.go", 40, 28); got != "example.com/o.Count" {
		t.Errorf("symbolAt o.go:40:28 (after é) = %q", got)
	}
	if got := e.symbolAt(t, "occ", "o.go", 40, 29+100); got != "" {
		t.Errorf("symbolAt past the end of the line = %q", got)
	}
}

// nodeAt finds nodes written through upsertNodes with a path and lines.
func TestNodeAtFindsUpsertedNodes(t *testing.T) {
	e := newEnv(t)
	e.createGraph(t, "api")
	e.upsert(t, "api", []map[string]any{
		{"kind": "CLASS", "name": "Svc", "qualifiedName": "svc.Svc", "path": "svc.py", "line": 1, "endLine": 30},
		{"kind": "FUNCTION", "name": "run", "qualifiedName": "svc.Svc.run", "path": "svc.py", "line": 10, "endLine": 12},
	}, nil)
	for line, want := range map[int]string{5: "svc.Svc", 11: "svc.Svc.run", 31: ""} {
		var r struct {
			Graph struct {
				NodeAt *struct{ QualifiedName string }
			}
		}
		e.post(t, `query($l: Int!) { graph(id: "api") { nodeAt(path: "svc.py", line: $l) { qualifiedName } } }`, &r, client.Var("l", line))
		got := ""
		if r.Graph.NodeAt != nil {
			got = r.Graph.NodeAt.QualifiedName
		}
		if got != want {
			t.Errorf("nodeAt svc.py:%d = %q, want %q", line, got, want)
		}
	}
}

// Node.degree counts what callers and callees list, for every function of
// a fixture, without reading the other ends.
func TestDegreeCountsCallersAndCallees(t *testing.T) {
	e := newEnv(t)
	e.ingestFixture(t, "calls", "calls.txtar")
	var r struct {
		Graph struct {
			Nodes struct {
				Nodes []struct {
					ID, QualifiedName string
					In, Out, Both     int
					Callers, Callees  []struct{ ID string }
					Edges             []struct{ Node struct{ ID string } }
				}
			}
		}
	}
	e.post(t, `{ graph(id: "calls") { nodes(kind: FUNCTION, first: 40) { nodes { id qualifiedName
		in: degree(direction: IN, relation: CALLS) out: degree(direction: OUT, relation: CALLS) both: degree(direction: BOTH)
		callers { id } callees { id } edges(direction: BOTH) { node { id } } } } } }`, &r)
	busy := 0
	for _, n := range r.Graph.Nodes.Nodes {
		others := map[string]bool{}
		for _, ed := range n.Edges {
			if ed.Node.ID != n.ID { // a recursive call is no other end
				others[ed.Node.ID] = true
			}
		}
		if n.In != len(n.Callers) || n.Out != len(n.Callees) || n.Both != len(others) {
			t.Errorf("%s: degree in %d out %d both %d; callers %d callees %d, other ends %d",
				n.QualifiedName, n.In, n.Out, n.Both, len(n.Callers), len(n.Callees), len(others))
		}
		if n.In+n.Out > 1 {
			busy++
		}
	}
	if busy < 3 {
		t.Fatalf("only %d functions with two or more call edges", busy)
	}
}
