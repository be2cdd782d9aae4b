package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/kvtest"
)

// refusingSink answers unavailable to its first refuse PutFiles calls
// (a quorum that timed out), then passes them to the real store.
type refusingSink struct {
	ingest.Sink
	mu     sync.Mutex
	refuse int
}

func (r *refusingSink) PutFiles(ctx context.Context, g string, f []ingest.FileFacts) error {
	r.mu.Lock()
	refused := r.refuse > 0
	r.refuse--
	r.mu.Unlock()
	if refused {
		return fmt.Errorf("%w: quorum not reached (test)", kv.ErrUnavailable)
	}
	return r.Sink.PutFiles(ctx, g, f)
}

// TestRunSendsUnavailableBatchesAgain: an ingest whose writes the node
// refuses as unavailable twice sends them again, says so, and stores
// every file.
func TestRunSendsUnavailableBatchesAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	ingesttest.WriteFile(t, dir, "go.mod", "module example.com/r\n\ngo 1.22\n")
	ingesttest.WriteFile(t, dir, "a.go", "package r\n\nfunc A() { B() }\n")
	ingesttest.WriteFile(t, dir, "b.go", "package r\n\nfunc B() {}\n")
	st := store.New(kvtest.NewStore(t), store.Options{})
	sum, err := ingest.Run(ctx, dir, "g", &refusingSink{Sink: st, refuse: 2}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Retries != 2 || !strings.Contains(sum.String(), "sent again: 2 batches") {
		t.Fatalf("retries %d, summary:\n%s", sum.Retries, sum)
	}
	n, err := st.CountFiles(ctx, "g")
	if err != nil || n != 3 {
		t.Fatalf("CountFiles = %d, %v; want 3 (go.mod, a.go, b.go)", n, err)
	}
}
