package golang

import (
	"go/ast"
	"go/token"
	"go/types"

	"github.com/grafo/grafo/ingest"
)

// body adds the edges of code owned by the function from: its calls and
// its uses of package-level variables, constants and struct fields,
// including those inside function literals.
func (fx *fileX) body(from string, n ast.Node) {
	fx.marks = map[*ast.Ident]ingest.Relation{}
	ast.Inspect(n, fx.mark)
	ast.Inspect(n, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Ident:
			obj := fx.info.Uses[n]
			if qn := fx.varQN(obj); qn != "" {
				r, ok := fx.marks[n]
				if _, isConst := obj.(*types.Const); !ok || isConst {
					r = ingest.Reads // a constant has no storage to write or keep
				}
				fx.edge(from, qn, r, n.Pos(), false)
			}
		case *ast.CallExpr:
			fx.call(from, n)
		}
		return true
	})
}

// mark records which identifiers are written or referenced; every other
// use reads.
func (fx *fileX) mark(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.AssignStmt:
		for _, l := range n.Lhs {
			fx.markWrite(l)
		}
		if (n.Tok == token.ASSIGN || n.Tok == token.DEFINE) && len(n.Lhs) == len(n.Rhs) {
			for _, r := range n.Rhs {
				fx.markWhole(r)
			}
		}
	case *ast.IncDecStmt:
		fx.markWrite(n.X)
	case *ast.RangeStmt:
		if n.Tok == token.ASSIGN {
			if n.Key != nil {
				fx.markWrite(n.Key)
			}
			if n.Value != nil {
				fx.markWrite(n.Value)
			}
		}
	case *ast.UnaryExpr:
		if n.Op == token.AND {
			fx.markAddr(n.X)
		}
	case *ast.ValueSpec:
		if len(n.Names) == len(n.Values) {
			for _, v := range n.Values {
				fx.markWhole(v)
			}
		}
	case *ast.SendStmt:
		fx.markWrite(n.Chan) // a send changes the channel's state
		fx.markWhole(n.Value)
	case *ast.CallExpr:
		if tv, ok := fx.info.Types[n.Fun]; ok && tv.IsBuiltin() && len(n.Args) > 0 {
			if id, ok := ast.Unparen(n.Fun).(*ast.Ident); ok && (id.Name == "delete" || id.Name == "close" || id.Name == "clear") {
				fx.markWrite(n.Args[0]) // they mutate their first argument
				break
			}
		}
		if tv, ok := fx.info.Types[n.Fun]; ok && (tv.IsType() || tv.IsBuiltin()) {
			break // conversions and the other builtins (len, cap, …) only read
		}
		for _, a := range n.Args {
			fx.markWhole(a)
		}
	case *ast.CompositeLit:
		for _, e := range n.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				if id, ok := kv.Key.(*ast.Ident); ok {
					if v, ok := fx.info.Uses[id].(*types.Var); ok && v.IsField() {
						fx.marks[id] = ingest.Writes
					}
				}
			}
		}
	}
	return true
}

// markWrite marks the root variable of an assignment's left side and the
// fields on the way to it: v, v.f, v[i], v.f[i]. An explicit dereference
// (*p = x, (*p).f = x) writes what p points to, which has no node of its
// own (a heap object or a variable only pointer analysis could name): p
// itself is only read, the fields selected after it are written.
func (fx *fileX) markWrite(e ast.Expr) {
	switch e := e.(type) {
	case *ast.Ident:
		fx.marks[e] = ingest.Writes
	case *ast.SelectorExpr:
		sel := fx.info.Selections[e]
		switch {
		case sel == nil: // pkg.V
			fx.marks[e.Sel] = ingest.Writes
		case sel.Kind() == types.FieldVal:
			fx.marks[e.Sel] = ingest.Writes
			fx.markWrite(e.X)
		}
	case *ast.IndexExpr:
		fx.markWrite(e.X)
	case *ast.ParenExpr:
		fx.markWrite(e.X)
	}
}

// markAddr marks what &e keeps a reference to: the variable and the
// fields on the way to it.
func (fx *fileX) markAddr(e ast.Expr) {
	switch e := e.(type) {
	case *ast.Ident:
		fx.marks[e] = ingest.References
	case *ast.SelectorExpr:
		sel := fx.info.Selections[e]
		switch {
		case sel == nil:
			fx.marks[e.Sel] = ingest.References
		case sel.Kind() == types.FieldVal:
			fx.marks[e.Sel] = ingest.References
			fx.markAddr(e.X)
		}
	case *ast.IndexExpr:
		fx.markAddr(e.X)
	case *ast.ParenExpr:
		fx.markAddr(e.X)
	}
}

// markWhole marks a variable (or field) that is the whole right side of
// an assignment or a whole argument: its value is copied elsewhere.
func (fx *fileX) markWhole(e ast.Expr) {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		if _, ok := fx.marks[e]; !ok {
			fx.marks[e] = ingest.References
		}
	case *ast.SelectorExpr:
		if sel := fx.info.Selections[e]; sel == nil || sel.Kind() == types.FieldVal {
			if _, ok := fx.marks[e.Sel]; !ok {
				fx.marks[e.Sel] = ingest.References
			}
		}
	}
}

