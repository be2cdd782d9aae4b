package golang

import (
	"path/filepath"
	"testing"

	"github.com/grafo/grafo/ingest/ingesttest"
)

// Ingesting a directory inside a module (no go.mod of its own) analyses
// its packages as part of the enclosing module.
func TestSubdirectoryOfModule(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"go.mod":     "module example.com/m\n\ngo 1.22\n",
		"top.go":     "package m\n\nfunc Top() {}\n",
		"sub/a/a.go": "package a\n\nimport \"example.com/m/sub/b\"\n\nfunc A() { b.B() }\n",
		"sub/b/b.go": "package b\n\nfunc B() {}\n",
		"other/o.go": "package other\n\nfunc O() {}\n",
	} {
		ingesttest.WriteFile(t, dir, name, src)
	}
	facts := extractAll(t, filepath.Join(dir, "sub"), "cha")
	nodes, calls := map[string]bool{}, map[string]bool{}
	for _, ff := range facts {
		for _, n := range ff.Nodes {
			nodes[n.QualifiedName] = true
		}
		for _, e := range ff.Edges {
			calls[e.From+" "+string(e.Relation)+" "+e.To] = true
		}
	}
	if !nodes["example.com/m/sub/a.A"] || !nodes["example.com/m/sub/b.B"] {
		t.Fatalf("nodes of the subdirectory missing: %v", nodes)
	}
	if nodes["example.com/m.Top"] || nodes["example.com/m/other.O"] {
		t.Fatalf("nodes outside the ingested directory: %v", nodes)
	}
	if !calls["example.com/m/sub/a.A CALLS example.com/m/sub/b.B"] {
		t.Fatalf("call A → B missing: %v", calls)
	}
}
