package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv"
)

// maxDiagnostic bounds one spilled diagnostic row.
const maxDiagnostic = 8 << 10

var one = []byte{'1'}

// nameRec is the value of a name-index row.
type nameRec struct {
	Kind ingest.Kind `json:"k"`
}

// ownerIndex is what an owner's index partition says it owns.
type ownerIndex struct {
	nodes map[string]indexRec
	edges map[string]bool // "from/REL/to"
	rows  []string        // e/… and x/… index rows of the edges
	diags []string        // d/… rows
	occs  map[string]bool // k/… and t/… rows of the occurrences
	// occTargets are the nodes whose partitions hold r/{oid}/ rows of
	// the owner, with how many.
	occTargets map[string]int
}

func (s *Store) readIndex(ctx context.Context, graph, oid string) (*ownerIndex, error) {
	ix := &ownerIndex{nodes: map[string]indexRec{}, edges: map[string]bool{}, occs: map[string]bool{},
		occTargets: map[string]int{}}
	rows := ownerRows{
		node: func(id string, v []byte) (err error) {
			ix.nodes[id], err = decodeIndexRec(id, v)
			return err
		},
		edge: func(from, rel, to string) { ix.edges[from+"/"+rel+"/"+to] = true },
		other: func(row string, v []byte) {
			switch {
			case strings.HasPrefix(row, "d/"):
				ix.diags = append(ix.diags, row)
			case strings.HasPrefix(row, "k/"):
				ix.occs[row] = true
			case strings.HasPrefix(row, "t/"):
				ix.occs[row] = true
				parseTargets(v, ix.occTargets)
			}
		},
	}
	err := s.scanAll(ctx, prefix(pOwner(graph, oid)), func(row string, v []byte) error {
		if isEdgeIndexRow(row) {
			ix.rows = append(ix.rows, row)
		}
		return rows.visit(row, v)
	})
	return ix, err
}

// Files returns the files graph holds, by path (none for a missing graph).
func (s *Store) Files(ctx context.Context, graph string) (map[string]ingest.File, error) {
	fs, err := s.ListFiles(ctx, graph)
	if err != nil {
		return nil, err
	}
	out := make(map[string]ingest.File, len(fs))
	for _, f := range fs {
		out[f.Path] = f.File
	}
	return out, nil
}

// ListFiles returns graph's file records sorted by path. Spilled
// diagnostics are not loaded (see Diagnostics).
func (s *Store) ListFiles(ctx context.Context, graph string) ([]*File, error) {
	return s.FilesPage(ctx, graph, "", 0)
}

// FilesPage is ListFiles from the first path after after ("": the first),
// at most limit files (0: all).
func (s *Store) FilesPage(ctx context.Context, graph, after string, limit int) ([]*File, error) {
	if err := ValidGraphID(graph); err != nil {
		return nil, err
	}
	var from []byte
	if after != "" {
		from = kv.Key(pFiles(graph), after)
	}
	var out []*File
	err := s.scanFrom(ctx, prefix(pFiles(graph)), from, limit, func(row string, v []byte) error {
		f := &File{}
		if err := json.Unmarshal(v, f); err != nil {
			return fmt.Errorf("file %q: %w", row, err)
		}
		out = append(out, f)
		return nil
	})
	return out, err
}

// CountFiles counts graph's files.
func (s *Store) CountFiles(ctx context.Context, graph string) (int, error) {
	if err := ValidGraphID(graph); err != nil {
		return 0, err
	}
	n := 0
	err := s.scanAll(ctx, prefix(pFiles(graph)), func(string, []byte) error { n++; return nil })
	return n, err
}

// FilesByPath reads many file records at once; absent ones are nil.
func (s *Store) FilesByPath(ctx context.Context, graph string, paths []string) ([]*File, error) {
	keys := make([][]byte, len(paths))
	for i, p := range paths {
		keys[i] = kv.Key(pFiles(graph), p)
	}
	vals, err := s.getMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]*File, len(paths))
	for i, v := range vals {
		if v == nil {
			continue
		}
		f := &File{}
		if err := json.Unmarshal(v, f); err != nil {
			return nil, fmt.Errorf("file %q: %w", paths[i], err)
		}
		out[i] = f
	}
	return out, nil
}

// Diagnostics returns f's diagnostics, loading spilled rows if needed.
func (s *Store) Diagnostics(ctx context.Context, graph string, f *File) ([]string, error) {
	if f.Spilled == 0 {
		return f.Diagnostics, nil
	}
	var out []string
	err := s.scanAll(ctx, rowPrefix(pOwner(graph, ownerID(f.Path)), "d/"), func(_ string, v []byte) error {
		out = append(out, string(v))
		return nil
	})
	return out, err
}

