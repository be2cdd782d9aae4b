package graph

import (
	"context"
	"sort"

	"github.com/grafo/grafo/graph/model"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv"
)

func intPtr(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

func toGraph(m *store.GraphMeta) *model.Graph {
	g := &model.Graph{ID: m.ID, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, Languages: []*model.Language{}}
	for _, l := range m.Languages {
		g.Languages = append(g.Languages, &model.Language{Name: l.Name, Version: strPtr(l.Version)})
	}
	return g
}

func toNode(graph string, n *store.Node) *model.Node {
	return &model.Node{ID: n.ID, Kind: n.Kind, Name: n.Name, QualifiedName: n.QualifiedName,
		Line: intPtr(n.Line), EndLine: intPtr(n.EndLine), External: n.External, GraphID: graph, Path: n.Path}
}

func toNodes(graph string, ns []*store.Node) []*model.Node {
	out := make([]*model.Node, 0, len(ns))
	for _, n := range ns {
		if n != nil {
			out = append(out, toNode(graph, n))
		}
	}
	return out
}

func toFile(graph string, f *store.File) *model.File {
	return &model.File{Name: f.Name, Path: f.Path, Md5: f.MD5, Adler32: f.Adler32, Language: strPtr(f.Language),
		GraphID: graph, Diags: f.Diagnostics, SpilledDiags: f.Spilled}
}

func toStats(st *store.Stats) *model.GraphStats {
	out := &model.GraphStats{Files: st.Files, Nodes: st.Nodes, Edges: st.Edges,
		ByKind: []*model.KindCount{}, ByRelation: []*model.RelationCount{}}
	for _, k := range []ingest.Kind{ingest.Variable, ingest.Function, ingest.Class} {
		if n := st.ByKind[k]; n > 0 {
			out.ByKind = append(out.ByKind, &model.KindCount{Kind: k, Count: n})
		}
	}
	for _, r := range ingest.Relations {
		if n := st.ByRelation[r]; n > 0 {
			out.ByRelation = append(out.ByRelation, &model.RelationCount{Relation: r, Count: n})
		}
	}
	return out
}

func toChange(c store.Change) *model.GraphChange {
	nodes := c.Nodes
	if nodes == nil {
		nodes = []string{}
	}
	return &model.GraphChange{GraphID: c.GraphID, At: c.At, Kind: c.Kind, Nodes: nodes}
}

// kvOptions maps the Consistency enum onto kv options.
func kvOptions(c *model.Consistency) (kv.Options, error) {
	if c == nil {
		return kv.Options{}, nil
	}
	l, err := kv.ParseLevel(string(*c))
	return kv.Options{Level: l}, err
}

// walk follows CALLS breadth-first from start in dir for depth levels,
// one batched edge fetch per level, and returns the nodes reached (start
// excluded, no repeats) level by level, each level sorted by id.
func (r *Resolver) walk(ctx context.Context, obj *model.Node, dir store.Direction, depth, first *int) ([]*model.Node, error) {
	d := intArg(depth, defaultDepth)
	if d < 0 || d > MaxDepth {
		return nil, badRequest("depth must be between 0 and %d, got %d", MaxDepth, d)
	}
	limit := -1
	if first != nil {
		if *first < 0 {
			return nil, badRequest("first must not be negative, got %d", *first)
		}
		limit = *first
	}
	ld := r.loaders(ctx)
	seen := map[string]bool{obj.ID: true}
	frontier := []string{obj.ID}
	var reached []string
	for level := 0; level < d && len(frontier) > 0; level++ {
		keys := make([]edgeKey, len(frontier))
		for i, id := range frontier {
			keys[i] = edgeKey{graph: obj.GraphID, node: id, dir: dir, rel: ingest.Calls}
		}
		lists, err := ld.WalkEdges.LoadAll(ctx, keys)
		if err != nil {
			return nil, err
		}
		var next []string
		for _, es := range lists {
			for _, e := range es {
				o := e.Other(dir)
				if !seen[o] {
					seen[o] = true
					next = append(next, o)
				}
			}
		}
		sort.Strings(next)
		reached = append(reached, next...)
		frontier = next
		// Nearest levels first: once first nodes are reached, the deeper
		// levels cannot make the cut.
		if limit >= 0 && len(reached) >= limit {
			reached = reached[:limit]
			break
		}
	}
	keys := make([]nodeKey, len(reached))
	for i, id := range reached {
		keys[i] = nodeKey{obj.GraphID, id}
	}
	ns, err := ld.WalkNodes.LoadAll(ctx, keys)
	if err != nil {
		return nil, err
	}
	return toNodes(obj.GraphID, ns), nil
}

// file loads the file at path through the operation's loader; nil when
// path is empty or unknown.
func (r *Resolver) file(ctx context.Context, graph, path string) (*model.File, error) {
	if path == "" {
		return nil, nil
	}
	f, err := r.loaders(ctx).Files.Load(ctx, fileKey{graph, path})
	if err != nil || f == nil {
		return nil, err
	}
	return toFile(graph, f), nil
}
