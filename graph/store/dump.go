package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv"
)

// DumpFormat is the version of the dump records below; restore refuses
// other versions.
const DumpFormat = 1

// DumpRecord is one line of a graph dump (grafo dump): exactly one field
// is set. A dump is the graph record, then every file's facts (as ingest
// wrote them: restoring is PutFiles), then the nodes and edges made through
// GraphQL mutations, in chunks. External nodes come before the files.
type DumpRecord struct {
	Graph *DumpGraph        `json:"graph,omitempty"`
	File  *ingest.FileFacts `json:"file,omitempty"`
	// API holds nodes and edges made through mutations (its File is
	// empty); restore upserts them after every file.
	API *ingest.FileFacts `json:"api,omitempty"`
	// External holds nodes defined outside the tree; they ride along with
	// any file's facts on restore (shared, never removed with a file).
	External []ingest.Node `json:"external,omitempty"`
}

// DumpGraph is a dump's first record.
type DumpGraph struct {
	Format    int               `json:"format"`
	ID        string            `json:"id"`
	CreatedAt time.Time         `json:"createdAt"`
	Languages []ingest.Language `json:"languages"`
	// Source is where the graph was ingested from, when recorded.
	Source *ingest.Source `json:"source,omitempty"`
}

// dumpChunk bounds the nodes or edges one API record holds and the rows
// read before their nodes are fetched, so a dump runs in memory
// independent of the graph's size (but for the file list).
const dumpChunk = 2000

// dumpWindow is how many files a dump reads at once.
const dumpWindow = 8

// Dump streams graph to emit, one record at a time.
func (s *Store) Dump(ctx context.Context, graph string, emit func(*DumpRecord) error) error {
	m, err := s.Graph(ctx, graph)
	if err != nil {
		return err
	}
	src, err := s.Source(ctx, graph)
	if err != nil {
		return err
	}
	if err := emit(&DumpRecord{Graph: &DumpGraph{Format: DumpFormat, ID: m.ID, CreatedAt: m.CreatedAt, Languages: m.Languages, Source: src}}); err != nil {
		return err
	}
	ext, err := s.ownerFacts(ctx, graph, extOwner)
	if err != nil {
		return err
	}
	for _, f := range ext {
		if len(f.Nodes) > 0 {
			if err := emit(&DumpRecord{External: f.Nodes}); err != nil {
				return err
			}
		}
	}
	files, err := s.ListFiles(ctx, graph)
	if err != nil {
		return err
	}
	if err := s.dumpFiles(ctx, graph, files, emit); err != nil {
		return err
	}
	facts, err := s.ownerFacts(ctx, graph, apiOwner)
	if err != nil {
		return err
	}
	for i := range facts {
		if len(facts[i].Nodes)+len(facts[i].Edges) == 0 {
			continue
		}
		if err := emit(&DumpRecord{API: &facts[i]}); err != nil {
			return err
		}
	}
	return nil
}

