package golang

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/callgraph"
	"golang.org/x/tools/go/callgraph/cha"
	"golang.org/x/tools/go/callgraph/vta"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"
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
	for _, p := range l.pkgs {
		if p.Types != nil && len(p.Syntax) > 0 && !created[p.Types] && l.wellTyped(p) {
			created[p.Types] = true
			prog.CreatePackage(p.Types, p.Syntax, p.TypesInfo, true)
		}
	}
	// Everything else (dependencies, ill-typed packages) from types only.
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
	prog.Build()

	var cg *callgraph.Graph
	switch algo {
	case "vta":
		cg = vta.CallGraph(ssautil.AllFunctions(prog), cha.CallGraph(prog))
	default:
		cg = cha.CallGraph(prog)
	}
	objs := map[*ssa.Function]callee{}
	for fn, node := range cg.Nodes {
		if fn == nil || fn.Synthetic != "" && fn.Object() == nil {
			continue
		}
		for _, e := range node.Out {
			if e.Site == nil {
				continue
			}
			c := e.Site.Common()
			// Direct calls of declared functions are static in the syntax
			// too; keep the rest, including calls SSA resolved through a
			// closure or bound method (g := x.M; g()), which the syntax
			// sees as calls of a function value.
			if _, direct := c.Value.(*ssa.Function); direct && !c.IsInvoke() || !c.Pos().IsValid() {
				continue
			}
			if l.rel(c.Pos()) == "" {
				continue
			}
			ce, ok := objs[e.Callee.Func]
			if !ok {
				ce = calleeOf(e.Callee.Func)
				objs[e.Callee.Func] = ce
			}
			// CHA deems every function of the right signature a callee of
			// a function value, thousands in the standard library alone:
			// such calls keep only the tree's functions.
			if ce.fn != nil && (c.IsInvoke() || l.inTree(ce.fn)) {
				l.dyn[c.Pos()] = append(l.dyn[c.Pos()], ce)
			}
		}
	}
	return nil
}

// calleeOf names an SSA function by the declared function it stands for:
// instantiations by their generic origin, wrappers, thunks and bound
// method closures by their method, closures by their enclosing function.
func calleeOf(fn *ssa.Function) callee {
	anon := false
	for fn.Parent() != nil {
		fn, anon = fn.Parent(), true
	}
	if o := fn.Origin(); o != nil {
		fn = o
	}
	if f, ok := fn.Object().(*types.Func); ok {
		return callee{fn: f.Origin(), anon: anon}
	}
	return callee{}
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
