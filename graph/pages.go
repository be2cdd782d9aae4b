package graph

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/grafo/grafo/graph/model"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
)

// Pages of the lists that can be large (a graph's files, a node's edges)
// keep their old list types: each item carries an opaque cursor naming its
// row, and after: resumes right after that row, so pages never skip or
// repeat an item even while others are added or removed.

// Cursor kinds: the first byte of the decoded cursor, so a cursor of one
// list given to another is refused rather than misread.
const (
	fileCursor = 'f'
	outCursor  = 'o' // an outgoing edge's row
	inCursor   = 'i' // an incoming edge's row
)

func encodeCursor(kind byte, pos string) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{kind}, pos...))
}

// decodeCursor returns the position in a cursor of one of kinds, and the
// kind it is.
func decodeCursor(c string, kinds ...byte) (byte, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil && len(raw) > 1 && strings.IndexByte(string(kinds), raw[0]) >= 0 {
		return raw[0], string(raw[1:]), nil
	}
	return 0, "", badRequest("bad cursor %q: not one of this list's", c)
}

// limitArg reads an optional first argument: -1 (all) when absent.
func limitArg(first *int) (int, error) {
	if first == nil {
		return -1, nil
	}
	if *first < 0 {
		return 0, badRequest("first must not be negative, got %d", *first)
	}
	return *first, nil
}

// files lists a page of graph's files.
func (r *Resolver) files(ctx context.Context, graph string, first *int, after *string) ([]*model.File, error) {
	limit, err := limitArg(first)
	if err != nil {
		return nil, err
	}
	from := ""
	if after != nil {
		if _, from, err = decodeCursor(*after, fileCursor); err != nil {
			return nil, err
		}
	}
	out := []*model.File{}
	if limit == 0 {
		return out, nil
	}
	fs, err := r.Store.FilesPage(ctx, graph, from, max(limit, 0))
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		out = append(out, toFile(graph, f))
	}
	return out, nil
}

// edges lists a page of a node's edges: in each direction asked (out
// before in), rows in order, those whose other end is gone left out.
func (r *Resolver) edges(ctx context.Context, obj *model.Node, direction *model.Direction, relation *ingest.Relation, first *int, after *string) ([]*model.Edge, error) {
	dirs := storeDirs(deref(direction))
	limit, err := limitArg(first)
	if err != nil {
		return nil, err
	}
	from := ""
	if after != nil {
		kinds := []byte{outCursor, inCursor}
		switch deref(direction) {
		case model.DirectionIn:
			kinds = []byte{inCursor}
		case model.DirectionOut, "":
			kinds = []byte{outCursor}
		}
		kind, row, err := decodeCursor(*after, kinds...)
		if err != nil {
			return nil, err
		}
		if kind == inCursor {
			dirs = []store.Direction{store.In}
		}
		from = row
	}
	ld := r.loaders(ctx)
	out := []*model.Edge{}
	// batch loads the other ends of edges read in directions dirs[i] and
	// adds the live ones, up to limit.
	batch := func(lists [][]store.Edge, dirs []store.Direction) error {
		var nkeys []nodeKey
		for i, es := range lists {
			for _, e := range es {
				nkeys = append(nkeys, nodeKey{obj.GraphID, e.Other(dirs[i])})
			}
		}
		others, err := ld.Nodes.LoadAll(ctx, nkeys)
		if err != nil {
			return err
		}
		k := 0
		for i, es := range lists {
			kind := byte(outCursor)
			if dirs[i] == store.In {
				kind = inCursor
			}
			for _, e := range es {
				if others[k] != nil && (limit < 0 || len(out) < limit) {
					out = append(out, &model.Edge{Relation: e.Relation, Line: intPtr(e.Line), Column: intPtr(e.Column),
						Dynamic: e.Dynamic, GraphID: obj.GraphID, OtherID: e.Other(dirs[i]), Path: e.Path, Cursor: encodeCursor(kind, e.Row)})
				}
				k++
			}
		}
		return nil
	}
	key := func(d store.Direction, after string, n int) edgeKey {
		return edgeKey{graph: obj.GraphID, node: obj.ID, dir: d, rel: deref(relation), after: after, limit: n}
	}
	if limit < 0 {
		// Everything: every direction in one batch, the other ends in
		// another.
		keys := make([]edgeKey, len(dirs))
		for i, d := range dirs {
			keys[i] = key(d, from, 0)
			from = ""
		}
		lists, err := ld.Edges.LoadAll(ctx, keys)
		if err != nil {
			return nil, err
		}
		if err := batch(lists, dirs); err != nil {
			return nil, err
		}
		return out, nil
	}
	for _, d := range dirs {
		// Read a few more than the page needs, since edges whose other
		// end is gone (a removed file's) are left out; read again after
		// the last row while the page is short.
		for len(out) < limit {
			n := limit - len(out) + 16
			es, err := ld.Edges.Load(ctx, key(d, from, n))
			if err != nil {
				return nil, err
			}
			if err := batch([][]store.Edge{es}, []store.Direction{d}); err != nil {
				return nil, err
			}
			if len(es) < n {
				break
			}
			from = es[len(es)-1].Row
		}
		from = ""
	}
	return out, nil
}

func toSource(src *ingest.Source) *model.GraphSource {
	out := &model.GraphSource{Root: src.Root, Commit: strPtr(src.Commit), Branch: strPtr(src.Branch)}
	if !src.IngestedAt.IsZero() {
		t := src.IngestedAt
		out.IngestedAt = &t
	}
	return out
}
