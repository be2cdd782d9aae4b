package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/engine"
	"github.com/grafo/grafo/kv/engine/enginetest"
	"github.com/grafo/grafo/kv/transport"
)

// testCluster is n coordinators on real engines joined by the in-memory
// transport: kvtest.NewCluster's twin for this package's own tests, which
// cannot import kvtest (it imports this package).
type testCluster struct {
	net     *transport.Network
	members *Static
	coords  []*Coordinator
	engines []*engine.Engine
}

func newTestCluster(t testing.TB, n, replicas int) *testCluster {
	t.Helper()
	cfg := engine.DefaultConfig()
	cfg.NoSync = true
	nodes, addrs := enginetest.Nodes(t, n, cfg) // invariants checked on cleanup
	tc := &testCluster{net: transport.NewNetwork(), members: NewStatic(addrs, 64, replicas, 0, 0)}
	for _, nd := range nodes {
		c, err := New(Config{NodeID: nd.ID, Local: nd.Engine, Transport: tc.net.Node(nd.Addr), Members: tc.members, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		tc.coords = append(tc.coords, c)
		tc.engines = append(tc.engines, nd.Engine)
	}
	// Registered after the engines' cleanups, so it runs first.
	t.Cleanup(func() {
		for _, c := range tc.coords {
			c.Wait()
		}
	})
	return tc
}

// down cuts node i (1-based) off and tells the membership.
func (tc *testCluster) down(i int, isDown bool) {
	id := fmt.Sprintf("n%d", i)
	if isDown {
		tc.net.Disconnect(id + ":7071")
	} else {
		tc.net.Reconnect(id + ":7071")
	}
	tc.members.SetDown(id, isDown)
}

func TestQuorumWriteRead(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 3, 3)
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		k := []byte(fmt.Sprintf("k%d", i))
		if _, err := tc.coords[0].Put(ctx, k, []byte(fmt.Sprintf("v%d", i)), kv.Options{Level: kv.Quorum}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 50; i++ {
		c, err := tc.coords[2].Get(ctx, []byte(fmt.Sprintf("k%d", i)), kv.Options{Level: kv.Quorum})
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("v%d", i); string(c.Value) != want {
			t.Fatalf("k%d = %q, want %q", i, c.Value, want)
		}
	}
	if _, err := tc.coords[1].Get(ctx, []byte("absent"), kv.Options{}); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("absent key: %v, want ErrNotFound", err)
	}
}

func TestUnavailableMessage(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 3, 3)
	ctx := context.Background()
	tc.down(2, true)
	tc.down(3, true)
	_, err := tc.coords[0].Put(ctx, []byte("k"), []byte("v"), kv.Options{Level: kv.Quorum})
	if !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	want := "quorum not reached: 1 of 2 required acks (replicas: "
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "n2 down") || !strings.Contains(err.Error(), "n1 ok") {
		t.Fatalf("message %q lacks %q and the replica states", err, want)
	}
	// The replica that applied the failed write keeps it.
	c, err := tc.engines[0].Get(ctx, []byte("k"))
	if err != nil || string(c.Value) != "v" {
		t.Fatalf("local replica after failed quorum write: %v %q", err, c.Value)
	}
	// One is still possible; all is not, even with one node out.
	if _, err := tc.coords[0].Put(ctx, []byte("k2"), []byte("v"), kv.Options{Level: kv.One}); err != nil {
		t.Fatal(err)
	}
	tc.down(3, false)
	if _, err := tc.coords[0].Put(ctx, []byte("k3"), []byte("v"), kv.Options{Level: kv.All}); !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("all with a node down: %v", err)
	}
	if _, err := tc.coords[0].Put(ctx, []byte("k3"), []byte("v"), kv.Options{W: 4}); !errors.Is(err, kv.ErrInvalidConsistency) {
		t.Fatalf("w=4 of N=3: %v, want ErrInvalidConsistency", err)
	}
}

