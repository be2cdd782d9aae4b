package golang

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/callgraph"
	"golang.org/x/tools/go/callgraph/vta"
	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"
	"golang.org/x/tools/go/types/typeutil"
)

// indexDynamic builds SSA for the well-typed packages of the module, runs
// the call-graph algorithm and keeps only what extraction needs: for each
// dynamic call site in the tree (keyed by the call's Lparen), the functions
// it may reach. The SSA program and the graph are garbage once it returns.
// SSA construction can panic on code go/types accepted only partly; that
// costs the dynamic edges of the module, not the ingest.
func (l *loaded) indexDynamic(algo string) (err error) {
	l.dyn = map[token.Pos][]callee{}
	if algo == "static" {
		return nil // no implementations to find: only the interface method
	}
	defer func() {
		if r := recover(); r != nil {
			l.dyn = map[token.Pos][]callee{}
			err = fmt.Errorf("golang: ssa: %v", r)
		}
	}()
	prog := ssa.NewProgram(l.fset, 0)
	created := map[*types.Package]bool{}
	var syntactic []*ssa.Package
	for _, p := range l.pkgs {
		if p.Types != nil && len(p.Syntax) > 0 && !created[p.Types] && l.wellTyped(p) {
			created[p.Types] = true
			syntactic = append(syntactic, prog.CreatePackage(p.Types, p.Syntax, p.TypesInfo, true))
		}
	}
	l.createFromTypes(prog, created)
	prog.Build()

	funcs := l.treeFunctions(prog, syntactic)
	cands, scope := l.candidates(prog, funcs, syntactic), l.testScope()
	objs := map[*ssa.Function]callee{}
	if algo != "vta" {
		// CHA's edges go straight to the index: the graph would also
		// hold every static call of the program, which nothing reads.
		chaEdges(funcs, cands, scope, func(f *ssa.Function, site ssa.CallInstruction, g *ssa.Function) {
			l.addDynamic(objs, f, site, g)
		})
		l.record(prog, funcs, syntactic) // for the next body-only re-ingest
		return nil
	}
	cg := vta.CallGraph(funcs, chaGraph(funcs, cands, scope))
	for fn, node := range cg.Nodes {
		for _, e := range node.Out {
			if e.Site != nil {
				l.addDynamic(objs, fn, e.Site, e.Callee.Func)
			}
		}
	}
	return nil
}

// createFromTypes creates, from types only, every package of the program
// not created yet (dependencies, ill-typed packages).
func (l *loaded) createFromTypes(prog *ssa.Program, created map[*types.Package]bool) {
	var createAll func(ps []*types.Package)
	createAll = func(ps []*types.Package) {
		for _, p := range ps {
			if !created[p] {
				created[p] = true
				prog.CreatePackage(p, nil, nil, true)
				createAll(p.Imports())
			}
		}
	}
	for _, p := range l.pkgs {
		if p.Types != nil {
			createAll([]*types.Package{p.Types})
			createAll(p.Types.Imports())
		}
	}
}

// addDynamic records that the call site of caller may reach g, if it is a
// dynamic call site of the tree. objs caches the callee of each function.
func (l *loaded) addDynamic(objs map[*ssa.Function]callee, caller *ssa.Function, site ssa.CallInstruction, g *ssa.Function) {
	// Wrappers and thunks repeat their method's calls; the package
	// initializer is kept for calls in variable initialisers.
	if caller == nil || caller.Synthetic != "" && caller.Synthetic != "package initializer" && caller.Object() == nil {
		return
	}
	c := site.Common()
	// Direct calls of declared functions are static in the syntax
	// too; keep the rest, including calls SSA resolved through a
	// closure or bound method (g := x.M; g()), which the syntax
	// sees as calls of a function value.
	if _, direct := c.Value.(*ssa.Function); direct && !c.IsInvoke() || !c.Pos().IsValid() {
		return
	}
	if l.rel(c.Pos()) == "" {
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
	if ce.qn != "" && (c.IsInvoke() || ce.fn == nil || l.inTree(ce.fn)) {
		l.dyn[c.Pos()] = append(l.dyn[c.Pos()], ce)
	}
}

// treeFunctions is every function the tree declares, with its closures
// and whatever they refer to (wrappers, instantiations): ssautil's
// AllFunctions plus the methods of every named type of the tree's
// packages, so that the call sites of a method no code of the program
// reaches (an unexported type's method only tests call, or none) are
// resolved too.
func (l *loaded) treeFunctions(prog *ssa.Program, syntactic []*ssa.Package) map[*ssa.Function]bool {
	funcs := ssautil.AllFunctions(prog)
	var visit func(fn *ssa.Function)
	visit = func(fn *ssa.Function) {
		if fn == nil || funcs[fn] {
			return
		}
		funcs[fn] = true
		for _, anon := range fn.AnonFuncs {
			visit(anon)
		}
		var buf [10]*ssa.Value
		for _, b := range fn.Blocks {
			for _, instr := range b.Instrs {
				for _, op := range instr.Operands(buf[:0]) {
					if g, ok := (*op).(*ssa.Function); ok {
						visit(g)
					}
				}
			}
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
func chaEdges(funcs, cands map[*ssa.Function]bool, scope testScope, edge func(f *ssa.Function, site ssa.CallInstruction, g *ssa.Function)) {
	var bySig typeutil.Map // signature → []*ssa.Function
	byID := map[string][]*ssa.Function{}
	taken := addressTaken(funcs)
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
	callees := func(c *ssa.CallCommon) []*ssa.Function {
		if c.IsInvoke() {
			it := c.Value.Type().Underlying().(*types.Interface)
			k := imethod{it, c.Method.Id()}
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
		if g := c.StaticCallee(); g != nil {
			return []*ssa.Function{g}
		}
		if _, ok := c.Value.(*ssa.Builtin); ok {
			return nil
		}
		fs, _ := bySig.At(c.Signature()).([]*ssa.Function)
		return fs
	}
	for f := range funcs {
		for _, b := range f.Blocks {
			for _, instr := range b.Instrs {
				if site, ok := instr.(ssa.CallInstruction); ok {
					for _, g := range callees(site.Common()) {
						if scope.linked(f, g) {
							edge(f, site, g)
						}
					}
				}
			}
		}
	}
}

// chaGraph is chaEdges as a call graph (VTA refines it).
func chaGraph(funcs, cands map[*ssa.Function]bool, scope testScope) *callgraph.Graph {
	cg := callgraph.New(nil)
	chaEdges(funcs, cands, scope, func(f *ssa.Function, site ssa.CallInstruction, g *ssa.Function) {
		callgraph.AddEdge(cg.CreateNode(f), site, cg.CreateNode(g))
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
func addressTaken(funcs map[*ssa.Function]bool) map[*ssa.Function]bool {
	taken := map[*ssa.Function]bool{}
	var buf [10]*ssa.Value
	for f := range funcs {
		for _, b := range f.Blocks {
			for _, instr := range b.Instrs {
				var callee *ssa.Value
				if site, ok := instr.(ssa.CallInstruction); ok {
					callee = &site.Common().Value
				}
				for _, op := range instr.Operands(buf[:0]) {
					if g, ok := (*op).(*ssa.Function); ok && op != callee {
						taken[g] = true
					}
				}
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
