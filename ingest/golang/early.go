package golang

import (
	"go/ast"
	"go/token"
	"go/types"
	"slices"

	"golang.org/x/tools/go/packages"

	"github.com/grafo/grafo/ingest"
)

// Early extraction. With CHA's pipeline (pipeline.go), each analysed
// package is extracted as soon as its SSA is built, and its syntax and
// types.Info are released at once — function bodies included, which its
// SSA functions would otherwise keep — instead of all of the module's
// living until its last package is checked. Three things need the whole
// module and are left for later, as deferredParts: the callees of its
// dynamic calls (CHA's index), its types' REALIZATIONs (every interface
// of the module must be known), and the DEPENDENCY edges a realization
// overrules (a stronger relation to the same type). extract completes
// them once the module is indexed; the facts are those of an extraction
// run after indexing (TestEarlyExtractionSameFacts).

// dynHole is a dynamic call whose callees are not known yet.
type dynHole struct {
	from        string
	lparen, pos token.Pos
}

// typeSite is a type declaration whose realizations are not known yet.
type typeSite struct {
	tn  *types.TypeName
	qn  string
	pos token.Pos
}

// depEdge is a DEPENDENCY edge of type a to type b, dropped if a turns
// out to realize b.
type depEdge struct {
	key  edgeKey
	a, b *types.TypeName
}

type deferredParts struct {
	holes []dynHole
	types []typeSite
	deps  []depEdge
}

// extractEarly extracts p, deferring what needs the module, and releases
// its syntax and types.Info; the pending files wait in l.earlyFiles.
func (l *loaded) extractEarly(p *packages.Package) {
	syntax := p.Syntax
	files := l.runPackage(p, l.req, true)
	bare := &pkgX{l: l, pkg: p} // without the syntax and types.Info
	for _, fx := range files {
		// A non-ASCII file's column map holds its lines: it is read
		// (again) if completion needs it. An ASCII file's is empty.
		if fx.cols == nil || fx.cols.lines != nil {
			if tf := l.fset.File(fx.file.FileStart); tf != nil {
				fx.src = tf.Name()
			}
			fx.cols = nil
		}
		fx.file, fx.marks, fx.pkgX = nil, nil, bare
		fx.seen, fx.ext = nil, nil // rebuilt from the facts by complete
		l.spill(fx)
	}
	for _, f := range syntax {
		l.fileExtracted(f)
	}
	l.mu.Lock()
	l.earlyFiles[p] = files
	l.mu.Unlock()
}

// spill moves the facts of fx to the module's spool until completion;
// where the spool cannot be made or written, they wait in memory.
func (l *loaded) spill(fx *fileX) {
	l.mu.Lock()
	if l.spool == nil && !l.noSpool {
		s, err := newSpool()
		if err != nil {
			l.req.Logger.Debug("pending facts stay in memory", "err", err)
			l.noSpool = true
		}
		l.spool = s
	}
	s := l.spool
	l.mu.Unlock()
	if s == nil {
		return
	}
	if err := s.spill(fx); err != nil {
		l.req.Logger.Debug("pending facts stay in memory", "file", fx.path, "err", err)
	}
}

// fileExtracted and fileChecked cut a file's bodies once both its
// extraction is done and no check lists it any more (the test variants
// of a package check the same parse of its files, package-level function
// literals included).
func (l *loaded) fileExtracted(f *ast.File) {
	tf := l.fset.File(f.FileStart)
	if tf == nil {
		return
	}
	l.cutMu.Lock()
	defer l.cutMu.Unlock()
	if l.checked[tf.Name()] {
		delete(l.checked, tf.Name())
		cutBodies(f)
		return
	}
	l.cuttable[tf.Name()] = f
}

func (l *loaded) fileChecked(name string) {
	if l.earlyFiles == nil {
		return
	}
	l.cutMu.Lock()
	defer l.cutMu.Unlock()
	if f := l.cuttable[name]; f != nil {
		delete(l.cuttable, name)
		cutBodies(f)
		return
	}
	l.checked[name] = true
}

// cutBodies drops the function bodies of a file whose SSA functions keep
// their declarations (ssa.Function.Syntax): nothing reads the bodies once
// the functions are built and the package extracted.
func cutBodies(f *ast.File) {
	var lits []*ast.FuncLit
	ast.Inspect(f, func(n ast.Node) bool {
		if fl, ok := n.(*ast.FuncLit); ok {
			lits = append(lits, fl)
		}
		return true
	})
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			fd.Body = nil
		}
	}
	for _, fl := range lits {
		fl.Body = nil
	}
}

// complete adds what extractEarly deferred, now that the module's
// dynamic calls and interfaces are indexed.
func (fx *fileX) complete() {
	d := fx.deferred
	fx.deferred = nil
	fx.seen = make(map[edgeKey]int, len(fx.facts.Edges))
	for i, e := range fx.facts.Edges {
		fx.seen[edgeKey{e.From, e.To, e.Relation}] = i
	}
	fx.ext = map[string]bool{}
	for _, n := range fx.facts.Nodes {
		if n.External {
			fx.ext[n.QualifiedName] = true
		}
	}
	for _, h := range d.holes {
		fx.dynamicCalls(h.from, h.lparen, h.pos)
	}
	for _, ts := range d.types {
		for _, i := range fx.l.realizations(ts.tn) {
			if n := namedOf(i.Type()); n != nil && typeQN(n.Obj()) != "" {
				fx.classEdge(ts.qn, ts.tn, rel{to: n.Obj(), r: ingest.Realization, pos: ts.pos})
			}
		}
	}
	drop := map[edgeKey]bool{}
	for _, de := range d.deps {
		if slices.Contains(fx.l.realizations(de.a), de.b) {
			drop[de.key] = true
		}
	}
	if len(drop) == 0 {
		return
	}
	reached := map[string]bool{}
	kept := fx.facts.Edges[:0]
	for _, e := range fx.facts.Edges {
		if !drop[edgeKey{e.From, e.To, e.Relation}] {
			kept = append(kept, e)
			reached[e.To] = true
		}
	}
	fx.facts.Edges, fx.pos, fx.seen = kept, nil, nil
	// An external type only a dropped edge reached is no longer carried.
	nodes := fx.facts.Nodes[:0]
	for _, n := range fx.facts.Nodes {
		if !n.External || n.Kind != ingest.Class || reached[n.QualifiedName] {
			nodes = append(nodes, n)
		}
	}
	fx.facts.Nodes = nodes
}
