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
		if has {
			work = append(work, p)
		}
	}
	if len(work) > 0 {
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
				if err := l.extractPackage(p, req, emit); err != nil {
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
	// rels are the class relations of each type declaration; stronger
	// holds, per type, the types it has a relation other than DEPENDENCY
	// with (a method's DEPENDENCY is dropped when a stronger one exists).
	rels     map[*ast.TypeSpec][]rel
	stronger map[*types.TypeName]map[*types.TypeName]bool
}

func (l *loaded) extractPackage(p *packages.Package, req ingest.Request, emit func(ingest.FileFacts) error) error {
	x := &pkgX{l: l, pkg: p, info: p.TypesInfo, rels: map[*ast.TypeSpec][]rel{},
		stronger: map[*types.TypeName]map[*types.TypeName]bool{}}
	if x.info == nil {
		x.info = &types.Info{}
	}
	x.classRelations()
	diags := l.diagnostics(p, l.dir)
	for _, f := range p.Syntax {
		r := l.rel(f.FileStart)
		if r == "" {
			continue
		}
		fx := &fileX{pkgX: x, file: f, path: r, seen: map[edgeKey]int{}, ext: map[string]bool{}}
		fx.facts.File.Path = r
		fx.facts.File.Diagnostics = diags[r]
		fx.run()
		fx.occurrences()
		fx.finish()
		if err := emit(fx.facts); err != nil {
			return err
		}
	}
	// The package's syntax and type information are no longer needed; its
	// types stay reachable for the packages that import it.
	p.Syntax, p.TypesInfo = nil, nil
	return nil
}

// classRelations computes the relations of every type declared in the
// package (all files: a method in one file needs the relations of its
// receiver declared in another).
func (x *pkgX) classRelations() {
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
				x.rels[ts] = rs
				m := x.stronger[tn]
				if m == nil {
					m = map[*types.TypeName]bool{}
					x.stronger[tn] = m
				}
				for _, r := range rs {
					m[r.to] = true
				}
			}
		}
	}
}

// typeRels lists the class relations of one type declaration.
func (x *pkgX) typeRels(tn *types.TypeName, ts *ast.TypeSpec) []rel {
	var out []rel
	add := func(n *types.Named, r ingest.Relation, pos token.Pos) {
		if n == nil || n.Obj() == tn || !x.l.inTree(n.Obj()) || typeQN(n.Obj()) == "" {
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
				add(namedOf(ft), ingest.Inheritance, fld.Pos())
				continue
			}
			n, wrapped := elemNamed(ft)
			if n == nil {
				continue
			}
			switch {
			case types.IsInterface(n):
				add(n, ingest.Association, fld.Pos())
			case wrapped:
				add(n, ingest.Aggregation, fld.Pos())
			default:
				add(n, ingest.Composition, fld.Pos())
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

// indexInterfaces collects the non-empty, non-generic named interfaces of
// the tree reachable from the module's packages, bucketed by the Id of
// their first method, so realizations test only plausible pairs.
func (l *loaded) indexInterfaces() {
	l.ifaces = map[string][]*types.TypeName{}
	l.realize = map[*types.TypeName][]*types.TypeName{}
	seen := map[*types.Package]bool{}
	var visit func(p *types.Package)
	visit = func(p *types.Package) {
		if p == nil || seen[p] {
			return
		}
		seen[p] = true
		for _, name := range p.Scope().Names() {
			tn, ok := p.Scope().Lookup(name).(*types.TypeName)
			if !ok || tn.IsAlias() || !l.inTree(tn) {
				continue
			}
			n, ok := tn.Type().(*types.Named)
			if !ok || n.TypeParams().Len() > 0 {
				continue
			}
			it, ok := n.Underlying().(*types.Interface)
			if !ok || it.NumMethods() == 0 {
				continue
			}
			id := it.Method(0).Id()
			l.ifaces[id] = append(l.ifaces[id], tn)
		}
		for _, q := range p.Imports() {
			visit(q)
		}
	}
	for _, p := range l.pkgs {
		visit(p.Types)
	}
	l.implDone = true
}

// realizations returns the interfaces of the tree that T or *T implements
// (T a non-interface, non-generic named type).
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
