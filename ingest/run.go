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
}

// Summary is what one Run did.
type Summary struct {
	Graph                                   string
	Files, New, Changed, Unchanged, Deleted int
	Nodes, Edges                            int // written
	Diagnostics                             int // on written files
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
	fmt.Fprintf(&b, "written: %d nodes, %d edges; %d diagnostics\n", s.Nodes, s.Edges, s.Diagnostics)
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
// deleted files, has each frontend extract the facts of new and changed
// files and writes them in concurrent batches as they come, then records
// the languages. An unchanged tree writes nothing at all (and loads no
// code). Frontends come from Options.Frontends, else from Register.
func Run(ctx context.Context, root, graph string, sink Sink, opts Options) (Summary, error) {
	start := time.Now()
	sum := Summary{Graph: graph, Unsupported: map[string]int{}, UnsupportedWhy: map[string]string{}, Withheld: map[string]int{}}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch opts.Callgraph {
	case "":
		opts.Callgraph = "cha"
	case "static", "cha", "vta":
	default:
		return sum, fmt.Errorf("%w: callgraph %q (want static, cha or vta)", ErrBadOption, opts.Callgraph)
	}
	fronts := opts.Frontends
	if fronts == nil {
		fronts = Registered()
	}
	if len(fronts) == 0 {
		return sum, ErrNoFrontend
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return sum, fmt.Errorf("ingest: %w", err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return sum, fmt.Errorf("ingest: %w", err)
	}

	prog := newProgress(opts.Progress)
	defer prog.stop()

	// Walk and checksum.
	maxSize := opts.MaxFileSize
	if maxSize == 0 {
		maxSize = DefaultMaxFileSize
	}
	withheld := map[string]string{} // path → why; frontends must not read these
	withhold := func(p, why string) {
		withheld[p] = why
		sum.Withheld[why]++
		if why != WithheldSymlink { // links are common and harmless to skip
			log.Warn("left out", "path", p, "reason", why)
		}
	}
	paths, err := Walk(ctx, abs, WalkOptions{IncludeVendor: opts.IncludeVendor, IncludeTestdata: opts.IncludeTestdata,
		Exclude: opts.Exclude, MaxDepth: opts.MaxDepth, Withheld: withhold})
	if err != nil {
		return sum, err
	}
	present := make(map[string]bool, len(paths))
	owner := map[string]int{} // path → index in fronts
	var claimed []string
	for _, p := range paths {
		present[p] = true
		found := false
		for i, f := range fronts {
			if f.Claims(p) {
				owner[p] = i
				claimed = append(claimed, p)
				found = true
				break
			}
		}
		if !found {
			// A language whose frontend is here but passed the file over
			// (Go's _dir and .dir convention) is not "unsupported".
			if l := languageOf(p); l != "" && !slices.ContainsFunc(fronts, func(f Frontend) bool { return f.Name() == l }) {
				sum.Unsupported[l]++
			}
		}
	}
	for l, n := range sum.Unsupported {
		if r := unavailableReason(l); r != "" {
			sum.UnsupportedWhy[l] = r
			log.Warn("frontend not in this binary", "language", l, "files", n, "reason", r)
			continue
		}
		log.Warn("no frontend compiled in", "language", l, "files", n)
	}
	prog.setPhase("hash")
	files, err := checksumAll(ctx, abs, claimed, nil)
	if err != nil {
		return sum, err
	}
	held, err := sink.Files(ctx, graph)
	if err != nil {
		return sum, fmt.Errorf("ingest: files of %s: %w", graph, err)
	}
	diff := Compare(files, present, held)
	sum.Files, sum.New, sum.Changed = len(files), len(diff.New), len(diff.Changed)
	sum.Unchanged, sum.Deleted = len(diff.Unchanged), len(diff.Deleted)
	sum.WalkHash = time.Since(start)
	log.Info("diff", "graph", graph, "files", sum.Files, "new", sum.New, "changed", sum.Changed,
		"unchanged", sum.Unchanged, "deleted", sum.Deleted)
	if diff.Empty() {
		// Nothing to write, not even the languages: updatedAt must not move.
		sum.Total = time.Since(start)
		return sum, nil
	}

	// Deletions go first: a declaration that moved from a deleted file to
	// a new one must not be removed after it was written again.
	prog.setPhase("delete")
	for i := 0; i < len(diff.Deleted); i += deleteBatch {
		batch := diff.Deleted[i:min(i+deleteBatch, len(diff.Deleted))]
		if err := sink.DeleteFiles(ctx, graph, batch); err != nil {
			return sum, fmt.Errorf("ingest: delete %d files of %s: %w", len(batch), graph, err)
		}
	}

	byPath := make(map[string]File, len(files))
	perFront := make([][]File, len(fronts))
	for _, f := range files {
		i := owner[f.Path]
		f.Language = fronts[i].Name()
		byPath[f.Path] = f
		if maxSize > 0 && f.Size > maxSize {
			withhold(f.Path, WithheldSize)
			continue
		}
		perFront[i] = append(perFront[i], f)
	}
	changedPer := make([]map[string]bool, len(fronts))
	for i := range changedPer {
		changedPer[i] = map[string]bool{}
	}
	var tooLarge []FileFacts
	for _, f := range append(append([]File(nil), diff.New...), diff.Changed...) {
		if withheld[f.Path] == WithheldSize {
			// Recorded with its checksums, so a re-ingest sees it
			// unchanged, but never handed to a frontend.
			f = byPath[f.Path]
			f.Diagnostics = []string{fmt.Sprintf("file of %d bytes is over the %d-byte limit (--max-file-size): not analysed", f.Size, maxSize)}
			tooLarge = append(tooLarge, FileFacts{File: f})
			continue
		}
		changedPer[owner[f.Path]][f.Path] = true
		prog.total.Add(1)
	}

	var wmu sync.Mutex // guards sum's counters updated by the writer
	w := newWriter(ctx, sink, graph, func(files, nodes, edges int) {
		wmu.Lock()
		sum.Nodes += nodes
		sum.Edges += edges
		wmu.Unlock()
		prog.records.Add(int64(files + nodes + edges))
	})
	for _, ff := range tooLarge {
		sum.Diagnostics++
		if err := w.add(ff); err != nil {
			w.close()
			return sum, err
		}
	}
	langs := map[string]Language{}
	prog.setPhase("analyse")
	for i, fr := range fronts {
		if len(perFront[i]) == 0 {
			continue
		}
		changed := changedPer[i]
		emitted := map[string]bool{}
		var emu sync.Mutex
		emit := func(ff FileFacts) error {
			emu.Lock()
			defer emu.Unlock()
			p := ff.File.Path
			if !changed[p] || emitted[p] {
				return fmt.Errorf("ingest: frontend %s emitted %q, which is not a changed file or was emitted twice", fr.Name(), p)
			}
			emitted[p] = true
			diags := scrubPaths(ff.File.Diagnostics, abs)
			ff.File = byPath[p]
			ff.File.Diagnostics = diags
			sum.Diagnostics += len(diags)
			return w.add(ff)
		}
		req := Request{Root: abs, Files: perFront[i], Changed: changed, Withheld: withheld, Callgraph: opts.Callgraph,
			Logger: log.With("frontend", fr.Name()), Parsed: func(n int) { prog.parsed.Add(int64(n)) }}
		res, err := fr.Extract(ctx, req, emit)
		if err != nil {
			w.close()
			return sum, fmt.Errorf("ingest: %s frontend: %w", fr.Name(), err)
		}
		// A changed file the frontend skipped is still recorded, so that
		// the next ingest sees it as unchanged.
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
				w.close()
				return sum, err
			}
		}
		sum.Load += res.Load
		sum.Analyse += res.Analyse
		for _, l := range res.Languages {
			langs[l.Name] = l
		}
	}
	prog.setPhase("write")
	tw := time.Now()
	_, err = w.close()
	sum.Write = time.Since(tw)
	if err != nil {
		return sum, err
	}
	for _, l := range langs {
		sum.Languages = append(sum.Languages, l)
	}
	sort.Slice(sum.Languages, func(i, j int) bool { return sum.Languages[i].Name < sum.Languages[j].Name })
	if err := sink.SetLanguages(ctx, graph, sum.Languages); err != nil {
		return sum, fmt.Errorf("ingest: languages of %s: %w", graph, err)
	}
	if ss, ok := sink.(SourceSink); ok {
		if err := ss.SetSource(ctx, graph, DetectSource(abs)); err != nil {
			return sum, fmt.Errorf("ingest: source of %s: %w", graph, err)
		}
	}
	sum.Total = time.Since(start)
	log.Info("ingested", "graph", graph, "nodes", sum.Nodes, "edges", sum.Edges,
		"diagnostics", sum.Diagnostics, "total", sum.Total)
	return sum, nil
}
