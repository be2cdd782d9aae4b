//go:build cgo

package python

import (
	"flag"
	"testing"

	"github.com/grafo/grafo/ingest/ingesttest"
)

var update = flag.Bool("update", false, "rewrite the expected sections of testdata/*.txtar (review every line by hand)")

// TestGolden compares the facts of each testdata/*.txtar fixture with its
// expected section.
func TestGolden(t *testing.T) {
	ingesttest.Golden(t, New(), "testdata/*.txtar", *update)
}
