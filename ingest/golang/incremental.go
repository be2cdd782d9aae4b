package golang

import (
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/grafo/grafo/ingest"
)

// The body-only re-ingest. A whole-tree analysis records, besides the
// facts, what each file gives the rest of the tree (contrib.go) and
// what CHA found for each kind of dynamic call and which interfaces each
// type realizes. The record is kept on the ingesting machine (the
// Frontend's CacheDir) and used only when it describes exactly what the
// graph holds: the same files with the same checksums and facts
// digests, analysed with the same toolchain, build settings and grafo
// binary. A change whose changed files all keep their contribution
// digest (their function bodies changed, in ways no other file can see)
// then re-analyses only the changed files' packages, loaded from source
// with their dependencies' declarations: every other file's facts are
// provably what they were, and the changed files' dynamic calls and
// realizations come from the record. Anything else — a new, deleted or
// renamed file, a changed declaration, a body that now takes a new
// function's address or converts a new type to an interface, type
// errors, test files in the tree, a record that is missing or stale —
// takes the whole-tree path, which writes a fresh record.

// analysis is the record of a tree's last whole-tree analysis, kept up
// to date by the body-only runs after it.
type analysis struct {
	Stamp string
	Files map[string]fileState
	// Keys maps module dir + "\x00" + a dynamic call's key (dynKey) to
	// its callees; Realize module dir + "\x00" + a type's qualified name
	// to the interfaces it realizes (only types that realize some).
	Keys    map[string][]cachedCallee
	Realize map[string][]cachedIface
}

type fileState struct{ MD5, Facts, Contrib string }

// cachedCallee is a callee as indexDynamic found it: Ext is the name of a
// function outside the tree (carried as an external node), "" inside.
type cachedCallee struct {
	QN   string
	Anon bool
	Ext  string
}

// cachedIface is a realized interface: its package path ("" for error),
// name, and whether it is declared in the tree.
type cachedIface struct {
	Pkg, Name string
	InTree    bool
}

func newAnalysis(stamp string) *analysis {
	return &analysis{Stamp: stamp, Files: map[string]fileState{}, Keys: map[string][]cachedCallee{},
		Realize: map[string][]cachedIface{}}
}

// add records what the analysis of the module in dir found.
func (an *analysis) add(dir string, l *loaded) {
	for k, cs := range l.keys {
		out := make([]cachedCallee, len(cs))
		for i, c := range cs {
			out[i] = cachedCallee{QN: c.qn, Anon: c.anon}
			if c.fn != nil && !l.inTree(c.fn) {
				out[i].Ext = c.fn.Name()
			}
		}
		an.Keys[dir+"\x00"+k] = out
	}
	for tn, is := range l.realize {
		q := typeQN(tn)
		if len(is) == 0 || q == "" {
			continue
		}
		out := make([]cachedIface, len(is))
		for i, it := range is {
			out[i] = cachedIface{Name: it.Name(), InTree: l.inTree(it)}
			if it.Pkg() != nil {
				out[i].Pkg = it.Pkg().Path()
			}
		}
		an.Realize[dir+"\x00"+q] = out
	}
}

// setFiles records every file's checksum and contribution digest; facts
// digests come with Committed.
func (an *analysis) setFiles(files []ingest.File, contrib map[string]string) {
	for _, f := range files {
		an.Files[f.Path] = fileState{MD5: f.MD5, Contrib: contrib[f.Path]}
	}
}

// describes reports whether an is the record of what the graph holds
// (req.Held) for the tree before the change: the same files, checksums
// and facts digests; and whether every changed file has a contribution
// digest to compare.
func (an *analysis) describes(req ingest.Request) bool {
	if len(an.Files) != len(req.Files) {
		return false
	}
	for _, f := range req.Files {
		st, ok := an.Files[f.Path]
		h, held := req.Held[f.Path]
		if !ok || !held || st.Facts == "" || st.MD5 != h.MD5 || st.Facts != h.Facts {
			return false
		}
		if req.Changed[f.Path] && (st.Contrib == "" || path.Ext(f.Path) != ".go") {
			return false
		}
	}
	return true
}

