//go:build cgo

package python_test

import (
	"context"
	"testing"

	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	_ "github.com/grafo/grafo/ingest/golang" // registers the Go frontend
	"github.com/grafo/grafo/ingest/ingesttest"
	_ "github.com/grafo/grafo/ingest/python"
	"github.com/grafo/grafo/kv/kvtest"
)

// TestMixedTree ingests Go and Python side by side into one graph through
// ingest.Run and a real graph store: both languages are listed, both
// files' nodes and edges are stored, a re-ingest of the unchanged tree
// writes nothing, and a changed Python file alone is rewritten.
func TestMixedTree(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ingesttest.WriteFile(t, dir, "go.mod", "module example.com/m\n\ngo 1.22\n")
	ingesttest.WriteFile(t, dir, "main.go", "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(run()) }\n\nfunc run() int { return 0 }\n")
	ingesttest.WriteFile(t, dir, "pyproject.toml", "[project]\nname = \"m\"\nrequires-python = \">=3.11\"\n")
	ingesttest.WriteFile(t, dir, "tools/__init__.py", "")
	ingesttest.WriteFile(t, dir, "tools/gen.py", "import json\n\nCOUNT = 0\n\n\nclass Gen:\n    def emit(self):\n        global COUNT\n        COUNT += 1\n        return json.dumps(self.load())\n\n    def load(self):\n        return {}\n")

	st := store.New(kvtest.NewStore(t), store.Options{})
	sum, err := ingest.Run(ctx, dir, "m", st, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []ingest.Language{{Name: "go", Version: "1.22"}, {Name: "python", Version: ">=3.11"}}
	if len(sum.Languages) != 2 || sum.Languages[0] != want[0] || sum.Languages[1] != want[1] {
		t.Errorf("languages = %v, want %v", sum.Languages, want)
	}
	if len(sum.Unsupported) != 0 || sum.Diagnostics != 0 {
		t.Errorf("unsupported %v, %d diagnostics", sum.Unsupported, sum.Diagnostics)
	}
	files, err := st.Files(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if files["main.go"].Language != "go" || files["tools/gen.py"].Language != "python" || files["pyproject.toml"].Language != "python" {
		t.Errorf("files = %+v", files)
	}
	stats, err := st.Stats(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	// Go: main, run, os.Exit; Python: Gen.emit, Gen.load, json.dumps.
	// Calls: main→run, main→os.Exit, emit→load, emit→json.dumps.
	if stats.ByKind[ingest.Function] != 6 || stats.ByKind[ingest.Class] != 1 || stats.ByKind[ingest.Variable] != 1 ||
		stats.ByRelation[ingest.Calls] != 4 || stats.ByRelation[ingest.Writes] != 1 {
		t.Errorf("stats = %+v", stats)
	}

	again, err := ingest.Run(ctx, dir, "m", st, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Unchanged != sum.Files || again.Nodes+again.Edges != 0 || again.Load != 0 {
		t.Errorf("unchanged re-ingest: %+v", again)
	}

	ingesttest.WriteFile(t, dir, "tools/gen.py", "def only():\n    pass\n")
	changed, err := ingest.Run(ctx, dir, "m", st, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if changed.Changed != 1 || changed.Unchanged != sum.Files-1 {
		t.Errorf("after editing gen.py: %+v", changed)
	}
	stats, err = st.Stats(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if stats.ByKind[ingest.Class] != 0 || stats.ByKind[ingest.Variable] != 0 || stats.ByRelation[ingest.Calls] != 2 {
		t.Errorf("stats after editing gen.py = %+v", stats)
	}
}
