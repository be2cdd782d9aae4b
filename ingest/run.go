package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configure Run. The zero value is usable: Go call graphs by CHA,
// vendor/ and testdata/ skipped, no progress output, no logging, the
// registered frontends.
type Options struct {
	// Callgraph is the algorithm that resolves dynamic calls: "static"
	// (none: only the interface method itself), "cha" (default) or "vta".
	Callgraph string
	// IncludeVendor and IncludeTestdata walk vendor/ and testdata/.
	IncludeVendor, IncludeTestdata bool
	// Exclude holds extra .gitignore-style patterns (see WalkOptions).
	Exclude []string
	// MaxFileSize is the largest file a frontend is given, in bytes;
	// larger ones are recorded (checksums, and a diagnostic saying why)
	// but not analysed. 0 means DefaultMaxFileSize, negative no limit.
	MaxFileSize int64
	// MaxDepth bounds how deep the walk goes (WalkOptions.MaxDepth): 0
	// means DefaultMaxDepth, negative no limit.
	MaxDepth int
	// Progress receives progress output; nil means none. A terminal gets a
	// redrawn one-line bar, anything else plain lines.
	Progress io.Writer
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Frontends overrides the registered frontends (Register) when non-nil.
	Frontends []Frontend
	// NoOccurrences leaves identifiers' occurrences out of the facts
	// written: a smaller graph and a faster ingest, but nothing answers at
	// a position (symbolAt, references, grafo lsp). It applies to the
	// files this run writes; unchanged files keep what the graph holds.
	// False (the zero value) records them.
	NoOccurrences bool
}

// Summary is what one Run did.
type Summary struct {
	Graph                                   string
	Files, New, Changed, Unchanged, Deleted int
	Nodes, Edges                            int // written
	Refreshed                               int // unchanged files re-analysed whose facts changed, so were rewritten
	Narrow                                  int // packages re-analysed alone (Result.Narrow), not with the whole tree
	Diagnostics                             int // on written files
	Retries                                 int // batches sent again after the sink answered unavailable
	Languages                               []Language
	Unsupported                             map[string]int    // language → files left out: frontend not compiled in
	UnsupportedWhy                          map[string]string // language → why its frontend is not in this binary, when known
	Withheld                                map[string]int    // reason (WithheldSymlink, …) → paths left out
	WalkHash, Load, Analyse, Write, Total   time.Duration
}

// String prints the summary on a few lines for the CLI.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph %s: %d files (%d new, %d changed, %d unchanged, %d deleted)\n",
		s.Graph, s.Files, s.New, s.Changed, s.Unchanged, s.Deleted)
	// Records sent for the changed files, not what the graph then holds: a
	// node or edge that several files produce is sent with each and stored
	// once (grafo ingest prints the stored totals after this).
	fmt.Fprintf(&b, "written: %d node and %d edge records for the changed files; %d diagnostics\n", s.Nodes, s.Edges, s.Diagnostics)
	if s.Narrow > 0 {
		fmt.Fprintf(&b, "re-analysed: only the changed files' %d package(s); the change reaches no other file\n", s.Narrow)
	}
	if s.Retries > 0 {
		fmt.Fprintf(&b, "sent again: %d batches the node answered unavailable\n", s.Retries)
	}
	if s.Refreshed > 0 {
		fmt.Fprintf(&b, "re-analysed: %d unchanged files whose facts the change altered\n", s.Refreshed)
	}
	if len(s.Languages) > 0 {
		var ls []string
		for _, l := range s.Languages {
			ls = append(ls, strings.TrimSpace(l.Name+" "+l.Version))
		}
		fmt.Fprintf(&b, "languages: %s\n", strings.Join(ls, ", "))
	}
	if len(s.Unsupported) > 0 {
		var us, why []string
		for l, n := range s.Unsupported {
			if r := s.UnsupportedWhy[l]; r != "" {
				why = append(why, fmt.Sprintf("not ingested: %s (%d files): %s\n", l, n, r))
				continue
			}
			us = append(us, fmt.Sprintf("%s (%d files)", l, n))
		}
		sort.Strings(us)
		sort.Strings(why)
		if len(us) > 0 {
			fmt.Fprintf(&b, "not ingested, no frontend compiled in: %s\n", strings.Join(us, ", "))
		}
		b.WriteString(strings.Join(why, ""))
	}
	if len(s.Withheld) > 0 {
		var ws []string
		for why, n := range s.Withheld {
			ws = append(ws, fmt.Sprintf("%d × %s", n, why))
		}
		sort.Strings(ws)
		fmt.Fprintf(&b, "left out: %s\n", strings.Join(ws, ", "))
	}
	fmt.Fprintf(&b, "time: walk+hash %s, load %s, analyse %s, write %s, total %s",
		rd(s.WalkHash), rd(s.Load), rd(s.Analyse), rd(s.Write), rd(s.Total))
	return b.String()
}

