package replica

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/grafo/grafo/internal/testutil"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/engine/enginetest"
	"github.com/grafo/grafo/kv/hints"
	"github.com/grafo/grafo/kv/ring"
)

func (tc *testCluster) ae(i int, grace time.Duration) *AntiEntropy {
	return NewAntiEntropy(tc.coords[i], AntiEntropyConfig{Interval: -1, TombstoneGrace: grace})
}

// A replica that missed writes (cut off, nobody reads the keys) and one
// whose engine lost keys behind its back both converge in one round.
func TestAntiEntropyRepairsWithoutReads(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 3, 3)
	ctx := context.Background()
	tc.net.Disconnect("n3:7071") // n3 misses writes; membership still thinks it is up
	for i := 0; i < 300; i++ {
		if _, err := tc.coords[0].Put(ctx, []byte(fmt.Sprintf("k%03d", i)), []byte("v"), kv.Options{Level: kv.Quorum}); err != nil {
			t.Fatal(err)
		}
	}
	tc.coords[0].Wait()
	tc.net.Reconnect("n3:7071")
	if k := tc.engines[2].Keys(); k != 0 {
		t.Fatalf("n3 has %d keys before anti-entropy", k)
	}
	// n1 lost 40 keys behind its back.
	var lost [][]byte
	for i := 0; i < 40; i++ {
		lost = append(lost, []byte(fmt.Sprintf("k%03d", i*7)))
	}
	enginetest.Remove(t, tc.engines[0], lost...)
	st, err := tc.ae(0, -1).Round(ctx) // n1 compares with n2 (pulls what it lost) and n3 (pushes all)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pulled != 40 || st.Pushed != 300 || tc.engines[2].Keys() != 300 || tc.engines[0].Keys() != 300 {
		t.Fatalf("after one round: %+v, keys n1=%d n3=%d", st, tc.engines[0].Keys(), tc.engines[2].Keys())
	}
	// A second round finds nothing to do.
	for i := range 3 {
		st, err := tc.ae(i, -1).Round(ctx)
		if err != nil || st.Differ != 0 || st.Pulled+st.Pushed != 0 {
			t.Fatalf("n%d second round: %+v %v", i+1, st, err)
		}
	}
}

// Newest wins in both directions, per key.
func TestAntiEntropyNewestWins(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 2, 2)
	ctx := context.Background()
	old := kv.Version{TS: 100, Node: "x"}
	newer := kv.Version{TS: 200, Node: "x"}
	tc.engines[0].Apply(ctx, kv.Entry{Key: []byte("a"), Cell: kv.Cell{Value: []byte("a-new"), Version: newer}},
		kv.Entry{Key: []byte("b"), Cell: kv.Cell{Value: []byte("b-old"), Version: old}})
	tc.engines[1].Apply(ctx, kv.Entry{Key: []byte("a"), Cell: kv.Cell{Value: []byte("a-old"), Version: old}},
		kv.Entry{Key: []byte("b"), Cell: kv.Cell{Tombstone: true, Version: newer}})
	if _, err := tc.ae(0, -1).Round(ctx); err != nil {
		t.Fatal(err)
	}
	for i, e := range tc.engines {
		a, _ := e.Get(ctx, []byte("a"))
		b, _ := e.Get(ctx, []byte("b"))
		if string(a.Value) != "a-new" || !b.Tombstone || b.Version != newer {
			t.Fatalf("n%d: a=%q b=%+v", i+1, a.Value, b)
		}
	}
}

