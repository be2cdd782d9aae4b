package golang

import (
	"context"
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"runtime"
	"sync"

	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
)

// pipeline builds CHA's SSA program while type-checking goes on: each
// analysed package is built as soon as it and its imports are checked,
// its bodies summarised and freed (bodies.go), and its types.Info cut to
// what extraction still reads (pruneInfo). The full types.Info of the
// tree's packages — a quarter of the client's memory at the end of
// type-checking all of GOROOT/src, mostly Info.Types — then never lives
// all at once. indexDynamic takes the program from here.
type pipeline struct {
	prog      *ssa.Program
	created   map[*types.Package]bool
	syntactic []*ssa.Package
	bs        *bodies
	spell     *spellings             // for contrib
	contrib   map[string]string      // the contribution digests of the built packages' files
	err       error                  // SSA panicked (the module's dynamic calls are lost), or errSpent
	checked   chan *packages.Package // the analysed packages, as their checks end
	leftover  int                    // packages whose wait never ended (a bug: the tests check)
	finished  chan struct{}          // closed when run returns

	// The checks of analysed packages wait (admit) while limit of them
	// are checked and not yet taken, unless run itself waits for a
	// check: a backlog's full types.Info is what the pipeline is there
	// to free.
	mu      sync.Mutex
	cond    *sync.Cond
	backlog int
	limit   int
	idle    bool
}

func newPipeline(fset *token.FileSet) *pipeline {
	pl := &pipeline{prog: ssa.NewProgram(fset, 0), created: map[*types.Package]bool{}, bs: newBodies(nil),
		contrib: map[string]string{}, finished: make(chan struct{}), limit: 2 * runtime.GOMAXPROCS(0)}
	pl.spell = newSpellings(pl.bs)
	pl.cond = sync.NewCond(&pl.mu)
	return pl
}

// admit waits until an analysed package may be checked.
func (pl *pipeline) admit() {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	for pl.backlog >= pl.limit && !pl.idle {
		pl.cond.Wait()
	}
	pl.backlog++
}

func (pl *pipeline) update(f func()) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	f()
	pl.cond.Broadcast()
}

// next is the next analysed package whose check ended; while none has,
// run is idle and the checks are not held back.
func (pl *pipeline) next() *packages.Package {
	select {
	case p := <-pl.checked:
		return p
	default:
	}
	pl.update(func() { pl.idle = true })
	p := <-pl.checked
	pl.update(func() { pl.idle = false })
	return p
}

