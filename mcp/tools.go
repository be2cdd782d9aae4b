package mcp

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/agnivade/levenshtein"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/grafo/grafo/graph/store"
)

type tools struct{ q Querier }

// Bounds of every list a tool prints.
const (
	defaultLimit = 50
	maxLimit     = 500
)

// nodeFields is what every tool prints of a node.
const nodeFields = `id kind qualifiedName external test line endLine file { path } graph { id }`

// walkFields is what a node of impact's walk needs: every level of a walk
// loads many nodes, and the graph is the one asked.
const walkFields = `id kind qualifiedName external test line file { path }`

type gnode struct {
	ID, Kind, QualifiedName string
	External, Test          bool
	Line, EndLine           *int
	File                    *struct{ Path string }
	Graph                   struct{ ID string }
}

// String is the one-line form: KIND qualified.Name  path:line.
func (n *gnode) String() string {
	var b strings.Builder
	b.WriteString(n.Kind + " " + n.QualifiedName)
	switch {
	case n.File != nil && n.Line != nil:
		fmt.Fprintf(&b, "  %s:%d", n.File.Path, *n.Line)
	case n.File != nil:
		b.WriteString("  " + n.File.Path)
	case n.External:
		b.WriteString("  (external)")
	}
	if n.Test {
		b.WriteString("  [test]")
	}
	return b.String()
}

// Inputs. Descriptions become the tools' JSON schemas.
type (
	graphIn struct {
		Graph string `json:"graph" jsonschema:"graph id, as list_graphs prints it"`
	}
	symbolIn struct {
		graphIn
		Symbol string `json:"symbol" jsonschema:"qualified name as search_symbols prints it (pkg.Type.Method; Go's pkg.(*Type).Method works too), or a suffix that names one symbol (Type.Method)"`
		Limit  int    `json:"limit,omitempty" jsonschema:"most lines to print (default 50, at most 500)"`
	}
	depthIn struct {
		symbolIn
		Depth int `json:"depth,omitempty" jsonschema:"levels to follow (default 1 for callers/callees, 3 for impact; at most 10)"`
	}
	searchIn struct {
		Graph string `json:"graph,omitempty" jsonschema:"graph id; empty searches every graph"`
		Query string `json:"query" jsonschema:"a name or name prefix (Put), or a dotted suffix of a qualified name (Coordinator.Put, replica.Coordinator.Put)"`
		Kind  string `json:"kind,omitempty" jsonschema:"FUNCTION, CLASS or VARIABLE"`
		Limit int    `json:"limit,omitempty" jsonschema:"most results (default 50, at most 500)"`
	}
	positionIn struct {
		graphIn
		Path   string `json:"path" jsonschema:"file path relative to the ingested tree's root, as the graph's files list it"`
		Line   int    `json:"line" jsonschema:"1-based line"`
		Column int    `json:"column,omitempty" jsonschema:"1-based column in characters"`
	}
	relationsIn struct {
		symbolIn
		Relation  string `json:"relation,omitempty" jsonschema:"one of CALLS READS WRITES REFERENCES INHERITANCE COMPOSITION AGGREGATION ASSOCIATION LINK DEPENDENCY REALIZATION DASHED_LINK; empty means all"`
		Direction string `json:"direction,omitempty" jsonschema:"OUT (from the symbol), IN (to it) or BOTH (default)"`
	}
	neighbourhoodIn struct {
		symbolIn
		Depth  int    `json:"depth,omitempty" jsonschema:"hops around the symbol, 0 to 3 (default 1)"`
		Format string `json:"format,omitempty" jsonschema:"mermaid (flowchart, default), mermaid-class (class diagram) or dot (Graphviz)"`
	}
	ingestIn struct {
		Path  string `json:"path" jsonschema:"directory to ingest (Go and Python)"`
		Graph string `json:"graph,omitempty" jsonschema:"graph name (default: the directory's name)"`
	}
)

func limitOf(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return min(n, maxLimit)
}

func text(s string) *sdk.CallToolResult {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: s}}}
}

// lines prints a header and up to limit items, noting what was cut.
func lines[T any](header string, items []T, limit int, line func(T) string) *sdk.CallToolResult {
	var b strings.Builder
	b.WriteString(header + "\n")
	writeBounded(&b, items, limit, line, fmt.Sprintf("… %%d more not shown (limit %d; raise limit, at most %d)", limit, maxLimit))
	return text(b.String())
}

