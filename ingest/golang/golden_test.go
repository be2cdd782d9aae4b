package golang

import (
	"flag"
	"testing"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
)

var update = flag.Bool("update", false, "rewrite the expected sections of testdata/*.txtar (review every line by hand)")

// TestGolden compares the facts of each testdata/*.txtar fixture with its
// expected section; a "callgraph" section picks static, cha or vta.
func TestGolden(t *testing.T) {
	ingesttest.Golden(t, New(), "testdata/*.txtar", *update)
}

func extractAll(t *testing.T, dir, algo string) []ingest.FileFacts {
	return ingesttest.ExtractAll(t, New(), dir, algo)
}
