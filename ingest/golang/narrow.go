package golang

import (
	"context"
	"go/token"
	"go/types"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"

	"github.com/grafo/grafo/ingest"
)

// narrowRun is one attempt at the body-only path (incremental.go).
type narrowRun struct {
	req    ingest.Request
	an     *analysis
	m      *module
	prefix string          // the module's key prefix in an
	dirs   map[string]bool // the changed files' directories
	l      *loaded
}

// narrow re-analyses only the changed files' packages when the kept
// record allows it (see incremental.go). ok false means the whole tree
// must be analysed: nothing was emitted then. n is the number of
// packages re-analysed.
func (fe *Frontend) narrow(ctx context.Context, req ingest.Request, mods map[string]*module, all map[string]bool,
	stamp string, res *ingest.Result, emit func(ingest.FileFacts) error) (ok bool, err error) {
	nr, why := fe.narrowPlan(req, mods, all, stamp)
	if nr == nil {
		req.Logger.Info("whole-tree analysis", "reason", why)
		return false, nil
	}
	t0 := time.Now()
	if why := nr.load(ctx, all); why != "" {
		req.Logger.Info("whole-tree analysis", "reason", why)
		return false, nil
	}
	res.Load += time.Since(t0)
	t1 := time.Now()
	if why := nr.analyse(); why != "" {
		req.Logger.Info("whole-tree analysis", "reason", why)
		return false, nil
	}
	var changed []string
	for p := range req.Changed {
		changed = append(changed, p)
	}
	sort.Strings(changed)
	if err := nr.l.extract(ctx, req, changed, emit); err != nil {
		return true, err
	}
	res.Analyse += time.Since(t1)
	res.Narrow = len(nr.l.pkgs)
	req.Logger.Info("body-only change: re-analysed only the changed files' packages", "packages", len(nr.l.pkgs),
		"load", t1.Sub(t0), "analyse", time.Since(t1))
	for _, p := range changed {
		st := nr.an.Files[p]
		st.MD5, st.Facts = md5Of(req.Files, p), ""
		nr.an.Files[p] = st
	}
	fe.setPending(req.Root, nr.an)
	return true, nil
}

func md5Of(files []ingest.File, p string) string {
	i := sort.Search(len(files), func(i int) bool { return files[i].Path >= p })
	if i < len(files) && files[i].Path == p {
		return files[i].MD5
	}
	return ""
}

// narrowPlan checks what can be checked before loading anything: a kept
// record that describes the graph, changed .go files of one module, no
// deletions, no tests, CHA. It returns nil and why not otherwise.
func (fe *Frontend) narrowPlan(req ingest.Request, mods map[string]*module, all map[string]bool, stamp string) (*narrowRun, string) {
	switch {
	case req.Callgraph != "cha":
		return nil, "call graph " + req.Callgraph + " has no record"
	case len(req.Deleted) > 0:
		return nil, "files deleted"
	case hasTests(all):
		return nil, "the tree holds tests"
	}
	an := fe.readAnalysis(req.Root, stamp)
	if an == nil {
		return nil, "no record of an earlier analysis with this toolchain and binary"
	}
	if !an.describes(req) {
		return nil, "the record does not describe the graph, or a changed file has no contribution digest"
	}
	nr := &narrowRun{req: req, an: an, dirs: map[string]bool{}}
	for p := range req.Changed {
		m := owningModule(mods, p)
		if m == nil || nr.m != nil && m != nr.m {
			return nil, "changes in several modules"
		}
		nr.m = m
		nr.dirs[path.Dir(p)] = true
	}
	if nr.m == nil {
		return nil, "nothing to analyse"
	}
	nr.prefix = nr.m.dir + "\x00"
	return nr, ""
}

// load loads the changed files' packages from source, every other
// package with declarations only, and checks they type-check and hold
// every changed file.
func (nr *narrowRun) load(ctx context.Context, all map[string]bool) string {
	var patterns []string
	for d := range nr.dirs {
		rel := d
		if nr.m.dir != "." {
			rel = strings.TrimPrefix(strings.TrimPrefix(d, nr.m.dir), "/")
		}
		if rel == "" || rel == "." {
			patterns = append(patterns, ".")
		} else {
			patterns = append(patterns, "./"+rel)
		}
	}
	sort.Strings(patterns)
	keep := func(r string) bool { return nr.dirs[path.Dir(r)] }
	l, err := loadWith(ctx, nr.req, nr.m.dir, all, patterns, loadOptions{keep: keep})
	if err != nil {
		return "load: " + err.Error()
	}
	nr.l = l
	covered := map[string]bool{}
	for _, p := range l.pkgs {
		if len(p.Errors) > 0 || p.Types == nil || p.TypesInfo == nil {
			return "package " + p.PkgPath + " has errors"
		}
		for _, f := range p.Syntax {
			covered[l.rel(f.FileStart)] = true
		}
	}
	for p := range nr.req.Changed {
		if !covered[p] {
			return p + " is in no package of the build"
		}
	}
	return ""
}

