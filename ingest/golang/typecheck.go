package golang

import (
	"context"
	"fmt"
	"go/ast"
	"go/scanner"
	"go/types"
	"os"
	"runtime"
	"sync"

	"golang.org/x/tools/go/packages"
)

// listMode asks go/packages for the metadata only (what go list says):
// typecheck parses and type-checks, so that only the packages the ingest
// analyses keep syntax, function bodies and types.Info. go/packages would
// type-check every package of the import graph from source with bodies
// and types.Info and hold all of it until it returns: with tests, each
// package a test recompiles is one more copy ("fmt [strconv.test]"), 1,500
// of them in std, several GiB in all.
const listMode = packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles |
	packages.NeedImports | packages.NeedDeps | packages.NeedModule | packages.NeedTypesSizes

// checker type-checks the packages of one load as go/packages' loader does
// (same importer, sizes, Go version and error conversion), except that
// packages not analysed get no types.Info, and are checked without
// function bodies: only their declarations matter, to the packages that
// import them. Errors in bodies decide whether SSA is built for the
// packages that import them (wellTyped), so the tree's packages still
// have their bodies checked when no analysed package of the same import
// path does it for them (another module's packages: cmd imports std); a
// variant's body errors are those of its analysed twin (bodyErrors).
type checker struct {
	l        *loaded
	ctx      context.Context
	analysed map[*packages.Package]bool
	bodies   map[*packages.Package]bool // checked with function bodies
	keep     map[string]bool            // files of those: parsed whole

	mu    sync.Mutex
	cache map[string]*parsedFile
	users map[string]int // packages yet to check that list the file
	cpu   chan struct{}
}

// parsedFile is one file's syntax, shared by the packages that list it
// (a package and its test variants) until the last of them is checked.
type parsedFile struct {
	once sync.Once
	f    *ast.File
	err  error
}

// typecheck gives every package reachable from initial its types, and the
// analysed ones their syntax and types.Info too, dependencies first, as
// many at once as there are CPUs.
func (l *loaded) typecheck(ctx context.Context, initial, analysed []*packages.Package) error {
	c := &checker{l: l, ctx: ctx, analysed: map[*packages.Package]bool{}, bodies: map[*packages.Package]bool{}, keep: map[string]bool{},
		cache: map[string]*parsedFile{}, users: map[string]int{}, cpu: make(chan struct{}, runtime.GOMAXPROCS(0))}
	paths := map[string]bool{}
	for _, p := range analysed {
		c.analysed[p] = true
		paths[p.PkgPath] = true
	}
	var order []*packages.Package
	packages.Visit(initial, nil, func(p *packages.Package) {
		order = append(order, p)
		if c.analysed[p] || !paths[p.PkgPath] && l.inTreePkg(p) {
			c.bodies[p] = true
		}
		for _, f := range p.CompiledGoFiles {
			c.users[f]++
			c.keep[f] = c.keep[f] || c.bodies[p]
		}
	})
	done := make(map[*packages.Package]chan struct{}, len(order))
	for _, p := range order {
		done[p] = make(chan struct{})
	}
	pl := l.early
	if pl != nil {
		pl.checked = make(chan *packages.Package, len(c.analysed))
		go pl.run(ctx, l, order, c.analysed)
	}
	var wg sync.WaitGroup
	for _, p := range order {
		wg.Go(func() {
			if pl != nil && c.analysed[p] {
				defer func() { pl.checked <- p }()
			}
			defer close(done[p])
			for _, imp := range p.Imports {
				<-done[imp]
			}
			if ctx.Err() != nil {
				return
			}
			if pl != nil && c.analysed[p] {
				pl.admit()
			}
			c.cpu <- struct{}{}
			defer func() { <-c.cpu }()
			c.check(p)
		})
	}
	wg.Wait()
	l.errFiles = errorFiles(analysed)
	if pl != nil {
		<-pl.finished
	}
	return ctx.Err()
}

// errorFiles maps the import path of each analysed package with errors to
// the files they point at.
func errorFiles(analysed []*packages.Package) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, p := range analysed {
		for _, e := range p.Errors {
			if m := errPos.FindStringSubmatch(e.Pos); m != nil {
				if out[p.PkgPath] == nil {
					out[p.PkgPath] = map[string]bool{}
				}
				out[p.PkgPath][m[1]] = true
			}
		}
	}
	return out
}

// bodyErrors reports whether q, checked without function bodies, has
// files in which an analysed package of the same import path (the
// package itself, its test variant) has errors: those would have been
// q's too, had its bodies been checked ("fmt [strconv.test]" shares the
// files of fmt).
func bodyErrors(q *packages.Package, errFiles map[string]map[string]bool) bool {
	files := errFiles[q.PkgPath]
	for _, list := range [][]string{q.CompiledGoFiles, q.GoFiles} {
		for _, f := range list {
			if files[f] {
				return true
			}
		}
	}
	return false
}

