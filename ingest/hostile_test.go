package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
	"github.com/grafo/grafo/kv/kvtest"
)

// recordingSink passes every call to the real graph store and keeps the
// facts written, so a test can search everything stored.
type recordingSink struct {
	ingest.Sink
	mu    sync.Mutex
	facts []ingest.FileFacts
}

func (r *recordingSink) PutFiles(ctx context.Context, g string, f []ingest.FileFacts) error {
	r.mu.Lock()
	r.facts = append(r.facts, f...)
	r.mu.Unlock()
	return r.Sink.PutFiles(ctx, g, f)
}

// stored is everything written, as JSON text, and the diagnostics.
func (r *recordingSink) stored(t testing.TB) (string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := json.Marshal(r.facts)
	if err != nil {
		t.Fatal(err)
	}
	var diags []string
	for _, f := range r.facts {
		diags = append(diags, f.File.Diagnostics...)
	}
	return string(b), diags
}

func (r *recordingSink) paths() map[string]ingest.File {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]ingest.File{}
	for _, f := range r.facts {
		m[f.File.Path] = f.File
	}
	return m
}

func newRecordingSink(t testing.TB) *recordingSink {
	return &recordingSink{Sink: store.New(kvtest.NewStore(t), store.Options{})}
}

// absInDiag finds an absolute path in a diagnostic (see ingest.scrubPaths).
var absInDiag = regexp.MustCompile(`(^|[\s'"(\[{=,;])/[\w.@+~-]`)

// checkNoLeak fails if anything stored holds the sentinel (bytes that
// exist only outside the tree) or a diagnostic holds an absolute path.
func checkNoLeak(t testing.TB, r *recordingSink, sentinel string, hostPaths ...string) {
	t.Helper()
	all, diags := r.stored(t)
	if strings.Contains(all, sentinel) {
		t.Fatalf("stored facts hold %q, which only a file the ingest must not read holds:\n%s", sentinel, all)
	}
	for _, d := range diags {
		if absInDiag.MatchString(d) {
			t.Fatalf("diagnostic holds an absolute path: %q", d)
		}
		for _, p := range hostPaths {
			if strings.Contains(d, p) {
				t.Fatalf("diagnostic holds host path %s: %q", p, d)
			}
		}
	}
}

// hostileDirs returns a directory of things a tree may link to — a host
// file (passwd), Go source (secret.go) and a package (pkg), all holding
// OUTSIDESENTINEL — and a tree: a module with one file, a.go.
func hostileDirs(t testing.TB) (outside, root string) {
	outside, root = t.TempDir(), t.TempDir()
	ingesttest.WriteFile(t, outside, "passwd", "root:x:0:0:OUTSIDESENTINEL:/root:/bin/bash\n")
	ingesttest.WriteFile(t, outside, "secret.go", "package a\n\nfunc OUTSIDESENTINEL() {}\n")
	ingesttest.WriteFile(t, outside, "pkg/p.go", "package pkg\n\nvar OUTSIDESENTINEL = \"x\"\n")
	ingesttest.WriteFile(t, root, "go.mod", "module example.com/a\n\ngo 1.22\n")
	ingesttest.WriteFile(t, root, "a.go", "package a\n\nfunc A() {}\n")
	return outside, root
}