// PutFiles replaces each listed file's facts as a unit: old nodes and edges
// that the new facts do not restate are removed (both ends of every edge),
// the new ones written, and the file record stored last. It creates the
// graph if needed.
func (s *Store) PutFiles(ctx context.Context, graph string, facts []ingest.FileFacts) error {
	paths := make([]string, len(facts))
	for i, f := range facts {
		paths[i] = f.File.Path
	}
	return s.replace(ctx, graph, facts, paths)
}

// DeleteFiles removes files and their facts.
func (s *Store) DeleteFiles(ctx context.Context, graph string, paths []string) error {
	return s.replace(ctx, graph, nil, paths)
}

// replace writes facts for the first len(facts) paths and removes the
// facts of the rest: it reads each path's owner index, stages the rows to
// write and delete (replacement), settles external and orphaned nodes, and
// writes the facts before the file records.
func (s *Store) replace(ctx context.Context, graph string, facts []ingest.FileFacts, paths []string) error {
	if err := checkPaths(graph, paths); err != nil || len(paths) == 0 {
		return err
	}
	if len(facts) > 0 {
		if _, err := s.ensureGraph(ctx, graph); err != nil {
			return err
		}
	} else if err := s.exists(ctx, graph); err != nil {
		return err
	}
	olds := make([]*ownerIndex, len(paths))
	err := s.parallel(ctx, len(paths), func(ctx context.Context, i int) error {
		ix, err := s.readIndex(ctx, graph, ownerID(paths[i]))
		olds[i] = ix
		return err
	})
	if err != nil {
		return err
	}
	r := &replacement{graph: graph, touched: map[string]bool{}, buckets: map[string]bool{}, external: map[string]ingest.Node{}, written: map[string]bool{}}
	for i, path := range paths {
		var f *ingest.FileFacts
		if i < len(facts) {
			f = &facts[i]
		}
		if err := r.file(path, olds[i], f); err != nil {
			return err
		}
	}
	if err := s.putExternal(ctx, r); err != nil {
		return err
	}
	if err := s.dropDisowned(ctx, r); err != nil {
		return err
	}
	r.facts.putBuckets(graph, r.buckets)
	if err := s.flush(ctx, &r.facts); err != nil {
		return err
	}
	s.touch(&r.records, graph)
	if err := s.flush(ctx, &r.records); err != nil {
		return err
	}
	s.publish(ctx, graph, FilesChanged, sortedKeys(r.touched))
	return nil
}

// checkPaths refuses an invalid graph id and empty, reserved or repeated
// file paths.
func checkPaths(graph string, paths []string) error {
	if err := ValidGraphID(graph); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, p := range paths {
		if p == "" || strings.ContainsAny(p, "\x00") || strings.HasPrefix(p, "\x01") {
			return fmt.Errorf("%w: file path %q", ErrInvalid, p)
		}
		if seen[p] {
			return fmt.Errorf("%w: file %q listed twice", ErrInvalid, p)
		}
		seen[p] = true
	}
	return nil
}

// replacement stages the writes of one replace: the facts first, the file
// records last, so a file is recorded only once its facts are stored.
type replacement struct {
	graph          string
	facts, records batch
	disowned       []disowned             // nodes the files no longer define
	touched        map[string]bool        // nodes named in the change event
	buckets        map[string]bool        // name buckets written
	external       map[string]ingest.Node // external nodes the facts name
	written        map[string]bool        // nodes a file of this call defines
}

// disowned is a node a file defined before and no longer does.
type disowned struct {
	id, owner string
}

// file stages one path: its new facts (f; nil removes the file) against
// what its owner index held (old).
func (r *replacement) file(path string, old *ownerIndex, f *ingest.FileFacts) error {
	live := f != nil
	if !live {
		f = &ingest.FileFacts{}
	}
	var c counts
	if err := r.nodes(path, old, f.Nodes, &c); err != nil {
		return err
	}
	if err := r.edges(path, old, f.Edges, &c); err != nil {
		return err
	}
	if err := r.occurrences(path, old, f.Occurrences); err != nil {
		return err
	}
	spilled := 0
	if live {
		spilled = r.putFileRecord(path, f.File, c)
	} else {
		oid := ownerID(path)
		r.records.del(pFiles(r.graph), path)
		r.records.del(pGraph(r.graph), "stats/"+oid)
		r.records.del(pGraph(r.graph), "owner/"+oid)
	}
	// Spilled diagnostic rows past the new ones go.
	for _, row := range old.diags {
		var j int
		if _, err := fmt.Sscanf(row, "d/%d", &j); err != nil || j >= spilled {
			r.facts.del(pOwner(r.graph, ownerID(path)), row)
		}
	}
	return nil
}

