package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/remote"
	"github.com/grafo/grafo/lsp"
)

func runLSP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, server := clientFlags("lsp", "grafo lsp [--server URL] [--graph NAME] [--ingest-on-save] [--max-results N]", stderr)
	graph := fs.String("graph", "", "graph to answer from (default: the workspace folder's name)")
	onSave := fs.Bool("ingest-on-save", false, "re-ingest the workspace when the editor saves a file, before the next answer")
	verbose := fs.Bool("verbose", false, "log every request (to standard error)")
	maxResults := fs.Int("max-results", lsp.DefaultMaxResults, "most references and call sites one answer lists (editors that take partial results get every reference, page by page)")
	_, err := parseN(fs, args, 0, "lsp takes no arguments")
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	c := newClient(*server)
	if *maxResults < 1 {
		return usageError{"--max-results must be at least 1"}
	}
	cfg := lsp.Config{Client: c, Graph: *graph, Logger: log, MaxResults: *maxResults}
	if *onSave {
		sink := remote.New(c)
		cfg.Ingest = func(ctx context.Context, root, graph string) error {
			sum, err := ingest.Run(ctx, root, graph, sink, ingest.Options{Logger: log})
			if err == nil {
				log.Info("ingested on save", "graph", graph, "changed", sum.New+sum.Changed+sum.Deleted)
			}
			return err
		}
	}
	return lsp.Serve(ctx, stdio{stdout}, cfg)
}

// stdio is the editor's end of the conversation: requests on standard
// input, answers on standard output.
type stdio struct{ io.Writer }

func (stdio) Read(p []byte) (int, error) { return os.Stdin.Read(p) }
func (stdio) Close() error               { return os.Stdin.Close() }
