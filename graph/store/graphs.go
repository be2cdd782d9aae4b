package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv"
)

// CreateGraph creates graph id if it does not exist and returns its meta.
// Creating an existing graph is not an error: createdAt stays.
func (s *Store) CreateGraph(ctx context.Context, id string) (*GraphMeta, error) {
	created, err := s.ensureGraph(ctx, id)
	if err != nil {
		return nil, err
	}
	if created {
		s.publish(ctx, id, GraphCreated, nil)
	}
	return s.Graph(ctx, id)
}

// ensureGraph creates the graph rows if absent and reports whether it did.
func (s *Store) ensureGraph(ctx context.Context, id string) (bool, error) {
	if err := ValidGraphID(id); err != nil {
		return false, err
	}
	v, err := s.get(ctx, kv.Key(pGraphs, id))
	if err != nil || v != nil {
		return false, err
	}
	now := timeValue(s.now())
	var b batch
	b.put(pGraph(id), "created", now)
	b.put(pGraph(id), "updated", now)
	b.put(pGraphs, id, now)
	return true, s.flush(ctx, &b)
}

// touch moves updatedAt.
func (s *Store) touch(b *batch, graph string) {
	b.put(pGraph(graph), "updated", timeValue(s.now()))
}

// exists fails with ErrNotFound when graph does not exist.
func (s *Store) exists(ctx context.Context, graph string) error {
	if err := ValidGraphID(graph); err != nil {
		return err
	}
	v, err := s.get(ctx, kv.Key(pGraphs, graph))
	if err != nil {
		return err
	}
	if v == nil {
		return fmt.Errorf("%w: graph %q", ErrNotFound, graph)
	}
	return nil
}

// Graph returns the meta of graph id, or ErrNotFound.
func (s *Store) Graph(ctx context.Context, id string) (*GraphMeta, error) {
	if err := ValidGraphID(id); err != nil {
		return nil, err
	}
	ms, err := s.metas(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if ms[0] == nil {
		return nil, fmt.Errorf("%w: graph %q", ErrNotFound, id)
	}
	return ms[0], nil
}

// metas reads the meta of many graphs in one GetMany; absent ones are nil.
func (s *Store) metas(ctx context.Context, ids []string) ([]*GraphMeta, error) {
	keys := make([][]byte, 0, 4*len(ids))
	for _, id := range ids {
		keys = append(keys, kv.Key(pGraphs, id), kv.Key(pGraph(id), "created"),
			kv.Key(pGraph(id), "updated"), kv.Key(pGraph(id), "lang"))
	}
	vals, err := s.getMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]*GraphMeta, len(ids))
	for i, id := range ids {
		v := vals[4*i : 4*i+4]
		if v[0] == nil {
			continue
		}
		m := &GraphMeta{ID: id, CreatedAt: parseTime(v[1]), UpdatedAt: parseTime(v[2]), Languages: []ingest.Language{}}
		if v[1] == nil {
			m.CreatedAt = parseTime(v[0])
		}
		if v[2] == nil {
			m.UpdatedAt = m.CreatedAt
		}
		if v[3] != nil {
			// A damaged row spoils this graph's languages, not the answer
			// of every graph listing.
			if err := json.Unmarshal(v[3], &m.Languages); err != nil {
				s.log.Warn("graph languages row unreadable", "graph", id, "err", err)
				m.Languages = []ingest.Language{}
			}
		}
		out[i] = m
	}
	return out, nil
}

