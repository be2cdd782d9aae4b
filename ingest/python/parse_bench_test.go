//go:build cgo

package python

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/grafo/grafo/ingest"
)

// BenchmarkParse parses and copies the .py files under $GRAFO_BENCH_PY
// (skipped when unset), e.g. a copy of the standard library.
func BenchmarkParse(b *testing.B) {
	dir := os.Getenv("GRAFO_BENCH_PY")
	if dir == "" {
		b.Skip("GRAFO_BENCH_PY not set")
	}
	var srcs [][]byte
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".py" {
			if data, err := os.ReadFile(p); err == nil {
				srcs = append(srcs, data)
			}
		}
		return nil
	})
	p := newParser()
	defer p.Close()
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			for _, s := range srcs {
				p.Parse(s, nil).Close()
			}
		}
	})
	b.Run("parse+copy", func(b *testing.B) {
		for b.Loop() {
			for _, s := range srcs {
				parse(p, s)
			}
		}
	})
}

// BenchmarkExtract runs the whole frontend (parse, declarations,
// inference, facts) over the tree at $GRAFO_BENCH_PY (skipped when
// unset), e.g. a copy of the standard library: the frontend's share of
// an ingest, without the store.
func BenchmarkExtract(b *testing.B) {
	dir := os.Getenv("GRAFO_BENCH_PY")
	if dir == "" {
		b.Skip("GRAFO_BENCH_PY not set")
	}
	ctx := context.Background()
	paths, err := ingest.Walk(ctx, dir, ingest.WalkOptions{IncludeTestdata: true})
	if err != nil {
		b.Fatal(err)
	}
	fe := New()
	var files []ingest.File
	changed := map[string]bool{}
	for _, p := range paths {
		if fe.Claims(p) {
			files = append(files, ingest.File{Path: p})
			changed[p] = true
		}
	}
	req := ingest.Request{Root: dir, Files: files, Changed: changed, Callgraph: "cha",
		Logger: slog.New(slog.DiscardHandler), Parsed: func(int) {}}
	b.ReportAllocs()
	for b.Loop() {
		edges := 0
		if _, err := fe.Extract(ctx, req, func(ff ingest.FileFacts) error { edges += len(ff.Edges); return nil }); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(edges), "edges")
	}
}
