package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"

	"github.com/grafo/grafo/ingest"
	_ "github.com/grafo/grafo/ingest/golang" // registers the Go frontend
	_ "github.com/grafo/grafo/ingest/python" // registers the Python frontend (cgo builds only)
	"github.com/grafo/grafo/ingest/remote"
	"github.com/grafo/grafo/kv/client"
)

func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs, server := clientFlags("ingest", "grafo ingest PATH --graph NAME [--server URL] [--watch]", stderr)
	graph := fs.String("graph", "", "graph name (default: the folder's name)")
	cg := fs.String("callgraph", "cha", "call-graph algorithm for dynamic calls: static, cha or vta")
	vendor := fs.Bool("include-vendor", false, "also ingest vendor/")
	testdata := fs.Bool("include-testdata", false, "also ingest testdata/")
	noTests := fs.Bool("no-tests", false, "leave test code out: Go _test.go files and Python test modules are neither listed nor analysed")
	noOccs := fs.Bool("no-occurrences", false, "record no identifier occurrences (smaller graph, faster ingest; grafo lsp and symbolAt/references then find nothing at a position); applies to the files this ingest writes")
	var exclude listFlag
	fs.Var(&exclude, "exclude", "skip paths matching this .gitignore-style pattern, relative to PATH (repeatable), e.g. cmd/ or '*_gen.go'")
	maxSize := fs.Int64("max-file-size", ingest.DefaultMaxFileSize, "largest file analysed, in bytes; larger ones are recorded with a diagnostic (negative: no limit)")
	maxDepth := fs.Int("max-depth", ingest.DefaultMaxDepth, "deepest directory level entered below PATH (negative: no limit)")
	watch := fs.Bool("watch", false, "after the first ingest, keep re-ingesting changed, added and deleted files until interrupted")
	quiet := fs.Bool("quiet", false, "no progress output")
	verbose := fs.Bool("verbose", false, "log what each phase does (to standard error)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the ingest to this file")
	memprofile := fs.String("memprofile", "", "write a heap profile taken near the ingest's peak of live heap to this file")
	memLimit := fs.String("memory-limit", defaultIngestMemoryLimit, "soft limit of this process's memory (Go heap and stacks, e.g. 2GiB): the garbage collector runs more often near it; off = none; GOMEMLIMIT, when set, wins")
	pos, err := parseN(fs, args, 1, "ingest takes one PATH")
	if err != nil {
		return err
	}
	root := pos[0]
	if err := setMemoryLimit(*memLimit); err != nil {
		return err
	}
	if *noTests {
		exclude = append(exclude, testPatterns...)
	}
	opts := ingest.Options{Callgraph: *cg, IncludeVendor: *vendor, IncludeTestdata: *testdata, Exclude: exclude,
		MaxFileSize: *maxSize, MaxDepth: *maxDepth, NoOccurrences: *noOccs}
	if !*quiet {
		opts.Progress = stderr
	}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *memprofile != "" {
		p := startPeakProfile(*memprofile)
		defer func() {
			if perr := p.close(); perr != nil && err == nil {
				err = perr
			}
		}()
	}
	c := newClient(*server)
	if *watch {
		g, err := graphOf(root, *graph)
		if err != nil {
			return err
		}
		// A redrawn progress bar would fight the summaries printed below.
		opts.Progress = nil
		return ingest.Watch(ctx, root, g, remote.New(c), opts, ingest.WatchOptions{Ingested: func(sum ingest.Summary, err error) {
			if err != nil {
				fmt.Fprintln(stderr, "grafo: ingest:", err)
				return
			}
			fmt.Fprintln(stdout, sum.String())
		}})
	}
	sum, err := ingestTree(ctx, c, root, *graph, opts)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, strings.TrimRight(sum.String(), "\n"))
	return printStored(ctx, c, sum.Graph, stdout)
}

// printStored prints what the graph holds after an ingest, from its stats:
// the records written count what was sent, which is not what is stored.
func printStored(ctx context.Context, c *client.Client, graph string, stdout io.Writer) error {
	var out struct {
		Graph *struct {
			Stats struct{ Files, Nodes, Edges int }
		}
	}
	if err := c.GraphQL(ctx, `query($g: ID!) { graph(id: $g) { stats { files nodes edges } } }`, map[string]any{"g": graph}, &out); err != nil {
		return fmt.Errorf("reading the graph's stats: %w", err)
	}
	if out.Graph == nil {
		return fmt.Errorf("graph %s is gone after the ingest", graph)
	}
	s := out.Graph.Stats
	_, err := fmt.Fprintf(stdout, "stored: graph %s holds %d nodes and %d edges in %d files\n", graph, s.Nodes, s.Edges, s.Files)
	return err
}

// testPatterns are the walk's exclude patterns for test code: the files
// graph/store.IsTest calls test code (Node.test), so that --no-tests
// leaves out exactly what would be marked.
var testPatterns = []string{"*_test.go", "test_*.py", "*_test.py", "conftest.py", "**/tests/**/*.py", "**/test/**/*.py"}

// ingestTree ingests the directory root into graph (default: the
// directory's name) on the node c talks to. grafo ingest and the MCP ingest
// tool share it.
func ingestTree(ctx context.Context, c *client.Client, root, graph string, opts ingest.Options) (ingest.Summary, error) {
	graph, err := graphOf(root, graph)
	if err != nil {
		return ingest.Summary{}, err
	}
	return ingest.Run(ctx, root, graph, remote.New(c), opts)
}

// graphOf checks that root is a directory and names its graph: graph, or
// the directory's name.
func graphOf(root, graph string) (string, error) {
	if st, err := os.Stat(root); err != nil {
		return "", err
	} else if !st.IsDir() {
		return "", usageError{fmt.Sprintf("%s is not a directory", root)}
	}
	if graph != "" {
		return graph, nil
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	return filepath.Base(abs), nil
}
