package golang

import (
	"errors"
	"fmt"
	"go/ast"
	"go/types"
	"strings"

	"golang.org/x/tools/go/callgraph"
	"golang.org/x/tools/go/callgraph/vta"
	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/types/typeutil"
)

// indexDynamic builds SSA for the well-typed packages of the module, runs
// the call-graph algorithm and keeps only what extraction needs: for each
// dynamic call site in the tree (keyed by the call's Lparen), the functions
// it may reach. The SSA program and the graph are garbage once it returns.
// SSA construction can panic on code go/types accepted only partly; that
// costs the dynamic edges of the module, not the ingest.
func (l *loaded) indexDynamic(algo string) (err error) {
	l.dyn = newCalleeIndex()
	if algo == "static" {
		return nil // no implementations to find: only the interface method
	}
	defer func() {
		if r := recover(); r != nil {
			l.dyn = newCalleeIndex()
			err = fmt.Errorf("golang: ssa: %v", r)
		}
	}()
	var (
		prog      *ssa.Program
		syntactic []*ssa.Package
		bs        *bodies
		contrib   map[string]string // made as the pipeline built the packages
	)
	if algo == "vta" || l.wholeSSA || l.early == nil {
		// VTA reads the bodies themselves (and the tests compare the
		// two): the whole program is built, and its bodies kept.
		prog, syntactic, bs = l.buildWhole(l.wellTyped)
	} else {
		// Built a package at a time while the packages were checked
		// (pipeline.go), each package's bodies summarised and dropped
		// at once: the whole program's bodies never live together.
		pl := l.early
		if pl.err != nil {
			return pl.err
		}
		prog, syntactic, bs, contrib = pl.prog, pl.syntactic, pl.bs, pl.contrib
		l.createFromTypes(prog, pl.created) // ill-typed packages, and what they import
		// The program (and the function syntax its functions keep) is
		// garbage once the index is made, before extraction starts.
		*pl = pipeline{err: errSpent}
	}

	funcs := l.treeFunctions(prog, syntactic, bs)
	cands, scope := l.candidates(prog, funcs, syntactic), l.testScope()
	objs := map[*ssa.Function]callee{}
	if algo != "vta" {
		// CHA's edges go straight to the index: the graph would also
		// hold every static call of the program, which nothing reads.
		chaEdges(funcs, cands, scope, bs, func(f *ssa.Function, _ int, site callSite, g *ssa.Function) {
			l.addDynamic(objs, f, site, g)
		})
		l.dyn.seal()
		l.record(prog, funcs, syntactic, bs, contrib) // for the next body-only re-ingest
		return nil
	}
	cg := vta.CallGraph(funcs, chaGraph(funcs, cands, scope, bs))
	for fn, node := range cg.Nodes {
		for _, e := range node.Out {
			if e.Site != nil {
				l.addDynamic(objs, fn, siteOf(e.Site.Common()), e.Callee.Func)
			}
		}
	}
	l.dyn.seal()
	return nil
}

var errSpent = errors.New("golang: the SSA program was indexed already")

// buildWhole creates and builds the module's SSA program at once, every
// body kept: the packages with syntax that build accepts from it, the
// rest (dependencies, refused packages) from types.
func (l *loaded) buildWhole(build func(*packages.Package) bool) (*ssa.Program, []*ssa.Package, *bodies) {
	prog := ssa.NewProgram(l.fset, 0)
	created := map[*types.Package]bool{}
	var syntactic []*ssa.Package
	for _, p := range l.pkgs {
		if p.Types != nil && len(p.Syntax) > 0 && !created[p.Types] && build(p) {
			created[p.Types] = true
			syntactic = append(syntactic, prog.CreatePackage(p.Types, p.Syntax, p.TypesInfo, true))
		}
	}
	l.createFromTypes(prog, created)
	prog.Build()
	return prog, syntactic, newBodies(syntactic)
}