// Tombstones are purged only once every replica holds them.
func TestAntiEntropyPurgesTombstones(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 3, 3)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		tc.coords[0].Put(ctx, []byte(fmt.Sprintf("k%d", i)), []byte("v"), kv.Options{Level: kv.All})
	}
	tc.net.Disconnect("n3:7071")
	for i := 0; i < 20; i++ {
		if _, err := tc.coords[0].Delete(ctx, []byte(fmt.Sprintf("k%d", i)), kv.Options{Level: kv.Quorum}); err != nil {
			t.Fatal(err)
		}
	}
	tc.coords[0].Wait()
	tc.net.Reconnect("n3:7071")
	grace := time.Millisecond
	time.Sleep(2 * grace) // the tombstones' age must pass the grace period
	// n1 holds the tombstones but n3 does not: nothing may be purged by
	// n1 before n3 has them. Round on n1 pushes them to n3.
	st, err := tc.ae(0, grace).Round(ctx)
	if err != nil || st.Purged != 0 || st.Pushed != 20 {
		t.Fatalf("first round: %+v %v", st, err)
	}
	for i := range 3 {
		st, err := tc.ae(i, grace).Round(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("n%d: %+v", i+1, st)
	}
	for i, e := range tc.engines {
		if s := e.Stats(); s.Tombstones != 0 || s.Keys != 0 {
			t.Fatalf("n%d after purge: %+v", i+1, s)
		}
	}
	// The delete stays a delete.
	if _, err := tc.coords[1].Get(ctx, []byte("k3"), kv.Options{Level: kv.All}); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("k3 after purge: %v", err)
	}
}

// Writes for a down replica are kept as hints and delivered when it is
// back; with sloppy quorum they count toward W.
func TestHintedHandoff(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 3, 3)
	ctx := context.Background()
	hs, err := hints.Open(filepath.Join(t.TempDir(), "hints.db"), hints.Config{NoSync: true, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	tc.coords[0].cfg.Hints = hs
	tc.down(2, true)
	tc.down(3, true)
	if _, err := tc.coords[0].Put(ctx, []byte("strict"), []byte("v"), kv.Options{Level: kv.Quorum}); !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("strict quorum with 2 of 3 down: %v", err)
	}
	if _, err := tc.coords[0].Put(ctx, []byte("sloppy"), []byte("v"), kv.Options{Level: kv.Quorum, Sloppy: true}); err != nil {
		t.Fatalf("sloppy quorum: %v", err)
	}
	if p := hs.Pending(); p != 4 {
		t.Fatalf("pending hints %d, want 4 (2 writes x 2 down replicas)", p)
	}
	hs.Run(tc.coords[0])
	tc.down(3, false)
	testutil.WaitFor(t, 10*time.Second, "hints for n3 delivered", func() bool { return hs.Pending() == 2 })
	for _, k := range []string{"strict", "sloppy"} {
		if c, err := tc.engines[2].Get(ctx, []byte(k)); err != nil || string(c.Value) != "v" {
			t.Fatalf("n3 %s: %v", k, err)
		}
	}
	tc.down(2, false)
	testutil.WaitFor(t, 10*time.Second, "all hints delivered", func() bool { return hs.Pending() == 0 })
}

// Anti-entropy keeps running while ranges move: with n3 leaving (in the
// read ring only), a round on n1 still brings n3 what it missed, because
// it compares against current and future owners alike.
func TestAntiEntropyDuringRebalancing(t *testing.T) {
	tc := newTestCluster(t, 3, 3)
	ctx := context.Background()
	tc.net.Disconnect("n3:7071")
	for i := 0; i < 200; i++ {
		if _, err := tc.coords[0].Put(ctx, []byte(fmt.Sprintf("m%03d", i)), []byte("v"), kv.Options{Level: kv.Quorum}); err != nil {
			t.Fatal(err)
		}
	}
	tc.coords[0].Wait()
	tc.net.Reconnect("n3:7071")
	read, _ := tc.members.Rings()
	tc.members.SetWriteRing(ring.New(slices.DeleteFunc(read.Members(), func(m ring.Member) bool { return m.ID == "n3" }), read.VNodesPerWeight()))
	st, err := tc.ae(0, -1).Round(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k := tc.engines[2].Keys(); k != 200 || st.Pushed < 200 {
		t.Fatalf("after a round during a move n3 holds %d keys (pushed %d), want 200", k, st.Pushed)
	}
}
