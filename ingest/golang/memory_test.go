package golang

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/tools/go/packages"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
)

// memoryTree is a module whose external test of a imports b, which
// imports a, which has in-package tests too (so go list recompiles b for
// a's test: "b [a.test]"), and
// which imports a second module of the tree; b has an error in a body.
var memoryTree = map[string]string{
	"go.mod":       "module example.com/m\n\ngo 1.22\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ./lib\n",
	"a/a.go":       "package a\n\nimport \"example.com/lib\"\n\nfunc A() int { return lib.L() }\n",
	"a/in_test.go": "package a\n\nimport \"testing\"\n\nfunc TestIn(t *testing.T) { A() }\n",
	"a/a_test.go":  "package a_test\n\nimport (\n\t\"testing\"\n\n\t\"example.com/m/b\"\n)\n\nfunc TestA(t *testing.T) { b.B() }\n",
	"b/b.go":       "package b\n\nimport \"example.com/m/a\"\n\nfunc B() { a.A(); var s string = 1; _ = s }\n",
	"lib/go.mod":   "module example.com/lib\n\ngo 1.22\n",
	"lib/lib.go":   "package lib\n\nimport \"fmt\"\n\nfunc L() int { fmt.Println(); return 1 }\n",
}

// Only the analysed packages keep syntax and types.Info — of the latter,
// once their SSA is built, only what extraction reads — and only until
// their facts are out, which is as soon as their SSA is built; everything
// else (test-recompiled variants, the other module's packages, the
// standard library) is loaded for its types alone. Ill-typed bodies still make the packages that import them
// ill-typed, as if every package's bodies had been checked.
func TestOnlyAnalysedPackagesKeepSyntax(t *testing.T) {
	dir := t.TempDir()
	tree := map[string]bool{}
	for name, src := range memoryTree {
		ingesttest.WriteFile(t, dir, name, src)
		tree[name] = true
	}
	req := ingest.Request{Root: dir, Callgraph: "cha", Logger: slog.New(slog.DiscardHandler), Parsed: func(int) {}}
	// What the pipeline hands to early extraction (early.go): syntax, and
	// a types.Info cut to what extraction reads, once SSA is built.
	var mu sync.Mutex
	seen := map[string]bool{}
	extractHook = func(p *packages.Package) {
		mu.Lock()
		defer mu.Unlock()
		seen[p.ID] = true
		if p.Syntax == nil || p.TypesInfo == nil || len(p.TypesInfo.Defs) == 0 {
			t.Errorf("analysed package %s reached extraction without syntax or types.Info", p.ID)
			return
		}
		if p.TypesInfo.Scopes != nil || p.TypesInfo.Implicits != nil {
			t.Errorf("analysed package %s keeps the whole of its types.Info", p.ID)
		}
		for e, tv := range p.TypesInfo.Types {
			if !tv.IsType() && !tv.IsBuiltin() {
				t.Errorf("analysed package %s keeps the type of expression %T", p.ID, e)
				break
			}
		}
	}
	defer func() { extractHook = nil }()
	l, err := load(context.Background(), req, ".", tree, []string{"./..."})
	if err != nil {
		t.Fatal(err)
	}
	analysed := map[*packages.Package]bool{}
	for _, p := range l.pkgs {
		analysed[p] = true
		// Extracted as soon as it was built: its syntax and types.Info
		// are gone, its facts wait for the module's dynamic calls.
		if !seen[p.ID] || l.earlyFiles[p] == nil {
			t.Errorf("analysed package %s was not extracted while the module loaded", p.ID)
		}
		if p.Syntax != nil || p.TypesInfo != nil {
			t.Errorf("analysed package %s keeps syntax or types.Info after its early extraction", p.ID)
		}
	}
	var variant *packages.Package
	packages.Visit(l.pkgs, nil, func(p *packages.Package) {
		if p.ID == "example.com/m/b [example.com/m/a.test]" {
			variant = p
		}
		if p.Types == nil || !p.Types.Complete() {
			t.Errorf("package %s has no complete types", p.ID)
		}
		if !analysed[p] && p.PkgPath != "unsafe" && (p.Syntax != nil || p.TypesInfo != nil) {
			t.Errorf("package %s is not analysed but keeps syntax or types.Info", p.ID)
		}
	})
	checkVariant(t, l, variant)
	if l.early == nil {
		t.Error("a whole load for CHA built no SSA while checking")
	} else if l.early.leftover != 0 || l.early.err != nil {
		t.Errorf("the SSA pipeline did not take every package as its check ended: %d left over, err %v", l.early.leftover, l.early.err)
	}
	var files []string
	for name := range memoryTree {
		files = append(files, filepath.ToSlash(name))
	}
	if err := l.extract(context.Background(), req, files, func(ingest.FileFacts) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for _, p := range l.pkgs {
		if p.Syntax != nil || p.TypesInfo != nil {
			t.Errorf("package %s keeps syntax or types.Info after extraction", p.ID)
		}
	}
}

// checkVariant: b recompiled for a's test is checked without bodies, so it
// reports no error itself, yet a's test variant, which imports it, must
// count as well-typed (b's body has an error), while a and lib do.
func checkVariant(t *testing.T, l *loaded, variant *packages.Package) {
	t.Helper()
	if variant == nil {
		t.Fatal("no variant of b for a's test: the fixture no longer exercises test-recompiled packages")
	}
	if len(variant.Errors) != 0 {
		t.Errorf("variant %s was checked with bodies: %v", variant.ID, variant.Errors)
	}
	for _, p := range l.pkgs {
		// b has the error; a's external test imports b's variant.
		want := !strings.HasPrefix(p.ID, "example.com/m/b") && !strings.HasPrefix(p.ID, "example.com/m/a_test")
		if got := l.wellTyped(p); got != want {
			t.Errorf("wellTyped(%s) = %v, want %v (errors: %v)", p.ID, got, want, p.Errors)
		}
	}
}
