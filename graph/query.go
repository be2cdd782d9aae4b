package graph

import (
	"context"
	"sort"
	"strings"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/graph/model"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
)

// The questions the editor, agent and explorer front ends share: search
// across graphs, usages of a symbol, and type hierarchies. Resolvers stay
// thin and call these.

// pageSize reads an optional first argument with its default and bound.
func pageSize(first *int, def int) (int, error) {
	n := def
	if first != nil {
		n = *first
	}
	if n < 0 || n > MaxFirst {
		return 0, badRequest("first must be between 0 and %d, got %d", MaxFirst, n)
	}
	return n, nil
}

// visibleGraphs returns the graphs a request may read: the ones named (each
// checked against the token's scope) or every graph its token sees.
func (r *Resolver) visibleGraphs(ctx context.Context, named []string) ([]string, error) {
	p := auth.From(ctx)
	if named != nil {
		for _, g := range named {
			if err := p.Require(auth.Read, g); err != nil {
				return nil, err
			}
		}
		return named, nil
	}
	ms, err := r.Store.Graphs(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		if p.CanGraph(m.ID) {
			out = append(out, m.ID)
		}
	}
	return out, nil
}

// search runs a name search over graphs and merges the results best first.
func (r *Resolver) search(ctx context.Context, graphs []string, query string, kind *ingest.Kind, first int) ([]*model.Node, error) {
	if first == 0 {
		return []*model.Node{}, nil
	}
	q := store.SearchQuery{Text: query, Kind: deref(kind), First: first}
	var hits []store.Hit
	for _, g := range graphs {
		hs, err := r.Store.Search(ctx, g, q)
		if err != nil {
			return nil, err
		}
		hits = append(hits, hs...)
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].Less(hits[j]) })
	if len(hits) > first {
		hits = hits[:first]
	}
	out := make([]*model.Node, len(hits))
	for i, h := range hits {
		out[i] = toNode(h.Graph, h.Node)
	}
	return out, nil
}

// related returns the distinct nodes at the other end of id's edges of the
// given relations in direction dir, ordered by qualified name.
func (r *Resolver) related(ctx context.Context, graph, id string, dir store.Direction, rels ...ingest.Relation) ([]*model.Node, error) {
	ld := r.loaders(ctx)
	keys := make([]edgeKey, len(rels))
	for i, rel := range rels {
		keys[i] = edgeKey{graph: graph, node: id, dir: dir, rel: rel}
	}
	lists, err := ld.Edges.LoadAll(ctx, keys)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var nkeys []nodeKey
	for _, es := range lists {
		for _, e := range es {
			if o := e.Other(dir); !seen[o] {
				seen[o] = true
				nkeys = append(nkeys, nodeKey{graph, o})
			}
		}
	}
	ns, err := ld.Nodes.LoadAll(ctx, nkeys)
	if err != nil {
		return nil, err
	}
	out := toNodes(graph, ns) // drops edges whose other end is gone
	sort.Slice(out, func(i, j int) bool { return out[i].QualifiedName < out[j].QualifiedName })
	return out, nil
}

// implementations: of a type, the types that realize it; of a method of a
// type, the same-named methods of the types that realize that type.
func (r *Resolver) implementations(ctx context.Context, n *model.Node) ([]*model.Node, error) {
	if n.Kind == ingest.Class {
		return r.related(ctx, n.GraphID, n.ID, store.In, ingest.Realization)
	}
	if n.Kind != ingest.Function {
		return []*model.Node{}, nil
	}
	owner, ok := strings.CutSuffix(n.QualifiedName, "."+n.Name)
	if !ok || owner == "" {
		return []*model.Node{}, nil
	}
	ld := r.loaders(ctx)
	o, err := ld.Nodes.Load(ctx, nodeKey{n.GraphID, store.NodeID(n.GraphID, owner)})
	if err != nil || o == nil || o.Kind != ingest.Class {
		return []*model.Node{}, err
	}
	impls, err := r.related(ctx, n.GraphID, o.ID, store.In, ingest.Realization)
	if err != nil {
		return nil, err
	}
	keys := make([]nodeKey, len(impls))
	for i, t := range impls {
		keys[i] = nodeKey{n.GraphID, store.NodeID(n.GraphID, t.QualifiedName+"."+n.Name)}
	}
	ms, err := ld.Nodes.LoadAll(ctx, keys)
	if err != nil {
		return nil, err
	}
	return toNodes(n.GraphID, ms), nil
}

// maxUsages bounds Query.usages.
const maxUsages = 1000

// usages returns, for every visible graph holding the symbol, the nodes
// with an edge to it (of relation, or of any), by graph then name.
func (r *Resolver) usages(ctx context.Context, qualifiedName string, relation *ingest.Relation) ([]*model.Node, error) {
	graphs, err := r.visibleGraphs(ctx, nil)
	if err != nil {
		return nil, err
	}
	q := store.CanonicalName(qualifiedName)
	rels := []ingest.Relation{""}
	if relation != nil {
		rels = []ingest.Relation{*relation}
	}
	out := []*model.Node{}
	for _, g := range graphs {
		ns, err := r.related(ctx, g, store.NodeID(g, q), store.In, rels...)
		if err != nil {
			return nil, err
		}
		out = append(out, ns...)
		if len(out) >= maxUsages {
			return out[:maxUsages], nil
		}
	}
	return out, nil
}
