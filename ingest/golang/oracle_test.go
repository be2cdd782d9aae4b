package golang

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/go/callgraph/static"
	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
)

// TestOracle checks the graph of real modules nobody here wrote (copied
// from the module cache into testdata/oracle/*.txtar) against answers computed
// independently from go/packages, go/ssa and x/tools' static call graph:
// every static call edge between the module's functions is a CALLS edge,
// and every types.Implements pair between a type of the module and a
// non-empty interface in scope (the module's, the exported ones of the
// packages it imports directly, error) is a REALIZATION edge. Recall must
// be 100%.
func TestOracle(t *testing.T) {
	for _, mod := range []string{"uuid", "golang-lru"} {
		t.Run(mod, func(t *testing.T) {
			dir := ingesttest.Unpack(t, filepath.Join("testdata", "oracle", mod+".txtar"))
			t0 := time.Now()
			facts := extractAll(t, dir, "cha")
			t.Logf("ingest %v", time.Since(t0))
			got := map[string]bool{}
			nodes := map[string]bool{}
			for _, ff := range facts {
				for _, n := range ff.Nodes {
					nodes[n.QualifiedName] = true
				}
				for _, e := range ff.Edges {
					got[e.From+" "+string(e.Relation)+" "+e.To] = true
				}
			}
			// No dangling edge: both ends of every edge are nodes.
			for _, ff := range facts {
				for _, e := range ff.Edges {
					if !nodes[e.From] || !nodes[e.To] {
						t.Errorf("dangling edge %s %s %s", e.From, e.Relation, e.To)
					}
				}
			}
			t0 = time.Now()
			pkgs := oracleLoad(t, dir)
			t.Logf("oracle load %v", time.Since(t0))
			calls := oracleCalls(t, dir, pkgs)
			reals := oracleRealizations(dir, pkgs)
			if len(calls) < 20 || len(reals) < 2 {
				t.Fatalf("oracle too small to judge: %d calls, %d realizations", len(calls), len(reals))
			}
			for _, want := range [][]string{calls, reals} {
				missed := 0
				for _, w := range want {
					if !got[w] {
						missed++
						t.Errorf("missing: %s", w)
					}
				}
				t.Logf("recall %d/%d", len(want)-missed, len(want))
			}
		})
	}
}

func oracleLoad(t *testing.T, dir string) []*packages.Package {
	t.Helper()
	// Dependencies from source without bodies (faster than export data
	// on a cold build cache): the static call graph needs no body outside
	// the module.
	cfg := &packages.Config{Mode: packages.LoadAllSyntax,
		ParseFile: func(fset *token.FileSet, name string, src []byte) (*ast.File, error) {
			f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
			if f != nil && !inModule(dir, name) {
				for _, d := range f.Decls {
					if fd, ok := d.(*ast.FuncDecl); ok {
						fd.Body = nil
					}
				}
			}
			return f, err
		}, Dir: dir, Tests: true,
		Env: append(os.Environ(), "GOWORK=off")}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		t.Fatal(err)
	}
	// Dependencies without bodies report unused imports; the module's
	// own packages must be clean.
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		if len(p.CompiledGoFiles) > 0 && inModule(dir, p.CompiledGoFiles[0]) && len(p.Errors) > 0 {
			t.Fatalf("%s does not type-check: %v", p.ID, p.Errors)
		}
		p.IllTyped = false // so that ssautil builds the module's packages
	})
	return pkgs
}

// inModule reports whether a position's file is a .go file of the module
// (not a generated test main).
func inModule(dir, file string) bool {
	return strings.HasPrefix(file, dir+string(filepath.Separator)) && strings.HasSuffix(file, ".go")
}