// ownerFacts reads back what owner contributed to graph: its nodes and its
// edges with their positions, and the external nodes those edges reach.
// File owners give one record; the API owner one per chunk. (Chunks of a
// file owner are merged, since PutFiles replaces a file as a unit.)
func (s *Store) ownerFacts(ctx context.Context, graph, owner string) ([]ingest.FileFacts, error) {
	oid := ownerID(owner)
	var out []ingest.FileFacts
	var nodeIDs []string
	type edgeID struct{ from, rel, to string }
	var edges []edgeID
	flush := func() error {
		if len(nodeIDs)+len(edges) == 0 {
			return nil
		}
		ff, err := s.facts(ctx, graph, oid, nodeIDs, func(yield func(from, rel, to string)) {
			for _, e := range edges {
				yield(e.from, e.rel, e.to)
			}
		})
		if err != nil {
			return err
		}
		if owner != apiOwner && owner != extOwner && len(out) == 1 {
			out[0].Nodes = append(out[0].Nodes, ff.Nodes...)
			out[0].Edges = append(out[0].Edges, ff.Edges...)
		} else {
			out = append(out, ff)
		}
		nodeIDs, edges = nodeIDs[:0], edges[:0]
		return nil
	}
	rows := ownerRows{
		node: func(id string, _ []byte) error {
			nodeIDs = append(nodeIDs, id)
			return nil
		},
		edge: func(from, rel, to string) { edges = append(edges, edgeID{from, rel, to}) },
	}
	err := s.scanAll(ctx, prefix(pOwner(graph, oid)), func(row string, v []byte) error {
		if err := rows.visit(row, v); err != nil {
			return fmt.Errorf("dump: %w", err)
		}
		if len(nodeIDs) >= dumpChunk || len(edges) >= dumpChunk {
			return flush()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		out = append(out, ingest.FileFacts{})
	}
	return out, nil
}

// facts loads the nodes and edges (by id) of one chunk of an owner's index
// into ingest records: qualified names for edge ends, positions from the
// edge rows, external nodes reached by the edges included.
func (s *Store) facts(ctx context.Context, graph, oid string, nodeIDs []string, edges func(yield func(from, rel, to string))) (ingest.FileFacts, error) {
	ff := ingest.FileFacts{Nodes: []ingest.Node{}, Edges: []ingest.Edge{}}
	need := map[string]bool{}
	for _, id := range nodeIDs {
		need[id] = true
	}
	var keys [][]byte
	type ref struct{ from, rel, to string }
	var refs []ref
	edges(func(from, rel, to string) {
		need[from], need[to] = true, true
		refs = append(refs, ref{from, rel, to})
		keys = append(keys, kv.Key(pNode(graph, from), outRow(rel, to, oid)))
	})
	ids := make([]string, 0, len(need))
	for id := range need {
		ids = append(ids, id)
	}
	ns, err := s.NodesByID(ctx, graph, ids)
	if err != nil {
		return ff, err
	}
	byID := make(map[string]*Node, len(ns))
	for i, n := range ns {
		if n != nil {
			byID[ids[i]] = n
		}
	}
	own := map[string]bool{}
	for _, id := range nodeIDs {
		if n := byID[id]; n != nil {
			own[id] = true
			ff.Nodes = append(ff.Nodes, n.record())
		}
	}
	vals, err := s.getMany(ctx, keys)
	if err != nil {
		return ff, err
	}
	for i, r := range refs {
		from, to := byID[r.from], byID[r.to]
		if from == nil || to == nil || vals[i] == nil {
			continue // a dangling index entry: nothing to restore
		}
		var er edgeRec
		if err := json.Unmarshal(vals[i], &er); err != nil {
			return ff, fmt.Errorf("dump: edge %s %s %s: %w", r.from, r.rel, r.to, err)
		}
		for _, end := range []*Node{from, to} {
			if end.External && !own[end.ID] {
				own[end.ID] = true
				ff.Nodes = append(ff.Nodes, end.record())
			}
		}
		ff.Edges = append(ff.Edges, ingest.Edge{From: from.QualifiedName, To: to.QualifiedName, Relation: ingest.Relation(r.rel),
			Path: er.Path, Line: er.Line, Column: er.Column, Dynamic: er.Dynamic})
	}
	return ff, nil
}

// record is n as ingest wrote it.
func (n *Node) record() ingest.Node {
	return ingest.Node{Kind: n.Kind, Name: n.Name, QualifiedName: n.QualifiedName, Path: n.Path,
		Line: n.Line, EndLine: n.EndLine, External: n.External}
}

// Restorer is what Restore writes through: an ingest sink (this store, or a
// node over HTTP) and upserts of mutation-made facts.
type Restorer interface {
	ingest.Sink
	UpsertAPI(ctx context.Context, graph string, facts ingest.FileFacts) error
}

// UpsertAPI writes facts as GraphQL mutations would.
func (s *Store) UpsertAPI(ctx context.Context, graph string, facts ingest.FileFacts) error {
	if _, err := s.ensureGraph(ctx, graph); err != nil {
		return err
	}
	if len(facts.Nodes) > 0 {
		if _, err := s.UpsertNodes(ctx, graph, facts.Nodes); err != nil {
			return err
		}
	}
	if len(facts.Edges) > 0 {
		if _, err := s.UpsertEdges(ctx, graph, facts.Edges); err != nil {
			return err
		}
	}
	return nil
}

// RestoreSummary is what Restore did.
type RestoreSummary struct {
	Graph                  string
	Files, Deleted         int
	Nodes, Edges, External int
	// Retries counts batches of files sent again after the target
	// answered unavailable (a quorum that timed out on a busy cluster).
	Retries int
}

// restoreBatch bounds the files (and, roughly, bytes) of one PutFiles.
const (
	restoreBatchFiles = 64
	restoreBatchBytes = 8 << 20
)

// A restore keeps restoreInflight batches in flight, so the target's
// write path stays busy while the next batch is decoded and sent (memory:
// that many batches). A batch that fails as unavailable is sent again, up
// to restoreAttempts times in all, after pauses doubling from a second to
// restoreMaxPause (about three minutes in all): files are replaced as
// units, so sending one again is safe.
const (
	restoreInflight = 4
	restoreAttempts = 8
	restoreMaxPause = 30 * time.Second
)

// Restore loads a dump (as Dump writes it, one JSON record after another)
// into graph — the dump's own id when graph is "" — through r. It is
// idempotent: files are replaced as units, mutation-made facts upserted,
// and files the target holds that the dump does not are deleted, so the
// graph ends as the dump describes it however often it runs.
func Restore(ctx context.Context, dec *json.Decoder, graph string, r Restorer) (RestoreSummary, error) {
	head, err := readDumpHead(dec)
	if err != nil {
		return RestoreSummary{}, err
	}
	if graph == "" {
		graph = head.ID
	}
	if err := ValidGraphID(graph); err != nil {
		return RestoreSummary{}, err
	}
	rs := &restoring{r: r, graph: graph, seen: map[string]bool{}, sem: make(chan struct{}, restoreInflight)}
	defer rs.wg.Wait() // no batch outlives the call, whatever it returns
	rs.sum.Graph = graph
	if rs.before, err = r.Files(ctx, graph); err != nil {
		return rs.sum, err
	}
	for n := 2; ; n++ {
		var rec DumpRecord
		err := dec.Decode(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return rs.sum, fmt.Errorf("restore: record %d: %w", n, err)
		}
		if err := rs.record(ctx, n, &rec); err != nil {
			return rs.sum, err
		}
	}
	if err := rs.finishFiles(ctx); err != nil {
		return rs.sum, err
	}
	rs.sum.Retries = int(rs.retries.Load())
	if err := r.SetLanguages(ctx, graph, head.Languages); err != nil {
		return rs.sum, err
	}
	if ss, ok := r.(ingest.SourceSink); ok && head.Source != nil {
		if err := ss.SetSource(ctx, graph, *head.Source); err != nil {
			return rs.sum, err
		}
	}
	return rs.sum, nil
}

// dumpFiles emits the files' facts in order, reading a window of them at
// a time in parallel (each is a few round trips): memory holds one window.
func (s *Store) dumpFiles(ctx context.Context, graph string, files []*File, emit func(*DumpRecord) error) error {
	for start := 0; start < len(files); start += dumpWindow {
		win := files[start:min(start+dumpWindow, len(files))]
		recs := make([]ingest.FileFacts, len(win))
		err := s.parallel(ctx, len(win), func(ctx context.Context, i int) error {
			f := win[i]
			facts, err := s.ownerFacts(ctx, graph, f.Path)
			if err != nil {
				return err
			}
			if len(facts) > 1 {
				return fmt.Errorf("dump: file %s: owner index larger than one record", f.Path)
			}
			ff := facts[0]
			ff.File = f.File
			ff.File.Diagnostics, err = s.Diagnostics(ctx, graph, f)
			recs[i] = ff
			return err
		})
		if err != nil {
			return err
		}
		for i := range recs {
			if err := emit(&DumpRecord{File: &recs[i]}); err != nil {
				return err
			}
		}
	}
	return nil
}

// readDumpHead reads and checks the graph record a dump starts with.
func readDumpHead(dec *json.Decoder) (*DumpGraph, error) {
	var head DumpRecord
	if err := dec.Decode(&head); err != nil {
		return nil, fmt.Errorf("restore: reading the dump's first record: %w", err)
	}
	if head.Graph == nil {
		return nil, fmt.Errorf("restore: the dump does not start with a graph record (is it a grafo dump?)")
	}
	if head.Graph.Format != DumpFormat {
		return nil, fmt.Errorf("restore: dump format %d, this grafo reads format %d", head.Graph.Format, DumpFormat)
	}
	return head.Graph, nil
}

// restoring is the state of one Restore: files batched for PutFiles,
// external nodes waiting for a file to ride with, and the paths seen.
type restoring struct {
	r       Restorer
	graph   string
	sum     RestoreSummary
	before  map[string]ingest.File // the target's files before the restore
	seen    map[string]bool
	batch   []ingest.FileFacts
	size    int
	pending []ingest.Node
	// filesDone is set once every file is in: the dump puts
	// mutation-made facts last, since their edges may reach nodes of any
	// file.
	filesDone bool

	// Batches in flight: a slot of sem each; the first error and the
	// retries they made.
	sem     chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	err     error
	retries atomic.Int64
}

// record applies the n-th record of the dump.
func (rs *restoring) record(ctx context.Context, n int, rec *DumpRecord) error {
	switch {
	case rec.External != nil && !rs.filesDone:
		rs.pending = append(rs.pending, rec.External...)
		rs.sum.External += len(rec.External)
	case rec.File != nil && !rs.filesDone:
		rs.seen[rec.File.File.Path] = true
		rs.sum.Files++
		rs.sum.Nodes += len(rec.File.Nodes)
		rs.sum.Edges += len(rec.File.Edges)
		rs.batch = append(rs.batch, *rec.File)
		rs.size += 256 * (1 + len(rec.File.Nodes) + len(rec.File.Edges))
		if len(rs.batch) >= restoreBatchFiles || rs.size >= restoreBatchBytes {
			return rs.flush(ctx)
		}
	case rec.API != nil:
		if err := rs.finishFiles(ctx); err != nil {
			return err
		}
		if err := rs.r.UpsertAPI(ctx, rs.graph, *rec.API); err != nil {
			return err
		}
		rs.sum.Nodes += len(rec.API.Nodes)
		rs.sum.Edges += len(rec.API.Edges)
	default:
		return fmt.Errorf("restore: record %d is out of order or has no graph, file, api or external field", n)
	}
	return nil
}

// flush sends the batched files, the pending external nodes riding with
// the first, once one of the restoreInflight slots is free; it returns
// the first error of the batches sent so far.
func (rs *restoring) flush(ctx context.Context) error {
	if len(rs.batch) == 0 {
		return rs.failed()
	}
	if len(rs.pending) > 0 {
		rs.batch[0].Nodes = append(rs.batch[0].Nodes, rs.pending...)
		rs.pending = nil
	}
	batch := rs.batch
	rs.batch, rs.size = nil, 0
	select {
	case rs.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		defer func() { <-rs.sem }()
		if err := rs.put(ctx, batch); err != nil {
			rs.mu.Lock()
			rs.err = cmp.Or(rs.err, err)
			rs.mu.Unlock()
		}
	}()
	return rs.failed()
}

// put sends one batch, again while the target answers unavailable.
func (rs *restoring) put(ctx context.Context, batch []ingest.FileFacts) error {
	pause := time.Second
	for attempt := 1; ; attempt++ {
		err := rs.r.PutFiles(ctx, rs.graph, batch)
		if err == nil || !errors.Is(err, kv.ErrUnavailable) || attempt == restoreAttempts {
			return err
		}
		rs.retries.Add(1)
		select {
		case <-time.After(pause):
			pause = min(2*pause, restoreMaxPause)
		case <-ctx.Done():
			return err
		}
	}
}

func (rs *restoring) failed() error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.err
}

// finishFiles runs once, after the last file: it writes what is batched
// and pending and deletes the target's files the dump does not hold.
func (rs *restoring) finishFiles(ctx context.Context) error {
	if rs.filesDone {
		return nil
	}
	rs.filesDone = true
	err := rs.flush(ctx)
	// Every file is in before external nodes go alone and files go.
	rs.wg.Wait()
	if err := cmp.Or(err, rs.failed()); err != nil {
		return err
	}
	if len(rs.pending) > 0 {
		if err := rs.r.UpsertAPI(ctx, rs.graph, ingest.FileFacts{Nodes: rs.pending}); err != nil {
			return err
		}
		rs.pending = nil
	}
	var gone []string
	for p := range rs.before {
		if !rs.seen[p] {
			gone = append(gone, p)
		}
	}
	rs.sum.Deleted = len(gone)
	if len(gone) == 0 {
		return nil
	}
	return rs.r.DeleteFiles(ctx, rs.graph, gone)
}