// writeBounded writes up to max items, one a line, then more (a format
// taking how many were left out) if any were.
func writeBounded[T any](b *strings.Builder, items []T, max int, line func(T) string, more string) {
	for i, it := range items {
		if i == max {
			fmt.Fprintf(b, more+"\n", len(items)-max)
			return
		}
		b.WriteString(line(it) + "\n")
	}
}

// readOnly adds a tool that only reads the graph.
func readOnly[In any](s *sdk.Server, name, desc string, h sdk.ToolHandlerFor[In, any]) {
	sdk.AddTool(s, &sdk.Tool{Name: name, Description: desc, Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true}}, h)
}

func (t *tools) register(s *sdk.Server, o Options) {
	readOnly(s, "list_graphs", "The graphs this token may see, with their languages, sizes and last update.", t.listGraphs)
	readOnly(s, "search_symbols", "Find functions, types and variables by name in one graph or all; best matches first.", t.search)
	readOnly(s, "symbol_at", "The symbol under a cursor (line, column): the callee on a call, the variable on a use, the type on a type name; and the definition enclosing the line.", t.symbolAt)
	readOnly(s, "describe", "A symbol's kind, file and lines, and how many relations of each kind it has in each direction.", t.describe)
	readOnly(s, "callers", "Functions that call the symbol, transitively up to depth (interface dispatch included).", t.callers)
	readOnly(s, "callees", "Functions the symbol calls, transitively up to depth.", t.callees)
	readOnly(s, "references", "Every identifier that names the symbol — definition, calls, reads, writes, references, type uses — with file:line:column and role.", t.references)
	readOnly(s, "implementations", "Types that implement an interface, or the methods implementing an interface method.", t.implementations)
	readOnly(s, "relations", "The symbol's typed edges (calls, variable access, the eight class relations), optionally of one relation and direction.", t.relations)
	readOnly(s, "impact", "What may break if the symbol changes: everything that transitively calls, reads, writes, references, inherits from or realizes it, up to depth, nearest first.", t.impact)
	readOnly(s, "neighbourhood", "The symbol's neighbourhood as a Mermaid or Graphviz DOT diagram.", t.neighbourhood)
	readOnly(s, "graph_stats", "Counts of a graph's files, nodes by kind and edges by relation.", t.graphStats)
	if o.Ingest != nil {
		sdk.AddTool(s, &sdk.Tool{Name: "ingest", Description: "Ingest (or incrementally re-ingest) a local directory into a graph; needs a write token."},
			func(ctx context.Context, _ *sdk.CallToolRequest, in ingestIn) (*sdk.CallToolResult, any, error) {
				if in.Path == "" {
					return nil, nil, errors.New("ingest needs a path")
				}
				sum, err := o.Ingest(ctx, in.Path, in.Graph)
				if err != nil {
					return nil, nil, err
				}
				return text(sum), nil, nil
			})
	}
}

func (t *tools) listGraphs(ctx context.Context, _ *sdk.CallToolRequest, _ any) (*sdk.CallToolResult, any, error) {
	var d struct {
		Graphs []struct {
			ID, UpdatedAt string
			Languages     []struct{ Name, Version string }
			Stats         struct{ Files, Nodes, Edges int }
		}
	}
	if err := t.q.GraphQL(ctx, `{ graphs { id updatedAt languages { name version } stats { files nodes edges } } }`, nil, &d); err != nil {
		return nil, nil, err
	}
	if len(d.Graphs) == 0 {
		return text("no graphs (ingest one with the ingest tool or `grafo ingest PATH`)"), nil, nil
	}
	return lines(fmt.Sprintf("%d graphs (id: files, nodes, edges; languages; updated)", len(d.Graphs)), d.Graphs, maxLimit,
		func(g struct {
			ID, UpdatedAt string
			Languages     []struct{ Name, Version string }
			Stats         struct{ Files, Nodes, Edges int }
		}) string {
			var ls []string
			for _, l := range g.Languages {
				ls = append(ls, strings.TrimSpace(l.Name+" "+l.Version))
			}
			return fmt.Sprintf("%s: %d files, %d nodes, %d edges; %s; %s", g.ID, g.Stats.Files, g.Stats.Nodes, g.Stats.Edges, strings.Join(ls, ", "), g.UpdatedAt)
		}), nil, nil
}