// nodes stages the file's node records with their name and owner index
// rows, and lists the nodes it no longer defines.
func (r *replacement) nodes(path string, old *ownerIndex, nodes []ingest.Node, c *counts) error {
	po := pOwner(r.graph, ownerID(path))
	defined := map[string]bool{}
	for _, n := range nodes {
		if err := checkNode(n); err != nil {
			return fmt.Errorf("file %q: %w", path, err)
		}
		id := NodeID(r.graph, n.QualifiedName)
		r.touched[id] = true
		if n.External {
			r.external[id] = n
			continue
		}
		if defined[id] {
			continue
		}
		defined[id] = true
		r.written[id] = true
		rec := Node{Kind: n.Kind, Name: n.Name, QualifiedName: n.QualifiedName, Path: n.Path,
			Line: n.Line, EndLine: n.EndLine, Owner: path}
		if rec.Path == "" {
			rec.Path = path
		}
		r.facts.putJSON(pNode(r.graph, id), "meta", rec)
		r.buckets[r.facts.putName(r.graph, id, n.Kind, n.Name)] = true
		r.facts.putJSON(po, "n/"+id, indexRec{Kind: n.Kind, Name: n.Name, Line: n.Line, EndLine: n.EndLine})
		if o, ok := old.nodes[id]; ok && !strings.EqualFold(o.Name, n.Name) {
			r.facts.delName(r.graph, id, o.Name)
		}
		c.addNode(n.Kind)
	}
	for id := range old.nodes {
		if !defined[id] {
			r.disowned = append(r.disowned, disowned{id, path})
			r.facts.del(po, "n/"+id)
			r.touched[id] = true
		}
	}
	return nil
}

// edges stages both ends of each new edge and the owner's grouped index
// rows, and deletes the old edges the file no longer states.
func (r *replacement) edges(path string, old *ownerIndex, edges []ingest.Edge, c *counts) error {
	oid := ownerID(path)
	po := pOwner(r.graph, oid)
	stated := map[string]bool{}
	bySource := map[string][]string{} // from → "REL/to" (the index rows)
	for _, e := range edges {
		if err := checkEdge(e); err != nil {
			return fmt.Errorf("file %q: %w", path, err)
		}
		from, to, rel := NodeID(r.graph, e.From), NodeID(r.graph, e.To), string(e.Relation)
		k := from + "/" + rel + "/" + to
		if stated[k] {
			continue // one edge per relation and pair per file: the first site
		}
		stated[k] = true
		rec := edgeRec{Path: e.Path, Line: e.Line, Column: e.Column, Dynamic: e.Dynamic}
		if rec.Path == "" {
			rec.Path = path
		}
		r.facts.putJSON(pNode(r.graph, from), outRow(rel, to, oid), rec)
		r.facts.putJSON(pNode(r.graph, to), inRow(rel, from, oid), rec)
		bySource[from] = append(bySource[from], rel+"/"+to)
		c.addEdge(e.Relation)
		r.touched[from], r.touched[to] = true, true
	}
	indexRows := map[string]bool{}
	for from, entries := range bySource {
		for chunk, v := range edgeGroups(entries) {
			row := edgeGroupRow(from, chunk)
			r.facts.put(po, row, v)
			indexRows[row] = true
		}
	}
	for k := range old.edges {
		if stated[k] {
			continue
		}
		if p := strings.Split(k, "/"); len(p) == 3 {
			r.facts.del(pNode(r.graph, p[0]), outRow(p[1], p[2], oid))
			r.facts.del(pNode(r.graph, p[2]), inRow(p[1], p[0], oid))
			r.touched[p[0]], r.touched[p[2]] = true, true
		}
	}
	for _, row := range old.rows {
		if !indexRows[row] {
			r.facts.del(po, row)
		}
	}
	return nil
}

// occurrences stages the file's occurrence rows, in its owner partition
// and in the partitions of the nodes they name, and deletes the old ones.
func (r *replacement) occurrences(path string, old *ownerIndex, occs []ingest.Occurrence) error {
	oid := ownerID(path)
	po := pOwner(r.graph, oid)
	occ, err := buildOccRows(r.graph, path, oid, occs)
	if err != nil {
		return err
	}
	for row, v := range occ.owner {
		r.facts.put(po, row, v)
	}
	for row := range old.occs {
		if _, ok := occ.owner[row]; !ok {
			r.facts.del(po, row)
		}
	}
	// The nodes an occurrence names are not listed in the change
	// event (their record and edges stay): a file names hundreds.
	for id, rows := range occ.byNode {
		for row, v := range rows {
			r.facts.put(pNode(r.graph, id), row, v)
		}
	}
	for id, n := range old.occTargets {
		for c := occ.targets[id]; c < n; c++ {
			r.facts.del(pNode(r.graph, id), fmt.Sprintf("r/%s/%03d", oid, c))
		}
	}
	return nil
}