// check parses and type-checks one package whose imports are checked.
func (c *checker) check(p *packages.Package) {
	p.Fset = c.l.fset
	if p.PkgPath == "unsafe" {
		p.Types, p.Syntax, p.TypesInfo = types.Unsafe, []*ast.File{}, &types.Info{}
		return
	}
	p.Types = types.NewPackage(p.PkgPath, p.Name)
	files, errs := c.parseFiles(p.CompiledGoFiles)
	defer c.release(p.CompiledGoFiles)
	for _, err := range errs {
		appendError(p, err)
	}
	full := c.analysed[p]
	var info *types.Info
	if full {
		info = newTypesInfo()
	}
	tc := &types.Config{
		Importer:         importer(p),
		IgnoreFuncBodies: !c.bodies[p],
		Error:            func(err error) { appendError(p, err) },
		Sizes:            p.TypesSizes,
	}
	if p.Module != nil && p.Module.GoVersion != "" {
		tc.GoVersion = "go" + p.Module.GoVersion
	}
	typErr := types.NewChecker(tc, c.l.fset, p.Types, info).Files(files)
	if typErr != nil && len(p.Errors) == 0 {
		appendError(p, typErr) // a failure the checker did not report
	}
	p.IllTyped = len(p.Errors) > 0
	for _, imp := range p.Imports {
		p.IllTyped = p.IllTyped || imp.IllTyped
	}
	if full {
		p.Syntax, p.TypesInfo = files, info
	}
}

// importer resolves p's imports to the types of its checked imports.
func importer(p *packages.Package) types.Importer {
	return importerFunc(func(path string) (*types.Package, error) {
		if path == "unsafe" {
			return types.Unsafe, nil
		}
		ip := p.Imports[path]
		if ip == nil {
			// go list lists every import it could resolve, so this is
			// one it could not (or one of a cycle).
			return nil, fmt.Errorf("missing package: %q", path)
		}
		if ip.Types == nil || !ip.Types.Complete() {
			return nil, fmt.Errorf("no type information for %s", path)
		}
		return ip.Types, nil
	})
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

func newTypesInfo() *types.Info {
	return &types.Info{
		Types:        map[ast.Expr]types.TypeAndValue{},
		Defs:         map[*ast.Ident]types.Object{},
		Uses:         map[*ast.Ident]types.Object{},
		Implicits:    map[ast.Node]types.Object{},
		Instances:    map[*ast.Ident]types.Instance{},
		Scopes:       map[ast.Node]*types.Scope{},
		Selections:   map[*ast.SelectorExpr]*types.Selection{},
		FileVersions: map[*ast.File]string{},
	}
}

// appendError records err on p as go/packages does: read and parse
// errors, type errors with their positions.
func appendError(p *packages.Package, err error) {
	switch err := err.(type) {
	case packages.Error:
		p.Errors = append(p.Errors, err)
	case *os.PathError:
		p.Errors = append(p.Errors, packages.Error{Pos: err.Path + ":1", Msg: err.Err.Error(), Kind: packages.ParseError})
	case scanner.ErrorList:
		for _, e := range err {
			p.Errors = append(p.Errors, packages.Error{Pos: e.Pos.String(), Msg: e.Msg, Kind: packages.ParseError})
		}
	case types.Error:
		p.Errors = append(p.Errors, packages.Error{Pos: err.Fset.Position(err.Pos).String(), Msg: err.Msg, Kind: packages.TypeError})
	default:
		p.Errors = append(p.Errors, packages.Error{Pos: "-", Msg: err.Error(), Kind: packages.UnknownError})
	}
}

// parseFiles parses (or takes from the cache) the files, in order,
// leaving out those that did not parse at all.
func (c *checker) parseFiles(names []string) ([]*ast.File, []error) {
	var files []*ast.File
	var errs []error
	for _, name := range names {
		c.mu.Lock()
		pf := c.cache[name]
		if pf == nil {
			pf = &parsedFile{}
			c.cache[name] = pf
		}
		c.mu.Unlock()
		pf.once.Do(func() { pf.f, pf.err = c.parse(name) })
		if pf.f != nil {
			files = append(files, pf.f)
		}
		if pf.err != nil {
			errs = append(errs, pf.err)
		}
	}
	return files, errs
}

// parse reads and parses one file; files that only packages checked
// without bodies list lose their bodies.
func (c *checker) parse(name string) (*ast.File, error) {
	src, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	f, err := c.l.parseFile(c.l.fset, name, src)
	if f != nil && !c.keep[name] {
		stripBodies(f)
	}
	return f, err
}

// release drops the cached syntax of files no package left to check
// lists; analysed packages hold theirs in Package.Syntax.
func (c *checker) release(names []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range names {
		if c.users[name]--; c.users[name] == 0 {
			delete(c.cache, name)
			c.l.fileChecked(name)
		}
	}
}

func stripBodies(f *ast.File) {
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			fd.Body = nil
		}
	}
}