func (t *tools) search(ctx context.Context, _ *sdk.CallToolRequest, in searchIn) (*sdk.CallToolResult, any, error) {
	if strings.TrimSpace(in.Query) == "" {
		return nil, nil, errors.New("search_symbols needs a query")
	}
	lim := limitOf(in.Limit)
	vars := map[string]any{"q": in.Query, "first": lim + 1}
	if in.Graph != "" {
		vars["gs"] = []string{in.Graph}
	}
	if in.Kind != "" {
		vars["kind"] = strings.ToUpper(in.Kind)
	}
	var d struct{ Search []*gnode }
	if err := t.q.GraphQL(ctx, `query($q: String!, $gs: [ID!], $kind: NodeKind, $first: Int) {
		search(query: $q, graphs: $gs, kind: $kind, first: $first) { `+nodeFields+` } }`, vars, &d); err != nil {
		return nil, nil, err
	}
	if len(d.Search) == 0 {
		return text(fmt.Sprintf("no symbol matches %q", in.Query)), nil, nil
	}
	return lines(fmt.Sprintf("symbols matching %q (graph: KIND name  file:line)", in.Query), d.Search, lim,
		func(n *gnode) string { return n.Graph.ID + ": " + n.String() }), nil, nil
}

func (t *tools) symbolAt(ctx context.Context, _ *sdk.CallToolRequest, in positionIn) (*sdk.CallToolResult, any, error) {
	var d struct {
		Graph *struct {
			OccurrenceAt *struct {
				Line, Column, EndColumn int
				Role                    string
				Node                    *gnode
			}
			NodeAt *gnode
		}
	}
	col := in.Column
	if col <= 0 {
		col = 1
	}
	if err := t.q.GraphQL(ctx, `query($g: ID!, $p: String!, $l: Int!, $c: Int!) { graph(id: $g) {
		occurrenceAt(path: $p, line: $l, column: $c) { line column endColumn role node { `+nodeFields+` } }
		nodeAt(path: $p, line: $l) { `+nodeFields+` } } }`,
		map[string]any{"g": in.Graph, "p": in.Path, "l": in.Line, "c": col}, &d); err != nil {
		return nil, nil, err
	}
	if d.Graph == nil {
		return nil, nil, t.unknownGraph(ctx, in.Graph)
	}
	var b strings.Builder
	if o := d.Graph.OccurrenceAt; o != nil && o.Node != nil && in.Column > 0 {
		fmt.Fprintf(&b, "%s\n(%s at %s:%d:%d-%d)\n", o.Node.String(), o.Role, in.Path, o.Line, o.Column, o.EndColumn)
	} else if in.Column > 0 {
		fmt.Fprintf(&b, "no identifier naming a symbol at %s:%d:%d\n", in.Path, in.Line, in.Column)
	}
	if n := d.Graph.NodeAt; n != nil {
		fmt.Fprintf(&b, "enclosing: %s\n", n.String())
	}
	if b.Len() == 0 {
		return text(fmt.Sprintf("no symbol at %s:%d in graph %s", in.Path, in.Line, in.Graph)), nil, nil
	}
	return text(b.String()), nil, nil
}

// resolve finds the symbol's node in graph: by qualified name (Go's
// spellings included), else by a suffix that names exactly one symbol;
// otherwise the error lists the closest names.
func (t *tools) resolve(ctx context.Context, graph, symbol string) (*gnode, error) {
	if strings.TrimSpace(symbol) == "" {
		return nil, errors.New("a symbol is needed (a qualified name, as search_symbols prints it)")
	}
	var d struct {
		Graph *struct {
			Node   *gnode
			Search []*gnode
		}
	}
	vars := map[string]any{"g": graph, "s": symbol}
	if err := t.q.GraphQL(ctx, `query($g: ID!, $s: String!) { graph(id: $g) { node(qualifiedName: $s) { `+nodeFields+` } } }`, vars, &d); err != nil {
		return nil, err
	}
	if d.Graph == nil {
		return nil, t.unknownGraph(ctx, graph)
	}
	if d.Graph.Node != nil {
		return d.Graph.Node, nil
	}
	// Not a qualified name: maybe a suffix naming one symbol.
	if err := t.q.GraphQL(ctx, `query($g: ID!, $s: String!) { graph(id: $g) { search(query: $s, first: 20) { `+nodeFields+` } } }`, vars, &d); err != nil {
		return nil, err
	}
	want := store.CanonicalName(symbol)
	var exact []*gnode
	for _, n := range d.Graph.Search {
		q := n.QualifiedName
		if q == want || strings.HasSuffix(q, "."+want) || strings.HasSuffix(q, "/"+want) {
			exact = append(exact, n)
		}
	}
	if len(exact) == 1 {
		return exact[0], nil
	}
	if len(exact) > 1 {
		return nil, fmt.Errorf("%q names %d symbols in graph %s; say which:\n%s", symbol, len(exact), graph, list(exact, 10))
	}
	closest, err := t.closest(ctx, graph, want)
	if err != nil {
		return nil, err
	}
	if len(closest) == 0 {
		return nil, fmt.Errorf("no symbol %q in graph %s, and no similar names; try search_symbols", symbol, graph)
	}
	return nil, fmt.Errorf("no symbol %q in graph %s; closest names:\n%s", symbol, graph, list(closest, 5))
}