// createFromTypes creates, from types only, every package of the program
// not created yet (dependencies, ill-typed packages).
func (l *loaded) createFromTypes(prog *ssa.Program, created map[*types.Package]bool) {
	for _, p := range l.pkgs {
		if p.Types != nil {
			createAll(prog, created, []*types.Package{p.Types})
			createAll(prog, created, p.Types.Imports())
		}
	}
}

// createAll creates, from types only, the packages ps and every package
// they import, transitively, that is not created yet.
func createAll(prog *ssa.Program, created map[*types.Package]bool, ps []*types.Package) {
	for _, p := range ps {
		if !created[p] {
			created[p] = true
			prog.CreatePackage(p, nil, nil, true)
			createAll(prog, created, p.Imports())
		}
	}
}

// addDynamic records that the call site of caller may reach g, if it is a
// dynamic call site of the tree. objs caches the callee of each function.
func (l *loaded) addDynamic(objs map[*ssa.Function]callee, caller *ssa.Function, c callSite, g *ssa.Function) {
	// Wrappers and thunks repeat their method's calls; the package
	// initializer is kept for calls in variable initialisers.
	if caller == nil || caller.Synthetic != "" && caller.Synthetic != "package initializer" && caller.Object() == nil {
		return
	}
	// Direct calls of declared functions are static in the syntax
	// too; keep the rest, including calls SSA resolved through a
	// closure or bound method (g := x.M; g()), which the syntax
	// sees as calls of a function value.
	if c.direct || !c.pos.IsValid() {
		return
	}
	if l.rel(c.pos) == "" {
		return
	}
	ce, ok := objs[g]
	if !ok {
		ce = l.calleeOf(g)
		objs[g] = ce
	}
	// CHA deems every function of the right signature a callee of
	// a function value, thousands in the standard library alone:
	// such calls keep only the tree's functions.
	if ce.qn != "" && (c.invoke || ce.fn == nil || l.inTree(ce.fn)) {
		l.dyn.add(c.pos, ce)
	}
}

// treeFunctions is every function the tree declares, with its closures
// and whatever they refer to (wrappers, instantiations): ssautil's
// AllFunctions plus the methods of every named type of the tree's
// packages, so that the call sites of a method no code of the program
// reaches (an unexported type's method only tests call, or none) are
// resolved too.
func (l *loaded) treeFunctions(prog *ssa.Program, syntactic []*ssa.Package, bs *bodies) map[*ssa.Function]bool {
	funcs := allFunctions(prog, bs)
	var visit func(fn *ssa.Function)
	visit = func(fn *ssa.Function) {
		if fn == nil || funcs[fn] {
			return
		}
		funcs[fn] = true
		for _, anon := range fn.AnonFuncs {
			visit(anon)
		}
		for _, op := range bs.of(fn).ops {
			visit(op.g)
		}
	}
	for fn := range funcs {
		for _, anon := range fn.AnonFuncs {
			visit(anon)
		}
	}
	for _, p := range syntactic {
		for _, m := range p.Members {
			switch m := m.(type) {
			case *ssa.Function:
				visit(m)
			case *ssa.Type:
				forMethods(prog, m.Type(), visit)
			}
		}
	}
	return funcs
}

// forMethods calls f with the SSA function of every method of named type
// t and *t (generic types and interfaces have none to build).
func forMethods(prog *ssa.Program, t types.Type, f func(*ssa.Function)) {
	n, ok := t.(*types.Named)
	if !ok || n.TypeParams().Len() > 0 || types.IsInterface(n) {
		return
	}
	for _, t := range []types.Type{n, types.NewPointer(n)} {
		for sel := range prog.MethodSets.MethodSet(t).Methods() {
			if sel.Obj().(*types.Func).Signature().TypeParams() == nil {
				f(prog.MethodValue(sel))
			}
		}
	}
}