func rd(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// Run ingests the tree at root into graph through sink: it walks and
// checksums the tree, diffs it against sink.Files, deletes the facts of
// deleted files, has each frontend re-analyse what the change can affect
// and writes the facts of new and changed files, and of unchanged files
// whose facts changed, in concurrent batches as they come; then it records
// the languages. An unchanged tree writes nothing at all (and loads no
// code). Frontends come from Options.Frontends, else from Register.
func Run(ctx context.Context, root, graph string, sink Sink, opts Options) (Summary, error) {
	r, err := newRun(root, graph, sink, opts)
	if err != nil {
		return r.sum, err
	}
	defer r.prog.stop()
	if err := r.walk(ctx); err != nil {
		return r.sum, err
	}
	diff, err := r.diff(ctx)
	if err != nil || diff.Empty() {
		// Nothing to write, not even the languages: updatedAt must not move.
		r.sum.Total = time.Since(r.start)
		return r.sum, err
	}
	if err := r.deleteFiles(ctx, diff.Deleted); err != nil {
		return r.sum, err
	}
	r.plan(diff)
	if err := r.analyse(ctx); err != nil {
		return r.sum, err
	}
	return r.sum, r.finish(ctx)
}

// run is the state of one Run, phase to phase.
type run struct {
	start time.Time
	abs   string // the tree's root, absolute, links resolved
	graph string
	sink  Sink
	opts  Options
	log   *slog.Logger
	prog  *progress
	sum   Summary

	fronts   []Frontend
	maxSize  int64
	withheld map[string]string // path → why; frontends must not read these
	present  map[string]bool   // every path on disk
	owner    map[string]int    // claimed path → index in fronts
	claimed  []string
	files    []File          // claimed files, checksummed
	byPath   map[string]File // the same, by path, with their language
	held     map[string]File // what the graph holds (Sink.Files)

	perFront   [][]File          // each frontend's files
	changedPer []map[string]bool // each frontend's new and changed paths
	deletedPer [][]string        // each frontend's deleted paths
	tooLarge   []FileFacts       // new or changed files recorded without analysis

	w     *writer
	wmu   sync.Mutex // guards sum's counters updated by the writer
	langs map[string]Language
	wrote map[string]File // records queued for writing, by path
}

// newRun checks the options and resolves root.
func newRun(root, graph string, sink Sink, opts Options) (*run, error) {
	r := &run{start: time.Now(), graph: graph, sink: sink, opts: opts,
		sum:      Summary{Graph: graph, Unsupported: map[string]int{}, UnsupportedWhy: map[string]string{}, Withheld: map[string]int{}},
		withheld: map[string]string{}, owner: map[string]int{}, langs: map[string]Language{}}
	r.log = opts.Logger
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	switch r.opts.Callgraph {
	case "":
		r.opts.Callgraph = "cha"
	case "static", "cha", "vta":
	default:
		return r, fmt.Errorf("%w: callgraph %q (want static, cha or vta)", ErrBadOption, opts.Callgraph)
	}
	r.fronts = opts.Frontends
	if r.fronts == nil {
		r.fronts = Registered()
	}
	if len(r.fronts) == 0 {
		return r, ErrNoFrontend
	}
	r.maxSize = opts.MaxFileSize
	if r.maxSize == 0 {
		r.maxSize = DefaultMaxFileSize
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return r, fmt.Errorf("ingest: %w", err)
	}
	if r.abs, err = filepath.EvalSymlinks(abs); err != nil {
		return r, fmt.Errorf("ingest: %w", err)
	}
	r.prog = newProgress(opts.Progress)
	return r, nil
}

// withhold records that path p is left out, and why.
func (r *run) withhold(p, why string) {
	r.withheld[p] = why
	r.sum.Withheld[why]++
	if why != WithheldSymlink { // links are common and harmless to skip
		r.log.Warn("left out", "path", p, "reason", why)
	}
}

// walk lists the tree and gives each file to the first frontend that
// claims it; files of languages without a frontend here are counted.
func (r *run) walk(ctx context.Context) error {
	paths, err := Walk(ctx, r.abs, WalkOptions{IncludeVendor: r.opts.IncludeVendor, IncludeTestdata: r.opts.IncludeTestdata,
		Exclude: r.opts.Exclude, MaxDepth: r.opts.MaxDepth, Withheld: r.withhold})
	if err != nil {
		return err
	}
	r.present = make(map[string]bool, len(paths))
	for _, p := range paths {
		r.present[p] = true
		i := slices.IndexFunc(r.fronts, func(f Frontend) bool { return f.Claims(p) })
		if i >= 0 {
			r.owner[p] = i
			r.claimed = append(r.claimed, p)
			continue
		}
		// A language whose frontend is here but passed the file over
		// (Go's _dir and .dir convention) is not "unsupported".
		if l := languageOf(p); l != "" && !slices.ContainsFunc(r.fronts, func(f Frontend) bool { return f.Name() == l }) {
			r.sum.Unsupported[l]++
		}
	}
	for l, n := range r.sum.Unsupported {
		if why := unavailableReason(l); why != "" {
			r.sum.UnsupportedWhy[l] = why
			r.log.Warn("frontend not in this binary", "language", l, "files", n, "reason", why)
			continue
		}
		// No Grafo build reads this language (JavaScript in a Go tree):
		// nothing the operator can fix, so not a warning.
		r.log.Info("no frontend for this language; its files are left out", "language", l, "files", n)
	}
	return nil
}

// diff checksums the claimed files and compares them with the graph's.
func (r *run) diff(ctx context.Context) (Diff, error) {
	r.prog.setPhase("hash")
	var err error
	if r.files, err = checksumAll(ctx, r.abs, r.claimed, nil); err != nil {
		return Diff{}, err
	}
	if r.held, err = r.sink.Files(ctx, r.graph); err != nil {
		return Diff{}, fmt.Errorf("ingest: files of %s: %w", r.graph, err)
	}
	diff := Compare(r.files, r.present, r.held)
	s := &r.sum
	s.Files, s.New, s.Changed = len(r.files), len(diff.New), len(diff.Changed)
	s.Unchanged, s.Deleted = len(diff.Unchanged), len(diff.Deleted)
	s.WalkHash = time.Since(r.start)
	r.log.Info("diff", "graph", r.graph, "files", s.Files, "new", s.New, "changed", s.Changed,
		"unchanged", s.Unchanged, "deleted", s.Deleted)
	return diff, nil
}

// deleteFiles removes the facts of deleted files. Deletions go first: a
// declaration that moved from a deleted file to a new one must not be
// removed after it was written again.
func (r *run) deleteFiles(ctx context.Context, deleted []string) error {
	r.prog.setPhase("delete")
	for i := 0; i < len(deleted); i += deleteBatch {
		batch := deleted[i:min(i+deleteBatch, len(deleted))]
		if err := r.sink.DeleteFiles(ctx, r.graph, batch); err != nil {
			return fmt.Errorf("ingest: delete %d files of %s: %w", len(batch), r.graph, err)
		}
	}
	return nil
}

// plan splits the files among the frontends and marks what each must
// re-analyse; files over the size limit are recorded without analysis.
func (r *run) plan(diff Diff) {
	r.byPath = make(map[string]File, len(r.files))
	r.perFront = make([][]File, len(r.fronts))
	r.changedPer = make([]map[string]bool, len(r.fronts))
	for i := range r.changedPer {
		r.changedPer[i] = map[string]bool{}
	}
	for _, f := range r.files {
		i := r.owner[f.Path]
		f.Language = r.fronts[i].Name()
		r.byPath[f.Path] = f
		if r.maxSize > 0 && f.Size > r.maxSize {
			r.withhold(f.Path, WithheldSize)
			continue
		}
		r.perFront[i] = append(r.perFront[i], f)
	}
	r.deletedPer = make([][]string, len(r.fronts))
	for _, p := range diff.Deleted {
		if i := slices.IndexFunc(r.fronts, func(f Frontend) bool { return f.Claims(p) }); i >= 0 {
			r.deletedPer[i] = append(r.deletedPer[i], p)
		}
	}
	for _, f := range slices.Concat(diff.New, diff.Changed) {
		if r.withheld[f.Path] == WithheldSize {
			// Recorded with its checksums, so a re-ingest sees it
			// unchanged, but never handed to a frontend.
			f = r.byPath[f.Path]
			f.Diagnostics = []string{fmt.Sprintf("file of %d bytes is over the %d-byte limit (--max-file-size): not analysed", f.Size, r.maxSize)}
			r.tooLarge = append(r.tooLarge, FileFacts{File: f})
			continue
		}
		r.changedPer[r.owner[f.Path]][f.Path] = true
		r.prog.total.Add(1)
	}
}

// analyse runs each frontend with a share of the tree and writes what it
// emits as it comes.
func (r *run) analyse(ctx context.Context) error {
	r.w = newWriter(ctx, r.sink, r.graph, func(files, nodes, edges int) {
		r.wmu.Lock()
		r.sum.Nodes += nodes
		r.sum.Edges += edges
		r.wmu.Unlock()
		r.prog.records.Add(int64(files + nodes + edges))
	})
	if len(r.held) > 0 {
		// A declaration that moved between two files written in separate
		// batches must not be removed by the batch of its old file after
		// the batch of its new one wrote it: batches of a graph that has
		// facts go one at a time (a fresh graph has nothing to remove).
		r.w.sem = make(chan struct{}, 1)
	}
	for _, ff := range r.tooLarge {
		if err := r.put(ff); err != nil {
			r.w.close()
			return err
		}
	}
	r.prog.setPhase("analyse")
	for i := range r.fronts {
		if len(r.perFront[i]) == 0 {
			continue
		}
		if err := r.extract(ctx, i); err != nil {
			r.w.close()
			return err
		}
	}
	return nil
}

// extract has frontend i analyse its files. It must emit every new or
// changed file; it may emit unchanged files it re-analysed because a
// change elsewhere can affect their facts, which are written only if they
// differ from what the graph holds (File.Facts). A new or changed file it
// skipped is still recorded, so that the next ingest sees it unchanged.
func (r *run) extract(ctx context.Context, i int) error {
	fr, changed := r.fronts[i], r.changedPer[i]
	emitted := map[string]bool{}
	var emu sync.Mutex
	emit := func(ff FileFacts) error {
		emu.Lock()
		defer emu.Unlock()
		p := ff.File.Path
		f, ok := r.byPath[p]
		if !ok || r.owner[p] != i || r.withheld[p] != "" || emitted[p] {
			return fmt.Errorf("ingest: frontend %s emitted %q, which is not one of its files or was emitted twice", fr.Name(), p)
		}
		emitted[p] = true
		diags := scrubPaths(ff.File.Diagnostics, r.abs)
		ff.File = f
		ff.File.Diagnostics = diags
		if r.opts.NoOccurrences {
			ff.Occurrences = nil
		}
		normalise(&ff)
		if !changed[p] && r.held[p].Facts == ff.File.Facts {
			return nil // re-analysed, same facts
		}
		if !changed[p] {
			r.sum.Refreshed++
		}
		return r.put(ff)
	}
	req := Request{Root: r.abs, Files: r.perFront[i], Changed: changed, Deleted: r.deletedPer[i], Withheld: r.withheld, Callgraph: r.opts.Callgraph,
		NoOccurrences: r.opts.NoOccurrences, Logger: r.log.With("frontend", fr.Name()), Parsed: func(n int) { r.prog.parsed.Add(int64(n)) }, Held: r.held}
	res, err := fr.Extract(ctx, req, emit)
	if err != nil {
		return fmt.Errorf("ingest: %s frontend: %w", fr.Name(), err)
	}
	var missing []string
	for p := range changed {
		if !emitted[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	for _, p := range missing {
		if err := emit(FileFacts{File: File{Path: p,
			Diagnostics: []string{"frontend " + fr.Name() + " produced no facts for this file"}}}); err != nil {
			return err
		}
	}
	r.sum.Load += res.Load
	r.sum.Analyse += res.Analyse
	r.sum.Narrow += res.Narrow
	for _, l := range res.Languages {
		r.langs[l.Name] = l
	}
	return nil
}

// put queues one file's facts for writing.
func (r *run) put(ff FileFacts) error {
	if ff.File.Facts == "" {
		normalise(&ff)
	}
	r.sum.Diagnostics += len(ff.File.Diagnostics)
	if r.wrote == nil {
		r.wrote = map[string]File{}
	}
	r.wrote[ff.File.Path] = ff.File
	return r.w.add(ff)
}

// finish waits for the writes and records the languages.
func (r *run) finish(ctx context.Context) error {
	r.prog.setPhase("write")
	tw := time.Now()
	_, err := r.w.close()
	r.sum.Write = time.Since(tw)
	r.sum.Retries = r.w.retries // every call has returned
	if err != nil {
		return err
	}
	for _, l := range r.langs {
		r.sum.Languages = append(r.sum.Languages, l)
	}
	sort.Slice(r.sum.Languages, func(i, j int) bool { return r.sum.Languages[i].Name < r.sum.Languages[j].Name })
	if err := r.sink.SetLanguages(ctx, r.graph, r.sum.Languages); err != nil {
		return fmt.Errorf("ingest: languages of %s: %w", r.graph, err)
	}
	if ss, ok := r.sink.(SourceSink); ok {
		if err := ss.SetSource(ctx, r.graph, DetectSource(r.abs)); err != nil {
			return fmt.Errorf("ingest: source of %s: %w", r.graph, err)
		}
	}
	r.committed()
	r.sum.Total = time.Since(r.start)
	r.log.Info("ingested", "graph", r.graph, "nodes", r.sum.Nodes, "edges", r.sum.Edges,
		"refreshed", r.sum.Refreshed, "diagnostics", r.sum.Diagnostics, "total", r.sum.Total)
	return nil
}

// committed tells the frontends that keep state between runs
// (Committer) what the graph now holds of their files: what was written,
// else what it held and still holds.
func (r *run) committed() {
	for i, fr := range r.fronts {
		c, ok := fr.(Committer)
		if !ok || len(r.perFront[i]) == 0 {
			continue
		}
		files := make(map[string]File, len(r.perFront[i]))
		for _, f := range r.perFront[i] {
			if w, ok := r.wrote[f.Path]; ok {
				files[f.Path] = w
			} else if h, ok := r.held[f.Path]; ok {
				files[f.Path] = h
			}
		}
		c.Committed(r.abs, files)
	}
}
