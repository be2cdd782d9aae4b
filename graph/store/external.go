package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv"
)

// writeExternal writes n as an external node: its record, owned by the
// shared external owner, its name row (its bucket noted in buckets) and
// that owner's index row.
func writeExternal(a *batch, graph, id string, n ingest.Node, buckets map[string]bool) {
	a.putJSON(pNode(graph, id), "meta", Node{Kind: n.Kind, Name: n.Name, QualifiedName: n.QualifiedName,
		Path: n.Path, Line: n.Line, EndLine: n.EndLine, External: true, Owner: extOwner})
	buckets[a.putName(graph, id, n.Kind, n.Name)] = true
	a.putJSON(pOwner(graph, extOID), "n/"+id, indexRec{Kind: n.Kind, Name: n.Name})
}

// shadowExternal handles a file naming an external node whose name a node
// of the tree still holds (meta): within one ingest, a module that went
// away makes its names external in the files that use them, which may be
// written before the file that drops the tree's node. The external
// owner's index row is written all the same, so that the node becomes
// external when the tree's node is removed (removedAsExternal); a row
// still shadowed at the end of the ingest is dropped (pruneExternal).
func shadowExternal(a *batch, graph, id string, meta []byte, n ingest.Node) {
	var cur Node
	if json.Unmarshal(meta, &cur) != nil || cur.Owner == extOwner {
		return
	}
	a.putJSON(pOwner(graph, extOID), "n/"+id, indexRec{Kind: n.Kind, Name: n.Name})
}

// removedAsExternal says whether a node of the tree that its file no
// longer defines stays as an external node, and as which: when a file of
// the same call names it as external, or an earlier one did
// (shadowExternal left the index row extRow).
func removedAsExternal(old Node, ext ingest.Node, extRow []byte) (ingest.Node, bool) {
	if ext.QualifiedName != "" {
		return ext, true
	}
	var r indexRec
	if extRow == nil || json.Unmarshal(extRow, &r) != nil {
		return ingest.Node{}, false
	}
	return ingest.Node{Kind: r.Kind, Name: r.Name, QualifiedName: old.QualifiedName, External: true}, true
}

// pruneExternal removes the external nodes nothing refers to any more: no
// edge row and no occurrence row in their partition. External nodes are
// shared by every file and never removed with one, so without this a
// graph would keep, say, os.Exit after the last call of it went away, and
// would differ from a fresh ingest of the same tree (which writes an
// external node only with a file whose edges or occurrences name it).
// It runs at the end of every ingest that wrote something (SetLanguages).
func (s *Store) pruneExternal(ctx context.Context, graph string) error {
	var ids []string
	err := s.scanAll(ctx, prefix(pOwner(graph, extOID)), func(row string, _ []byte) error {
		if id, ok := strings.CutPrefix(row, "n/"); ok {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil || len(ids) == 0 {
		return err
	}
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = kv.Key(pNode(graph, id), "meta")
	}
	metas, err := s.getMany(ctx, keys)
	if err != nil {
		return err
	}
	var b batch
	var check []string // external nodes still owned as such
	names := map[string]string{}
	for i, id := range ids {
		var n Node
		if metas[i] != nil {
			if err := json.Unmarshal(metas[i], &n); err != nil {
				return fmt.Errorf("node %s: %w", id, err)
			}
		}
		if metas[i] == nil || n.Owner != extOwner {
			// Gone, or a node of the tree or of a mutation took the name
			// over: only the stale index row goes.
			b.del(pOwner(graph, extOID), "n/"+id)
			continue
		}
		check = append(check, id)
		names[id] = n.Name
	}
	unused := make([]bool, len(check))
	err = s.parallel(ctx, len(check), func(ctx context.Context, i int) error {
		// The meta row and at most one more: any row besides meta is an
		// edge (in/, out/) or occurrences (r/) naming the node.
		ents, err := s.kv.Scan(ctx, prefix(pNode(graph, check[i])), nil, 2, s.o.Read)
		if err != nil {
			return fmt.Errorf("scan node %s: %w", check[i], err)
		}
		unused[i] = len(ents) <= 1
		return nil
	})
	if err != nil {
		return err
	}
	var gone []string
	for i, id := range check {
		if !unused[i] {
			continue
		}
		lower := strings.ToLower(names[id])
		b.del(pName(graph, bucket(lower)), nameRow(lower, id))
		b.del(pNode(graph, id), "meta")
		b.del(pOwner(graph, extOID), "n/"+id)
		gone = append(gone, id)
	}
	if err := s.flush(ctx, &b); err != nil {
		return err
	}
	if len(gone) > 0 {
		s.publish(ctx, graph, NodesDeleted, gone)
	}
	return nil
}
