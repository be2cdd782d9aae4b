package golang

import (
	"context"
	"go/ast"
	"go/token"
	"go/types"
	"runtime"
	"sort"
	"sync"
	"time"

	"golang.org/x/tools/go/packages"

	"github.com/grafo/grafo/ingest"
)

// extract emits the facts of every file of the module: the loaded
// packages' files through analysis, the rest (excluded by build
// constraints, tests, directories go list ignores) as bare file records.
func (l *loaded) extract(ctx context.Context, req ingest.Request, files []string, emit func(ingest.FileFacts) error) error {
	defer func() {
		if l.spool != nil {
			l.spool.close()
			l.spool = nil
		}
	}()
	covered := map[string]bool{}
	var work []*packages.Package
	for _, p := range l.pkgs {
		has := false
		for _, f := range p.Syntax {
			if r := l.rel(f.FileStart); r != "" {
				covered[r] = true
				has = true
			}
		}
		for _, fx := range l.earlyFiles[p] { // extracted early, syntax gone
			covered[fx.path] = true
			has = true
		}
		if has {
			work = append(work, p)
		}
	}
	if len(work) > 0 && !l.narrow {
		t0 := time.Now()
		if err := l.indexDynamic(req.Callgraph); err != nil {
			req.Logger.Warn("dynamic calls not resolved", "err", err)
		}
		t1 := time.Now()
		l.indexInterfaces()
		req.Logger.Debug("indexed", "callgraph", req.Callgraph, "dynamic", t1.Sub(t0), "interfaces", time.Since(t1))
	}

	jobs := make(chan *packages.Package)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range min(runtime.GOMAXPROCS(0), len(work)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				if err := l.finishPackage(p, req, emit); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, p := range work {
		if ctx.Err() != nil {
			break
		}
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, f := range files {
		if !covered[f] {
			if err := emit(ingest.FileFacts{File: ingest.File{Path: f}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// rel is a class relation found in a type declaration.
type rel struct {
	to  *types.TypeName
	r   ingest.Relation
	pos token.Pos
}

// pkgX is the extraction of one package.
type pkgX struct {
	l    *loaded
	pkg  *packages.Package
	info *types.Info
	// rels are the class relations of each type declaration; deps the
	// DEPENDENCY edges each method declaration owns: a pair (A, B) is
	// owned by the first method of the package (files in order) whose
	// signature names B, so that it is one edge of one file.
	rels map[*ast.TypeSpec][]rel
	deps map[*ast.FuncDecl][]rel
}

// finishPackage emits the facts of p: completed, if it was extracted
// early (early.go), else extracted now.
func (l *loaded) finishPackage(p *packages.Package, req ingest.Request, emit func(ingest.FileFacts) error) error {
	l.mu.Lock()
	files, early := l.earlyFiles[p]
	delete(l.earlyFiles, p)
	l.mu.Unlock()
	if !early {
		files = l.runPackage(p, req, false)
	}
	for _, fx := range files {
		if fx.spooled != nil {
			if err := l.spool.unspill(fx); err != nil {
				return err
			}
		}
		if early {
			fx.complete()
		}
		fx.finish()
		if err := emit(fx.facts); err != nil {
			return err
		}
	}
	return nil
}

// runPackage extracts the facts of p's tree files, leaving out, when
// deferred, what needs the whole module (early.go). The package's syntax
// and type information are released: its types stay reachable for the
// packages that import it.
func (l *loaded) runPackage(p *packages.Package, req ingest.Request, deferred bool) []*fileX {
	x := &pkgX{l: l, pkg: p, info: p.TypesInfo, rels: map[*ast.TypeSpec][]rel{}, deps: map[*ast.FuncDecl][]rel{}}
	if x.info == nil {
		x.info = &types.Info{}
	}
	x.classRelations()
	diags := l.diagnostics(p, l.dir)
	var out []*fileX
	for _, f := range p.Syntax {
		r := l.rel(f.FileStart)
		if r == "" {
			continue
		}
		fx := &fileX{pkgX: x, file: f, path: r, seen: map[edgeKey]int{}, ext: map[string]bool{}}
		if deferred {
			fx.deferred = &deferredParts{}
		}
		fx.facts.File.Path = r
		fx.facts.File.Diagnostics = diags[r]
		fx.run()
		if !req.NoOccurrences {
			fx.occurrences()
		}
		out = append(out, fx)
	}
	// Nothing reads the types.Info once the package is extracted, but
	// the SSA program, alive until the module is indexed, still points
	// at it from each generic function (ssa keeps an origin's Info for
	// its instances; this program builds instances as wrappers, which
	// read none): emptied, it frees its maps and the syntax their keys
	// hold.
	if p.TypesInfo != nil {
		*p.TypesInfo = types.Info{}
	}
	p.Syntax, p.TypesInfo = nil, nil
	return out
}

// classRelations computes the relations of every type declared in the
// package and the DEPENDENCY edges of its methods (all files: a method in
// one file needs the relations of its receiver declared in another).
func (x *pkgX) classRelations() {
	// stronger holds, per type, the types it has a relation other than
	// DEPENDENCY with.
	stronger := map[*types.TypeName]map[*types.TypeName]bool{}
	for _, f := range x.pkg.Syntax {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, s := range g.Specs {
				ts := s.(*ast.TypeSpec)
				tn, _ := x.info.Defs[ts.Name].(*types.TypeName)
				if tn == nil {
					continue
				}
				rs := x.typeRels(tn, ts)
				m := stronger[tn]
				if m == nil {
					m = map[*types.TypeName]bool{}
					stronger[tn] = m
				}
				for _, r := range rs {
					if r.r != ingest.Dependency {
						m[r.to] = true
					}
				}
				x.rels[ts] = rs
			}
		}
	}
	for ts, rs := range x.rels {
		tn, _ := x.info.Defs[ts.Name].(*types.TypeName)
		x.rels[ts] = weakest(rs, stronger[tn])
	}
	owned := map[[2]*types.TypeName]bool{}
	for _, f := range x.pkg.Syntax {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil {
				continue
			}
			fn, _ := x.info.Defs[fd.Name].(*types.Func)
			if fn == nil || fn.Signature().Recv() == nil {
				// A method whose receiver did not parse has a declaration
				// with a receiver list but a signature without one.
				continue
			}
			recv := namedOf(fn.Signature().Recv().Type())
			if recv == nil || !x.l.inTree(recv.Obj()) {
				continue
			}
			a := recv.Obj()
			for _, list := range []*ast.FieldList{fd.Type.Params, fd.Type.Results} {
				if list == nil {
					continue
				}
				for _, fld := range list.List {
					for _, b := range namedIn(x.info.TypeOf(fld.Type)) {
						k := [2]*types.TypeName{a, b}
						if b == a || owned[k] || stronger[a][b] || typeQN(b) == "" {
							continue
						}
						owned[k] = true
						x.deps[fd] = append(x.deps[fd], rel{to: b, r: ingest.Dependency, pos: fld.Pos()})
					}
				}
			}
		}
	}
}

// weakest drops the DEPENDENCY relations (of function-typed fields) to
// types with a stronger relation, and repeated ones.
func weakest(rs []rel, stronger map[*types.TypeName]bool) []rel {
	out := rs[:0]
	dep := map[*types.TypeName]bool{}
	for _, r := range rs {
		if r.r == ingest.Dependency {
			if stronger[r.to] || dep[r.to] {
				continue
			}
			dep[r.to] = true
		}
		out = append(out, r)
	}
	return out
}

// typeRels lists the class relations of one type declaration, to types of
// the tree and external ones alike.
func (x *pkgX) typeRels(tn *types.TypeName, ts *ast.TypeSpec) []rel {
	var out []rel
	add := func(n *types.Named, r ingest.Relation, pos token.Pos) {
		if n == nil || typeQN(n.Obj()) == "" {
			return
		}
		out = append(out, rel{to: n.Obj(), r: r, pos: pos})
	}
	if ts.Assign.IsValid() {
		if n, ok := types.Unalias(x.info.TypeOf(ts.Type)).(*types.Named); ok {
			add(n.Origin(), ingest.DashedLink, ts.Name.Pos())
		}
		return out
	}
	switch t := ts.Type.(type) {
	case *ast.StructType:
		for _, fld := range t.Fields.List {
			ft := x.info.TypeOf(fld.Type)
			if ft == nil {
				continue
			}
			if len(fld.Names) == 0 {
				n := namedOf(ft)
				add(n, ingest.Inheritance, fld.Pos())
				if n != nil {
					// The type arguments of an embedded generic type are
					// held like a field's.
					for _, fr := range fieldRels(n.Origin(), types.Unalias(ft)) {
						add(fr.n, fr.r, fld.Pos())
					}
				}
				continue
			}
			for _, fr := range fieldRels(nil, ft) {
				add(fr.n, fr.r, fld.Pos())
			}
		}
	case *ast.InterfaceType:
		for _, m := range t.Methods.List {
			if len(m.Names) == 0 {
				if n, ok := types.Unalias(x.info.TypeOf(m.Type)).(*types.Named); ok && types.IsInterface(n) {
					add(n.Origin(), ingest.Inheritance, m.Pos())
				}
			}
		}
	default:
		// type A B (also B[T], pkg.B): a link to the named type B.
		if n, ok := types.Unalias(x.info.TypeOf(ts.Type)).(*types.Named); ok {
			add(n.Origin(), ingest.Link, ts.Type.Pos())
		}
	}
	for _, i := range x.l.realizations(tn) {
		add(namedOf(i.Type()), ingest.Realization, ts.Name.Pos())
	}
	return out
}

// fieldRel is one relation a struct field's type makes.
type fieldRel struct {
	n *types.Named
	r ingest.Relation
}

// fieldRels lists the relations a field of type t makes: a named type by
// value is COMPOSITION, behind a pointer, slice, array, map (key or
// value), channel or as a type argument AGGREGATION, a named interface
// anywhere ASSOCIATION; the named types of a function type's parameters
// and results DEPENDENCY. skip is a type the caller already related (an
// embedded field's own type).
func fieldRels(skip *types.Named, t types.Type) []fieldRel {
	var out []fieldRel
	var walk func(t types.Type, wrapped, dep bool)
	walk = func(t types.Type, wrapped, dep bool) {
		switch u := types.Unalias(t).(type) {
		case *types.Named:
			o := u.Origin()
			switch {
			case o == skip:
			case dep:
				out = append(out, fieldRel{o, ingest.Dependency})
			case types.IsInterface(o):
				out = append(out, fieldRel{o, ingest.Association})
			case wrapped:
				out = append(out, fieldRel{o, ingest.Aggregation})
			default:
				out = append(out, fieldRel{o, ingest.Composition})
			}
			for a := range u.TypeArgs().Types() {
				walk(a, true, dep)
			}
		case *types.Pointer:
			walk(u.Elem(), true, dep)
		case *types.Slice:
			walk(u.Elem(), true, dep)
		case *types.Array:
			walk(u.Elem(), true, dep)
		case *types.Chan:
			walk(u.Elem(), true, dep)
		case *types.Map:
			walk(u.Key(), true, dep)
			walk(u.Elem(), true, dep)
		case *types.Signature:
			for _, tup := range []*types.Tuple{u.Params(), u.Results()} {
				for v := range tup.Variables() {
					walk(v.Type(), true, true)
				}
			}
		}
	}
	walk(t, false, false)
	return out
}

// namedIn lists the named types (generic origins) a parameter or result
// type names: itself, through pointers, slices, arrays, maps, channels,
// type arguments and function types.
func namedIn(t types.Type) []*types.TypeName {
	var out []*types.TypeName
	for _, fr := range fieldRels(nil, t) {
		out = append(out, fr.n.Obj())
	}
	return out
}

// indexInterfaces collects the non-empty, non-generic named interfaces a
// type of the tree may realize — the tree's own, the exported ones of the
// packages the tree imports directly, and the built-in error — bucketed by
// the Id of their first method, so realizations test only plausible
// pairs.
func (l *loaded) indexInterfaces() {
	l.ifaces = map[string][]*types.TypeName{}
	l.realize = map[*types.TypeName][]*types.TypeName{}
	seen := map[*types.TypeName]bool{}
	addIface := func(tn *types.TypeName) {
		if seen[tn] || tn.IsAlias() {
			return
		}
		n, ok := tn.Type().(*types.Named)
		if !ok || n.TypeParams().Len() > 0 {
			return
		}
		it, ok := n.Underlying().(*types.Interface)
		if !ok || it.NumMethods() == 0 {
			return
		}
		seen[tn] = true
		id := it.Method(0).Id()
		l.ifaces[id] = append(l.ifaces[id], tn)
	}
	addIface(types.Universe.Lookup("error").(*types.TypeName))
	visited := map[*types.Package]bool{}
	var visit func(p *types.Package)
	visit = func(p *types.Package) {
		if p == nil || visited[p] {
			return
		}
		visited[p] = true
		for _, name := range p.Scope().Names() {
			if tn, ok := p.Scope().Lookup(name).(*types.TypeName); ok && l.inTree(tn) {
				addIface(tn)
			}
		}
		for _, q := range p.Imports() {
			if l.inTreeTypes(q) {
				visit(q)
				continue
			}
			for _, name := range q.Scope().Names() {
				if tn, ok := q.Scope().Lookup(name).(*types.TypeName); ok && tn.Exported() {
					addIface(tn)
				}
			}
		}
	}
	for _, p := range l.pkgs {
		visit(p.Types)
	}
	l.implDone = true
}

// inTreeTypes reports whether package p is one of the tree's: its scope
// declares something in a tree file (an empty package counts as outside).
func (l *loaded) inTreeTypes(p *types.Package) bool {
	sc := p.Scope()
	for _, name := range sc.Names() {
		return l.inTree(sc.Lookup(name))
	}
	return false
}

// realizations returns the interfaces that T or *T implements (T a
// non-interface, non-generic named type of the tree), among those
// indexInterfaces collected.
func (l *loaded) realizations(tn *types.TypeName) []*types.TypeName {
	if !l.implDone || tn.IsAlias() {
		return nil
	}
	n, ok := tn.Type().(*types.Named)
	if !ok || n.TypeParams().Len() > 0 || types.IsInterface(n) {
		return nil
	}
	l.mu.Lock()
	if r, ok := l.realize[tn]; ok {
		l.mu.Unlock()
		return r
	}
	l.mu.Unlock()
	ptr := types.NewPointer(n)
	ms := types.NewMethodSet(ptr)
	var out []*types.TypeName
	seen := map[*types.TypeName]bool{}
	for sel := range ms.Methods() {
		for _, i := range l.ifaces[sel.Obj().Id()] {
			if !seen[i] && types.Implements(ptr, i.Type().Underlying().(*types.Interface)) {
				seen[i] = true
				out = append(out, i)
			}
		}
	}
	sort.Slice(out, func(a, b int) bool { return typeQN(out[a]) < typeQN(out[b]) })
	l.mu.Lock()
	l.realize[tn] = out
	l.mu.Unlock()
	return out
}
