package replica

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Concurrent writes to a slow peer share apply calls, and every one of
// them still lands on every replica.
func TestWritesToAPeerAreCoalesced(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 3, 3)
	tc.net.SetDelay("n1:7071", "n2:7071", 20*time.Millisecond)
	tc.net.SetDelay("n1:7071", "n3:7071", 20*time.Millisecond)
	ctx := context.Background()
	const writers = 64
	concurrently(t, writers, func(i int) error {
		_, err := tc.coords[0].Put(ctx, []byte(fmt.Sprint("k", i)), []byte("v"), kv.Options{Level: kv.All})
		return err
	})
	m := tc.coords[0].Metrics()
	calls, writes := testutil.ToFloat64(m.peerCalls), testutil.ToFloat64(m.peerWrites)
	if writes != 2*writers {
		t.Fatalf("peer writes = %v, want %d (two peers)", writes, 2*writers)
	}
	if calls >= writes/2 {
		t.Fatalf("%v calls carried %v writes: not coalesced", calls, writes)
	}
	for _, e := range tc.engines {
		if n := e.Keys(); n != writers {
			t.Fatalf("a replica holds %d keys, want %d", n, writers)
		}
	}
	t.Logf("%v writes to peers in %v calls", writes, calls)
}

// Concurrent reads of a slow peer share get calls, and every read still
// gets its own key's value.
func TestReadsOfAPeerAreCoalesced(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 3, 3)
	ctx := context.Background()
	const readers = 64
	concurrently(t, readers, func(i int) error {
		_, err := tc.coords[0].Put(ctx, []byte(fmt.Sprint("k", i)), []byte(fmt.Sprint("v", i)), kv.Options{Level: kv.All})
		return err
	})
	tc.net.SetDelay("n1:7071", "n2:7071", 20*time.Millisecond)
	tc.net.SetDelay("n1:7071", "n3:7071", 20*time.Millisecond)
	concurrently(t, readers, func(i int) error {
		cl, err := tc.coords[0].Get(ctx, []byte(fmt.Sprint("k", i)), kv.Options{Level: kv.Quorum})
		if err == nil && string(cl.Value) != fmt.Sprint("v", i) {
			err = fmt.Errorf("k%d = %q", i, cl.Value)
		}
		return err
	})
	m := tc.coords[0].Metrics()
	// Data calls and digest calls (digest.go) alike.
	calls := testutil.ToFloat64(m.readCalls) + testutil.ToFloat64(m.digestCalls)
	reads := testutil.ToFloat64(m.readKeys) + testutil.ToFloat64(m.digestKeys)
	if reads < readers {
		t.Fatalf("peer reads = %v, want at least %d (R=2: every read asks a peer)", reads, readers)
	}
	if calls >= reads/2 {
		t.Fatalf("%v calls carried %v reads: not coalesced", calls, reads)
	}
	t.Logf("%v reads of peers in %v calls", reads, calls)
}

// concurrently runs fn(0) … fn(n-1) at once and fails on any error.
func concurrently(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- fn(i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// hintRecorder is a HintStore that remembers which nodes got hints.
type hintRecorder struct {
	mu    sync.Mutex
	nodes map[string]int
}

func (h *hintRecorder) Add(_ context.Context, node string, es []kv.Entry) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nodes[node] += len(es)
	return nil
}

func (h *hintRecorder) count(node string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nodes[node]
}

// A replica whose call fails after the write was acknowledged (its answer
// arrives on the peer's drainer, after the client was answered) still gets
// a hint of the write.
func TestLateFailedWriteIsHinted(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 3, 3)
	hints := &hintRecorder{nodes: map[string]int{}}
	c := tc.coords[0]
	c.cfg.Hints = hints
	// n3 gets the write late, and its answer is lost: the call fails
	// well after n1 and n2 made the quorum.
	tc.net.SetDelay("n1:7071", "n3:7071", 300*time.Millisecond)
	tc.net.SetDrop("n3:7071", "n1:7071", 1)
	if _, err := c.Put(context.Background(), []byte("k"), []byte("v"), kv.Options{Level: kv.Quorum}); err != nil {
		t.Fatal(err)
	}
	if n := hints.count("n3"); n != 0 {
		t.Fatalf("n3 was hinted before its call failed (%d entries)", n)
	}
	c.Wait()
	if n := hints.count("n3"); n != 1 {
		t.Fatalf("n3 got %d hinted entries after its late failure, want 1", n)
	}
	if n := hints.count("n2"); n != 0 {
		t.Fatalf("n2, which acknowledged, got %d hinted entries", n)
	}
}