// candidates are the functions CHA may dispatch to: the tree's, plus the
// methods of the exported named types of every package a package of the
// tree imports directly. Dependencies are loaded without bodies, so the
// types they create internally never become candidates; these are the
// implementations the tree can name.
func (l *loaded) candidates(prog *ssa.Program, funcs map[*ssa.Function]bool, syntactic []*ssa.Package) map[*ssa.Function]bool {
	out := make(map[*ssa.Function]bool, len(funcs))
	for fn := range funcs {
		out[fn] = true
	}
	seen := map[*types.Package]bool{}
	for _, p := range syntactic {
		for _, imp := range p.Pkg.Imports() {
			if seen[imp] {
				continue
			}
			seen[imp] = true
			sc := imp.Scope()
			for _, name := range sc.Names() {
				if tn, ok := sc.Lookup(name).(*types.TypeName); ok && tn.Exported() && !tn.IsAlias() {
					forMethods(prog, tn.Type(), func(fn *ssa.Function) { out[fn] = true })
				}
			}
		}
	}
	return out
}

// chaEdges is class hierarchy analysis over funcs: an interface call may
// reach every method of cands with its name whose receiver implements the
// interface, a call of a function value every function of cands with its
// signature that some function of funcs uses as a value. (x/tools'
// cha.CallGraph does the same over ssautil.AllFunctions, with every
// function of the signature: with tests analysed, a call of a
// func(*testing.T) value would reach every test of the tree.)
func chaEdges(funcs, cands map[*ssa.Function]bool, scope testScope, bs *bodies, edge func(f *ssa.Function, i int, site callSite, g *ssa.Function)) {
	var bySig typeutil.Map // signature → []*ssa.Function
	byID := map[string][]*ssa.Function{}
	taken := addressTaken(funcs, bs)
	for f := range cands {
		if f.Signature.Recv() == nil {
			if !taken[f] {
				continue // never a value: no function value can hold it
			}
			if f.Name() == "init" && f.Synthetic == "package initializer" {
				continue
			}
			fs, _ := bySig.At(f.Signature).([]*ssa.Function)
			bySig.Set(f.Signature, append(fs, f))
		} else if obj, ok := f.Object().(*types.Func); ok {
			byID[obj.Id()] = append(byID[obj.Id()], f)
		}
	}
	type imethod struct {
		iface *types.Interface
		id    string
	}
	memo := map[imethod][]*ssa.Function{}
	callees := func(c callSite) []*ssa.Function {
		if c.invoke {
			it := c.iface.(*types.Interface)
			k := imethod{it, c.method.Id()}
			ms, ok := memo[k]
			if !ok {
				for _, f := range byID[k.id] {
					if types.Implements(f.Signature.Recv().Type(), it) {
						ms = append(ms, f)
					}
				}
				memo[k] = ms
			}
			return ms
		}
		if g := c.static; g != nil {
			return []*ssa.Function{g}
		}
		if c.builtin {
			return nil
		}
		fs, _ := bySig.At(c.sig).([]*ssa.Function)
		return fs
	}
	for f := range funcs {
		for i, site := range bs.of(f).sites {
			for _, g := range callees(site) {
				if scope.linked(f, g) {
					edge(f, i, site, g)
				}
			}
		}
	}
}

// chaGraph is chaEdges as a call graph (VTA refines it).
func chaGraph(funcs, cands map[*ssa.Function]bool, scope testScope, bs *bodies) *callgraph.Graph {
	cg := callgraph.New(nil)
	// VTA wants the call instructions themselves (its program keeps
	// every body): the i-th site of f's summary is its i-th call
	// instruction, blocks and instructions in order.
	var (
		last  *ssa.Function
		instr []ssa.CallInstruction
	)
	chaEdges(funcs, cands, scope, bs, func(f *ssa.Function, i int, _ callSite, g *ssa.Function) {
		if f != last {
			last, instr = f, instr[:0]
			for _, b := range f.Blocks {
				for _, in := range b.Instrs {
					if site, ok := in.(ssa.CallInstruction); ok {
						instr = append(instr, site)
					}
				}
			}
		}
		callgraph.AddEdge(cg.CreateNode(f), instr[i], cg.CreateNode(g))
	})
	return cg
}

