package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/grafo/grafo/kv"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// readCounts is what a coordinator's reads of its peers cost so far:
// keys read whole, keys answered with a version only, keys fetched after
// a digest was newer.
func readCounts(c *Coordinator) (data, digests, fetches float64) {
	m := c.Metrics()
	return testutil.ToFloat64(m.readKeys), testutil.ToFloat64(m.digestKeys), testutil.ToFloat64(m.digestFetches)
}

// A read that needs R answers takes the value from one replica and
// versions from the other R-1: from itself when it is an owner, from the
// first live owner when it is not.
func TestReadsTakeTheValueFromOneReplica(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 4, 3) // n of 4 nodes own each key: some coordinator is not an owner
	ctx := context.Background()
	value := bytes.Repeat([]byte("v"), 9<<10)
	key := []byte("k")
	if _, err := tc.coords[0].Put(ctx, key, value, kv.Options{Level: kv.All}); err != nil {
		t.Fatal(err)
	}
	owners := tc.coords[0].replicasFor(kv.Partition(key)).owners
	for i, c := range tc.coords {
		owner := false
		for _, o := range owners {
			owner = owner || o == fmt.Sprintf("n%d", i+1)
		}
		for _, tt := range []struct {
			o    kv.Options
			need int
		}{{kv.Options{Level: kv.Quorum}, 2}, {kv.Options{Level: kv.All}, 3}} {
			data0, dig0, _ := readCounts(c)
			got, err := c.Get(ctx, key, tt.o)
			if err != nil || !bytes.Equal(got.Value, value) {
				t.Fatalf("n%d: get %+v: %v, %d bytes", i+1, tt.o, err, len(got.Value))
			}
			c.Wait()
			data1, dig1, _ := readCounts(c)
			wantData := 1.0 // the first live owner's, a peer's
			if owner {
				wantData = 0 // this node's own, no round trip
			}
			if data1-data0 != wantData || dig1-dig0 != float64(tt.need-1) {
				t.Errorf("n%d (owner %v), R=%d: %v keys read whole and %v digests from peers, want %v and %d",
					i+1, owner, tt.need, data1-data0, dig1-dig0, wantData, tt.need-1)
			}
		}
	}
}

// When a digest is newer than the data, the read fetches that replica's
// value and returns it (and a quorum read writes it back before
// answering); a newer tombstone needs no fetch.
func TestNewerDigestFetchesTheValue(t *testing.T) {
	t.Parallel()
	tc, ctx, key := clusterHoldingOld(t)
	// n2 and n3 hold a newer version n1 missed: whichever is n1's digest
	// replica reports it.
	newer := kv.Cell{Value: []byte("new"), Version: tc.coords[1].Clock().Now()}
	for _, e := range tc.engines[1:] {
		if _, err := e.Apply(ctx, kv.Entry{Key: key, Cell: newer}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, f0 := readCounts(tc.coords[0])
	got, err := tc.coords[0].Get(ctx, key, kv.Options{Level: kv.Quorum})
	if err != nil || string(got.Value) != "new" {
		t.Fatalf("quorum get: %v %q, want \"new\"", err, got.Value)
	}
	if _, _, f1 := readCounts(tc.coords[0]); f1-f0 != 1 {
		t.Fatalf("%v keys fetched after a newer digest, want 1", f1-f0)
	}
	// Written back to n1 before the read answered.
	if c, err := tc.engines[0].Get(ctx, key); err != nil || string(c.Value) != "new" {
		t.Fatalf("n1 after the quorum read: %v %q", err, c.Value)
	}

	// A deletion n1 missed: its digest is the whole answer.
	gone := kv.Cell{Tombstone: true, Version: tc.coords[1].Clock().Now()}
	for _, e := range tc.engines[1:] {
		if _, err := e.Apply(ctx, kv.Entry{Key: key, Cell: gone}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, f1 := readCounts(tc.coords[0])
	if _, err := tc.coords[0].Get(ctx, key, kv.Options{Level: kv.Quorum}); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("get after a deletion n1 missed: %v, want ErrNotFound", err)
	}
	if _, _, f2 := readCounts(tc.coords[0]); f2 != f1 {
		t.Fatalf("a newer tombstone was fetched (%v keys): it carries no value", f2-f1)
	}
	tc.coords[0].Wait()
	if c, err := tc.engines[0].Get(ctx, key); err != nil && !errors.Is(err, kv.ErrNotFound) || !c.Tombstone || c.Version != gone.Version {
		t.Fatalf("n1 after the read saw the deletion: %+v %v, want the tombstone", c, err)
	}
}

// A digest newer than the data whose replica then cannot send the value
// fails the read as unavailable: it never answers with the older value,
// nor with a value-less cell.
func TestNewerDigestFromAnUnreachableReplica(t *testing.T) {
	t.Parallel()
	tc := newTestCluster(t, 3, 3)
	ctx := context.Background()
	key := []byte("k")
	old := kv.Cell{Value: []byte("old"), Version: tc.coords[0].Clock().Now()}
	newer := kv.Cell{Value: []byte("new"), Version: tc.coords[0].Clock().Now()}
	tc.down(2, true)
	answers := []cellsReply{
		{node: "n1", val: []kv.Cell{old}},
		{node: "n2", val: []kv.Cell{{Version: newer.Version}}}, // a digest
	}
	_, err := tc.coords[0].resolve(ctx, answers, [][]byte{key}, []string{"n2"})
	if !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("resolve with the newest version on a replica that is gone: %v, want ErrUnavailable", err)
	}
	// With n2 back and holding it, the same answers resolve to its value.
	tc.down(2, false)
	if _, err := tc.engines[1].Apply(ctx, kv.Entry{Key: key, Cell: newer}); err != nil {
		t.Fatal(err)
	}
	cells, err := tc.coords[0].resolve(ctx, answers, [][]byte{key}, []string{"n2"})
	if err != nil || string(cells[0].Value) != "new" || cells[0].Version != newer.Version {
		t.Fatalf("resolve: %v %+v, want n2's value", err, cells)
	}
	if string(answers[1].val[0].Value) != "new" {
		t.Fatalf("n2's answer after the fetch holds %q: writeBack would take it for stale", answers[1].val[0].Value)
	}
}
