package graph

import (
	"context"
	"encoding/base64"
	"slices"
	"sort"
	"strconv"
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
	n := intArg(first, def)
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

// occurrenceAt is the identifier under a cursor, nil where none names a
// node.
func (r *Resolver) occurrenceAt(ctx context.Context, graph, path string, line, column int) (*model.Occurrence, error) {
	if line < 1 || column < 1 {
		return nil, badRequest("line and column are 1-based, got %d:%d", line, column)
	}
	o, err := r.Store.OccurrenceAt(ctx, graph, path, line, column)
	if err != nil || o == nil {
		return nil, err
	}
	return toOccurrence(graph, *o), nil
}

// symbolAt is the node the identifier under a cursor names.
func (r *Resolver) symbolAt(ctx context.Context, graph, path string, line, column int) (*model.Node, error) {
	o, err := r.occurrenceAt(ctx, graph, path, line, column)
	if err != nil || o == nil {
		return nil, err
	}
	n, err := r.loaders(ctx).Nodes.Load(ctx, nodeKey{graph, o.NodeID})
	if err != nil || n == nil {
		return nil, err
	}
	return toNode(graph, n), nil
}

// references pages through a node's occurrences, optionally of some roles
// only. The cursor is the offset of the page's last occurrence.
func (r *Resolver) references(ctx context.Context, n *model.Node, first *int, after *string, roles []string) (*model.OccurrenceConnection, error) {
	size, err := pageSize(first, defaultNodesFirst)
	if err != nil {
		return nil, err
	}
	start := 0
	if after != nil && *after != "" {
		raw, err := base64.RawURLEncoding.DecodeString(*after)
		if err == nil {
			start, err = strconv.Atoi(strings.TrimPrefix(string(raw), "o:"))
		}
		if err != nil || start < 0 {
			return nil, badRequest("bad cursor %q", *after)
		}
	}
	all, err := r.Store.References(ctx, n.GraphID, n.ID)
	if err != nil {
		return nil, err
	}
	if len(roles) > 0 {
		keep := all[:0]
		for _, o := range all {
			if slices.Contains(roles, string(o.Role)) {
				keep = append(keep, o)
			}
		}
		all = keep
	}
	conn := &model.OccurrenceConnection{Nodes: []*model.Occurrence{}, TotalCount: len(all), PageInfo: &model.PageInfo{}}
	end := min(start+size, len(all))
	for i := start; i < end; i++ {
		conn.Nodes = append(conn.Nodes, toOccurrence(n.GraphID, all[i]))
	}
	if end > start {
		c := base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(end)))
		conn.PageInfo.EndCursor = &c
	}
	conn.PageInfo.HasNextPage = end < len(all)
	return conn, nil
}

// degree counts the distinct other ends of a node's edges in a direction
// (and relation, "" for all) from the edge lists alone: hover's caller
// and callee counts of a popular function without reading its callers.
func (r *Resolver) degree(ctx context.Context, n *model.Node, direction model.Direction, rel ingest.Relation) (int, error) {
	seen := map[string]bool{}
	for _, d := range storeDirs(direction) {
		es, err := r.loaders(ctx).Edges.Load(ctx, edgeKey{graph: n.GraphID, node: n.ID, dir: d, rel: rel})
		if err != nil {
			return 0, err
		}
		for _, e := range es {
			if o := e.Other(d); o != n.ID {
				seen[o] = true
			}
		}
	}
	return len(seen), nil
}

// storeDirs are the store's directions a GraphQL direction spans.
func storeDirs(direction model.Direction) []store.Direction {
	switch direction {
	case model.DirectionIn:
		return []store.Direction{store.In}
	case model.DirectionBoth:
		return []store.Direction{store.Out, store.In}
	}
	return []store.Direction{store.Out}
}

// definition is the occurrence declaring a node, nil when ingest did not
// record one (API nodes, external ones, files of other languages).
func (r *Resolver) definition(ctx context.Context, n *model.Node) (*model.Occurrence, error) {
	o, err := r.loaders(ctx).Defs.Load(ctx, defKey{graph: n.GraphID, id: n.ID, path: n.Path, line: deref(n.Line), external: n.External})
	if err != nil || o == nil {
		return nil, err
	}
	return toOccurrence(n.GraphID, *o), nil
}

func toOccurrence(graph string, o store.Occurrence) *model.Occurrence {
	return &model.Occurrence{Line: o.Line, Column: o.Column, EndColumn: o.End, Role: string(o.Role),
		GraphID: graph, Path: o.Path, NodeID: o.Node}
}
