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

// classRelations are drawn in Mermaid class diagrams; the others in
// flowcharts.
var classRelations = map[ingest.Relation]string{
	ingest.Inheritance: "<|--", ingest.Realization: "<|..", ingest.Composition: "*--",
	ingest.Aggregation: "o--", ingest.Association: "<--", ingest.Link: "--",
	ingest.Dependency: "<..", ingest.DashedLink: "..",
}

// neighbourhood is the nodes within depth hops of a start node (edges in
// both directions) and the edges among them.
type neighbourhood struct {
	nodes []*store.Node
	edges []store.Edge
}

// neighbours walks breadth-first from start, one batched edge fetch per
// level, stopping at limit nodes.
func (r *Resolver) neighbours(ctx context.Context, graph, start string, depth, limit int) (*neighbourhood, error) {
	seen := map[string]bool{start: true}
	order := []string{start}
	frontier := []string{start}
	edgeSet := map[string]store.Edge{}
	for d := 0; d < depth && len(frontier) > 0 && len(order) < limit; d++ {
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
					if !seen[id] && len(order) < limit {
						seen[id] = true
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
	nb := &neighbourhood{}
	present := map[string]bool{}
	for _, n := range ns {
		if n != nil {
			nb.nodes = append(nb.nodes, n)
			present[n.ID] = true
		}
	}
	for _, e := range edgeSet {
		if present[e.From] && present[e.To] {
			nb.edges = append(nb.edges, e)
		}
	}
	sort.Slice(nb.edges, func(i, j int) bool {
		a, b := nb.edges[i], nb.edges[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.To != b.To {
			return a.To < b.To
		}
		return a.Relation < b.Relation
	})
	return nb, nil
}

// render writes the neighbourhood in format. Node ids are the graph's
// stable ids, so two exports of the same graph name nodes alike.
func (nb *neighbourhood) render(format model.ExportFormat, start string) string {
	var b strings.Builder
	label := func(n *store.Node) string { return strings.NewReplacer(`"`, `'`, "\n", " ").Replace(n.Name) }
	switch format {
	case model.ExportFormatDot:
		b.WriteString("digraph grafo {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n")
		for _, n := range nb.nodes {
			shape := map[ingest.Kind]string{ingest.Function: "ellipse", ingest.Class: "box", ingest.Variable: "note"}[n.Kind]
			extra := ""
			if n.ID == start {
				extra = ", style=bold"
			}
			fmt.Fprintf(&b, "  %q [label=%q, shape=%s, tooltip=%q%s];\n", n.ID, n.Name, shape, n.QualifiedName, extra)
		}
		for _, e := range nb.edges {
			style := "solid"
			switch e.Relation {
			case ingest.Dependency, ingest.Realization, ingest.DashedLink:
				style = "dashed"
			case ingest.Reads, ingest.References:
				style = "dotted"
			}
			if e.Dynamic {
				style = "dashed"
			}
			fmt.Fprintf(&b, "  %q -> %q [label=%q, style=%s];\n", e.From, e.To, e.Relation, style)
		}
		b.WriteString("}\n")
	case model.ExportFormatMermaidClass:
		b.WriteString("classDiagram\n")
		for _, n := range nb.nodes {
			if n.Kind == ingest.Class {
				fmt.Fprintf(&b, "  class %s[\"%s\"]\n", "n"+n.ID, label(n))
			}
		}
		for _, e := range nb.edges {
			arrow, ok := classRelations[e.Relation]
			if !ok {
				continue
			}
			// Mermaid puts the parent (the relation's target) on the left.
			fmt.Fprintf(&b, "  n%s %s n%s : %s\n", e.To, arrow, e.From, strings.ToLower(string(e.Relation)))
		}
	default: // flowchart
		b.WriteString("flowchart LR\n")
		for _, n := range nb.nodes {
			open, closeS := "([", "])"
			switch n.Kind {
			case ingest.Class:
				open, closeS = "[", "]"
			case ingest.Variable:
				open, closeS = "[(", ")]"
			}
			fmt.Fprintf(&b, "  n%s%s\"%s\"%s\n", n.ID, open, label(n), closeS)
		}
		for _, e := range nb.edges {
			if _, isClass := classRelations[e.Relation]; isClass {
				continue
			}
			arrow := "-->"
			if e.Dynamic {
				arrow = "-.->"
			}
			if e.Relation == ingest.Calls {
				fmt.Fprintf(&b, "  n%s %s n%s\n", e.From, arrow, e.To)
			} else {
				fmt.Fprintf(&b, "  n%s %s|%s| n%s\n", e.From, arrow, strings.ToLower(string(e.Relation)), e.To)
			}
		}
	}
	return b.String()
}
