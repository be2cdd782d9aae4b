package replica

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// keyNotOn returns a key whose replicas (N of the cluster) exclude node id.
func keyNotOn(t *testing.T, tc *testCluster, id string) []byte {
	t.Helper()
	for i := 0; i < 1000; i++ {
		k := []byte(fmt.Sprintf("k%d", i))
		if !contains(tc.coords[0].replicasFor(kv.Partition(k)).owners, id) {
			return k
		}
	}
	t.Fatalf("no key avoids %s", id)
	return nil
}

// A quorum write acknowledged before another begins is older than it,
// even when the first coordinator's clock runs ahead: the replicas refuse
// the second write's version, and its coordinator re-versions above theirs.
// Before the refusal rule the second write was acknowledged and lost.
func TestQuorumWritesFollowRealTimeAcrossSkewedClocks(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 4, 3)
	ctx := context.Background()
	ahead, behind := tc.coords[0], tc.coords[3] // n1 runs 2 s fast
	ahead.clock = kv.NewClockFunc("n1", func() time.Time { return time.Now().Add(2 * time.Second) })
	key := keyNotOn(t, tc, "n4") // n4 coordinates without being a replica
	v1, err := ahead.Put(ctx, key, []byte("first"), kv.Options{Level: kv.Quorum})
	if err != nil {
		t.Fatal(err)
	}
	ahead.Wait() // every replica holds "first"
	v2, err := behind.Put(ctx, key, []byte("second"), kv.Options{Level: kv.Quorum})
	if err != nil {
		t.Fatal(err)
	}
	if !v2.Newer(v1) {
		t.Fatalf("second write's version %v is not newer than the first's %v", v2, v1)
	}
	for i, c := range tc.coords {
		cl, err := c.Get(ctx, key, kv.Options{Level: kv.Quorum})
		if err != nil || string(cl.Value) != "second" {
			t.Fatalf("read via n%d: %q, %v; want the later acknowledged write", i+1, cl.Value, err)
		}
	}
	if n := testutil.ToFloat64(behind.metrics.writeRetries); n != 1 {
		t.Fatalf("write retries = %v, want 1", n)
	}
	// A delete is ordered the same way.
	ahead.clock = kv.NewClockFunc("n1", func() time.Time { return time.Now().Add(4 * time.Second) })
	if _, err := ahead.Put(ctx, key, []byte("third"), kv.Options{Level: kv.Quorum}); err != nil {
		t.Fatal(err)
	}
	ahead.Wait()
	if _, err := behind.Delete(ctx, key, kv.Options{Level: kv.Quorum}); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.coords[1].Get(ctx, key, kv.Options{Level: kv.Quorum}); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("after a later delete: %v, want not found", err)
	}
}

// A quorum read whose answers disagree returns only once a quorum holds
// what it returns: the stale replica it read is written back before the
// answer, not after (a later read from elsewhere cannot see the old value).
func TestQuorumReadWritesBackBeforeAnswering(t *testing.T) {
	t.Parallel()
	tc, ctx, key := clusterHoldingOld(t)
	tc.down(3, true)
	if _, err := tc.coords[0].Put(ctx, key, []byte("new"), kv.Options{Level: kv.Quorum}); err != nil {
		t.Fatal(err)
	}
	tc.coords[0].Wait()
	tc.down(3, false)
	tc.down(1, true)
	// The write-back to n3 is slow: a read that answered first and
	// repaired later would return before n3 holds "new".
	tc.net.SetDelay("n2:7071", "n3:7071", 50*time.Millisecond)
	cl, err := tc.coords[1].Get(ctx, key, kv.Options{Level: kv.Quorum})
	if err != nil || string(cl.Value) != "new" {
		t.Fatalf("read: %q, %v", cl.Value, err)
	}
	held, err := tc.engines[2].Get(ctx, key)
	if err != nil || string(held.Value) != "new" {
		t.Fatalf("n3 holds %q (%v) when the read answered; want the value it returned", held.Value, err)
	}
	if n := testutil.ToFloat64(tc.coords[1].metrics.writeBacks); n != 1 {
		t.Fatalf("read write-backs = %v, want 1", n)
	}
	// Replicas that agree cost no write-back.
	if _, err := tc.coords[1].Get(ctx, key, kv.Options{Level: kv.Quorum}); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(tc.coords[1].metrics.writeBacks); n != 1 {
		t.Fatalf("read write-backs = %v after an agreeing read, want still 1", n)
	}
}

