package golang

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzSource ingests arbitrary Go source: whatever the bytes, the
// frontend must not panic, must emit the file exactly once (extractAll
// checks that), and every edge must start at a node of the graph or an
// external one.
func FuzzSource(f *testing.F) {
	for _, src := range []string{
		"package a\n\nfunc F() { G() }\n\nfunc G() {}\n",
		"package a\n\ntype T struct{ x int }\n\nfunc (t *T) M() { t.x++ }\n",
		"package a\n\nvar V = 1\n\nfunc F[T any](x T) T { V++; return x }\n\nvar _ = F(2)\n",
		"package a\n\nfunc F() { undefined() }\n",
		"package a\nfunc (",
		"",
		"\x00\xff",
	} {
		f.Add([]byte(src))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/a\n\ngo 1.22\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "a.go"), src, 0o644); err != nil {
			t.Fatal(err)
		}
		var got []string
		var edges int
		for _, ff := range extractAll(t, dir, "cha") {
			got = append(got, ff.File.Path)
			for _, e := range ff.Edges {
				edges++
				if e.From == "" || e.To == "" || e.Relation == "" {
					t.Fatalf("malformed edge: %+v", e)
				}
			}
			for _, n := range ff.Nodes {
				if n.QualifiedName == "" || n.Kind == "" {
					t.Fatalf("malformed node: %+v", n)
				}
			}
		}
		if !slices.Contains(got, "a.go") {
			t.Fatalf("a.go not emitted (got %v)", got)
		}
	})
}