// list prints up to max symbols for an error message.
func list(ns []*gnode, max int) string {
	var b strings.Builder
	writeBounded(&b, ns, max, func(n *gnode) string { return "  " + n.String() }, "… %d more")
	return strings.TrimRight(b.String(), "\n")
}

// closest ranks names sharing the symbol's first letters by edit distance
// to it, comparing as many trailing segments as the symbol has.
func (t *tools) closest(ctx context.Context, graph, symbol string) ([]*gnode, error) {
	last := symbol[strings.LastIndexAny(symbol, "./")+1:]
	seen := map[string]bool{}
	var cands []*gnode
	for _, q := range []string{last, last[:min(3, len(last))], last[:min(1, len(last))]} {
		if q == "" {
			continue
		}
		var d struct{ Search []*gnode }
		if err := t.q.GraphQL(ctx, `query($g: [ID!], $q: String!) { search(query: $q, graphs: $g, first: 200) { `+nodeFields+` } }`,
			map[string]any{"g": []string{graph}, "q": q}, &d); err != nil {
			return nil, err
		}
		for _, n := range d.Search {
			if !seen[n.ID] {
				seen[n.ID] = true
				cands = append(cands, n)
			}
		}
		if len(cands) >= 20 {
			break
		}
	}
	segs := strings.Count(symbol, ".") + 1
	dist := func(n *gnode) int {
		q := n.QualifiedName
		parts := strings.Split(q[strings.LastIndexByte(q, '/')+1:], ".")
		tail := strings.Join(parts[max(0, len(parts)-segs):], ".")
		return levenshtein.ComputeDistance(strings.ToLower(tail), strings.ToLower(symbol))
	}
	sort.SliceStable(cands, func(i, j int) bool { return dist(cands[i]) < dist(cands[j]) })
	return cands[:min(5, len(cands))], nil
}

func (t *tools) unknownGraph(ctx context.Context, graph string) error {
	var d struct{ Graphs []struct{ ID string } }
	if err := t.q.GraphQL(ctx, `{ graphs { id } }`, nil, &d); err != nil {
		return err
	}
	var ids []string
	for _, g := range d.Graphs {
		ids = append(ids, g.ID)
	}
	if len(ids) == 0 {
		return fmt.Errorf("no graph %q: there are no graphs yet", graph)
	}
	return fmt.Errorf("no graph %q; graphs: %s", graph, strings.Join(ids, ", "))
}

// nodeQuery resolves the symbol, then runs a query of fields on it
// (selection after `node(id: $id)`) and decodes graph.node into out.
func (t *tools) nodeQuery(ctx context.Context, in symbolIn, vars map[string]any, varDecl, selection string, out any) (*gnode, error) {
	n, err := t.resolve(ctx, in.Graph, in.Symbol)
	if err != nil {
		return nil, err
	}
	if vars == nil {
		vars = map[string]any{}
	}
	vars["g"], vars["id"] = in.Graph, n.ID
	var d struct {
		Graph struct{ Node any }
	}
	d.Graph.Node = out
	err = t.q.GraphQL(ctx, `query($g: ID!, $id: ID!`+varDecl+`) { graph(id: $g) { node(id: $id) { `+selection+` } } }`, vars, &d)
	return n, err
}

func (t *tools) describe(ctx context.Context, _ *sdk.CallToolRequest, in symbolIn) (*sdk.CallToolResult, any, error) {
	var d struct {
		EndLine *int
		File    *struct{ Md5 string }
		Out, In []struct{ Relation string }
	}
	n, err := t.nodeQuery(ctx, in, nil, "", `endLine file { md5 } out: edges(direction: OUT) { relation } in: edges(direction: IN) { relation }`, &d)
	if err != nil {
		return nil, nil, err
	}
	var b strings.Builder
	b.WriteString(n.String() + "\n")
	if n.Line != nil && d.EndLine != nil {
		fmt.Fprintf(&b, "lines %d-%d", *n.Line, *d.EndLine)
		if d.File != nil {
			fmt.Fprintf(&b, " of %s (md5 %s)", n.File.Path, d.File.Md5)
		}
		b.WriteString("\n")
	}
	if n.External {
		b.WriteString("defined outside the ingested tree\n")
	}
	count := func(dir string, es []struct{ Relation string }) {
		m := map[string]int{}
		for _, e := range es {
			m[e.Relation]++
		}
		var parts []string
		for r, c := range m {
			parts = append(parts, fmt.Sprintf("%s %d", r, c))
		}
		sort.Strings(parts)
		if len(parts) == 0 {
			parts = []string{"none"}
		}
		fmt.Fprintf(&b, "%s: %s\n", dir, strings.Join(parts, ", "))
	}
	count("outgoing (this → other)", d.Out)
	count("incoming (other → this)", d.In)
	return text(b.String()), nil, nil
}