// analyse builds SSA for the changed packages, compares the changed
// files' contribution digests with the record, and answers the
// packages' dynamic calls and realizations from it.
func (nr *narrowRun) analyse() (why string) {
	l := nr.l
	defer func() {
		if r := recover(); r != nil {
			why = "ssa panicked"
		}
	}()
	// load refused the changed packages if any has errors; their
	// dependencies' bodies were not checked here, and the record vouches
	// for them.
	prog, syntactic, bs := l.buildWhole(func(*packages.Package) bool { return true })
	funcs := l.treeFunctions(prog, syntactic, bs)
	contrib := l.contributions(prog, syntactic, bs)
	for p := range nr.req.Changed {
		if c := contrib[p]; c == "" || c != nr.an.Files[p].Contrib {
			return p + ": the change reaches beyond its function bodies"
		}
	}
	if why := nr.dynamic(funcs); why != "" {
		return why
	}
	nr.realizations()
	l.narrow = true
	return ""
}

// dynamic fills l.dyn for every dynamic call of the changed packages,
// from the record, or as indexDynamic would for a closure or bound method
// the call resolves to.
func (nr *narrowRun) dynamic(funcs map[*ssa.Function]bool) string {
	l := nr.l
	l.dyn = newCalleeIndex()
	for fn := range funcs {
		if !ownsSites(fn) {
			continue
		}
		for _, b := range fn.Blocks {
			for _, instr := range b.Instrs {
				site, ok := instr.(ssa.CallInstruction)
				if !ok {
					continue
				}
				if why := nr.site(site.Common()); why != "" {
					return why
				}
			}
		}
	}
	return ""
}

func (nr *narrowRun) site(c *ssa.CallCommon) string {
	l := nr.l
	if _, direct := c.Value.(*ssa.Function); direct && !c.IsInvoke() || !c.Pos().IsValid() || l.rel(c.Pos()) == "" {
		return ""
	}
	if _, ok := c.Value.(*ssa.Builtin); ok {
		return ""
	}
	if g := c.StaticCallee(); g != nil && !c.IsInvoke() {
		ce := l.calleeOf(g)
		if ce.qn != "" && (ce.fn == nil || l.inTree(ce.fn)) {
			l.dyn.add(c.Pos(), ce)
		}
		return ""
	}
	k := dynKey(siteOf(c), typeKey)
	cs, ok := nr.an.Keys[nr.prefix+k]
	if k == "" || !ok {
		return "a dynamic call at " + l.fset.Position(c.Pos()).String() + " has no recorded callees"
	}
	for _, cc := range cs {
		l.dyn.add(c.Pos(), callee{qn: cc.QN, anon: cc.Anon, ext: cc.Ext})
	}
	return ""
}

// realizations sets the realizations of the changed packages' types
// from the record: the interface objects themselves where they are
// loaded (relations compare them by identity), stand-ins with their name,
// package and place (tree or not) where they are not.
func (nr *narrowRun) realizations() {
	l := nr.l
	l.realize = map[*types.TypeName][]*types.TypeName{}
	l.ifaces = map[string][]*types.TypeName{}
	l.implDone = true
	loaded := map[string]*types.Package{}
	var roots []*packages.Package
	for _, p := range l.pkgs {
		roots = append(roots, p)
	}
	packages.Visit(roots, nil, func(p *packages.Package) {
		if p.Types != nil {
			loaded[p.PkgPath] = p.Types
		}
	})
	var treePos token.Pos
	for _, p := range l.pkgs {
		for _, f := range p.Syntax {
			if l.rel(f.FileStart) != "" {
				treePos = f.FileStart
			}
		}
	}
	for _, p := range l.pkgs {
		sc := p.Types.Scope()
		for _, name := range sc.Names() {
			tn, ok := sc.Lookup(name).(*types.TypeName)
			if !ok {
				continue
			}
			for _, ci := range nr.an.Realize[nr.prefix+typeQN(tn)] {
				l.realize[tn] = append(l.realize[tn], ci.resolve(loaded, treePos))
			}
		}
	}
}

func (ci cachedIface) resolve(loaded map[string]*types.Package, treePos token.Pos) *types.TypeName {
	if ci.Pkg == "" {
		if tn, ok := types.Universe.Lookup(ci.Name).(*types.TypeName); ok {
			return tn
		}
	} else if p := loaded[ci.Pkg]; p != nil {
		if tn, ok := p.Scope().Lookup(ci.Name).(*types.TypeName); ok {
			return tn
		}
	}
	pos := token.NoPos
	if ci.InTree {
		pos = treePos // any position in the tree: only where it is declared matters
	}
	var pkg *types.Package
	if ci.Pkg != "" {
		pkg = types.NewPackage(ci.Pkg, path.Base(ci.Pkg))
	}
	tn := types.NewTypeName(pos, pkg, ci.Name, nil)
	types.NewNamed(tn, types.NewInterfaceType(nil, nil), nil)
	return tn
}