// varQN names the graph node of a use: package-level variables and
// constants and struct fields declared in the tree; "" for anything else.
func (fx *fileX) varQN(obj types.Object) string {
	switch o := obj.(type) {
	case *types.Var:
		if o.IsField() {
			o = o.Origin()
			if !fx.l.inTree(o) {
				return ""
			}
			return fx.l.fieldQN(o)
		}
		if o.Pkg() == nil || o.Parent() != o.Pkg().Scope() || !fx.l.inTree(o) {
			return ""
		}
		return o.Pkg().Path() + "." + o.Name()
	case *types.Const:
		if o.Pkg() == nil || o.Parent() != o.Pkg().Scope() || !fx.l.inTree(o) {
			return ""
		}
		return o.Pkg().Path() + "." + o.Name()
	}
	return ""
}

// fieldQN names a field of a package-level named struct type,
// importpath.Type.Field; "" for fields of anonymous or local structs.
func (l *loaded) fieldQN(v *types.Var) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := v.Pkg(); p != nil && !l.scanned[p] {
		l.scanned[p] = true
		// `type B A` (or `type B other.A`) shares A's struct and so its
		// field objects: a field belongs to the type whose declaration
		// holds it, the nearest type name before it in its own package.
		// Any other rule depends on which package was scanned first.
		owner := map[*types.Var]*types.TypeName{}
		sc := p.Scope()
		for _, name := range sc.Names() {
			tn, ok := sc.Lookup(name).(*types.TypeName)
			if !ok || tn.IsAlias() {
				continue
			}
			st, ok := tn.Type().Underlying().(*types.Struct)
			if !ok {
				continue
			}
			for f := range st.Fields() {
				if f.Pkg() != p || tn.Pos() > f.Pos() {
					continue
				}
				if o := owner[f]; o == nil || tn.Pos() > o.Pos() {
					owner[f] = tn
				}
			}
		}
		for f, tn := range owner {
			l.fields[f] = p.Path() + "." + tn.Name() + "." + f.Name()
		}
	}
	return l.fields[v]
}

// call adds the CALLS edges of one call expression.
func (fx *fileX) call(from string, c *ast.CallExpr) {
	if tv, ok := fx.info.Types[c.Fun]; ok && (tv.IsType() || tv.IsBuiltin()) {
		return
	}
	fun := ast.Unparen(c.Fun)
	switch f := fun.(type) {
	case *ast.IndexExpr: // F[int](x)
		if isFuncInst(fx.info, f.X) {
			fun = ast.Unparen(f.X)
		}
	case *ast.IndexListExpr: // F[int, string](x)
		fun = ast.Unparen(f.X)
	}
	var fn *types.Func
	switch f := fun.(type) {
	case *ast.Ident:
		switch o := fx.info.Uses[f].(type) {
		case *types.Func:
			fn = o
		case *types.Var:
		default:
			return // unresolved (broken code) or not a function
		}
	case *ast.SelectorExpr:
		if sel := fx.info.Selections[f]; sel != nil {
			if sel.Kind() != types.FieldVal {
				fn, _ = sel.Obj().(*types.Func)
			}
		} else {
			switch o := fx.info.Uses[f.Sel].(type) {
			case *types.Func:
				fn = o
			case *types.Var:
			default:
				return
			}
		}
	case *ast.FuncLit:
		return // its body is this function's body
	}
	pos := c.Pos()
	if fn != nil {
		if !isInterfaceMethod(fn) {
			fx.callEdge(from, fn, pos, false)
			return
		}
		fx.callEdge(from, fn, pos, true) // the interface method itself
	}
	if fx.deferred != nil {
		fx.deferred.holes = append(fx.deferred.holes, dynHole{from: from, lparen: c.Lparen, pos: pos})
		return
	}
	fx.dynamicCalls(from, c.Lparen, pos)
}

// dynamicCalls adds the edges of the callees the index holds for the
// dynamic call at lparen.
func (fx *fileX) dynamicCalls(from string, lparen, pos token.Pos) {
	for ce := range fx.l.dyn.at(lparen).all() {
		if ce.anon && ce.qn == from {
			continue // a closure of this very function
		}
		if ce.fn == nil { // a closure of an init@file function, or recorded
			if ce.ext != "" {
				fx.extFunc(ce.ext, ce.qn)
			}
			fx.edge(from, ce.qn, ingest.Calls, pos, true)
			continue
		}
		fx.callEdge(from, ce.fn, pos, true)
	}
}

// callEdge adds from CALLS fn, carrying fn as an external node when it is
// declared outside the tree.
func (fx *fileX) callEdge(from string, fn *types.Func, pos token.Pos, dynamic bool) {
	fn = fn.Origin()
	qn := funcQN(fn)
	if qn == "" {
		return
	}
	if !fx.l.inTree(fn) {
		fx.extFunc(fn.Name(), qn)
	}
	fx.edge(from, qn, ingest.Calls, pos, dynamic)
}

// extFunc carries the external FUNCTION node qn, once per file.
func (fx *fileX) extFunc(name, qn string) {
	if !fx.ext[qn] {
		fx.ext[qn] = true
		fx.facts.Nodes = append(fx.facts.Nodes, ingest.Node{Kind: ingest.Function, Name: name,
			QualifiedName: qn, External: true})
	}
}