func depthOf(d, def int) (int, error) {
	if d == 0 {
		d = def
	}
	if d < 1 || d > 10 {
		return 0, fmt.Errorf("depth %d outside 1..10", d)
	}
	return d, nil
}

func (t *tools) walk(ctx context.Context, in depthIn, field, what string) (*sdk.CallToolResult, any, error) {
	depth, err := depthOf(in.Depth, 1)
	if err != nil {
		return nil, nil, err
	}
	lim := limitOf(in.Limit)
	var d map[string][]*gnode
	n, err := t.nodeQuery(ctx, in.symbolIn, map[string]any{"d": depth, "f": lim + 1}, ", $d: Int, $f: Int", field+`(depth: $d, first: $f) { `+nodeFields+` }`, &d)
	if err != nil {
		return nil, nil, err
	}
	ns := d[field]
	if len(ns) == 0 {
		return text(fmt.Sprintf("%s: no %s within depth %d", n.QualifiedName, what, depth)), nil, nil
	}
	header := fmt.Sprintf("%d %s of %s within depth %d, nearest first:", len(ns), what, n.QualifiedName, depth)
	if len(ns) > lim {
		// The walk stopped at the limit: the total is not known.
		header = fmt.Sprintf("more than %d %s of %s within depth %d, nearest first:", lim, what, n.QualifiedName, depth)
		ns = ns[:lim]
	}
	return lines(header, ns, lim, func(x *gnode) string { return x.String() }), nil, nil
}

func (t *tools) callers(ctx context.Context, _ *sdk.CallToolRequest, in depthIn) (*sdk.CallToolResult, any, error) {
	return t.walk(ctx, in, "callers", "callers")
}

func (t *tools) callees(ctx context.Context, _ *sdk.CallToolRequest, in depthIn) (*sdk.CallToolResult, any, error) {
	return t.walk(ctx, in, "callees", "callees")
}

type gedge struct {
	Relation string
	Dynamic  bool
	Node     *gnode
	File     *struct{ Path string }
	Line     *int
	Column   *int
}

// at is where the edge appears in source: path:line:column, or "".
func (e gedge) at() string {
	if e.File == nil || e.Line == nil {
		return ""
	}
	s := fmt.Sprintf("%s:%d", e.File.Path, *e.Line)
	if e.Column != nil && *e.Column > 0 {
		s += fmt.Sprintf(":%d", *e.Column)
	}
	return s
}

const edgeFields = `relation dynamic file { path } line column node { ` + nodeFields + ` }`

func (t *tools) references(ctx context.Context, _ *sdk.CallToolRequest, in symbolIn) (*sdk.CallToolResult, any, error) {
	lim := limitOf(in.Limit)
	var d struct {
		References struct {
			TotalCount int
			Nodes      []struct {
				File                    struct{ Path string }
				Line, Column, EndColumn int
				Role                    string
			}
		}
	}
	n, err := t.nodeQuery(ctx, in, map[string]any{"first": lim}, ", $first: Int",
		`references(first: $first) { totalCount nodes { file { path } line column endColumn role } }`, &d)
	if err != nil {
		return nil, nil, err
	}
	refs := d.References
	if refs.TotalCount > 0 {
		// Occurrences: every identifier naming the symbol, exact spans.
		var b strings.Builder
		fmt.Fprintf(&b, "%d references to %s (file:line:column-endColumn  role):\n", refs.TotalCount, n.QualifiedName)
		for _, o := range refs.Nodes {
			fmt.Fprintf(&b, "%s:%d:%d-%d  %s\n", o.File.Path, o.Line, o.Column, o.EndColumn, o.Role)
		}
		if refs.TotalCount > len(refs.Nodes) {
			fmt.Fprintf(&b, "… %d more not shown (limit %d; raise limit, at most %d)\n", refs.TotalCount-len(refs.Nodes), lim, maxLimit)
		}
		return text(b.String()), nil, nil
	}
	// No occurrences recorded (an external symbol, a graph ingested
	// before occurrences, facts made through mutations): the incoming
	// edges, with where each relation appears.
	var e struct {
		Graph struct{ Node struct{ Edges []gedge } }
	}
	if err := t.q.GraphQL(ctx, `query($g: ID!, $id: ID!) { graph(id: $g) { node(id: $id) { edges(direction: IN) { `+edgeFields+` } } } }`,
		map[string]any{"g": in.Graph, "id": n.ID}, &e); err != nil {
		return nil, nil, err
	}
	es := e.Graph.Node.Edges
	sort.SliceStable(es, func(i, j int) bool { return es[i].at() < es[j].at() })
	if len(es) == 0 {
		return text(n.QualifiedName + ": no references in the graph"), nil, nil
	}
	return lines(fmt.Sprintf("%d uses of %s (where  RELATION  by whom):", len(es), n.QualifiedName), es, lim,
		func(e gedge) string {
			at := e.at()
			if at == "" {
				at = "(no position)"
			}
			return fmt.Sprintf("%s  %s  %s", at, e.Relation, e.Node.QualifiedName)
		}), nil, nil
}

