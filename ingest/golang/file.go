package golang

import (
	"go/ast"
	"go/token"
	"go/types"
	"sort"

	"github.com/grafo/grafo/ingest"
)

type edgeKey struct {
	from, to string
	r        ingest.Relation
}

// fileX is the extraction of one file.
type fileX struct {
	*pkgX
	file  *ast.File
	path  string
	facts ingest.FileFacts
	seen  map[edgeKey]int // edge → index in facts.Edges (one edge per pair and relation)
	ext   map[string]bool // external nodes already carried
	marks map[*ast.Ident]ingest.Relation
	init  string // the file's initialisation function, once needed
	// initFrom and initTo span the file's init functions and variable
	// initialisers: the init function's lines.
	initFrom, initTo token.Pos
	cols             *columnMap
	// pos is the position each of facts.Edges takes its line and column
	// from: the earliest of its occurrences.
	pos []token.Pos
	// deferred is set while a package is extracted before the module's
	// dynamic calls and realizations are known (early.go); meanwhile the
	// facts wait in the spool (spooled) and the syntax is gone (src names
	// the file for its columns).
	deferred *deferredParts
	spooled  *spooled
	src      string
}

func (fx *fileX) line(p token.Pos) int { return fx.l.fset.Position(p).Line }

func (fx *fileX) node(k ingest.Kind, name, qn string, from, to token.Pos) {
	// A declaration broken by a syntax error can end before it starts.
	l, e := fx.line(from), fx.line(to)
	fx.facts.Nodes = append(fx.facts.Nodes, ingest.Node{Kind: k, Name: name, QualifiedName: qn,
		Path: fx.path, Line: l, EndLine: max(l, e)})
}

// edge records one edge; its earliest occurrence gives its position (the
// first met, but for the dynamic calls an early extraction adds last),
// and it stays dynamic only if every occurrence is.
func (fx *fileX) edge(from, to string, r ingest.Relation, pos token.Pos, dynamic bool) {
	if from == "" || to == "" {
		return
	}
	k := edgeKey{from, to, r}
	i, ok := fx.seen[k]
	if ok {
		if !dynamic {
			fx.facts.Edges[i].Dynamic = false
		}
		if pos >= fx.pos[i] {
			return
		}
	} else {
		i = len(fx.facts.Edges)
		fx.seen[k] = i
		fx.facts.Edges = append(fx.facts.Edges, ingest.Edge{From: from, To: to, Relation: r, Path: fx.path, Dynamic: dynamic})
		fx.pos = append(fx.pos, pos)
	}
	p := fx.l.fset.Position(pos)
	col := p.Column
	if raw := fx.l.fset.PositionFor(pos, false); raw == p {
		col = fx.columns().column(p.Line, p.Column) // characters, not bytes
	}
	fx.pos[i] = pos
	fx.facts.Edges[i].Line, fx.facts.Edges[i].Column = p.Line, col
}

func (fx *fileX) pkgPath() string { return fx.pkg.Types.Path() }

func (fx *fileX) run() {
	pkg := fx.pkgPath() + "."
	for _, d := range fx.file.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			fn, _ := fx.info.Defs[d.Name].(*types.Func)
			if d.Name.Name == "_" {
				continue
			}
			var qn string
			switch {
			case d.Recv == nil && d.Name.Name == "init":
				qn = fx.initFunc()
				fx.initSpan(d.Pos(), d.End())
			case fn != nil:
				qn = funcQN(fn)
			case d.Recv == nil:
				qn = pkg + d.Name.Name
			}
			if qn == "" {
				continue
			}
			if qn != fx.init {
				fx.node(ingest.Function, d.Name.Name, qn, d.Pos(), d.End())
			}
			fx.dependencies(d)
			if d.Body != nil {
				fx.body(qn, d.Body)
			}
		case *ast.GenDecl:
			fx.genDecl(d, pkg)
		}
	}
	if fx.init != "" {
		fx.facts.Nodes = append(fx.facts.Nodes, ingest.Node{Kind: ingest.Function, Name: "init",
			QualifiedName: fx.init, Path: fx.path, Line: lineOr(fx, fx.initFrom), EndLine: lineOr(fx, fx.initTo)})
	}
}

func (fx *fileX) initSpan(from, to token.Pos) {
	if !fx.initFrom.IsValid() {
		fx.initFrom = from
	}
	fx.initTo = to
}

func lineOr(fx *fileX, p token.Pos) int {
	if !p.IsValid() {
		return 0
	}
	return fx.line(p)
}