// A peer cannot plant a version from the far future: TS = 2^64-1 once
// made this node's clock wrap, so its next acknowledged write got version
// 0000… and was lost, and the planted cell could never be replaced.
func TestVersionFarAheadRefused(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 3, 3)
	ctx := context.Background()
	key := []byte("k")
	evil := tc.net.Node("evil:7071")
	for _, ts := range []uint64{kv.MaxTS, kv.PhysicalTS(time.Now().Add(2 * DefaultMaxClockSkew))} {
		bad := encodeEntries([]kv.Entry{{Key: key, Cell: kv.Cell{Value: []byte("planted"), Version: kv.Version{TS: ts, Node: "evil"}}}})
		if _, err := evil.Call(ctx, "n1:7071", methodApply, bad); err == nil {
			t.Fatalf("n1 accepted a version with TS %x", ts)
		}
	}
	if _, err := tc.coords[0].Put(ctx, key, []byte("mine"), kv.Options{Level: kv.Quorum}); err != nil {
		t.Fatal(err)
	}
	if v := tc.coords[0].Clock().Now(); v.TS > kv.PhysicalTS(time.Now().Add(time.Second)) {
		t.Fatalf("clock dragged ahead: %v", v)
	}
	for i, c := range tc.coords {
		cl, err := c.Get(ctx, key, kv.Options{Level: kv.All})
		if err != nil || string(cl.Value) != "mine" {
			t.Fatalf("read via n%d: %q, %v", i+1, cl.Value, err)
		}
	}
	if _, err := tc.coords[0].Delete(ctx, key, kv.Options{Level: kv.All}); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.coords[2].Get(ctx, key, kv.Options{Level: kv.All}); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

// A batch that writes one key twice keeps the later value: the replicas
// refuse the earlier entry because of the later one, which is no reason
// to re-send the earlier one above it.
func TestQuorumBatchWritingAKeyTwiceKeepsTheLast(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 3, 3)
	ctx := context.Background()
	key := kv.Key("p", "key") // one partition: one replica set, one commit
	for round := range 20 {
		last := fmt.Sprintf("last%d", round)
		// The engine sorts a commit's entries by key (not stably); with
		// this layout it puts the later write of key first.
		ws := make([]kv.Write, 19)
		for i := range ws {
			ws[i] = kv.Write{Key: kv.Key("p", fmt.Sprintf("k%03d", i*37%19)), Value: []byte("x")}
		}
		ws[0] = kv.Write{Key: key, Value: []byte("first")}
		ws[9] = kv.Write{Key: key, Value: []byte(last)}
		if err := tc.coords[round%3].Write(ctx, ws, kv.Options{Level: kv.Quorum}); err != nil {
			t.Fatal(err)
		}
		cl, err := tc.coords[(round+1)%3].Get(ctx, key, kv.Options{Level: kv.Quorum})
		if err != nil || string(cl.Value) != last {
			t.Fatalf("round %d: %q, %v; want %q", round, cl.Value, err, last)
		}
	}
}

// BenchmarkQuorumPut: default-level puts through the three coordinators of
// an in-memory cluster on real engines (what the write rules cost without
// HTTP in the way).
func BenchmarkQuorumPut(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			tc := newTestCluster(b, 3, 3)
			val := make([]byte, size)
			var n atomic.Int64
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if _, err := tc.coords[i%3].Put(context.Background(), []byte(fmt.Sprintf("k%d", i%10000)), val, kv.Options{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// clusterHoldingOld is three nodes, each holding "old" under the key k.
func clusterHoldingOld(t *testing.T) (*testCluster, context.Context, []byte) {
	t.Helper()
	tc := newTestCluster(t, 3, 3)
	ctx := context.Background()
	key := []byte("k")
	if _, err := tc.coords[0].Put(ctx, key, []byte("old"), kv.Options{Level: kv.All}); err != nil {
		t.Fatal(err)
	}
	return tc, ctx, key
}

// BenchmarkLocalGet: gets of one cached key through the coordinator of a
// one-node cluster, what a node adds to its engine's read (the RESP GET
// path of bench/peers.sh's one-node rows, without the network).
func BenchmarkLocalGet(b *testing.B) {
	tc := newTestCluster(b, 1, 1)
	ctx := context.Background()
	key := []byte("k")
	if _, err := tc.coords[0].Put(ctx, key, []byte("v"), kv.Options{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tc.coords[0].Get(ctx, key, kv.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// A peer's read answer with a version from the far future is refused
// (its cell may have been planted behind the replication protocol's
// back): it does not count toward R, and this node's clock does not
// follow it.
func TestReadAnswerFarAheadRefused(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 3, 3)
	ctx := context.Background()
	key := []byte("k")
	if _, err := tc.coords[0].Put(ctx, key, []byte("mine"), kv.Options{Level: kv.All}); err != nil {
		t.Fatal(err)
	}
	far := kv.Version{TS: kv.PhysicalTS(time.Now().Add(2 * DefaultMaxClockSkew)), Node: "evil"}
	for _, e := range tc.engines[1:] {
		if _, err := e.Apply(ctx, kv.Entry{Key: key, Cell: kv.Cell{Value: []byte("planted"), Version: far}}); err != nil {
			t.Fatal(err)
		}
	}
	c := tc.coords[0]
	cl, err := c.Get(ctx, key, kv.Options{Level: kv.Quorum})
	if !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("a quorum read whose peers both answer from the far future: %q, %v; want unavailable", cl.Value, err)
	}
	if n := testutil.ToFloat64(c.metrics.versionsRefused); n < 2 {
		t.Fatalf("versions refused = %v, want both peers' answers", n)
	}
	if v := c.Clock().Now(); v.TS > kv.PhysicalTS(time.Now().Add(time.Second)) {
		t.Fatalf("clock dragged ahead: %v", v)
	}
}