func (t *tools) implementations(ctx context.Context, _ *sdk.CallToolRequest, in symbolIn) (*sdk.CallToolResult, any, error) {
	var d struct{ Implementations []*gnode }
	n, err := t.nodeQuery(ctx, in, nil, "", `implementations { `+nodeFields+` }`, &d)
	if err != nil {
		return nil, nil, err
	}
	if len(d.Implementations) == 0 {
		return text(n.QualifiedName + ": no implementations in the graph (it is not an interface, or nothing implements it)"), nil, nil
	}
	return lines(fmt.Sprintf("%d implementations of %s:", len(d.Implementations), n.QualifiedName), d.Implementations, limitOf(in.Limit),
		func(x *gnode) string { return x.String() }), nil, nil
}

var relationNames = map[string]bool{"CALLS": true, "READS": true, "WRITES": true, "REFERENCES": true, "INHERITANCE": true,
	"COMPOSITION": true, "AGGREGATION": true, "ASSOCIATION": true, "LINK": true, "DEPENDENCY": true, "REALIZATION": true, "DASHED_LINK": true}

func (t *tools) relations(ctx context.Context, _ *sdk.CallToolRequest, in relationsIn) (*sdk.CallToolResult, any, error) {
	vars := map[string]any{}
	dir := strings.ToUpper(in.Direction)
	switch dir {
	case "":
		dir = "BOTH"
	case "OUT", "IN", "BOTH":
	default:
		return nil, nil, fmt.Errorf("direction %q: want OUT, IN or BOTH", in.Direction)
	}
	rel := strings.ToUpper(in.Relation)
	if rel != "" && !relationNames[rel] {
		return nil, nil, fmt.Errorf("relation %q: want one of CALLS READS WRITES REFERENCES INHERITANCE COMPOSITION AGGREGATION ASSOCIATION LINK DEPENDENCY REALIZATION DASHED_LINK", in.Relation)
	}
	if rel != "" {
		vars["r"] = rel
	}
	lim := limitOf(in.Limit)
	vars["f"] = lim + 1
	var d struct{ Out, In []gedge }
	sel := `out: edges(direction: OUT, relation: $r, first: $f) { ` + edgeFields + ` } in: edges(direction: IN, relation: $r, first: $f) { ` + edgeFields + ` }`
	n, err := t.nodeQuery(ctx, in.symbolIn, vars, ", $r: Relation, $f: Int", sel, &d)
	if err != nil {
		return nil, nil, err
	}
	type row struct {
		dir string
		e   gedge
	}
	var rows []row
	if dir != "IN" {
		for _, e := range d.Out {
			rows = append(rows, row{"OUT", e})
		}
	}
	if dir != "OUT" {
		for _, e := range d.In {
			rows = append(rows, row{"IN", e})
		}
	}
	if len(rows) == 0 {
		return text(fmt.Sprintf("%s: no %s edges (direction %s)", n.QualifiedName, rel, dir)), nil, nil
	}
	header := fmt.Sprintf("%d edges of %s (OUT: this → other, IN: other → this):", len(rows), n.QualifiedName)
	if len(d.Out) > lim || len(d.In) > lim {
		header = fmt.Sprintf("more than %d edges of %s (OUT: this → other, IN: other → this):", lim, n.QualifiedName)
	}
	return lines(header, rows, lim,
		func(r row) string {
			s := fmt.Sprintf("%s %s  %s", r.dir, r.e.Relation, r.e.Node.String())
			var notes []string
			if at := r.e.at(); at != "" {
				notes = append(notes, "at "+at)
			}
			if r.e.Dynamic {
				notes = append(notes, "dynamic")
			}
			if len(notes) > 0 {
				s += "  (" + strings.Join(notes, ", ") + ")"
			}
			return s
		}), nil, nil
}

