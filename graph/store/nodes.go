package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv"
)

// NodesByID reads many nodes in one GetMany; absent ones are nil.
func (s *Store) NodesByID(ctx context.Context, graph string, ids []string) ([]*Node, error) {
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = kv.Key(pNode(graph, id), "meta")
	}
	vals, err := s.getMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]*Node, len(ids))
	for i, v := range vals {
		if v == nil {
			continue
		}
		n := &Node{ID: ids[i]}
		if err := json.Unmarshal(v, n); err != nil {
			return nil, fmt.Errorf("node %s: %w", ids[i], err)
		}
		out[i] = n
	}
	return out, nil
}

// Node returns one node by id, or nil if absent.
func (s *Store) Node(ctx context.Context, graph, id string) (*Node, error) {
	ns, err := s.NodesByID(ctx, graph, []string{id})
	if err != nil {
		return nil, err
	}
	return ns[0], nil
}

// NodeFilter selects nodes for ListNodes and CountNodes.
type NodeFilter struct {
	Kind  ingest.Kind // "" means any
	Name  string      // case-insensitive prefix of the name; "" means any
	First int         // page size, > 0
	After string      // cursor from a previous page
}

// NodePage is one page of ListNodes.
type NodePage struct {
	Nodes     []*Node
	EndCursor string
	HasNext   bool
}

// buckets returns the name buckets that can hold names starting with
// lower, sorted, and the row prefix inside them.
func (s *Store) buckets(ctx context.Context, graph, lower string) ([]string, string, error) {
	if utf8.RuneCountInString(lower) >= 2 {
		return []string{bucket(lower)}, lower, nil
	}
	var out []string
	err := s.scanAll(ctx, rowPrefix(pGraph(graph), "b/"+lower), func(row string, _ []byte) error {
		out = append(out, strings.TrimPrefix(row, "b/"))
		return nil
	})
	sort.Strings(out)
	return out, "", err
}

// walkNames calls fn for name rows matching f in order, starting after
// the cursor, until fn returns false.
func (s *Store) walkNames(ctx context.Context, graph string, f NodeFilter, fn func(bk, row, id string) bool) error {
	if err := ValidGraphID(graph); err != nil {
		return err
	}
	lower := strings.ToLower(f.Name)
	bks, rp, err := s.buckets(ctx, graph, lower)
	if err != nil {
		return err
	}
	var cb, crow string
	if f.After != "" {
		raw, err := base64.RawURLEncoding.DecodeString(f.After)
		if err != nil {
			return fmt.Errorf("%w: cursor %q", ErrInvalid, f.After)
		}
		var ok bool
		if cb, crow, ok = strings.Cut(string(raw), "\x00"); !ok {
			return fmt.Errorf("%w: cursor %q", ErrInvalid, f.After)
		}
	}
	const page = 500
	for _, bk := range bks {
		if bk < cb {
			continue
		}
		p := pName(graph, bk)
		var after []byte
		if bk == cb {
			after = kv.Key(p, crow)
		}
		for {
			ents, err := s.kv.Scan(ctx, rowPrefix(p, rp), after, page, s.o.Read)
			if err != nil {
				return fmt.Errorf("scan names: %w", err)
			}
			for _, e := range ents {
				_, row := kv.Split(e.Key)
				_, id, ok := strings.Cut(string(row), "\x01")
				if !ok {
					continue
				}
				if f.Kind != "" {
					var r nameRec
					if json.Unmarshal(e.Cell.Value, &r) != nil || r.Kind != f.Kind {
						continue
					}
				}
				if !fn(bk, string(row), id) {
					return nil
				}
			}
			if len(ents) < page {
				break
			}
			after = ents[len(ents)-1].Key
		}
	}
	return nil
}

// ListNodes returns a page of nodes ordered by lower-cased name.
func (s *Store) ListNodes(ctx context.Context, graph string, f NodeFilter) (*NodePage, error) {
	if f.First <= 0 {
		return &NodePage{}, nil
	}
	var ids, cursors []string
	err := s.walkNames(ctx, graph, f, func(bk, row, id string) bool {
		ids = append(ids, id)
		cursors = append(cursors, base64.RawURLEncoding.EncodeToString([]byte(bk+"\x00"+row)))
		return len(ids) <= f.First
	})
	if err != nil {
		return nil, err
	}
	pg := &NodePage{}
	if len(ids) > f.First {
		pg.HasNext = true
		ids, cursors = ids[:f.First], cursors[:f.First]
	}
	if len(cursors) > 0 {
		pg.EndCursor = cursors[len(cursors)-1]
	}
	ns, err := s.NodesByID(ctx, graph, ids)
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		if n != nil { // a name row racing a delete
			pg.Nodes = append(pg.Nodes, n)
		}
	}
	return pg, nil
}

// CountNodes counts the nodes f selects (First and After are ignored).
func (s *Store) CountNodes(ctx context.Context, graph string, f NodeFilter) (int, error) {
	if f.Name == "" {
		st, err := s.Stats(ctx, graph)
		if err != nil {
			return 0, err
		}
		if f.Kind == "" {
			return st.Nodes, nil
		}
		return st.ByKind[f.Kind], nil
	}
	f.After = ""
	n := 0
	err := s.walkNames(ctx, graph, f, func(string, string, string) bool { n++; return true })
	return n, err
}