// TestSymlinksOutOfTreeNotRead: a tree whose .go "files" are links to a
// host file (the report used /etc/passwd) and to Go source outside the
// tree, and a linked directory. The walker skipped links, but go list
// followed them: the file's first tokens and absolute host paths ended up
// in stored diagnostics. Nothing outside the tree may be read now.
func TestSymlinksOutOfTreeNotRead(t *testing.T) {
	outside, dir := hostileDirs(t)
	// A tree file importing the linked directory must not load it either.
	ingesttest.WriteFile(t, dir, "b.go", "package a\n\nimport \"example.com/a/pkg\"\n\nfunc B() int { return pkg.X }\n")
	for link, target := range map[string]string{
		"passwd.go": filepath.Join(outside, "passwd"),
		"secret.go": filepath.Join(outside, "secret.go"),
		"pkg":       filepath.Join(outside, "pkg"),
		"inside.go": filepath.Join(dir, "a.go"),
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	r := newRecordingSink(t)
	sum, err := ingest.Run(context.Background(), dir, "a", r, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkNoLeak(t, r, "OUTSIDESENTINEL", outside, dir)
	if _, diags := r.stored(t); strings.Contains(strings.Join(diags, "\n"), "root") {
		t.Fatalf("diagnostics quote the linked file: %q", diags)
	}
	got := r.paths()
	if len(got) != 3 || got["a.go"].Path == "" || len(got["a.go"].Diagnostics) != 0 {
		t.Fatalf("stored files %+v, want go.mod, a.go without diagnostics and b.go", got)
	}
	if d := got["b.go"].Diagnostics; len(d) == 0 || !strings.Contains(d[0], "could not import example.com/a/pkg") {
		t.Fatalf("b.go imports the linked directory: diagnostics %q, want it not importable", d)
	}
	if sum.Withheld[ingest.WithheldSymlink] != 4 || !strings.Contains(sum.String(), "4 × symbolic link") {
		t.Fatalf("withheld = %v\n%s", sum.Withheld, sum)
	}
}

// TestSizeAndDepthCaps: a file over the size limit is recorded with a
// diagnostic and never parsed (not even by go list); a directory deeper
// than the depth limit is not entered (not even by go list, which took a
// minute on a tree 1000 levels deep). Both limits are options.
func TestSizeAndDepthCaps(t *testing.T) {
	dir := t.TempDir()
	ingesttest.WriteFile(t, dir, "go.mod", "module example.com/a\n\ngo 1.22\n")
	ingesttest.WriteFile(t, dir, "a.go", "package a\n\nfunc A() {}\n")
	// Not Go: a parser that reads it reports BIGSENTINEL.
	ingesttest.WriteFile(t, dir, "big.go", "package a\n\nBIGSENTINEL "+strings.Repeat("x", 5<<20)+"\n")
	deep := strings.Repeat("d/", 200)
	ingesttest.WriteFile(t, dir, deep+"deep.go", "package d\n\nfunc DEEPSENTINEL() {}\n")

	r := newRecordingSink(t)
	start := time.Now()
	sum, err := ingest.Run(context.Background(), dir, "a", r, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ingest of a 5 MiB file and a 200-deep tree: %v", time.Since(start))
	checkNoLeak(t, r, "BIGSENTINEL", dir)
	checkNoLeak(t, r, "DEEPSENTINEL", dir)
	files := r.paths()
	big := files["big.go"]
	if len(big.MD5) != 32 || len(big.Diagnostics) != 1 || !strings.Contains(big.Diagnostics[0], fmt.Sprintf("over the %d-byte limit", ingest.DefaultMaxFileSize)) {
		t.Fatalf("big.go = %+v", big)
	}
	if _, ok := files[deep+"deep.go"]; ok || len(files) != 3 {
		t.Fatalf("stored %d files, deep.go among them: %v", len(files), files["a.go"])
	}
	if sum.Withheld[ingest.WithheldDepth] != 1 || sum.Withheld[ingest.WithheldSize] != 1 {
		t.Fatalf("withheld = %v", sum.Withheld)
	}

	// Both limits are configurable.
	r = newRecordingSink(t)
	if _, err := ingest.Run(context.Background(), dir, "b", r, ingest.Options{MaxDepth: -1, MaxFileSize: 20 << 20}); err != nil {
		t.Fatal(err)
	}
	files = r.paths()
	if _, ok := files[deep+"deep.go"]; !ok || len(files["big.go"].Diagnostics) == 0 || strings.Contains(files["big.go"].Diagnostics[0], "limit") {
		t.Fatalf("without limits: deep.go stored %v, big.go %v", ok, files["big.go"].Diagnostics)
	}
}
