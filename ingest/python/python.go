//go:build cgo

package python

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/grafo/grafo/ingest"
)

func init() { ingest.Register(New()) }

// Frontend is the Python frontend. The zero value is ready to use.
type Frontend struct{}

// New returns the Python frontend.
func New() *Frontend { return &Frontend{} }

// Name is "python".
func (*Frontend) Name() string { return "python" }

// Claims .py and .pyi files, and pyproject.toml and .python-version (so
// that a changed Python version is noticed and recorded).
func (*Frontend) Claims(p string) bool {
	switch path.Base(p) {
	case "pyproject.toml", ".python-version":
		return true
	}
	return strings.HasSuffix(p, ".py") || strings.HasSuffix(p, ".pyi")
}

// Extract implements ingest.Frontend. Every Python file of the tree is
// parsed and analysed when any file changed, and every file's facts are
// emitted: names resolve across modules (imports, star imports, bases,
// inferred types), so a change can alter any module's facts, and Run
// writes only the files whose facts differ.
func (fe *Frontend) Extract(ctx context.Context, req ingest.Request, emit func(ingest.FileFacts) error) (ingest.Result, error) {
	var res ingest.Result
	res.Languages = []ingest.Language{{Name: "python", Version: pythonVersion(req.Root, req.Files)}}
	if len(req.Changed)+len(req.Deleted) == 0 {
		return res, nil
	}
	t0 := time.Now()
	all := map[string]bool{}
	for _, f := range req.Files {
		all[f.Path] = true
	}
	var srcs []string // files to parse, sorted
	var others []string
	for _, f := range req.Files {
		switch {
		case strings.HasSuffix(f.Path, ".py"):
			srcs = append(srcs, f.Path)
		case strings.HasSuffix(f.Path, ".pyi") && !all[strings.TrimSuffix(f.Path, "i")]:
			srcs = append(srcs, f.Path) // a stub stands in for a missing module
		default:
			others = append(others, f.Path)
		}
	}
	mods, err := parseAll(ctx, req, srcs, all)
	if err != nil {
		return res, err
	}
	res.Load = time.Since(t0)
	t1 := time.Now()
	ix := newIndex(mods)
	for _, p := range others {
		// pyproject.toml, .python-version, and stubs beside their .py
		// (whose declarations come from the .py): recorded, no facts.
		if err := emit(ingest.FileFacts{File: ingest.File{Path: p}}); err != nil {
			return res, err
		}
	}
	for _, m := range mods {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := emit(ix.facts(m)); err != nil {
			return res, err
		}
	}
	res.Analyse = time.Since(t1)
	req.Logger.Info("analysed", "modules", len(mods), "load", res.Load, "analyse", res.Analyse)
	return res, nil
}

// parseAll parses the files on as many goroutines as there are CPUs and
// returns their modules in path order.
func parseAll(ctx context.Context, req ingest.Request, paths []string, all map[string]bool) ([]*module, error) {
	mods := make([]*module, len(paths))
	work := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(runtime.GOMAXPROCS(0), len(paths))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newParser()
			defer p.Close()
			for i := range work {
				rel := paths[i]
				m := &module{path: rel, name: moduleName(rel, filepath.Base(req.Root), all)}
				m.isPkg = strings.HasPrefix(path.Base(rel), "__init__.")
				src, err := os.ReadFile(filepath.Join(req.Root, filepath.FromSlash(rel)))
				if err != nil {
					m.diags = []string{"cannot read: " + err.Error()}
				} else {
					m.src = src
					m.root, m.diags = parse(p, src)
				}
				mods[i] = m
				req.Parsed(1)
			}
		}()
	}
	var err error
	for i := range paths {
		if err = ctx.Err(); err != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	return mods, err
}

// moduleName is the dotted module name of a file: its path relative to
// its package root (the parent of the topmost directory of the chain of
// packages, directories holding __init__.py, that contains it), else to
// the tree's root. pkg/sub/mod.py is pkg.sub.mod and pkg/__init__.py is
// pkg. When the tree's root is itself a package, its base name is the
// first component (ingesting .../json gives json.decoder).
func moduleName(rel, rootBase string, all map[string]bool) string {
	dir := path.Dir(rel)
	base := strings.TrimSuffix(strings.TrimSuffix(path.Base(rel), ".pyi"), ".py")
	var parts []string
	if base != "__init__" {
		parts = append(parts, base)
	}
	isPkg := func(d string) bool {
		if d == "." {
			return all["__init__.py"] || all["__init__.pyi"]
		}
		return all[d+"/__init__.py"] || all[d+"/__init__.pyi"]
	}
	d := dir
	inPkg := isPkg(d)
	for d != "." && (!inPkg || isPkg(d)) {
		parts = append(parts, path.Base(d))
		d = path.Dir(d)
	}
	if inPkg && d == "." && isPkg(".") {
		parts = append(parts, rootBase)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	if len(parts) == 0 {
		return "__init__"
	}
	return strings.Join(parts, ".")
}

// pythonVersion is requires-python of the topmost pyproject.toml that has
// one, else the first line of the topmost .python-version, else "".
func pythonVersion(root string, files []ingest.File) string {
	var pyproject, pyversion []string
	for _, f := range files {
		switch path.Base(f.Path) {
		case "pyproject.toml":
			pyproject = append(pyproject, f.Path)
		case ".python-version":
			pyversion = append(pyversion, f.Path)
		}
	}
	byDepth := func(ps []string) {
		sort.SliceStable(ps, func(i, j int) bool { return strings.Count(ps[i], "/") < strings.Count(ps[j], "/") })
	}
	byDepth(pyproject)
	byDepth(pyversion)
	for _, p := range pyproject {
		if v := requiresPython(filepath.Join(root, filepath.FromSlash(p))); v != "" {
			return v
		}
	}
	for _, p := range pyversion {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
				return l
			}
		}
	}
	return ""
}

// requiresPython reads requires-python from the [project] table of a
// pyproject.toml ("" if absent or unreadable). It is a line scanner, not
// a TOML parser: the key must be on one line.
func requiresPython(file string) string {
	data, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "[") {
			table = strings.Trim(l, "[] ")
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || table != "project" || strings.TrimSpace(k) != "requires-python" {
			continue
		}
		v = strings.TrimSpace(v)
		if i := strings.Index(v, "#"); i > 0 && (v[0] != '"' && v[0] != '\'' || i > strings.LastIndexAny(v, "\"'")) {
			v = strings.TrimSpace(v[:i])
		}
		return strings.Trim(v, "\"'")
	}
	return ""
}
