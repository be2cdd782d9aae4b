package golang

import (
	"go/ast"
	"go/types"
	"os"
	"sort"
	"unicode/utf8"

	"github.com/grafo/grafo/ingest"
)

// occurrences records every identifier of the file that names a node of
// the graph: declarations, calls, variable uses (classified like the
// READS/WRITES/REFERENCES edges) and type names. Identifiers of local
// variables, packages and symbols outside the tree have no node and are
// left out, except called external functions (their CALLS edges carry the
// external node).
func (fx *fileX) occurrences() {
	// The same marks the edges use, over the whole file at once: marking
	// is syntactic, so the functions' bodies need no separate passes.
	fx.marks = map[*ast.Ident]ingest.Relation{}
	ast.Inspect(fx.file, fx.mark)
	// One pass: a call is visited before the identifiers inside it, so its
	// callee's name is known as a callee when that identifier is reached.
	callees := map[*ast.Ident]bool{}
	cols := fx.columns()
	ast.Inspect(fx.file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if id := calleeIdent(fx.info, n); id != nil {
				callees[id] = true
			}
		case *ast.Ident:
			if n.Name == "_" {
				return true
			}
			// An embedded field's identifier both defines the field and
			// uses the type; both are recorded, the use first.
			if obj := fx.info.Uses[n]; obj != nil {
				if qn, role := fx.useOf(obj, n, callees[n]); qn != "" {
					fx.occur(cols, n, qn, role)
				}
			}
			if obj := fx.info.Defs[n]; obj != nil {
				if qn := fx.defOf(obj, n); qn != "" {
					fx.occur(cols, n, qn, ingest.RoleDefinition)
				}
			}
		}
		return true
	})
	sort.SliceStable(fx.facts.Occurrences, func(i, j int) bool {
		a, b := fx.facts.Occurrences[i], fx.facts.Occurrences[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

func (fx *fileX) occur(cols *columnMap, id *ast.Ident, qn string, role ingest.Role) {
	// Where the identifier is on disk, whatever //line directives say:
	// editors ask about the file they show.
	p := fx.l.fset.PositionFor(id.Pos(), false)
	c := cols.column(p.Line, p.Column)
	fx.facts.Occurrences = append(fx.facts.Occurrences, ingest.Occurrence{Line: p.Line, Column: c,
		EndColumn: c + utf8.RuneCountInString(id.Name), Role: role, Target: qn})
}

// calleeIdent is the identifier naming what a call calls (F in F(x),
// pkg.F(x), x.M(x), F[int](x)), nil for conversions, builtins and calls
// of other expressions.
func calleeIdent(info *types.Info, c *ast.CallExpr) *ast.Ident {
	if tv, ok := info.Types[c.Fun]; ok && (tv.IsType() || tv.IsBuiltin()) {
		return nil
	}
	fun := ast.Unparen(c.Fun)
	switch f := fun.(type) {
	case *ast.IndexExpr:
		fun = ast.Unparen(f.X)
	case *ast.IndexListExpr:
		fun = ast.Unparen(f.X)
	}
	switch f := fun.(type) {
	case *ast.Ident:
		return f
	case *ast.SelectorExpr:
		return f.Sel
	}
	return nil
}

// useOf names the node a used identifier refers to and its role there.
func (fx *fileX) useOf(obj types.Object, id *ast.Ident, called bool) (string, ingest.Role) {
	switch o := obj.(type) {
	case *types.Func:
		o = o.Origin()
		qn := funcQN(o)
		if qn == "" {
			return "", ""
		}
		if !fx.l.inTree(o) {
			if !called {
				return "", "" // no node: only called externals get one
			}
			fx.externalFunc(o, qn)
		}
		if called {
			return qn, ingest.RoleCall
		}
		return qn, ingest.RoleReference
	case *types.TypeName:
		if !fx.l.inTree(o) || isTypeParam(o) {
			return "", ""
		}
		return typeQN(o), ingest.RoleType
	case *types.Var, *types.Const:
		qn := fx.varQN(obj)
		if qn == "" {
			return "", ""
		}
		if _, isConst := obj.(*types.Const); isConst {
			return qn, ingest.RoleRead
		}
		switch fx.marks[id] {
		case ingest.Writes:
			return qn, ingest.RoleWrite
		case ingest.References:
			return qn, ingest.RoleReference
		}
		return qn, ingest.RoleRead
	}
	return "", ""
}

// defOf names the node a declaring identifier declares, "" when it is not
// a node (locals, parameters, methods of local types).
func (fx *fileX) defOf(obj types.Object, id *ast.Ident) string {
	switch o := obj.(type) {
	case *types.Func:
		if o.Name() == "init" && o.Signature().Recv() == nil {
			return fx.initFunc()
		}
		return funcQN(o)
	case *types.TypeName:
		if isTypeParam(o) {
			return ""
		}
		return typeQN(o)
	case *types.Var:
		if o.IsField() {
			return fx.l.fieldQN(o)
		}
		return fx.varQN(o)
	case *types.Const:
		return fx.varQN(o)
	}
	return ""
}

func isTypeParam(tn *types.TypeName) bool {
	_, ok := tn.Type().(*types.TypeParam)
	return ok
}

// externalFunc carries fn's external node, as callEdge does.
func (fx *fileX) externalFunc(fn *types.Func, qn string) {
	if !fx.ext[qn] {
		fx.ext[qn] = true
		fx.facts.Nodes = append(fx.facts.Nodes, ingest.Node{Kind: ingest.Function, Name: fn.Name(),
			QualifiedName: qn, External: true})
	}
}

// columnMap turns go/token's byte columns into rune columns. Lines of
// ASCII need no conversion, so the source is read only for files holding
// other bytes (and only their non-ASCII lines are converted).
type columnMap struct {
	lines [][]byte // nil when the file is ASCII (or unreadable)
}

// columns returns the file's column map, read once.
func (fx *fileX) columns() *columnMap {
	if fx.cols == nil {
		fx.cols = fx.readColumns()
	}
	return fx.cols
}

func (fx *fileX) readColumns() *columnMap {
	name := fx.src
	if fx.file != nil {
		tf := fx.l.fset.File(fx.file.FileStart)
		if tf == nil {
			return &columnMap{}
		}
		name = tf.Name()
	}
	if name == "" {
		return &columnMap{}
	}
	src, err := os.ReadFile(name)
	if err != nil {
		return &columnMap{}
	}
	ascii := true
	for _, b := range src {
		if b >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return &columnMap{}
	}
	m := &columnMap{}
	start := 0
	for i, b := range src {
		if b == '\n' {
			m.lines = append(m.lines, src[start:i])
			start = i + 1
		}
	}
	m.lines = append(m.lines, src[start:])
	return m
}

func (m *columnMap) column(line, byteCol int) int {
	if m.lines == nil || line < 1 || line > len(m.lines) {
		return byteCol
	}
	l := m.lines[line-1]
	if byteCol-1 > len(l) {
		return byteCol
	}
	return utf8.RuneCount(l[:byteCol-1]) + 1
}
