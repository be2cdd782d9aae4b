package graph

import (
	"context"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
)

type nodeKey struct{ graph, id string }

type edgeKey struct {
	graph, node string
	dir         store.Direction
	rel         ingest.Relation
	after       string // a page of edges: the row to start after
	limit       int    // and how many (0: all)
}

type fileKey struct{ graph, path string }

// defKey names a node whose declaring occurrence is wanted: what
// store.Definitions needs of it.
type defKey struct {
	graph, id, path string
	line            int
	external        bool
}

// Loaders batch the store reads of one operation: every Load issued while
// resolving the same level of a query becomes one store call.
type Loaders struct {
	Nodes *dataloadgen.Loader[nodeKey, *store.Node]
	Edges *dataloadgen.Loader[edgeKey, []store.Edge]
	Files *dataloadgen.Loader[fileKey, *store.File]
	// Graphs: Node.graph on every node of a long list reads each graph's
	// record once.
	Graphs *dataloadgen.Loader[string, *store.GraphMeta]
	// Defs: Node.definition on every node of a list (callers, search
	// results) reads each block of position rows once.
	Defs *dataloadgen.Loader[defKey, *store.Occurrence]
	// WalkEdges and WalkNodes serve transitive walks (callers, callees):
	// each level of a walk asks for a whole frontier at once, so they
	// wait only long enough to merge the walks of sibling nodes, not the
	// 2 ms the others wait for every field of a level to ask.
	WalkEdges *dataloadgen.Loader[edgeKey, []store.Edge]
	WalkNodes *dataloadgen.Loader[nodeKey, *store.Node]
}

// NewLoaders returns fresh loaders over s.
func NewLoaders(s *store.Store) *Loaders {
	opts := []dataloadgen.Option{dataloadgen.WithWait(2 * time.Millisecond), dataloadgen.WithBatchCapacity(1000)}
	walkOpts := []dataloadgen.Option{dataloadgen.WithWait(200 * time.Microsecond), dataloadgen.WithBatchCapacity(1000)}
	nodes := func(ctx context.Context, keys []nodeKey) ([]*store.Node, []error) {
		return byGraph(keys, func(k nodeKey) (string, string) { return k.graph, k.id },
			func(g string, ids []string) ([]*store.Node, error) { return s.NodesByID(ctx, g, ids) })
	}
	edges := func(ctx context.Context, keys []edgeKey) ([][]store.Edge, []error) {
		return byGraph(keys, func(k edgeKey) (string, edgeKey) { return k.graph, k },
			func(g string, ks []edgeKey) ([][]store.Edge, error) {
				qs := make([]store.EdgeQuery, len(ks))
				for i, k := range ks {
					qs[i] = store.EdgeQuery{Node: k.node, Dir: k.dir, Relation: k.rel, After: k.after, Limit: k.limit}
				}
				return s.EdgesOf(ctx, g, qs)
			})
	}
	return &Loaders{
		Nodes:     dataloadgen.NewLoader(nodes, opts...),
		Edges:     dataloadgen.NewLoader(edges, opts...),
		WalkNodes: dataloadgen.NewLoader(nodes, walkOpts...),
		WalkEdges: dataloadgen.NewLoader(edges, walkOpts...),
		Graphs: dataloadgen.NewLoader(func(ctx context.Context, ids []string) ([]*store.GraphMeta, []error) {
			out := make([]*store.GraphMeta, len(ids))
			errs := make([]error, len(ids))
			for i, id := range ids {
				out[i], errs[i] = s.Graph(ctx, id)
			}
			return out, errs
		}, opts...),
		Defs: dataloadgen.NewLoader(func(ctx context.Context, keys []defKey) ([]*store.Occurrence, []error) {
			return byGraph(keys, func(k defKey) (string, *store.Node) {
				return k.graph, &store.Node{ID: k.id, Path: k.path, Line: k.line, External: k.external}
			}, func(g string, ns []*store.Node) ([]*store.Occurrence, error) { return s.Definitions(ctx, g, ns) })
		}, opts...),
		Files: dataloadgen.NewLoader(func(ctx context.Context, keys []fileKey) ([]*store.File, []error) {
			return byGraph(keys, func(k fileKey) (string, string) { return k.graph, k.path },
				func(g string, paths []string) ([]*store.File, error) { return s.FilesByPath(ctx, g, paths) })
		}, opts...),
	}
}

// byGraph splits a batch by graph (almost always one), fetches each part
// and puts the answers back in key order.
func byGraph[K any, Q any, V any](keys []K, split func(K) (string, Q), fetch func(string, []Q) ([]V, error)) ([]V, []error) {
	type part struct {
		idx []int
		qs  []Q
	}
	parts := map[string]*part{}
	var order []string
	for i, k := range keys {
		g, q := split(k)
		p := parts[g]
		if p == nil {
			p = &part{}
			parts[g] = p
			order = append(order, g)
		}
		p.idx = append(p.idx, i)
		p.qs = append(p.qs, q)
	}
	vals := make([]V, len(keys))
	var errs []error
	for _, g := range order {
		p := parts[g]
		vs, err := fetch(g, p.qs)
		for j, i := range p.idx {
			if err != nil {
				if errs == nil {
					errs = make([]error, len(keys))
				}
				errs[i] = err
				continue
			}
			vals[i] = vs[j]
		}
	}
	return vals, errs
}

type loadersKey struct{}

// WithLoaders returns ctx carrying l.
func WithLoaders(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, loadersKey{}, l)
}

// For returns the loaders of ctx's operation (installed by NewHandler's
// operation middleware, or by WithLoaders).
func For(ctx context.Context) *Loaders {
	l, _ := ctx.Value(loadersKey{}).(*Loaders)
	return l
}

// loaders returns ctx's loaders or, outside an operation, fresh ones.
func (r *Resolver) loaders(ctx context.Context) *Loaders {
	if l := For(ctx); l != nil {
		return l
	}
	return NewLoaders(r.Store)
}
