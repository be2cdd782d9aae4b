package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/kvtest"
)

// flaky is a store whose every third PutFiles answers unavailable
// without writing, as a node whose quorum timed out does.
type flaky struct {
	*store.Store
	calls, failed atomic.Int64
}

func (f *flaky) PutFiles(ctx context.Context, graph string, facts []ingest.FileFacts) error {
	if f.calls.Add(1)%3 == 0 {
		f.failed.Add(1)
		return fmt.Errorf("%w: quorum not reached (test)", kv.ErrUnavailable)
	}
	return f.Store.PutFiles(ctx, graph, facts)
}

// A restore of many batches, several in flight, sends again the batches
// the target refused as unavailable, counts them, and ends with the
// graph the dump holds.
func TestRestoreSendsUnavailableBatchesAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := store.New(kvtest.NewStore(t), store.Options{})
	const files = 300 // five batches of 64
	var facts []ingest.FileFacts
	for i := range files {
		path := fmt.Sprintf("f%03d.go", i)
		qn := fmt.Sprintf("p.F%d", i)
		facts = append(facts, ingest.FileFacts{File: ingest.File{Path: path, Name: path, MD5: "m"},
			Nodes: []ingest.Node{fn(qn, path, 1, 5), {Kind: ingest.Function, Name: "Exit", QualifiedName: "os.Exit", External: true}},
			Edges: []ingest.Edge{call(qn, fmt.Sprintf("p.F%d", (i*7)%files), path, 2), call(qn, "os.Exit", path, 3)}})
	}
	if err := src.PutFiles(ctx, "orig", facts); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, src, "orig")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := src.Dump(ctx, "orig", func(r *store.DumpRecord) error { return enc.Encode(r) }); err != nil {
		t.Fatal(err)
	}
	dst := &flaky{Store: store.New(kvtest.NewStore(t), store.Options{})}
	sum, err := store.Restore(ctx, json.NewDecoder(&buf), "", dst)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Files != files || dst.failed.Load() == 0 || int64(sum.Retries) != dst.failed.Load() {
		t.Fatalf("summary %+v with %d refused calls; want %d files and every refusal sent again", sum, dst.failed.Load(), files)
	}
	if got := snapshot(t, dst.Store, "orig"); got != want {
		t.Fatalf("restored graph differs:\n--- got\n%s\n--- want\n%s", got, want)
	}
}