// initFunc names the node that owns the file's initialisation code.
func (fx *fileX) initFunc() string {
	if fx.init == "" {
		// Named after the file: unique, and stable while the file lives.
		fx.init = fx.pkgPath() + ".init@" + baseName(fx.path)
	}
	return fx.init
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

func (fx *fileX) genDecl(d *ast.GenDecl, pkg string) {
	// A lone declaration's span includes its keyword; a grouped one's
	// members span their own spec.
	span := func(s ast.Node) (token.Pos, token.Pos) {
		if d.Lparen.IsValid() {
			return s.Pos(), s.End()
		}
		return d.Pos(), d.End()
	}
	for _, s := range d.Specs {
		switch s := s.(type) {
		case *ast.TypeSpec:
			tn, _ := fx.info.Defs[s.Name].(*types.TypeName)
			if s.Name.Name == "_" {
				continue
			}
			qn := pkg + s.Name.Name
			from, to := span(s)
			fx.node(ingest.Class, s.Name.Name, qn, from, to)
			fx.members(qn, tn, s)
			for _, r := range fx.rels[s] {
				fx.classEdge(qn, tn, r)
			}
			if fx.deferred != nil && tn != nil {
				fx.deferred.types = append(fx.deferred.types, typeSite{tn: tn, qn: qn, pos: s.Name.Pos()})
			}
		case *ast.ValueSpec:
			from, to := span(s)
			for _, n := range s.Names {
				if n.Name != "_" {
					fx.node(ingest.Variable, n.Name, pkg+n.Name, from, to)
				}
			}
			if d.Tok == token.VAR && len(s.Values) > 0 {
				fx.initSpan(s.Pos(), s.End())
				fx.body(fx.initFunc(), s)
			}
		}
	}
}

// members adds the field nodes of a struct and the method nodes of an
// interface.
func (fx *fileX) members(qn string, tn *types.TypeName, s *ast.TypeSpec) {
	switch t := s.Type.(type) {
	case *ast.StructType:
		var st *types.Struct
		if tn != nil && !s.Assign.IsValid() {
			st, _ = tn.Type().Underlying().(*types.Struct)
		}
		i := 0
		for _, f := range t.Fields.List {
			names := []string{}
			for _, n := range f.Names {
				names = append(names, n.Name)
			}
			if len(f.Names) == 0 {
				// An embedded field is named after its type.
				if st != nil && i < st.NumFields() {
					names = append(names, st.Field(i).Name())
				} else if n := embeddedName(f.Type); n != "" {
					names = append(names, n)
				}
			}
			for _, n := range names {
				i++
				if n != "_" {
					fx.node(ingest.Variable, n, qn+"."+n, f.Pos(), f.End())
				}
			}
		}
	case *ast.InterfaceType:
		for _, m := range t.Methods.List {
			for _, n := range m.Names {
				fx.node(ingest.Function, n.Name, qn+"."+n.Name, m.Pos(), m.End())
			}
		}
	}
}

func embeddedName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.StarExpr:
		return embeddedName(e.X)
	case *ast.SelectorExpr:
		return e.Sel.Name
	case *ast.IndexExpr:
		return embeddedName(e.X)
	case *ast.IndexListExpr:
		return embeddedName(e.X)
	}
	return ""
}

// dependencies adds the DEPENDENCY edges the method declaration owns.
func (fx *fileX) dependencies(d *ast.FuncDecl) {
	if len(fx.deps[d]) == 0 {
		return
	}
	fn, _ := fx.info.Defs[d.Name].(*types.Func)
	a := namedOf(fn.Signature().Recv().Type()).Obj()
	aqn := typeQN(a)
	for _, r := range fx.deps[d] {
		fx.classEdge(aqn, a, r)
	}
}

// classEdge adds a class relation of type a (named from), carrying its
// target as an external CLASS node when it is declared outside the tree.
func (fx *fileX) classEdge(from string, a *types.TypeName, r rel) {
	qn := typeQN(r.to)
	if fx.deferred != nil && r.r == ingest.Dependency {
		// A realization found later would make it a stronger relation.
		fx.deferred.deps = append(fx.deferred.deps, depEdge{key: edgeKey{from, qn, r.r}, a: a, b: r.to})
	}
	if !fx.l.inTree(r.to) && !fx.ext[qn] {
		fx.ext[qn] = true
		fx.facts.Nodes = append(fx.facts.Nodes, ingest.Node{Kind: ingest.Class, Name: r.to.Name(),
			QualifiedName: qn, External: true})
	}
	fx.edge(from, qn, r.r, r.pos, false)
}

// finish sorts the facts so that output is deterministic.
func (fx *fileX) finish() {
	sort.SliceStable(fx.facts.Nodes, func(i, j int) bool {
		a, b := fx.facts.Nodes[i], fx.facts.Nodes[j]
		if a.External != b.External {
			return !a.External
		}
		return a.QualifiedName < b.QualifiedName
	})
	sort.SliceStable(fx.facts.Edges, func(i, j int) bool {
		a, b := fx.facts.Edges[i], fx.facts.Edges[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Relation != b.Relation {
			return a.Relation < b.Relation
		}
		return a.To < b.To
	})
}
