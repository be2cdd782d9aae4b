//go:build cgo

package python

import (
	"os"
	"path/filepath"
	"testing"
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
