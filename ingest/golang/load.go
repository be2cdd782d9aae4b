package golang

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/tools/go/packages"

	"github.com/grafo/grafo/ingest"
)

// loaded is one module's packages and what the extraction shares across
// them: positions → tree files, field owners, dynamic call sites,
// realizations.
type loaded struct {
	fset *token.FileSet
	root string          // absolute tree root
	dir  string          // absolute module directory
	tree map[string]bool // every claimed file of the tree (slash paths)
	pkgs []*packages.Package

	mu       sync.Mutex
	relCache map[string]string       // adjusted filename → tree path or ""
	fields   map[*types.Var]string   // field → qualified name
	scanned  map[*types.Package]bool // packages whose fields are in fields
	dyn      *calleeIndex            // Lparen of a dynamic call → callees
	realize  map[*types.TypeName][]*types.TypeName
	ifaces   map[string][]*types.TypeName // interface by the Id of one of its methods
	implDone bool
	errFiles map[string]map[string]bool // import path → files with errors (analysed packages)

	// For the body-only re-ingest (incremental.go): keep says which tree
	// files keep their function bodies (nil: all); text digests each
	// tree file's text outside function bodies; contrib and keys are what
	// the whole-tree analysis records for the next run; narrow means the
	// dynamic calls and realizations came from that record.
	keep    func(rel string) bool
	text    map[string]string
	contrib map[string]string
	keys    map[string][]callee
	narrow  bool

	// wholeSSA builds the SSA program all at once and keeps every body
	// until the analysis is done, as before bodies.go: the tests compare
	// the two. Otherwise CHA's program is built while the packages are
	// type-checked (early, pipeline.go).
	wholeSSA bool
	early    *pipeline
	// With the pipeline, each analysed package is extracted as soon as it
	// is built (early.go): its files, awaiting completion.
	req        ingest.Request
	earlyFiles map[*packages.Package][]*fileX
	spool      *spool // their facts (spool.go), nil until the first
	noSpool    bool   // no spool could be made: the facts stay in memory
	// Variants of a package share one parse of its files: a file's bodies
	// are cut once it is extracted and no check still lists it.
	cutMu    sync.Mutex
	cuttable map[string]*ast.File // extracted, still listed by a check to come
	checked  map[string]bool      // listed by no check to come, not extracted yet
}

// loadOptions: keep says which tree files keep their function bodies (nil:
// every tree file); wholeSSA is loaded.wholeSSA.
type loadOptions struct {
	keep     func(string) bool
	wholeSSA bool
}

// callee is a function a dynamic call may reach: qn names its node (a
// closure's is its enclosing named function's, or the init@file function
// of the file for closures in init functions and package-level variable
// initialisers); fn is the declared function, nil for init@file and for
// callees read from the record of an earlier run; anon marks a closure;
// ext, for the latter, is the name of a callee outside the tree.
type callee struct {
	fn   *types.Func
	qn   string
	anon bool
	ext  string
}

// Every package, dependencies included, is type-checked from source
// (typecheck, after go list's metadata, listMode): asking for
// dependencies' types from export data instead makes go list compile the
// whole tree and its dependencies (minutes for a cold build cache), while
// parsing them is seconds, and parseFile drops the function bodies of
// files outside the tree so that their type-checking is cheap.

// load loads the packages of the module in dir (relative to req.Root)
// matching patterns (relative to dir, e.g. "./...").
func load(ctx context.Context, req ingest.Request, dir string, tree map[string]bool, patterns []string) (*loaded, error) {
	return loadWith(ctx, req, dir, tree, patterns, loadOptions{})
}