// run builds each analysed package as soon as it can, in whatever order
// the checks finish: once it is checked, every analysed package it
// imports (transitively) is built or refused, and the analysed packages
// sharing an import path with one of its dependencies are checked —
// wellTyped reads their errors (their bodies are those of the variants p
// imports, checked without bodies). typecheck sends each analysed package
// on checked once, checked or not (a cancelled load); run never makes
// type-checking wait.
func (pl *pipeline) run(ctx context.Context, l *loaded, order []*packages.Package, analysed map[*packages.Package]bool) {
	defer close(pl.finished)
	received := 0 // how many analysed packages run has taken from checked
	defer func() {
		if r := recover(); r != nil {
			pl.err = fmt.Errorf("golang: ssa: %v", r)
			pl.update(func() { pl.limit = len(analysed) + 1 })
			for range len(analysed) - received {
				<-pl.checked // let the rest of the checks be sent
			}
		}
	}()
	byPath := map[string][]*packages.Package{}
	for _, p := range order {
		if analysed[p] {
			byPath[p.PkgPath] = append(byPath[p.PkgPath], p)
		}
	}
	// wait counts what each package still waits for; onChecked and
	// onBuilt list whose wait a package's check or build ends.
	wait := map[*packages.Package]int{}
	onChecked := map[*packages.Package][]*packages.Package{}
	onBuilt := map[*packages.Package][]*packages.Package{}
	twins := map[*packages.Package][]*packages.Package{}
	for _, p := range order {
		if !analysed[p] {
			continue
		}
		wait[p] = 1 // its own check
		onChecked[p] = append(onChecked[p], p)
		paths := map[string]bool{}
		packages.Visit([]*packages.Package{p}, func(q *packages.Package) bool {
			if q == p {
				return true
			}
			if analysed[q] {
				wait[p]++
				onBuilt[q] = append(onBuilt[q], p)
			}
			if !paths[q.PkgPath] {
				paths[q.PkgPath] = true
				for _, t := range byPath[q.PkgPath] {
					twins[p] = append(twins[p], t)
					if t != p { // p's own check is counted already
						wait[p]++
						onChecked[t] = append(onChecked[t], p)
					}
				}
			}
			return true
		}, nil)
	}
	var ready []*packages.Package
	release := func(ps []*packages.Package) {
		for _, p := range ps {
			if wait[p]--; wait[p] == 0 {
				ready = append(ready, p)
			}
		}
	}
	for received < len(analysed) {
		p := pl.next()
		received++
		release(onChecked[p])
		for len(ready) > 0 && ctx.Err() == nil {
			q := ready[0]
			ready = ready[1:]
			pl.extract(l, q, pl.take(l, q, twins[q]))
			pl.update(func() { pl.backlog-- })
			delete(wait, q)
			release(onBuilt[q])
		}
	}
	if ctx.Err() != nil {
		return
	}
	// Nothing should be left; if it is, every check is over by now.
	for _, p := range order {
		if _, left := wait[p]; left && analysed[p] {
			pl.leftover++
			pl.extract(l, p, pl.take(l, p, twins[p]))
		}
	}
}

// take builds p if it is well-typed and not built yet, and prunes its
// types.Info; it reports whether it built p.
func (pl *pipeline) take(l *loaded, p *packages.Package, twins []*packages.Package) (built bool) {
	if p.Types != nil && len(p.Syntax) > 0 && !pl.created[p.Types] && l.wellTypedWith(p, errorFiles(twins)) {
		pl.build(l, p)
		built = true
	}
	if p.TypesInfo != nil {
		pruneInfo(p.TypesInfo)
	}
	return built
}

// extractHook, when set (by tests), sees each package the pipeline
// extracts, before it does.
var extractHook func(p *packages.Package)

// extract digests what the files of p, if built, give the rest of the
// tree, then extracts p early (early.go), which releases its syntax.
func (pl *pipeline) extract(l *loaded, p *packages.Package, built bool) {
	if extractHook != nil {
		extractHook(p)
	}
	if built {
		l.contributionsOf(pl.prog, pl.spell, p, pl.contrib)
	}
	l.extractEarly(p)
}

// build creates p from its syntax, after every package it imports
// (from types, unless built already: the analysed ones came first), builds
// it and frees its bodies.
func (pl *pipeline) build(l *loaded, p *packages.Package) {
	createAll(pl.prog, pl.created, p.Types.Imports())
	pl.created[p.Types] = true
	sp := pl.prog.CreatePackage(p.Types, p.Syntax, p.TypesInfo, true)
	pl.syntactic = append(pl.syntactic, sp)
	pl.bs.add(sp)
	sp.Build()
	pl.bs.drop(pl.prog, sp)
}

// pruneInfo keeps of info what extraction and the contribution digests
// read once the package's SSA is built: Defs, Uses, Selections, and of
// Types the entries of type expressions and builtins (a call's Fun is
// looked up to tell conversions and builtins from calls; declarations'
// types are read). The rest of Types, one entry per expression, is most
// of a types.Info. No later build reads it: the program is made without
// ssa.InstantiateGenerics, so instances of a package's generic functions
// built by other packages are wrappers, not bodies built from its syntax.
func pruneInfo(info *types.Info) {
	kept := map[ast.Expr]types.TypeAndValue{}
	for e, tv := range info.Types {
		if tv.IsType() || tv.IsBuiltin() {
			kept[e] = tv
		}
	}
	info.Types = kept
	info.Implicits, info.Instances, info.Scopes, info.FileVersions = nil, nil, nil, nil
}