// impactRelations are the edges impact follows backwards: whoever calls,
// reads, writes, references, inherits from or realizes a symbol may break
// when it changes.
var impactRelations = map[string]bool{"CALLS": true, "READS": true, "WRITES": true, "REFERENCES": true, "INHERITANCE": true, "REALIZATION": true}

// impactBatch nodes are asked for their incoming edges per query (aliases),
// keeping each query well under the GraphQL complexity limit.
const impactBatch = 38

// impactEdge is an incoming edge as impact reads it.
type impactEdge struct {
	Relation string
	Node     *gnode
}

// impactHit is a symbol impact reached: its level and the relation that
// led there.
type impactHit struct {
	n     *gnode
	level int
	via   string
}

// impactWalk is the state of one impact search.
type impactWalk struct {
	t     *tools
	graph string
	lim   int
	hits  []impactHit
	seen  map[string]bool
	cut   bool // an answer exceeded the limit: the set is incomplete
}

func (t *tools) impact(ctx context.Context, _ *sdk.CallToolRequest, in depthIn) (*sdk.CallToolResult, any, error) {
	depth, err := depthOf(in.Depth, 3)
	if err != nil {
		return nil, nil, err
	}
	w := &impactWalk{t: t, graph: in.Graph, lim: limitOf(in.Limit), seen: map[string]bool{}}
	root, frontier, level, err := w.start(ctx, in.Symbol)
	if err != nil {
		return nil, nil, err
	}
	for ; level <= depth && len(frontier) > 0 && !w.cut; level++ {
		if frontier, err = w.level(ctx, level, frontier); err != nil {
			return nil, nil, err
		}
	}
	if len(w.hits) == 0 {
		return text(fmt.Sprintf("%s: nothing calls, reads, writes, references, inherits from or realizes it (depth %d)", root.QualifiedName, depth)), nil, nil
	}
	header := fmt.Sprintf("%d symbols may be affected by a change to %s (depth %d; level, relation to the level below, symbol):", len(w.hits), root.QualifiedName, depth)
	if w.cut {
		header = fmt.Sprintf("more than %d symbols may be affected by a change to %s (depth %d; search stopped; level, relation, symbol):", w.lim, root.QualifiedName, depth)
	}
	return lines(header, w.hits, w.lim, func(h impactHit) string { return fmt.Sprintf("%d %s  %s", h.level, h.via, h.n.String()) }), nil, nil
}

// absorb takes one node's incoming edges at level into the answer and
// returns the nodes newly reached.
func (w *impactWalk) absorb(level int, edges []impactEdge) (next []string) {
	if len(edges) > w.lim {
		w.cut = true // this node's edges were cut: the set is incomplete
	}
	for _, e := range edges {
		if !impactRelations[e.Relation] || w.seen[e.Node.ID] {
			continue
		}
		w.seen[e.Node.ID] = true
		w.hits = append(w.hits, impactHit{e.Node, level, e.Relation})
		next = append(next, e.Node.ID)
	}
	return next
}

// start finds the symbol and, when it is a qualified name, its first
// level in the same query; another name goes through resolve (suffixes,
// closest names). It returns the frontier and the level to ask next.
func (w *impactWalk) start(ctx context.Context, symbol string) (*gnode, []string, int, error) {
	var d0 struct {
		Graph *struct {
			Node *struct {
				gnode
				Edges []impactEdge
			}
		}
	}
	if err := w.t.q.GraphQL(ctx, `query($g: ID!, $s: String!) { graph(id: $g) { node(qualifiedName: $s) { `+nodeFields+`
		edges(direction: IN, first: `+fmt.Sprint(w.lim+1)+`) { relation node { `+walkFields+` } } } } }`,
		map[string]any{"g": w.graph, "s": symbol}, &d0); err != nil {
		return nil, nil, 0, err
	}
	if d0.Graph != nil && d0.Graph.Node != nil {
		root := &d0.Graph.Node.gnode
		w.seen[root.ID] = true
		frontier := w.absorb(1, d0.Graph.Node.Edges)
		w.cut = w.cut || len(w.hits) > w.lim
		return root, frontier, 2, nil
	}
	root, err := w.t.resolve(ctx, w.graph, symbol)
	if err != nil {
		return nil, nil, 0, err
	}
	w.seen[root.ID] = true
	return root, []string{root.ID}, 1, nil
}

