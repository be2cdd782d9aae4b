package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/grafo/grafo/ingest"
)

// UpsertNodes writes nodes owned by the API (kept until deleted through
// DeleteNodes, whatever ingest does) and returns them as stored. A node an
// ingested file defined is taken over by the API.
func (s *Store) UpsertNodes(ctx context.Context, graph string, nodes []ingest.Node) ([]*Node, error) {
	if err := s.exists(ctx, graph); err != nil {
		return nil, err
	}
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		if err := checkNode(n); err != nil {
			return nil, err
		}
		ids[i] = NodeID(graph, n.QualifiedName)
	}
	olds, err := s.NodesByID(ctx, graph, ids)
	if err != nil {
		return nil, err
	}
	var b batch
	recount := map[string]bool{}
	out := make([]*Node, len(nodes))
	buckets := map[string]bool{}
	for i, n := range nodes {
		id := ids[i]
		if o := olds[i]; o != nil {
			if o.Owner != apiOwner {
				// Leave the old owner's index, so its counts and its
				// replacement no longer include the node.
				oid := ownerID(o.Owner)
				b.del(pOwner(graph, oid), "n/"+id)
				recount[oid] = true
			}
			if !strings.EqualFold(o.Name, n.Name) {
				b.delName(graph, id, o.Name)
			}
			if o.Owner == apiOwner && o.Path != n.Path && o.Path != "" {
				b.del(pOwner(graph, apiOID), apiPathRow(o.Path, id))
			}
		}
		rec := &Node{ID: id, Kind: n.Kind, Name: n.Name, QualifiedName: n.QualifiedName, Path: n.Path,
			Line: n.Line, EndLine: n.EndLine, External: n.External, Owner: apiOwner}
		b.putJSON(pNode(graph, id), "meta", rec)
		buckets[b.putName(graph, id, n.Kind, n.Name)] = true
		b.putJSON(pOwner(graph, apiOID), "n/"+id, indexRec{Kind: n.Kind, Name: n.Name, Line: n.Line, EndLine: n.EndLine})
		if n.Path != "" && n.Line > 0 {
			b.putJSON(pOwner(graph, apiOID), apiPathRow(n.Path, id), indexRec{Kind: n.Kind, Name: n.Name, Line: n.Line, EndLine: n.EndLine})
		}
		out[i] = rec
	}
	b.putBuckets(graph, buckets)
	s.touch(&b, graph)
	if err := s.flush(ctx, &b); err != nil {
		return nil, err
	}
	if err := s.recount(ctx, graph, recount); err != nil {
		return nil, err
	}
	s.publish(ctx, graph, NodesUpserted, uniq(ids))
	return out, nil
}

// UpsertEdges writes edges owned by the API between existing nodes (named
// by qualified name) and returns how many it wrote.
func (s *Store) UpsertEdges(ctx context.Context, graph string, edges []ingest.Edge) (int, error) {
	if err := s.exists(ctx, graph); err != nil {
		return 0, err
	}
	var qns []string
	for _, e := range edges {
		if err := checkEdge(e); err != nil {
			return 0, err
		}
		qns = append(qns, e.From, e.To)
	}
	ids := make([]string, len(qns))
	for i, q := range qns {
		ids[i] = NodeID(graph, q)
	}
	ns, err := s.NodesByID(ctx, graph, ids)
	if err != nil {
		return 0, err
	}
	for i, n := range ns {
		if n == nil {
			return 0, fmt.Errorf("%w: node %q in graph %q", ErrNotFound, qns[i], graph)
		}
	}
	var b batch
	po := pOwner(graph, apiOID)
	for i, e := range edges {
		from, to, rel := ids[2*i], ids[2*i+1], string(e.Relation)
		rec := edgeRec{Path: e.Path, Line: e.Line, Column: e.Column, Dynamic: e.Dynamic}
		b.putJSON(pNode(graph, from), outRow(rel, to, apiOID), rec)
		b.putJSON(pNode(graph, to), inRow(rel, from, apiOID), rec)
		b.put(po, edgeIndexRow(from, rel, to), one)
	}
	s.touch(&b, graph)
	if err := s.flush(ctx, &b); err != nil {
		return 0, err
	}
	s.publish(ctx, graph, EdgesUpserted, uniq(ids))
	return len(edges), nil
}

// DeleteNodes removes nodes by id with every edge that touches them, from
// whichever owner, and returns how many existed.
func (s *Store) DeleteNodes(ctx context.Context, graph string, ids []string) (int, error) {
	if err := s.exists(ctx, graph); err != nil {
		return 0, err
	}
	ids = uniq(ids)
	ns, err := s.NodesByID(ctx, graph, ids)
	if err != nil {
		return 0, err
	}
	var b batch
	recount := map[string]bool{}
	touched := map[string]bool{}
	deleted := 0
	for i, n := range ns {
		id := ids[i]
		if n != nil {
			deleted++
			oid := ownerID(n.Owner)
			b.del(pOwner(graph, oid), "n/"+id)
			if n.Owner == apiOwner && n.Path != "" {
				b.del(pOwner(graph, apiOID), apiPathRow(n.Path, id))
			}
			recount[oid] = true
			b.delName(graph, id, n.Name)
		}
		touched[id] = true
		err := s.scanAll(ctx, prefix(pNode(graph, id)), func(row string, _ []byte) error {
			b.del(pNode(graph, id), row)
			rel, other, oid, ok := parseEdgeRow(row)
			if !ok {
				return nil
			}
			touched[other] = true
			recount[oid] = true
			if strings.HasPrefix(row, "out/") {
				b.del(pNode(graph, other), inRow(rel, id, oid))
				b.del(pOwner(graph, oid), edgeIndexRow(id, rel, other))
			} else {
				b.del(pNode(graph, other), outRow(rel, id, oid))
				b.del(pOwner(graph, oid), edgeIndexRow(other, rel, id))
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	if deleted > 0 {
		s.touch(&b, graph)
	}
	if err := s.flush(ctx, &b); err != nil {
		return 0, err
	}
	if err := s.recount(ctx, graph, recount); err != nil {
		return 0, err
	}
	if deleted > 0 {
		s.publish(ctx, graph, NodesDeleted, sortedKeys(touched))
	}
	return deleted, nil
}

// apiPathRow indexes an API node by its file in the API owner's
// partition, so nodeAt finds nodes written through upsertNodes with one
// more row-prefix scan. A row left behind when ingest takes the node over
// is ignored by NodeAt, which checks the node's owner and path.
func apiPathRow(path, id string) string { return "p/" + path + "\x00" + id }

func uniq(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