// oracleCalls lists "F CALLS G" for every static call edge between two
// functions of the module, named as docs/mapping.md says: a closure by its
// enclosing named function (or pkg.init@file.go inside func init() and
// package-level variable initialisers), an instantiation by its generic
// function, a method by pkg.Type.Method; a closure called by the function
// that defines it is no edge.
func oracleCalls(t *testing.T, dir string, pkgs []*packages.Package) []string {
	prog, _ := ssautil.Packages(pkgs, 0)
	prog.Build()
	cg := static.CallGraph(prog)
	name := func(fn *ssa.Function, at string) (string, bool) {
		anon := false
		for fn.Parent() != nil {
			fn, anon = fn.Parent(), true
		}
		if fn.Origin() != nil {
			fn = fn.Origin()
		}
		pos := prog.Fset.Position(fn.Pos())
		if fn.Synthetic == "package initializer" || strings.HasPrefix(fn.Name(), "init#") {
			return fn.Pkg.Pkg.Path() + ".init@" + filepath.Base(at), anon
		}
		if fn.Synthetic != "" || !inModule(dir, pos.Filename) {
			return "", anon
		}
		if recv := fn.Signature.Recv(); recv != nil {
			n := namedOf(recv.Type())
			return fn.Pkg.Pkg.Path() + "." + n.Obj().Name() + "." + fn.Name(), anon
		}
		return fn.Pkg.Pkg.Path() + "." + fn.Name(), anon
	}
	set := map[string]bool{}
	for fn, node := range cg.Nodes {
		if fn == nil {
			continue
		}
		for _, e := range node.Out {
			site := prog.Fset.Position(e.Site.Pos()).Filename
			if !inModule(dir, site) {
				continue
			}
			from, _ := name(fn, site)
			to, anon := name(e.Callee.Func, prog.Fset.Position(e.Callee.Func.Pos()).Filename)
			if from == "" || to == "" || anon && from == to {
				continue
			}
			set[from+" CALLS "+to] = true
		}
	}
	return sorted(set)
}

// oracleRealizations lists "T REALIZATION I" for every named non-generic
// type T of the module and non-empty named interface I in scope with T
// or *T implementing I.
func oracleRealizations(dir string, pkgs []*packages.Package) []string {
	var types_, ifaces []*types.TypeName
	seen := map[*types.TypeName]bool{}
	add := func(tn *types.TypeName, list *[]*types.TypeName) {
		if !seen[tn] {
			seen[tn] = true
			*list = append(*list, tn)
		}
	}
	ifaces = append(ifaces, types.Universe.Lookup("error").(*types.TypeName))
	for _, p := range pkgs {
		if len(p.CompiledGoFiles) == 0 || !inModule(dir, p.CompiledGoFiles[0]) {
			continue
		}
		for _, tn := range scopeTypes(p.Types) {
			if isInterfaceType(tn) {
				add(tn, &ifaces)
			} else {
				add(tn, &types_)
			}
		}
		for _, imp := range p.Imports {
			if len(imp.CompiledGoFiles) > 0 && inModule(dir, imp.CompiledGoFiles[0]) {
				continue
			}
			for _, tn := range scopeTypes(imp.Types) {
				if tn.Exported() && isInterfaceType(tn) {
					add(tn, &ifaces)
				}
			}
		}
	}
	set := map[string]bool{}
	for _, tn := range types_ {
		for _, i := range ifaces {
			if implementsNonEmpty(tn, i) {
				set[typeQN(tn)+" "+string(ingest.Realization)+" "+typeQN(i)] = true
			}
		}
	}
	return sorted(set)
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// scopeTypes are the package-level, non-alias, non-generic named types of p.
func scopeTypes(p *types.Package) []*types.TypeName {
	var out []*types.TypeName
	for _, name := range p.Scope().Names() {
		tn, ok := p.Scope().Lookup(name).(*types.TypeName)
		if !ok || tn.IsAlias() {
			continue
		}
		if n, ok := tn.Type().(*types.Named); ok && n.TypeParams().Len() == 0 {
			out = append(out, tn)
		}
	}
	return out
}

func isInterfaceType(tn *types.TypeName) bool { return types.IsInterface(tn.Type()) }

func implementsNonEmpty(t, i *types.TypeName) bool {
	it := i.Type().Underlying().(*types.Interface)
	return it.NumMethods() > 0 && (types.Implements(t.Type(), it) || types.Implements(types.NewPointer(t.Type()), it))
}