func TestReadRepair(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 3, 3)
	ctx := context.Background()
	tc.down(3, true)
	if _, err := tc.coords[0].Put(ctx, []byte("k"), []byte("new"), kv.Options{Level: kv.Quorum}); err != nil {
		t.Fatal(err)
	}
	tc.coords[0].Wait()
	tc.down(3, false)
	if _, err := tc.engines[2].Get(ctx, []byte("k")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("n3 should have missed the write, got %v", err)
	}
	c, err := tc.coords[2].Get(ctx, []byte("k"), kv.Options{Level: kv.All})
	if err != nil || string(c.Value) != "new" {
		t.Fatalf("get all: %v %q", err, c.Value)
	}
	tc.coords[2].Wait()
	got, err := tc.engines[2].Get(ctx, []byte("k"))
	if err != nil || string(got.Value) != "new" {
		t.Fatalf("n3 not repaired: %v %q", err, got.Value)
	}
}

func TestLinearizableWriteBack(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 3, 3)
	ctx := context.Background()
	// Write to a single replica only, as a coordinator that crashed after
	// one ack would leave it.
	v := tc.coords[0].Clock().Now()
	if _, err := tc.engines[0].Apply(ctx, kv.Entry{Key: []byte("k"), Cell: kv.Cell{Value: []byte("x"), Version: v}}); err != nil {
		t.Fatal(err)
	}
	tc.down(2, true) // the linearizable read must still reach a quorum: n1 + n3
	c, err := tc.coords[0].Get(ctx, []byte("k"), kv.Options{Level: kv.Linearizable})
	if err != nil || string(c.Value) != "x" {
		t.Fatalf("linearizable get: %v %q", err, c.Value)
	}
	// Before answering, the value was written back to a quorum: n3 has it
	// now, without waiting for background repair.
	got, err := tc.engines[2].Get(ctx, []byte("k"))
	if err != nil || string(got.Value) != "x" {
		t.Fatalf("write-back missing on n3: %v %q", err, got.Value)
	}
}

func TestDeleteAndScan(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 3, 2)
	ctx := context.Background()
	var ws []kv.Write
	for i := 0; i < 2500; i++ {
		ws = append(ws, kv.Write{Key: kv.Key("p", fmt.Sprintf("r%05d", i)), Value: []byte{byte(i)}})
	}
	ws = append(ws, kv.Write{Key: kv.Key("other", "x"), Value: []byte("y")})
	if err := tc.coords[0].Write(ctx, ws, kv.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.coords[1].Delete(ctx, kv.Key("p", "r00010"), kv.Options{}); err != nil {
		t.Fatal(err)
	}
	all, err := tc.coords[2].Scan(ctx, kv.PartitionPrefix([]byte("p")), nil, 0, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2499 {
		t.Fatalf("scan returned %d entries, want 2499", len(all))
	}
	for i := 1; i < len(all); i++ {
		if bytes.Compare(all[i-1].Key, all[i].Key) >= 0 {
			t.Fatalf("scan out of order at %d", i)
		}
	}
	page, err := tc.coords[2].Scan(ctx, kv.PartitionPrefix([]byte("p")), kv.Key("p", "r00005"), 10, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 10 || string(page[0].Key) != string(kv.Key("p", "r00006")) || string(page[4].Key) != string(kv.Key("p", "r00011")) {
		t.Fatalf("paged scan wrong: first %q, len %d", page[0].Key, len(page))
	}
	cells, err := tc.coords[1].GetMany(ctx, [][]byte{kv.Key("p", "r00001"), kv.Key("p", "r00010"), kv.Key("other", "x")}, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !cells[0].Live() || cells[1].Live() || string(cells[2].Value) != "y" {
		t.Fatalf("GetMany = %+v", cells)
	}
}

func TestWireDecodeGarbage(t *testing.T) {
	t.Parallel()
	for _, b := range [][]byte{nil, {0xff}, {5, 1, 2}, {1, 200, 1}, bytes.Repeat([]byte{0xff}, 20)} {
		decodeEntries(b)
		decodeKeys(b)
		decodeCells(b)
		decodeScanRequest(b)
		decodeRangeRequest(b)
		decodeScanResponse(b)
	}
	es := []kv.Entry{{Key: []byte("a"), Cell: kv.Cell{Value: []byte("b"), Version: kv.Version{TS: 9, Node: "n"}}}, {Key: []byte("t"), Cell: kv.Cell{Tombstone: true, Version: kv.Version{TS: 3, Node: "m"}}}}
	got, err := decodeEntries(encodeEntries(es))
	if err != nil || len(got) != 2 || string(got[0].Cell.Value) != "b" || !got[1].Cell.Tombstone || got[1].Cell.Version.TS != 3 {
		t.Fatalf("round trip: %v %+v", err, got)
	}
}