// testScope maps each test binary of the tree, by the import path of the
// package under test, to the import paths linked into it.
type testScope map[string]map[string]bool

// testScope finds the packages each test binary links: the test variant
// and external test package of a package, and everything they import.
func (l *loaded) testScope() testScope {
	scope := testScope{}
	for _, p := range l.pkgs {
		_, bin, ok := strings.Cut(p.ID, " [")
		if !ok {
			continue
		}
		bin = strings.TrimSuffix(strings.TrimSuffix(bin, "]"), ".test")
		linked := scope[bin]
		if linked == nil {
			linked = map[string]bool{}
			scope[bin] = linked
		}
		packages.Visit([]*packages.Package{p}, nil, func(q *packages.Package) { linked[q.PkgPath] = true })
	}
	return scope
}

// linked reports whether callee g can run in a binary that also holds
// caller f: a function declared in a _test.go file (a test type's method,
// a test's closure) exists only in its package's test binary, so only
// the packages linked into that binary can call it — CHA would otherwise
// send every err.Error() of the tree to every error type of every test.
func (s testScope) linked(f, g *ssa.Function) bool {
	if g.Pkg == nil || f.Pkg == nil || !g.Pos().IsValid() {
		return true
	}
	if file := g.Prog.Fset.File(g.Pos()); file == nil || !strings.HasSuffix(file.Name(), "_test.go") {
		return true
	}
	bin := strings.TrimSuffix(g.Pkg.Pkg.Path(), "_test")
	return s[bin][f.Pkg.Pkg.Path()]
}

// addressTaken is the set of functions that funcs use as values (a
// closure made, a function or bound method stored, passed or returned),
// not only call.
func addressTaken(funcs map[*ssa.Function]bool, bs *bodies) map[*ssa.Function]bool {
	taken := map[*ssa.Function]bool{}
	for f := range funcs {
		for _, op := range bs.of(f).ops {
			if !op.callee {
				taken[op.g] = true
			}
		}
	}
	return taken
}

// calleeOf names an SSA function by the node it stands for: declared
// functions by themselves, instantiations by their generic origin,
// wrappers, thunks and bound method closures by their method, closures by
// their enclosing named function — or, for closures in init functions and
// package-level variable initialisers, by the file's init@file function.
func (l *loaded) calleeOf(fn *ssa.Function) callee {
	anon := false
	inner := fn
	for fn.Parent() != nil {
		fn, anon = fn.Parent(), true
	}
	if o := fn.Origin(); o != nil {
		fn = o
	}
	if fn.Synthetic == "package initializer" || fn.Pkg != nil && isInitFunc(fn) {
		if r := l.rel(inner.Pos()); r != "" && fn.Pkg != nil {
			return callee{qn: fn.Pkg.Pkg.Path() + ".init@" + baseName(r), anon: anon}
		}
		return callee{}
	}
	if f, ok := fn.Object().(*types.Func); ok {
		f = f.Origin()
		return callee{fn: f, qn: funcQN(f), anon: anon}
	}
	return callee{}
}

// isInitFunc reports whether fn is one of the package's func init().
func isInitFunc(fn *ssa.Function) bool {
	f, ok := fn.Object().(*types.Func)
	return ok && f.Name() == "init" && f.Signature().Recv() == nil
}

// isFuncInst reports whether e (the X of an index expression in call
// position) names a generic function, so that F[int](x) is a call of F.
func isFuncInst(info *types.Info, e ast.Expr) bool {
	var id *ast.Ident
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		id = e
	case *ast.SelectorExpr:
		id = e.Sel
	}
	if id == nil {
		return false
	}
	_, ok := info.Uses[id].(*types.Func)
	return ok
}