// level asks for the incoming edges of the frontier, impactBatch nodes a
// query, and returns the next frontier.
func (w *impactWalk) level(ctx context.Context, level int, frontier []string) ([]string, error) {
	var next []string
	for i := 0; i < len(frontier) && !w.cut; i += impactBatch {
		batch := frontier[i:min(i+impactBatch, len(frontier))]
		var decl, sel strings.Builder
		vars := map[string]any{"g": w.graph}
		for j, id := range batch {
			fmt.Fprintf(&decl, ", $i%d: ID!", j)
			fmt.Fprintf(&sel, " n%d: node(id: $i%d) { edges(direction: IN, first: %d) { relation node { %s } } }", j, j, w.lim+1, walkFields)
			vars[fmt.Sprintf("i%d", j)] = id
		}
		var d struct {
			Graph map[string]*struct{ Edges []impactEdge }
		}
		if err := w.t.q.GraphQL(ctx, `query($g: ID!`+decl.String()+`) { graph(id: $g) {`+sel.String()+` } }`, vars, &d); err != nil {
			return nil, err
		}
		for j := range batch {
			if nd := d.Graph[fmt.Sprintf("n%d", j)]; nd != nil {
				next = append(next, w.absorb(level, nd.Edges)...)
			}
		}
		// Stop asking once more than the limit is known: the answer
		// says it was cut, and an agent narrows the depth.
		w.cut = w.cut || len(w.hits) > w.lim
	}
	return next, nil
}

var formats = map[string]string{"": "MERMAID_FLOWCHART", "mermaid": "MERMAID_FLOWCHART", "mermaid-class": "MERMAID_CLASS", "dot": "DOT"}

func (t *tools) neighbourhood(ctx context.Context, _ *sdk.CallToolRequest, in neighbourhoodIn) (*sdk.CallToolResult, any, error) {
	f, ok := formats[strings.ToLower(in.Format)]
	if !ok {
		return nil, nil, fmt.Errorf("format %q: want mermaid, mermaid-class or dot", in.Format)
	}
	if in.Depth < 0 || in.Depth > 3 {
		return nil, nil, fmt.Errorf("depth %d outside 0..3", in.Depth)
	}
	depth := in.Depth
	if depth == 0 {
		depth = 1
	}
	var d struct{ Export string }
	if _, err := t.nodeQuery(ctx, in.symbolIn, map[string]any{"f": f, "d": depth, "l": max(limitOf(in.Limit), 1)},
		", $f: ExportFormat!, $d: Int, $l: Int", `export(format: $f, depth: $d, limit: $l)`, &d); err != nil {
		return nil, nil, err
	}
	return text(d.Export), nil, nil
}

func (t *tools) graphStats(ctx context.Context, _ *sdk.CallToolRequest, in graphIn) (*sdk.CallToolResult, any, error) {
	var d struct {
		Graph *struct {
			Languages []struct{ Name, Version string }
			Stats     struct {
				Files, Nodes, Edges int
				ByKind              []struct {
					Kind  string
					Count int
				}
				ByRelation []struct {
					Relation string
					Count    int
				}
			}
		}
	}
	if err := t.q.GraphQL(ctx, `query($g: ID!) { graph(id: $g) { languages { name version }
		stats { files nodes edges byKind { kind count } byRelation { relation count } } } }`, map[string]any{"g": in.Graph}, &d); err != nil {
		return nil, nil, err
	}
	if d.Graph == nil {
		return nil, nil, t.unknownGraph(ctx, in.Graph)
	}
	st := d.Graph.Stats
	var b strings.Builder
	fmt.Fprintf(&b, "graph %s: %d files, %d nodes, %d edges\n", in.Graph, st.Files, st.Nodes, st.Edges)
	for _, l := range d.Graph.Languages {
		fmt.Fprintf(&b, "language %s\n", strings.TrimSpace(l.Name+" "+l.Version))
	}
	for _, k := range st.ByKind {
		fmt.Fprintf(&b, "%s %d\n", k.Kind, k.Count)
	}
	for _, r := range st.ByRelation {
		fmt.Fprintf(&b, "%s %d\n", r.Relation, r.Count)
	}
	return text(b.String()), nil, nil
}