// Graphs lists every graph, sorted by id.
func (s *Store) Graphs(ctx context.Context) ([]*GraphMeta, error) {
	var ids []string
	err := s.scanAll(ctx, prefix(pGraphs), func(row string, _ []byte) error {
		// A row no valid id names (written around the API) is no graph:
		// listing it would show a ghost no field can reach.
		if ValidGraphID(row) == nil {
			ids = append(ids, row)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ms, err := s.metas(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := ms[:0]
	for _, m := range ms {
		if m != nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// SetLanguages records graph's languages and moves updatedAt. It creates
// the graph if needed. Ingest calls it last, so it also removes the
// external nodes no edge or occurrence names any more (pruneExternal).
func (s *Store) SetLanguages(ctx context.Context, graph string, langs []ingest.Language) error {
	if _, err := s.ensureGraph(ctx, graph); err != nil {
		return err
	}
	if langs == nil {
		langs = []ingest.Language{}
	}
	// An ingest ends here: drop the external nodes it left unused.
	if err := s.pruneExternal(ctx, graph); err != nil {
		return err
	}
	var b batch
	b.putJSON(pGraph(graph), "lang", langs)
	s.touch(&b, graph)
	if err := s.flush(ctx, &b); err != nil {
		return err
	}
	s.publish(ctx, graph, LanguagesChanged, nil)
	return nil
}

// DeleteGraph removes every row of graph id and reports whether it
// existed. The graph's entry in the list goes last, so a failed delete can
// be retried.
func (s *Store) DeleteGraph(ctx context.Context, id string) (bool, error) {
	if err := ValidGraphID(id); err != nil {
		return false, err
	}
	v, err := s.get(ctx, kv.Key(pGraphs, id))
	if err != nil {
		return false, err
	}
	existed := v != nil
	var b batch
	nodes := map[string]bool{}
	var owners, buckets []string
	// The graph partition names owners and name buckets.
	err = s.scanAll(ctx, prefix(pGraph(id)), func(row string, _ []byte) error {
		b.del(pGraph(id), row)
		if oid, ok := strings.CutPrefix(row, "owner/"); ok {
			owners = append(owners, oid)
		}
		if bk, ok := strings.CutPrefix(row, "b/"); ok {
			buckets = append(buckets, bk)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	owners = append(owners, apiOID, extOID)
	var mu sync.Mutex
	collect := func(p string, fn func(row string, v []byte)) error {
		return s.scanAll(ctx, prefix(p), func(row string, v []byte) error {
			mu.Lock()
			b.del(p, row)
			fn(row, v)
			mu.Unlock()
			return nil
		})
	}
	err = s.parallel(ctx, len(owners), func(ctx context.Context, i int) error {
		return collect(pOwner(id, owners[i]), func(row string, v []byte) {
			// A malformed row is deleted all the same.
			_ = ownerRows{
				node: func(id string, _ []byte) error {
					nodes[id] = true
					return nil
				},
				edge: func(from, _, to string) { nodes[from], nodes[to] = true, true },
				other: func(row string, v []byte) {
					if strings.HasPrefix(row, "t/") {
						targets := map[string]int{}
						parseTargets(v, targets)
						for n := range targets {
							nodes[n] = true
						}
					}
				},
			}.visit(row, v)
		})
	})
	if err != nil {
		return false, err
	}
	err = s.parallel(ctx, len(buckets), func(ctx context.Context, i int) error {
		return collect(pName(id, buckets[i]), func(row string, _ []byte) {
			if _, nid, ok := strings.Cut(row, "\x01"); ok {
				nodes[nid] = true
			}
		})
	})
	if err != nil {
		return false, err
	}
	ids := make([]string, 0, len(nodes))
	for n := range nodes {
		ids = append(ids, n)
	}
	sort.Strings(ids)
	err = s.parallel(ctx, len(ids), func(ctx context.Context, i int) error {
		return collect(pNode(id, ids[i]), func(string, []byte) {})
	})
	if err != nil {
		return false, err
	}
	if err := collect(pFiles(id), func(string, []byte) {}); err != nil {
		return false, err
	}
	if err := s.flush(ctx, &b); err != nil {
		return false, err
	}
	if existed {
		b.del(pGraphs, id)
		if err := s.flush(ctx, &b); err != nil {
			return false, err
		}
		s.publish(ctx, id, GraphDeleted, nil)
	}
	return existed, nil
}

// Stats counts graph's files, nodes by kind and edges by relation.
func (s *Store) Stats(ctx context.Context, graph string) (*Stats, error) {
	if err := ValidGraphID(graph); err != nil {
		return nil, err
	}
	st := &Stats{ByKind: map[ingest.Kind]int{}, ByRelation: map[ingest.Relation]int{}}
	add := func(c counts) {
		for k, n := range c.Kinds {
			st.ByKind[k] += n
			st.Nodes += n
		}
		for r, n := range c.Relations {
			st.ByRelation[r] += n
			st.Edges += n
		}
	}
	err := s.scanAll(ctx, rowPrefix(pGraph(graph), "stats/"), func(row string, v []byte) error {
		var c counts
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("stats row %q: %w", row, err)
		}
		st.Files++
		add(c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, oid := range []string{apiOID, extOID} {
		c, err := s.countOwner(ctx, graph, oid)
		if err != nil {
			return nil, err
		}
		add(c)
	}
	return st, nil
}

// countOwner counts an owner's facts from its index rows.
func (s *Store) countOwner(ctx context.Context, graph, oid string) (counts, error) {
	var c counts
	rows := ownerRows{
		node: func(id string, v []byte) error {
			r, err := decodeIndexRec(id, v)
			c.addNode(r.Kind)
			return err
		},
		edge: func(_, rel, _ string) { c.addEdge(ingest.Relation(rel)) },
	}
	err := s.scanAll(ctx, prefix(pOwner(graph, oid)), rows.visit)
	return c, err
}

// recount rewrites the stats row of file owners after facts of theirs were
// removed by API mutations.
func (s *Store) recount(ctx context.Context, graph string, oids map[string]bool) error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	var list []string
	var keys [][]byte
	for oid := range oids {
		if oid != apiOID && oid != extOID {
			list = append(list, oid)
			keys = append(keys, kv.Key(pGraph(graph), "owner/"+oid))
		}
	}
	// A removed file has no owner row and must not get a stats row back.
	live, err := s.getMany(ctx, keys)
	if err != nil {
		return err
	}
	var b batch
	for i, oid := range list {
		if live[i] == nil {
			continue
		}
		c, err := s.countOwner(ctx, graph, oid)
		if err != nil {
			return err
		}
		b.putJSON(pGraph(graph), "stats/"+oid, c)
	}
	return s.flush(ctx, &b)
}