// loadWith is load with options. A whole load (every tree file keeps its
// bodies) for CHA builds the SSA program as packages are checked.
func loadWith(ctx context.Context, req ingest.Request, dir string, tree map[string]bool, patterns []string, opts loadOptions) (*loaded, error) {
	fset := token.NewFileSet()
	l := &loaded{fset: fset, root: req.Root, tree: tree, keep: opts.keep, text: map[string]string{}, wholeSSA: opts.wholeSSA,
		relCache: map[string]string{}, fields: map[*types.Var]string{}, scanned: map[*types.Package]bool{}}
	if opts.keep == nil && !opts.wholeSSA && req.Callgraph != "static" && req.Callgraph != "vta" {
		l.early = newPipeline(fset)
		l.req, l.earlyFiles = req, map[*packages.Package][]*fileX{}
		l.cuttable, l.checked = map[string]*ast.File{}, map[string]bool{}
	}
	cfg := &packages.Config{
		Context: ctx,
		Mode:    listMode,
		Dir:     filepath.Join(req.Root, filepath.FromSlash(dir)),
		Fset:    fset,
		// Each module is loaded from its own directory, whatever go.work
		// may say around it.
		Env: append(os.Environ(), "GOWORK=off"),
		// Test files are analysed when the tree holds any (ingest
		// --no-tests leaves them out of the walk, and so out of here).
		Tests: hasTests(tree),
	}
	l.dir = cfg.Dir
	if overlay, err := hideWithheld(req, dir); err != nil {
		return nil, err
	} else if overlay != "" {
		defer os.Remove(overlay)
		cfg.BuildFlags = []string{"-overlay=" + overlay}
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		// Only failures to run the build system end up here; package
		// errors are in Package.Errors.
		return nil, fmt.Errorf("golang: load %s: %w", dir, err)
	}
	l.pkgs = withTests(pkgs)
	// Only the analysed packages keep syntax and type information; the
	// rest were needed for their types only.
	if err := l.typecheck(ctx, pkgs, l.pkgs); err != nil {
		return nil, fmt.Errorf("golang: load %s: %w", dir, err)
	}
	return l, nil
}

func hasTests(tree map[string]bool) bool {
	for p := range tree {
		if strings.HasSuffix(p, "_test.go") {
			return true
		}
	}
	return false
}

// withTests keeps, of the packages go list returns with tests, one
// variant per set of files: a package's test variant ("p [p.test]", its
// files plus the in-package _test.go files) instead of the package
// itself, the external test package ("p_test [p.test]"), and no
// generated test main ("p.test").
func withTests(pkgs []*packages.Package) []*packages.Package {
	hasVariant := map[string]bool{}
	for _, p := range pkgs {
		if id, _, ok := strings.Cut(p.ID, " ["); ok && id == p.PkgPath {
			hasVariant[p.PkgPath] = true
		}
	}
	var out []*packages.Package
	for _, p := range pkgs {
		plain := !strings.Contains(p.ID, " [")
		switch {
		case plain && hasVariant[p.PkgPath]:
		case plain && p.Name == "main" && strings.HasSuffix(p.ID, ".test"):
		default:
			out = append(out, p)
		}
	}
	return out
}

// goListReads are the files go list and cgo read in a package directory.
var goListReads = map[string]bool{
	".go": true, ".c": true, ".h": true, ".cc": true, ".cpp": true, ".cxx": true, ".hh": true, ".hpp": true,
	".hxx": true, ".m": true, ".s": true, ".S": true, ".sx": true, ".f": true, ".F": true, ".for": true,
	".f90": true, ".syso": true, ".swig": true, ".swigcxx": true,
}

// hideWithheld writes a go list overlay (-overlay) that deletes, from the
// go command's view, the files of module dir the walk withheld: symbolic
// links (which could point anywhere on the host: go list would read
// /etc/passwd through a link named x.go, and its first tokens would end up
// in a diagnostic) and files over the size limit. Go's own reads then
// match the walk's: nothing outside the tree, nothing too large (a
// package imported through a linked directory fails to import). It
// returns the overlay file's name, "" when there is nothing to hide.
func hideWithheld(req ingest.Request, dir string) (string, error) {
	replace := map[string]string{}
	for p, why := range req.Withheld {
		if why == ingest.WithheldDepth || dir != "." && !strings.HasPrefix(p, dir+"/") {
			continue
		}
		base := path.Base(p)
		// A link is hidden whatever it points at: a directory through a
		// link would otherwise still load when a tree file imports it.
		if why == ingest.WithheldSymlink || goListReads[path.Ext(base)] || base == "go.mod" || base == "go.sum" || base == "go.work" {
			replace[filepath.Join(req.Root, filepath.FromSlash(p))] = "" // "" = deleted
		}
	}
	if len(replace) == 0 {
		return "", nil
	}
	data, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "grafo-overlay-*.json")
	if err != nil {
		return "", fmt.Errorf("golang: overlay: %w", err)
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("golang: overlay: %w", werr)
	}
	return f.Name(), nil
}

