package ingest_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	_ "github.com/grafo/grafo/ingest/golang" // registers the Go frontend
	"github.com/grafo/grafo/ingest/ingesttest"
	"github.com/grafo/grafo/kv/kvtest"
)

// countingSink passes every call to the real graph store and counts the
// writes, so tests can assert that a re-ingest writes nothing.
type countingSink struct {
	ingest.Sink
	mu                      sync.Mutex
	puts, putFiles, deletes int
	langs                   int
}

func (c *countingSink) PutFiles(ctx context.Context, g string, f []ingest.FileFacts) error {
	c.mu.Lock()
	c.puts++
	c.putFiles += len(f)
	c.mu.Unlock()
	return c.Sink.PutFiles(ctx, g, f)
}

func (c *countingSink) DeleteFiles(ctx context.Context, g string, p []string) error {
	c.mu.Lock()
	c.deletes += len(p)
	c.mu.Unlock()
	return c.Sink.DeleteFiles(ctx, g, p)
}

func (c *countingSink) SetLanguages(ctx context.Context, g string, l []ingest.Language) error {
	c.mu.Lock()
	c.langs++
	c.mu.Unlock()
	return c.Sink.SetLanguages(ctx, g, l)
}

func (c *countingSink) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.puts, c.putFiles, c.deletes, c.langs = 0, 0, 0, 0
}

// TestRunReingest ingests a small tree into a real graph store, then
// re-ingests it unchanged (nothing written, no package loaded, updatedAt
// unmoved), then after editing, adding and deleting files.
func TestRunReingest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ingesttest.WriteFile(t, dir, "go.mod", "module example.com/r\n\ngo 1.22\n")
	ingesttest.WriteFile(t, dir, "a.go", "package r\n\nimport \"os\"\n\nvar V int\n\nfunc A() { V = 1; B(); os.Exit(0) }\n")
	ingesttest.WriteFile(t, dir, "b.go", "package r\n\nfunc B() {}\n")
	ingesttest.WriteFile(t, dir, "c.go", "package r\n\nfunc C() {}\n")
	ingesttest.WriteFile(t, dir, "tool.py", "print('no python frontend here')\n")
	ingesttest.WriteFile(t, dir, "ignored/x.go", "package ignored\n")
	ingesttest.WriteFile(t, dir, ".gitignore", "ignored/\n")

	st := store.New(kvtest.NewStore(t), store.Options{})
	sink := &countingSink{Sink: st}
	meta := checkFirstIngest(t, ctx, dir, st, sink)
	checkUnchangedReingest(t, ctx, dir, st, sink, meta)
	checkEditedReingest(t, ctx, dir, st, sink)
}

