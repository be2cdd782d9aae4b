package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/kvtest"
)

// inflight is a kv.Store that records the most Write calls it saw at
// once; each call lingers a little so that overlapping callers overlap.
type inflight struct {
	kv.Store
	now, most atomic.Int64
}

func (s *inflight) Write(ctx context.Context, ws []kv.Write, o kv.Options) error {
	n := s.now.Add(1)
	defer s.now.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	time.Sleep(2 * time.Millisecond)
	return s.Store.Write(ctx, ws, o)
}

// Many PutFiles at once, each big enough for several Write calls, keep
// at most Options.Writes calls in flight in all, and store every file.
func TestWritesInFlightAreBoundedAcrossRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kvs := &inflight{Store: kvtest.NewStore(t)}
	s := store.New(kvs, store.Options{BatchSize: 50, Writes: 3})
	const g, requests = "bound", 8
	var wg sync.WaitGroup
	errs := make([]error, requests)
	for r := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := fmt.Sprintf("f%d.go", r)
			f := ingest.FileFacts{File: ingest.File{Path: path, Name: path, MD5: "m"}}
			for i := range 40 {
				qn := fmt.Sprintf("p.F%d_%d", r, i)
				f.Nodes = append(f.Nodes, fn(qn, path, i*10+1, i*10+5))
				f.Edges = append(f.Edges, call(qn, fmt.Sprintf("p.F%d_%d", (r+1)%requests, i), path, i*10+2))
			}
			errs[r] = s.PutFiles(ctx, g, []ingest.FileFacts{f})
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", r, err)
		}
	}
	if m := kvs.most.Load(); m > 3 || m < 2 {
		t.Fatalf("at most %d Write calls were in flight at once; want 2 or 3 (Options.Writes 3, 8 requests)", m)
	}
	files, err := s.CountFiles(ctx, g)
	if err != nil || files != requests {
		t.Fatalf("CountFiles = %d, %v; want %d", files, err, requests)
	}
	if got := edgeSet(t, s, g, "p.F1_7", store.In); !got["CALLS "+store.NodeID(g, "p.F0_7")] {
		t.Fatalf("in-edges of p.F1_7 = %v, want the call from p.F0_7", got)
	}
}