// stamp identifies what besides the tree's files decides its facts: the
// call-graph algorithm, the grafo binary, the Go toolchain and build
// settings, the withheld paths, the modules' go.sum files. "" when it
// cannot be told (then nothing is recorded or used).
func stamp(ctx context.Context, req ingest.Request, mods map[string]*module) string {
	d := newDigest()
	d.add(req.Callgraph)
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	st, err := os.Stat(exe)
	if err != nil {
		return ""
	}
	d.add(fmt.Sprintf("%s %d %d", exe, st.Size(), st.ModTime().UnixNano()))
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION", "GOROOT", "GOOS", "GOARCH", "GOFLAGS", "CGO_ENABLED", "GOEXPERIMENT", "GOPATH")
	cmd.Dir = req.Root
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	d.add(string(out))
	var ws []string
	for p, why := range req.Withheld {
		ws = append(ws, p+" "+why)
	}
	sort.Strings(ws)
	d.add(fmt.Sprint(ws))
	var dirs []string
	for dir := range mods {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		sum, _ := os.ReadFile(filepath.Join(req.Root, filepath.FromSlash(dir), "go.sum"))
		h := sha256.Sum256(sum)
		d.add(dir + " " + hex.EncodeToString(h[:]))
	}
	return d.sum()
}

// cacheFile is where the record of the tree at root is kept, "" if
// nowhere.
func (fe *Frontend) cacheFile(root string) string {
	dir := fe.CacheDir
	if dir == "-" {
		return ""
	}
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(base, "grafo", "go")
	}
	h := sha256.Sum256([]byte(root))
	return filepath.Join(dir, hex.EncodeToString(h[:16])+".gob")
}

// readAnalysis returns the kept record of the tree at root if it has
// the stamp, else nil.
func (fe *Frontend) readAnalysis(root, stamp string) *analysis {
	name := fe.cacheFile(root)
	if name == "" || stamp == "" {
		return nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil
	}
	defer f.Close()
	an := &analysis{}
	if err := gob.NewDecoder(f).Decode(an); err != nil || an.Stamp != stamp {
		return nil
	}
	return an
}

// setPending holds an until Run reports the graph's records (Committed).
func (fe *Frontend) setPending(root string, an *analysis) {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	if fe.pending == nil {
		fe.pending = map[string]*analysis{}
	}
	if an == nil || an.Stamp == "" {
		delete(fe.pending, root)
		return
	}
	fe.pending[root] = an
}

// Committed implements ingest.Committer: the pending record of the tree
// gets the graph's facts digests and is kept for the next run, provided
// the graph holds exactly the files it describes.
func (fe *Frontend) Committed(root string, files map[string]ingest.File) {
	fe.mu.Lock()
	an := fe.pending[root]
	delete(fe.pending, root)
	fe.mu.Unlock()
	name := fe.cacheFile(root)
	if an == nil || name == "" || len(files) != len(an.Files) {
		return
	}
	for p, st := range an.Files {
		f, ok := files[p]
		if !ok || f.MD5 != st.MD5 {
			return
		}
		st.Facts = f.Facts
		an.Files[p] = st
	}
	// A record that cannot be written only costs the next run its
	// body-only path.
	_ = writeAnalysis(name, an)
}

func writeAnalysis(name string, an *analysis) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(name), "record-*.tmp")
	if err != nil {
		return err
	}
	werr := gob.NewEncoder(f).Encode(an)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), name)
	}
	if werr != nil {
		os.Remove(f.Name())
		return werr
	}
	pruneRecords(filepath.Dir(name), keptRecords)
	return nil
}

// keptRecords bounds the records kept in a cache directory: every tree
// ingested (tests' temporary ones too) leaves one.
const keptRecords = 64

// pruneRecords removes all but the keep most recently written records
// of dir.
func pruneRecords(dir string, keep int) {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) <= keep {
		return
	}
	type rec struct {
		name string
		at   time.Time
	}
	var recs []rec
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".gob") {
			recs = append(recs, rec{e.Name(), info.ModTime()})
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].at.After(recs[j].at) })
	for _, r := range recs[min(keep, len(recs)):] {
		os.Remove(filepath.Join(dir, r.name))
	}
}
