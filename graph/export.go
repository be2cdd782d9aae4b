package graph

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/grafo/grafo/graph/model"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
)

// MaxExportNodes bounds an exported neighbourhood.
const MaxExportNodes = 500

// classArrow is how a Mermaid class diagram draws one class relation.
// Mermaid reads `A <|-- B` as "B inherits from A" and `A *-- B` as "A is
// composed of B", so for some relations the edge's target is written
// first: class diagrams draw Whole *-- Part, Whole o-- Part,
// Parent <|-- Child and Interface <|.. Impl.
type classArrow struct {
	arrow       string
	targetFirst bool
}

// classArrows holds every class relation; the others are flowchart
// relations.
var classArrows = map[ingest.Relation]classArrow{
	ingest.Inheritance: {"<|--", true}, // Parent <|-- Child
	ingest.Realization: {"<|..", true}, // Interface <|.. Impl
	ingest.Composition: {"*--", false}, // Whole *-- Part
	ingest.Aggregation: {"o--", false}, // Whole o-- Part
	ingest.Association: {"-->", false},
	ingest.Dependency:  {"..>", false},
	ingest.Link:        {"--", false},
	ingest.DashedLink:  {"..", false},
}

// dotEdgeStyles are the DOT attributes of each relation after its label:
// the UML line and arrow shapes, with the diamond of composition and
// aggregation drawn at the whole (the edge's source).
var dotEdgeStyles = map[ingest.Relation]string{
	ingest.Calls:       "style=solid",
	ingest.Reads:       "style=dotted",
	ingest.Writes:      "style=solid",
	ingest.References:  "style=dotted",
	ingest.Inheritance: "style=solid, arrowhead=empty",
	ingest.Realization: "style=dashed, arrowhead=empty",
	ingest.Composition: "style=solid, dir=back, arrowtail=diamond",
	ingest.Aggregation: "style=solid, dir=back, arrowtail=odiamond",
	ingest.Association: "style=solid, arrowhead=vee",
	ingest.Dependency:  "style=dashed, arrowhead=vee",
	ingest.Link:        "style=solid, dir=none",
	ingest.DashedLink:  "style=dashed, dir=none",
}

// neighbourhood is the nodes within depth hops of a start node (edges in
// both directions) and the edges among them, in a stable order: nodes by
// distance then qualified name, edges by their ends' qualified names.
type neighbourhood struct {
	start string
	nodes []*store.Node
	edges []store.Edge
	byID  map[string]*store.Node
}

// neighbours walks breadth-first from start, one batched edge fetch per
// level, stopping at limit nodes.
func (r *Resolver) neighbours(ctx context.Context, graph, start string, depth, limit int) (*neighbourhood, error) {
	hop := map[string]int{start: 0}
	order := []string{start}
	frontier := []string{start}
	edgeSet := map[string]store.Edge{}
	for d := 1; d <= depth && len(frontier) > 0 && len(order) < limit; d++ {
		qs := make([]store.EdgeQuery, 0, 2*len(frontier))
		for _, id := range frontier {
			qs = append(qs, store.EdgeQuery{Node: id, Dir: store.Out}, store.EdgeQuery{Node: id, Dir: store.In})
		}
		lists, err := r.Store.EdgesOf(ctx, graph, qs)
		if err != nil {
			return nil, err
		}
		var next []string
		for _, es := range lists {
			for _, e := range es {
				edgeSet[e.From+"/"+string(e.Relation)+"/"+e.To] = e
				for _, id := range []string{e.From, e.To} {
					if _, seen := hop[id]; !seen && len(order) < limit {
						hop[id] = d
						order = append(order, id)
						next = append(next, id)
					}
				}
			}
		}
		frontier = next
	}
	ns, err := r.Store.NodesByID(ctx, graph, order)
	if err != nil {
		return nil, err
	}
	return newNeighbourhood(start, ns, edgeSet, hop), nil
}

// newNeighbourhood keeps the nodes that exist and the edges between them,
// sorted so that two exports of the same graph are the same text.
func newNeighbourhood(start string, ns []*store.Node, edges map[string]store.Edge, hop map[string]int) *neighbourhood {
	nb := &neighbourhood{start: start, byID: map[string]*store.Node{}}
	for _, n := range ns {
		if n != nil {
			nb.nodes = append(nb.nodes, n)
			nb.byID[n.ID] = n
		}
	}
	sort.Slice(nb.nodes, func(i, j int) bool {
		a, b := nb.nodes[i], nb.nodes[j]
		if hop[a.ID] != hop[b.ID] {
			return hop[a.ID] < hop[b.ID]
		}
		return a.QualifiedName < b.QualifiedName
	})
	for _, e := range edges {
		if nb.byID[e.From] != nil && nb.byID[e.To] != nil {
			nb.edges = append(nb.edges, e)
		}
	}
	qn := func(id string) string { return nb.byID[id].QualifiedName }
	sort.Slice(nb.edges, func(i, j int) bool {
		a, b := nb.edges[i], nb.edges[j]
		if qn(a.From) != qn(b.From) {
			return qn(a.From) < qn(b.From)
		}
		if qn(a.To) != qn(b.To) {
			return qn(a.To) < qn(b.To)
		}
		return a.Relation < b.Relation
	})
	return nb
}

