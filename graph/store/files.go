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
	err := s.scanAll(ctx, prefix(pOwner(graph, oid)), func(row string, v []byte) error {
		switch {
		case strings.HasPrefix(row, "n/"):
			var r indexRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("index row %q: %w", row, err)
			}
			ix.nodes[row[2:]] = r
		case strings.HasPrefix(row, "e/"):
			ix.edges[row[2:]] = true
			ix.rows = append(ix.rows, row)
		case strings.HasPrefix(row, "x/"):
			var pairs []string
			from, ok := parseEdgeGroup(row, v, func(rel, to string) { pairs = append(pairs, rel+"/"+to) })
			if !ok {
				return fmt.Errorf("index row %q: malformed", row)
			}
			for _, p := range pairs {
				ix.edges[from+"/"+p] = true
			}
			ix.rows = append(ix.rows, row)
		case strings.HasPrefix(row, "d/"):
			ix.diags = append(ix.diags, row)
		case strings.HasPrefix(row, "k/"):
			ix.occs[row] = true
		case strings.HasPrefix(row, "t/"):
			ix.occs[row] = true
			parseTargets(v, ix.occTargets)
		}
		return nil
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
// facts of the rest.
func (s *Store) replace(ctx context.Context, graph string, facts []ingest.FileFacts, paths []string) error {
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
	if len(paths) == 0 {
		return nil
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

	type cand struct {
		id, owner string
		rec       indexRec
	}
	var (
		a, last  batch // facts first, file records last
		cands    []cand
		touched  = map[string]bool{}
		buckets  = map[string]bool{}
		external = map[string]ingest.Node{}
	)
	putName := func(id string, kind ingest.Kind, name string) {
		lower := strings.ToLower(name)
		bk := bucket(lower)
		a.putJSON(pName(graph, bk), nameRow(lower, id), nameRec{Kind: kind})
		buckets[bk] = true
	}
	for i, path := range paths {
		oid := ownerID(path)
		po := pOwner(graph, oid)
		old := olds[i]
		var f ingest.FileFacts
		live := i < len(facts)
		if live {
			f = facts[i]
		}
		newNodes := map[string]bool{}
		var c counts
		for _, n := range f.Nodes {
			if err := checkNode(n); err != nil {
				return fmt.Errorf("file %q: %w", path, err)
			}
			id := NodeID(graph, n.QualifiedName)
			if n.External {
				external[id] = n
				touched[id] = true
				continue
			}
			if newNodes[id] {
				continue
			}
			newNodes[id] = true
			touched[id] = true
			rec := Node{Kind: n.Kind, Name: n.Name, QualifiedName: n.QualifiedName, Path: n.Path,
				Line: n.Line, EndLine: n.EndLine, Owner: path}
			if rec.Path == "" {
				rec.Path = path
			}
			a.putJSON(pNode(graph, id), "meta", rec)
			putName(id, n.Kind, n.Name)
			a.putJSON(po, "n/"+id, indexRec{Kind: n.Kind, Name: n.Name, Line: n.Line, EndLine: n.EndLine})
			if o, ok := old.nodes[id]; ok && !strings.EqualFold(o.Name, n.Name) {
				lower := strings.ToLower(o.Name)
				a.del(pName(graph, bucket(lower)), nameRow(lower, id))
			}
			c.addNode(n.Kind)
		}
		for id, o := range old.nodes {
			if !newNodes[id] {
				cands = append(cands, cand{id, path, o})
				a.del(po, "n/"+id)
				touched[id] = true
			}
		}
		newEdges := map[string]bool{}
		bySource := map[string][]string{} // from → "REL/to" (the index rows)
		for _, e := range f.Edges {
			if err := checkEdge(e); err != nil {
				return fmt.Errorf("file %q: %w", path, err)
			}
			from, to, rel := NodeID(graph, e.From), NodeID(graph, e.To), string(e.Relation)
			k := from + "/" + rel + "/" + to
			if newEdges[k] {
				continue // one edge per relation and pair per file: the first site
			}
			newEdges[k] = true
			rec := edgeRec{Path: e.Path, Line: e.Line, Column: e.Column, Dynamic: e.Dynamic}
			if rec.Path == "" {
				rec.Path = path
			}
			a.putJSON(pNode(graph, from), outRow(rel, to, oid), rec)
			a.putJSON(pNode(graph, to), inRow(rel, from, oid), rec)
			bySource[from] = append(bySource[from], rel+"/"+to)
			c.addEdge(e.Relation)
			touched[from], touched[to] = true, true
		}
		indexRows := map[string]bool{}
		for from, entries := range bySource {
			for chunk, v := range edgeGroups(entries) {
				row := edgeGroupRow(from, chunk)
				a.put(po, row, v)
				indexRows[row] = true
			}
		}
		for k := range old.edges {
			if newEdges[k] {
				continue
			}
			if p := strings.Split(k, "/"); len(p) == 3 {
				a.del(pNode(graph, p[0]), outRow(p[1], p[2], oid))
				a.del(pNode(graph, p[2]), inRow(p[1], p[0], oid))
				touched[p[0]], touched[p[2]] = true, true
			}
		}
		for _, row := range old.rows {
			if !indexRows[row] {
				a.del(po, row)
			}
		}
		occ, err := buildOccRows(graph, path, oid, f.Occurrences)
		if err != nil {
			return err
		}
		for row, v := range occ.owner {
			a.put(po, row, v)
		}
		for row := range old.occs {
			if _, ok := occ.owner[row]; !ok {
				a.del(po, row)
			}
		}
		// The nodes an occurrence names are not listed in the change
		// event (their record and edges stay): a file names hundreds.
		for id, rows := range occ.byNode {
			for row, v := range rows {
				a.put(pNode(graph, id), row, v)
			}
		}
		for id, n := range old.occTargets {
			for c := occ.targets[id]; c < n; c++ {
				a.del(pNode(graph, id), fmt.Sprintf("r/%s/%03d", oid, c))
			}
		}
		// Diagnostics ride in the file row unless they make it too big.
		var spilled []string
		if live {
			rec := File{File: f.File}
			data, _ := json.Marshal(rec)
			if len(pFiles(graph))+1+len(path)+len(data) > kv.MaxPairSize-64 {
				spilled = rec.Diagnostics
				rec.Diagnostics = nil
				rec.Spilled = len(spilled)
			}
			for j, d := range spilled {
				if len(d) > maxDiagnostic {
					d = d[:maxDiagnostic]
				}
				a.put(po, fmt.Sprintf("d/%06d", j), []byte(d))
			}
			last.putJSON(pFiles(graph), path, rec)
			last.putJSON(pGraph(graph), "stats/"+oid, c)
			last.put(pGraph(graph), "owner/"+oid, []byte(path))
		} else {
			last.del(pFiles(graph), path)
			last.del(pGraph(graph), "stats/"+oid)
			last.del(pGraph(graph), "owner/"+oid)
		}
		for _, row := range old.diags {
			var j int
			if _, err := fmt.Sscanf(row, "d/%d", &j); err != nil || j >= len(spilled) {
				a.del(po, row)
			}
		}
	}

	// External nodes are written once and never taken from their owner.
	if len(external) > 0 {
		ids := make([]string, 0, len(external))
		keys := make([][]byte, 0, len(external))
		for id := range external {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			keys = append(keys, kv.Key(pNode(graph, id), "meta"))
		}
		vals, err := s.getMany(ctx, keys)
		if err != nil {
			return err
		}
		for i, id := range ids {
			if vals[i] != nil {
				continue
			}
			n := external[id]
			a.putJSON(pNode(graph, id), "meta", Node{Kind: n.Kind, Name: n.Name, QualifiedName: n.QualifiedName,
				Path: n.Path, Line: n.Line, EndLine: n.EndLine, External: true, Owner: extOwner})
			putName(id, n.Kind, n.Name)
			a.putJSON(pOwner(graph, extOID), "n/"+id, indexRec{Kind: n.Kind, Name: n.Name})
		}
	}

	// A removed node goes only if its file still owns it: another file or
	// an API mutation may have taken it over.
	if len(cands) > 0 {
		keys := make([][]byte, len(cands))
		for i, c := range cands {
			keys[i] = kv.Key(pNode(graph, c.id), "meta")
		}
		vals, err := s.getMany(ctx, keys)
		if err != nil {
			return err
		}
		for i, c := range cands {
			if vals[i] == nil {
				continue
			}
			var n Node
			if err := json.Unmarshal(vals[i], &n); err != nil {
				return fmt.Errorf("node %s: %w", c.id, err)
			}
			if n.Owner != c.owner {
				continue
			}
			a.del(pNode(graph, c.id), "meta")
			lower := strings.ToLower(n.Name)
			a.del(pName(graph, bucket(lower)), nameRow(lower, c.id))
		}
	}
	for bk := range buckets {
		a.put(pGraph(graph), "b/"+bk, one)
	}
	if err := s.flush(ctx, &a); err != nil {
		return err
	}
	s.touch(&last, graph)
	if err := s.flush(ctx, &last); err != nil {
		return err
	}
	s.publish(ctx, graph, FilesChanged, sortedKeys(touched))
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
