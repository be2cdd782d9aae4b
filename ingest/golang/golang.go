package golang

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/grafo/grafo/ingest"
)

func init() { ingest.Register(New()) }

// Frontend is the Go frontend. The zero value is ready to use.
type Frontend struct {
	// CacheDir keeps, per tree, the record of its last analysis that a
	// body-only change needs (incremental.go): "" means the user's cache
	// directory (os.UserCacheDir()/grafo/go), "-" keeps none.
	CacheDir string

	mu      sync.Mutex
	pending map[string]*analysis // tree root → record awaiting Committed
}

// New returns the Go frontend.
func New() *Frontend { return &Frontend{} }

// Name is "go".
func (*Frontend) Name() string { return "go" }

// Claims .go files and go.mod files (the latter so that a changed go
// version is noticed and recorded).
//
// Like the go command, it leaves out directories and files whose names
// begin with "_" or "." (GOROOT/src keeps separate assembly-generator
// modules under _asm directories: loading them would fetch and
// type-check their own dependencies, for code no package builds).
func (*Frontend) Claims(p string) bool {
	if !strings.HasSuffix(p, ".go") && path.Base(p) != "go.mod" {
		return false
	}
	for _, elem := range strings.Split(p, "/") {
		if strings.HasPrefix(elem, "_") || strings.HasPrefix(elem, ".") {
			return false
		}
	}
	return true
}

// module is one go.mod of the tree and the files under it.
type module struct {
	dir   string // slash-separated relative dir, "." for the root
	goVer string
	files []string // its .go files
}

// Extract implements ingest.Frontend.
func (fe *Frontend) Extract(ctx context.Context, req ingest.Request, emit func(ingest.FileFacts) error) (ingest.Result, error) {
	var res ingest.Result
	fe.setPending(req.Root, nil) // a record left by a run whose writes failed
	mods := map[string]*module{}
	for _, f := range req.Files {
		if path.Base(f.Path) == "go.mod" {
			d := path.Dir(f.Path)
			mods[d] = &module{dir: d, goVer: goVersion(filepath.Join(req.Root, filepath.FromSlash(f.Path)))}
		}
	}
	// A tree that is a directory inside a module (ingesting ./kv of a
	// repository) has no go.mod of its own: its files belong to the
	// enclosing module, loaded from the tree's root.
	if _, ok := mods["."]; !ok {
		if gomod := enclosingGoMod(req.Root); gomod != "" {
			mods["."] = &module{dir: ".", goVer: goVersion(gomod)}
		}
	}
	var dirs []string
	for d := range mods {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool {
		return depth(dirs[i]) < depth(dirs[j]) || depth(dirs[i]) == depth(dirs[j]) && dirs[i] < dirs[j]
	})
	if len(dirs) > 0 {
		res.Languages = []ingest.Language{{Name: "go", Version: mods[dirs[0]].goVer}}
	} else {
		res.Languages = []ingest.Language{{Name: "go"}}
	}

	if len(req.Changed)+len(req.Deleted) == 0 {
		return res, nil
	}
	var mu sync.Mutex // emit is called from the extraction workers
	emitOne := func(ff ingest.FileFacts) error {
		mu.Lock()
		defer mu.Unlock()
		if req.Changed[ff.File.Path] {
			req.Parsed(1) // progress counts the files Run asked for
		}
		return emit(ff)
	}
	// Any change re-analyses every module: a package's facts depend on
	// the whole tree (REALIZATION to any interface of it, dynamic calls to
	// any implementation or function of the right signature, a callee
	// that went away, a module path that changed), and Run writes only
	// the files whose facts differ.
	for _, f := range req.Files {
		if path.Base(f.Path) == "go.mod" {
			if err := emitOne(ingest.FileFacts{File: ingest.File{Path: f.Path}}); err != nil {
				return res, err
			}
			continue
		}
		m := owningModule(mods, f.Path)
		if m == nil {
			if err := emitOne(ingest.FileFacts{File: ingest.File{Path: f.Path,
				Diagnostics: []string{"not inside a Go module (no go.mod above it): not analysed"}}}); err != nil {
				return res, err
			}
			continue
		}
		m.files = append(m.files, f.Path)
	}
	all := make(map[string]bool, len(req.Files))
	for _, f := range req.Files {
		all[f.Path] = true
	}
	st := stamp(ctx, req, mods)
	if ok, err := fe.narrow(ctx, req, mods, all, st, &res, emitOne); ok || err != nil {
		return res, err
	}
	an := newAnalysis(st)
	contrib := map[string]string{}
	for _, d := range dirs {
		if err := analyseModule(ctx, req, mods[d], all, &res, emitOne, an, contrib); err != nil {
			return res, err
		}
	}
	an.setFiles(req.Files, contrib)
	fe.setPending(req.Root, an)
	return res, nil
}

// analyseModule loads and extracts one module, adding what it found to
// the record an and the contribution digests.
func analyseModule(ctx context.Context, req ingest.Request, m *module, all map[string]bool, res *ingest.Result,
	emit func(ingest.FileFacts) error, an *analysis, contrib map[string]string) error {
	if len(m.files) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t0 := time.Now()
	ld, err := load(ctx, req, m.dir, all, m.patterns(req.Withheld))
	if err != nil {
		return err
	}
	res.Load += time.Since(t0)
	req.Logger.Info("loaded module", "dir", m.dir, "packages", len(ld.pkgs), "time", time.Since(t0))
	t1 := time.Now()
	if err := ld.extract(ctx, req, m.files, emit); err != nil {
		return err
	}
	res.Analyse += time.Since(t1)
	an.add(m.dir, ld)
	for p, c := range ld.contrib {
		contrib[p] = c
	}
	return nil
}

// patterns are the go list patterns of the module: "./..." — unless the
// walk withheld directories of it for depth, which go list would still
// walk (a minute for a tree 1000 levels deep), so then the directories of
// its files, one by one.
func (m *module) patterns(withheld map[string]string) []string {
	deep := false
	for p, why := range withheld {
		if why == ingest.WithheldDepth && (m.dir == "." || strings.HasPrefix(p, m.dir+"/")) {
			deep = true
			break
		}
	}
	if !deep {
		return []string{"./..."}
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range m.files {
		d := path.Dir(f)
		if m.dir != "." {
			d = strings.TrimPrefix(strings.TrimPrefix(d, m.dir), "/")
		}
		if d == "." || d == "" {
			d = "."
		} else {
			d = "./" + d
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

func depth(d string) int {
	if d == "." {
		return 0
	}
	return strings.Count(d, "/") + 1
}

// enclosingGoMod returns the go.mod of the module that contains dir from
// above (dir itself excluded), or "".
func enclosingGoMod(dir string) string {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		f := filepath.Join(d, "go.mod")
		if st, err := os.Stat(f); err == nil && !st.IsDir() {
			return f
		}
		if parent := filepath.Dir(d); parent == d {
			return ""
		}
	}
}

// owningModule is the module of the nearest go.mod above p.
func owningModule(mods map[string]*module, p string) *module {
	for d := path.Dir(p); ; d = path.Dir(d) {
		if m := mods[d]; m != nil {
			return m
		}
		if d == "." || d == "/" {
			return nil
		}
	}
}

// goVersion reads the go line of a go.mod ("" if none or unreadable).
func goVersion(file string) string {
	data, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "go" {
			return f[1]
		}
	}
	return ""
}