// checkFirstIngest ingests dir as graph r and checks the summary, the
// stored files and the graph's counts; it returns the graph's metadata.
func checkFirstIngest(t *testing.T, ctx context.Context, dir string, st *store.Store, sink *countingSink) *store.GraphMeta {
	var progress bytes.Buffer
	sum, err := ingest.Run(ctx, dir, "r", sink, ingest.Options{Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Files != 4 || sum.New != 4 || sum.Changed != 0 || sum.Deleted != 0 {
		t.Errorf("first ingest: %+v", sum)
	}
	if sum.Unsupported["python"] != 1 || !strings.Contains(sum.String(), "python (1 files)") {
		t.Errorf("python not reported as unsupported: %v\n%s", sum.Unsupported, sum)
	}
	if len(sum.Languages) != 1 || sum.Languages[0] != (ingest.Language{Name: "go", Version: "1.22"}) {
		t.Errorf("languages = %v", sum.Languages)
	}
	if !strings.Contains(progress.String(), "ingest:") {
		t.Errorf("no progress lines: %q", progress.String())
	}
	files, err := st.Files(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	a := files["a.go"]
	if len(files) != 4 || a.Language != "go" || len(a.MD5) != 32 || len(a.Adler32) != 8 {
		t.Errorf("stored files = %+v", files)
	}
	stats, err := st.Stats(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	// A, B, C, os.Exit (external); V; A WRITES V, A CALLS B, A CALLS os.Exit.
	if stats.ByKind[ingest.Function] != 4 || stats.ByKind[ingest.Variable] != 1 ||
		stats.ByRelation[ingest.Calls] != 2 || stats.ByRelation[ingest.Writes] != 1 {
		t.Errorf("stats after first ingest = %+v", stats)
	}
	if sum.Nodes != 5 || sum.Edges != 3 {
		t.Errorf("summary counts nodes %d edges %d, want 5 and 3", sum.Nodes, sum.Edges)
	}
	meta, err := st.Graph(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	return meta
}

// checkUnchangedReingest re-ingests dir unchanged: no write of any kind,
// no package loaded, updatedAt as in meta.
func checkUnchangedReingest(t *testing.T, ctx context.Context, dir string, st *store.Store, sink *countingSink, meta *store.GraphMeta) {
	sink.reset()
	time.Sleep(2 * time.Millisecond) // so that a moved updatedAt would show
	sum, err := ingest.Run(ctx, dir, "r", sink, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Unchanged != 4 || sum.New+sum.Changed+sum.Deleted != 0 || sum.Load != 0 {
		t.Errorf("unchanged re-ingest: %+v", sum)
	}
	if sink.puts+sink.deletes+sink.langs != 0 {
		t.Errorf("unchanged re-ingest wrote: %d puts, %d deletes, %d SetLanguages", sink.puts, sink.deletes, sink.langs)
	}
	meta2, err := st.Graph(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if !meta2.UpdatedAt.Equal(meta.UpdatedAt) {
		t.Errorf("updatedAt moved on an unchanged re-ingest: %v → %v", meta.UpdatedAt, meta2.UpdatedAt)
	}
}

// checkEditedReingest changes b.go, deletes c.go and adds d.go, then
// re-ingests: exactly those are written.
func checkEditedReingest(t *testing.T, ctx context.Context, dir string, st *store.Store, sink *countingSink) {
	sink.reset()
	ingesttest.WriteFile(t, dir, "b.go", "package r\n\nfunc B() { D() }\n")
	ingesttest.WriteFile(t, dir, "d.go", "package r\n\nfunc D() {}\n")
	if err := os.Remove(filepath.Join(dir, "c.go")); err != nil {
		t.Fatal(err)
	}
	sum, err := ingest.Run(ctx, dir, "r", sink, ingest.Options{Callgraph: "static"})
	if err != nil {
		t.Fatal(err)
	}
	if sum.New != 1 || sum.Changed != 1 || sum.Deleted != 1 || sum.Unchanged != 2 {
		t.Errorf("after edits: %+v", sum)
	}
	if sink.putFiles != 2 || sink.deletes != 1 || sink.langs != 1 {
		t.Errorf("after edits wrote %d files, deleted %d, SetLanguages %d times; want 2, 1, 1", sink.putFiles, sink.deletes, sink.langs)
	}
	stats, err := st.Stats(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	// A, B, D, os.Exit; C is gone; B CALLS D is new.
	if stats.Files != 4 || stats.ByKind[ingest.Function] != 4 || stats.ByRelation[ingest.Calls] != 3 {
		t.Errorf("stats after edits = %+v", stats)
	}
}

func TestRunOptions(t *testing.T) {
	ctx := context.Background()
	st := store.New(kvtest.NewStore(t), store.Options{})
	if _, err := ingest.Run(ctx, t.TempDir(), "g", st, ingest.Options{Callgraph: "rta"}); err == nil {
		t.Error("Run accepted callgraph rta")
	}
	if _, err := ingest.Run(ctx, t.TempDir(), "g", st, ingest.Options{Frontends: []ingest.Frontend{}}); err != ingest.ErrNoFrontend {
		t.Errorf("Run with no frontends: %v, want ErrNoFrontend", err)
	}
	if _, err := ingest.Run(ctx, filepath.Join(t.TempDir(), "missing"), "g", st, ingest.Options{}); err == nil {
		t.Error("Run on a missing directory succeeded")
	}
}

// TestSummaryUnavailable: a language whose frontend registered a reason
// with Unavailable (python without cgo) is reported with that reason.
func TestSummaryUnavailable(t *testing.T) {
	s := ingest.Summary{Graph: "g", Unsupported: map[string]int{"python": 2, "rust": 1},
		UnsupportedWhy: map[string]string{"python": "the python frontend is not in this binary"}}
	out := s.String()
	for _, want := range []string{"not ingested: python (2 files): the python frontend is not in this binary",
		"not ingested, no frontend compiled in: rust (1 files)"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
