package golang

import (
	"context"
	"fmt"
	"go/token"
	"go/types"
	"os"
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
	dyn      map[token.Pos][]callee  // Lparen of a dynamic call → callees
	realize  map[*types.TypeName][]*types.TypeName
	ifaces   map[string][]*types.TypeName // interface by the Id of one of its methods
	implDone bool
}

// callee is a function a dynamic call may reach; anon marks a closure
// (mapped to its enclosing named function).
type callee struct {
	fn   *types.Func
	anon bool
}

const loadMode = packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles |
	packages.NeedImports | packages.NeedTypes | packages.NeedSyntax | packages.NeedTypesInfo

// load loads every package of the module in dir (relative to req.Root).
func load(ctx context.Context, req ingest.Request, dir string, tree map[string]bool) (*loaded, error) {
	fset := token.NewFileSet()
	cfg := &packages.Config{
		Context: ctx,
		Mode:    loadMode,
		Dir:     filepath.Join(req.Root, filepath.FromSlash(dir)),
		Fset:    fset,
		// Each module is loaded from its own directory, whatever go.work
		// may say around it.
		Env:   append(os.Environ(), "GOWORK=off"),
		Tests: false,
	}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		// Only failures to run the build system end up here; package
		// errors are in Package.Errors.
		return nil, fmt.Errorf("golang: load %s: %w", dir, err)
	}
	return &loaded{fset: fset, root: req.Root, dir: cfg.Dir, tree: tree, pkgs: pkgs,
		relCache: map[string]string{}, fields: map[*types.Var]string{}, scanned: map[*types.Package]bool{}}, nil
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