// render writes the neighbourhood in format.
func (nb *neighbourhood) render(format model.ExportFormat) string {
	switch format {
	case model.ExportFormatDot:
		return nb.dot()
	case model.ExportFormatMermaidClass:
		return nb.mermaidClass()
	default:
		return nb.mermaidFlowchart()
	}
}

// dot draws every node and every relation; nodes are named by their
// qualified names, which are unique within a graph.
func (nb *neighbourhood) dot() string {
	var b strings.Builder
	b.WriteString("digraph grafo {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n")
	for _, n := range nb.nodes {
		shape := map[ingest.Kind]string{ingest.Function: "ellipse", ingest.Class: "box", ingest.Variable: "note"}[n.Kind]
		extra := ""
		if n.External {
			extra += ", color=gray50"
		}
		if n.ID == nb.start {
			extra += ", style=bold"
		}
		fmt.Fprintf(&b, "  %s [label=%s, shape=%s, tooltip=%s%s];\n", dotQuote(n.QualifiedName), dotQuote(n.Name), shape, dotQuote(n.QualifiedName), extra)
	}
	for _, e := range nb.edges {
		style := dotEdgeStyles[e.Relation]
		if e.Dynamic {
			style = "style=dashed"
		}
		fmt.Fprintf(&b, "  %s -> %s [label=%q, %s];\n", dotQuote(nb.byID[e.From].QualifiedName), dotQuote(nb.byID[e.To].QualifiedName), e.Relation, style)
	}
	b.WriteString("}\n")
	return b.String()
}

// mermaidClass draws the classes and the eight class relations.
func (nb *neighbourhood) mermaidClass() string {
	var b strings.Builder
	id := mermaidIDs(nb.nodes)
	b.WriteString("classDiagram\n")
	for _, n := range nb.nodes {
		if n.Kind == ingest.Class {
			fmt.Fprintf(&b, "  class %s[\"%s\"]\n", id[n.ID], mermaidLabel(n.Name))
		}
	}
	for _, e := range nb.edges {
		a, ok := classArrows[e.Relation]
		if !ok {
			continue
		}
		left, right := id[e.From], id[e.To]
		if a.targetFirst {
			left, right = right, left
		}
		fmt.Fprintf(&b, "  %s %s %s : %s\n", left, a.arrow, right, strings.ToLower(string(e.Relation)))
	}
	return b.String()
}

// mermaidFlowchart draws calls and variable access, and the nodes they
// touch besides the start node; dynamic calls are dotted.
func (nb *neighbourhood) mermaidFlowchart() string {
	var b strings.Builder
	id := mermaidIDs(nb.nodes)
	used := map[string]bool{nb.start: true}
	var edges []store.Edge
	for _, e := range nb.edges {
		if _, isClass := classArrows[e.Relation]; !isClass {
			edges = append(edges, e)
			used[e.From], used[e.To] = true, true
		}
	}
	b.WriteString("flowchart LR\n")
	for _, n := range nb.nodes {
		if !used[n.ID] {
			continue
		}
		open, closeS := "([", "])"
		switch n.Kind {
		case ingest.Class:
			open, closeS = "[", "]"
		case ingest.Variable:
			open, closeS = "[(", ")]"
		}
		fmt.Fprintf(&b, "  %s%s\"%s\"%s\n", id[n.ID], open, mermaidLabel(n.Name), closeS)
	}
	for _, e := range edges {
		arrow := "-->"
		if e.Dynamic {
			arrow = "-.->"
		}
		if e.Relation == ingest.Calls {
			fmt.Fprintf(&b, "  %s %s %s\n", id[e.From], arrow, id[e.To])
		} else {
			fmt.Fprintf(&b, "  %s %s|%s| %s\n", id[e.From], arrow, strings.ToLower(string(e.Relation)), id[e.To])
		}
	}
	if n := nb.byID[nb.start]; n != nil {
		fmt.Fprintf(&b, "  classDef start stroke-width:3px\n  class %s start\n", id[n.ID])
	}
	return b.String()
}

// mermaidIDs names nodes for Mermaid after the last path element of their
// qualified names (github.com/x/kv.Store → kv_Store), so the text reads
// well; clashes get _2, _3… in node order.
func mermaidIDs(nodes []*store.Node) map[string]string {
	ids := make(map[string]string, len(nodes))
	used := map[string]bool{}
	for _, n := range nodes {
		short := n.QualifiedName[strings.LastIndex(n.QualifiedName, "/")+1:]
		base := strings.Map(func(r rune) rune {
			if r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
				return r
			}
			return '_'
		}, short)
		// Mermaid ids start with a letter or _; "end" would close a block.
		if base == "" || base[0] >= '0' && base[0] <= '9' || strings.EqualFold(base, "end") {
			base = "n_" + base
		}
		id := base
		for i := 2; used[id]; i++ {
			id = fmt.Sprintf("%s_%d", base, i)
		}
		used[id] = true
		ids[n.ID] = id
	}
	return ids
}

// mermaidLabel escapes a label for a quoted Mermaid string.
func mermaidLabel(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "\n", " ").Replace(s)
}

// dotQuote quotes s as a DOT string.
func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