// putFileRecord stages the file row with its stats and owner rows, and
// returns how many diagnostics it spilled into d/ rows of the owner
// because they would make the file row too big.
func (r *replacement) putFileRecord(path string, file ingest.File, c counts) int {
	oid := ownerID(path)
	rec := File{File: file}
	var spilled []string
	data, _ := json.Marshal(rec)
	if len(pFiles(r.graph))+1+len(path)+len(data) > kv.MaxPairSize-64 {
		spilled = rec.Diagnostics
		rec.Diagnostics = nil
		rec.Spilled = len(spilled)
	}
	for j, d := range spilled {
		if len(d) > maxDiagnostic {
			d = d[:maxDiagnostic]
		}
		r.facts.put(pOwner(r.graph, oid), fmt.Sprintf("d/%06d", j), []byte(d))
	}
	r.records.putJSON(pFiles(r.graph), path, rec)
	r.records.putJSON(pGraph(r.graph), "stats/"+oid, c)
	r.records.put(pGraph(r.graph), "owner/"+oid, []byte(path))
	return len(spilled)
}

// putExternal stages the external nodes not stored yet: they are written
// once and never taken from their owner.
func (s *Store) putExternal(ctx context.Context, r *replacement) error {
	if len(r.external) == 0 {
		return nil
	}
	ids := make([]string, 0, len(r.external))
	for id := range r.external {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = kv.Key(pNode(r.graph, id), "meta")
	}
	vals, err := s.getMany(ctx, keys)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if vals[i] != nil {
			shadowExternal(&r.facts, r.graph, id, vals[i], r.external[id])
			continue
		}
		writeExternal(&r.facts, r.graph, id, r.external[id], r.buckets)
	}
	return nil
}

// dropDisowned stages the removal of the nodes the files stopped
// defining, each only if its file still owns it: another file or an API
// mutation may have taken it over.
func (s *Store) dropDisowned(ctx context.Context, r *replacement) error {
	if len(r.disowned) == 0 {
		return nil
	}
	// Each node's record, and its external owner's index row (a node the
	// tree no longer defines may stay as an external one).
	nd := len(r.disowned)
	keys := make([][]byte, 2*nd)
	for i, d := range r.disowned {
		keys[i] = kv.Key(pNode(r.graph, d.id), "meta")
		keys[nd+i] = kv.Key(pOwner(r.graph, extOID), "n/"+d.id)
	}
	vals, err := s.getMany(ctx, keys)
	if err != nil {
		return err
	}
	for i, d := range r.disowned {
		if vals[i] == nil || r.written[d.id] {
			continue // gone, or moved to another file of this call
		}
		var n Node
		if err := json.Unmarshal(vals[i], &n); err != nil {
			return fmt.Errorf("node %s: %w", d.id, err)
		}
		if n.Owner != d.owner {
			continue
		}
		if ext, ok := removedAsExternal(n, r.external[d.id], vals[nd+i]); ok {
			if !strings.EqualFold(ext.Name, n.Name) {
				r.facts.delName(r.graph, d.id, n.Name)
			}
			writeExternal(&r.facts, r.graph, d.id, ext, r.buckets)
			continue
		}
		r.facts.del(pNode(r.graph, d.id), "meta")
		r.facts.delName(r.graph, d.id, n.Name)
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func checkNode(n ingest.Node) error {
	if n.QualifiedName == "" {
		return fmt.Errorf("%w: node without a qualified name", ErrInvalid)
	}
	if !slices.Contains([]ingest.Kind{ingest.Variable, ingest.Function, ingest.Class}, n.Kind) {
		return fmt.Errorf("%w: node %q has kind %q", ErrInvalid, n.QualifiedName, n.Kind)
	}
	if err := validName("qualified name", n.QualifiedName); err != nil {
		return err
	}
	return validName("name", n.Name)
}

func checkEdge(e ingest.Edge) error {
	if e.From == "" || e.To == "" {
		return fmt.Errorf("%w: edge %q → %q needs both ends", ErrInvalid, e.From, e.To)
	}
	if !slices.Contains(ingest.Relations, e.Relation) {
		return fmt.Errorf("%w: edge %q → %q has relation %q", ErrInvalid, e.From, e.To, e.Relation)
	}
	return nil
}
