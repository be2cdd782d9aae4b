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
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := tc.coords[0].Put(ctx, []byte(fmt.Sprint("k", i)), []byte("v"), kv.Options{Level: kv.All})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
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