// NodeAt returns the innermost node of the file at path whose span holds
// line, or nil: among the nodes ingest wrote for the file (its owner
// partition) and those upsertNodes wrote with that path (rows of the API
// owner's partition).
func (s *Store) NodeAt(ctx context.Context, graph, path string, line int) (*Node, error) {
	if err := ValidGraphID(graph); err != nil {
		return nil, err
	}
	type cand struct {
		id         string
		start, len int
	}
	var cands []cand
	collect := func(p []byte, idOf func(row string) string) error {
		return s.scanAll(ctx, p, func(row string, v []byte) error {
			var r indexRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("index row %q: %w", row, err)
			}
			end := max(r.EndLine, r.Line)
			if r.Line == 0 || line < r.Line || line > end {
				return nil
			}
			cands = append(cands, cand{idOf(row), r.Line, end - r.Line})
			return nil
		})
	}
	if err := collect(rowPrefix(pOwner(graph, ownerID(path)), "n/"), func(row string) string { return row[2:] }); err != nil {
		return nil, err
	}
	fromFile := len(cands)
	if !strings.ContainsRune(path, 0) {
		pre := apiPathRow(path, "")
		if err := collect(rowPrefix(pOwner(graph, apiOID), pre), func(row string) string { return row[len(pre):] }); err != nil {
			return nil, err
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	ids := make([]string, len(cands))
	for i, c := range cands {
		ids[i] = c.id
	}
	ns, err := s.NodesByID(ctx, graph, ids)
	if err != nil {
		return nil, err
	}
	var best *Node
	bestLen, bestStart := -1, 0
	for i, c := range cands {
		n := ns[i]
		// An API row whose node was since taken over or moved is stale.
		if n == nil || i >= fromFile && (n.Owner != apiOwner || n.Path != path) {
			continue
		}
		if bestLen < 0 || c.len < bestLen || (c.len == bestLen && c.start > bestStart) {
			best, bestLen, bestStart = n, c.len, c.start
		}
	}
	return best, nil
}

// EdgeQuery asks for one node's edges in one direction, optionally of one
// relation.
type EdgeQuery struct {
	Node     string
	Dir      Direction
	Relation ingest.Relation // "" means every relation
	// After is an Edge.Row of a previous answer: the edges after it.
	// "" means from the first.
	After string
	// Limit bounds the edges answered; 0 means all.
	Limit int
}

// EdgesOf answers many edge queries at once, scanning the nodes'
// partitions a few in parallel. Edges are in relation, other-end order,
// each with its Row, so a query can go on after it.
func (s *Store) EdgesOf(ctx context.Context, graph string, qs []EdgeQuery) ([][]Edge, error) {
	out := make([][]Edge, len(qs))
	err := s.parallel(ctx, len(qs), func(ctx context.Context, i int) error {
		q := qs[i]
		dir := "out/"
		if q.Dir == In {
			dir = "in/"
		}
		rp := dir
		if q.Relation != "" {
			rp += string(q.Relation) + "/"
		}
		edges := []Edge{}
		var after []byte
		if q.After != "" {
			if !strings.HasPrefix(q.After, rp) {
				return fmt.Errorf("%w: edge cursor of another direction or relation", ErrInvalid)
			}
			after = kv.Key(pNode(graph, q.Node), q.After)
		}
		err := s.scanFrom(ctx, rowPrefix(pNode(graph, q.Node), rp), after, q.Limit, func(row string, v []byte) error {
			rel, other, _, ok := parseEdgeRow(row)
			if !ok {
				return nil
			}
			var r edgeRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("edge row %q: %w", row, err)
			}
			e := Edge{From: q.Node, To: other, Relation: ingest.Relation(rel), Path: r.Path,
				Line: r.Line, Column: r.Column, Dynamic: r.Dynamic, Row: row}
			if q.Dir == In {
				e.From, e.To = other, q.Node
			}
			edges = append(edges, e)
			return nil
		})
		out[i] = edges
		return err
	})
	return out, err
}

// NodesInFile returns the nodes defined in the file at path, ingested or
// written through upsertNodes with that path, by line then name.
func (s *Store) NodesInFile(ctx context.Context, graph, path string) ([]*Node, error) {
	if err := ValidGraphID(graph); err != nil {
		return nil, err
	}
	var ids []string
	fromFile := 0
	err := s.scanAll(ctx, rowPrefix(pOwner(graph, ownerID(path)), "n/"), func(row string, _ []byte) error {
		ids = append(ids, row[2:])
		return nil
	})
	if err != nil {
		return nil, err
	}
	fromFile = len(ids)
	if !strings.ContainsRune(path, 0) {
		pre := apiPathRow(path, "")
		err = s.scanAll(ctx, rowPrefix(pOwner(graph, apiOID), pre), func(row string, _ []byte) error {
			ids = append(ids, row[len(pre):])
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	ns, err := s.NodesByID(ctx, graph, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*Node, 0, len(ns))
	for i, n := range ns {
		if n == nil || i >= fromFile && (n.Owner != apiOwner || n.Path != path) {
			continue
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Line != out[j].Line {
			return out[i].Line < out[j].Line
		}
		return out[i].QualifiedName < out[j].QualifiedName
	})
	return out, nil
}