// parseFile parses without comments (nothing here needs them) and drops
// the function bodies of files outside the tree: only their declarations
// matter. Files are kept whole when their position, adjusted by //line
// directives, is in the tree, so cgo-generated files keep their bodies.
func (l *loaded) parseFile(fset *token.FileSet, filename string, src []byte) (*ast.File, error) {
	f, err := parser.ParseFile(fset, filename, src, parser.AllErrors|parser.SkipObjectResolution)
	if f == nil {
		return f, err
	}
	if r := l.relName(fset.Position(f.Package).Filename); r != "" && (l.keep == nil || l.keep(r)) {
		l.textDigest(r, fset, f, src)
		return f, err
	}
	stripBodies(f)
	return f, err
}

// wellTyped reports whether SSA can be built for p: neither it nor a
// package of the tree it imports has errors. Dependencies outside the tree
// are type-checked without bodies, which may report unused imports; their
// declarations are complete all the same.
func (l *loaded) wellTyped(p *packages.Package) bool { return l.wellTypedWith(p, l.errFiles) }

// wellTypedWith is wellTyped with the files in error of the analysed
// packages of p's dependencies' import paths (errorFiles).
func (l *loaded) wellTypedWith(p *packages.Package, errFiles map[string]map[string]bool) bool {
	ok := true
	packages.Visit([]*packages.Package{p}, func(q *packages.Package) bool {
		if !ok {
			return false
		}
		if len(q.Errors) > 0 && (q == p || l.inTreePkg(q)) || q != p && bodyErrors(q, errFiles) {
			ok = false
		}
		return ok
	}, nil)
	return ok
}

func (l *loaded) inTreePkg(p *packages.Package) bool {
	for _, f := range p.CompiledGoFiles {
		if l.relName(f) != "" {
			return true
		}
	}
	return false
}

// rel maps a position to the tree file holding it, "" if it is outside the
// tree (standard library, dependencies, generated files, skipped dirs).
// Positions are adjusted by //line directives, so cgo-generated code maps
// back to its source file.
func (l *loaded) rel(pos token.Pos) string {
	if !pos.IsValid() {
		return ""
	}
	name := l.fset.Position(pos).Filename
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.relCache[name]
	if !ok {
		r = l.relName(name)
		l.relCache[name] = r
	}
	return r
}

func (l *loaded) relName(name string) string {
	if !filepath.IsAbs(name) {
		return ""
	}
	r, err := filepath.Rel(l.root, name)
	if err != nil || strings.HasPrefix(r, "..") {
		return ""
	}
	r = filepath.ToSlash(r)
	if !l.tree[r] {
		return ""
	}
	return r
}

// inTree reports whether obj is declared in a file of the tree.
func (l *loaded) inTree(obj types.Object) bool { return obj != nil && l.rel(obj.Pos()) != "" }

var errPos = regexp.MustCompile(`^(.*?):(\d+)(?::(\d+))?$`)

// diagnostics maps the errors of pkg onto tree files: "line:col: msg" on
// the file they point at; errors without a usable position go to the
// package's first file.
func (l *loaded) diagnostics(pkg *packages.Package, dir string) map[string][]string {
	out := map[string][]string{}
	seen := map[string]bool{}
	first := ""
	for _, f := range pkg.CompiledGoFiles {
		if r := l.relName(f); r != "" {
			first = r
			break
		}
	}
	positioned := false
	for _, e := range pkg.Errors {
		positioned = positioned || errPos.MatchString(e.Pos)
	}
	for _, e := range pkg.Errors {
		if e.Pos == "" && strings.HasPrefix(e.Msg, "# ") && positioned {
			continue // the compiler's report of errors go/types also found
		}
		file, msg := "", e.Msg
		if m := errPos.FindStringSubmatch(e.Pos); m != nil {
			name := m[1]
			if !filepath.IsAbs(name) {
				name = filepath.Join(dir, name)
			}
			if r := l.relName(name); r != "" {
				file = r
				line, _ := strconv.Atoi(m[2])
				col, _ := strconv.Atoi(m[3])
				msg = fmt.Sprintf("%d:%d: %s", line, col, e.Msg)
			}
		}
		if file == "" {
			file = first
			if e.Pos != "" && e.Pos != "-" {
				msg = e.Pos + ": " + e.Msg
			}
		}
		if file == "" || seen[file+"\x00"+msg] {
			continue
		}
		seen[file+"\x00"+msg] = true
		out[file] = append(out[file], msg)
	}
	return out
}
