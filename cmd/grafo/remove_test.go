package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
)

func stateOf(t *testing.T, c *client.Client, id string) string {
	t.Helper()
	st, err := c.Cluster(context.Background())
	if err != nil {
		return ""
	}
	for _, n := range st.Nodes {
		if n.ID == id {
			return n.State
		}
	}
	return "absent"
}

// A node lost for good: refused while up, removed once dead, and its
// ranges re-replicated so every key has three copies on the survivors
// again. Then a join and a leave both finish while another node is dead.
func TestClusterRemoveDeadNode(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	// Anti-entropy off: the copies must come from the removal's repair.
	nodes := startCluster(t, 4, "--replicas", "3", "--anti-entropy=-1s")
	c1 := nodes[0].client()
	ctx := context.Background()
	q := kv.Options{Level: kv.Quorum}
	const total = 500
	putEach(t, total, func(i int) error {
		return nodes[i%4].client().Put(ctx, []byte(fmt.Sprintf("k%03d", i)), []byte(fmt.Sprintf("v%03d", i)), q)
	})

	// Up: refused with 409, the node named.
	err := c1.Remove(ctx, "n3", false)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 409 || !strings.Contains(ce.Message, "n3") {
		t.Fatalf("remove of a live node: %v, want 409 naming n3", err)
	}
	if out, e, err := grafo(t, "cluster", "remove", "nobody", "--server", nodes[0].url()); err == nil || !strings.Contains(e, "nobody") {
		t.Fatalf("remove of an unknown node: %v %q %q", err, out, e)
	}

	nodes[2].kill()
	waitFor(t, 30*time.Second, "n3 down", func() bool { return stateOf(t, c1, "n3") == "down" })
	// Ask the node whose heartbeats were just seen to find n3 down: each
	// node judges liveness by its own heartbeats.
	if out, e, err := grafo(t, "cluster", "remove", "n3", "--server", nodes[0].url()); err != nil || !strings.Contains(out, "removed n3") {
		t.Fatalf("cluster remove n3: %v\n%s%s", err, out, e)
	}
	waitFor(t, 30*time.Second, "n3 out of the ring", func() bool { return stateOf(t, c1, "n3") == "absent" })
	// Three survivors, N=3: each must hold every key again.
	waitFor(t, 60*time.Second, "every survivor to hold all keys", func() bool {
		for id, k := range keysOf(t, c1) {
			if k < total {
				t.Logf("%s holds %d keys", id, k)
				return false
			}
		}
		return true
	})
	// Each survivor gained ranges and reports their repair as finished
	// (it may still be walking ranges that had nothing to copy when the
	// keys are all there: wait for it, then check what it reports).
	waitFor(t, 60*time.Second, "every survivor's repair to finish", func() bool {
		st, err := c1.Cluster(ctx)
		if err != nil {
			return false
		}
		for _, n := range st.Nodes {
			if p := n.Progress; p == nil || !p.Finished {
				return false
			}
		}
		return true
	})
	st, err := c1.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if p := n.Progress; p == nil || p.Kind != "repair" || !p.Finished || p.RangesDone != p.RangesTotal || p.BytesStreamed == 0 || len(p.Unavailable) > 0 {
			t.Fatalf("%s's progress after the removal: %+v", n.ID, p)
		}
	}
	// Shown the hard way: with one more node dead, every key reads at one
	// from each survivor.
	nodes[3].kill()
	for _, p := range nodes[:2] {
		c := p.client()
		for i := 0; i < total; i++ {
			v, _, err := c.Get(ctx, []byte(fmt.Sprintf("k%03d", i)), kv.Options{Level: kv.One})
			if err != nil || string(v) != fmt.Sprintf("v%03d", i) {
				t.Fatalf("get k%03d at one from %s with n4 dead: %q %v", i, p.id, v, err)
			}
		}
	}

	// n4 is dead (not removed): a join still finishes, and so does a leave.
	waitFor(t, 30*time.Second, "n4 down", func() bool { return stateOf(t, c1, "n4") == "down" })
	n5 := newProc(t, "n5", "--replicas", "3", "--anti-entropy=-1s", "--join", nodes[0].http)
	waitFor(t, 60*time.Second, "n5 up while n4 is dead", func() bool { return stateOf(t, c1, "n5") == "up" })
	if err := c1.Leave(ctx, "n5"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "n5 gone while n4 is dead", func() bool { return stateOf(t, c1, "n5") == "absent" })
	_ = n5
	for i := 0; i < total; i += 7 {
		if v, _, err := c1.Get(ctx, []byte(fmt.Sprintf("k%03d", i)), kv.Options{Level: kv.One}); err != nil || string(v) != fmt.Sprintf("v%03d", i) {
			t.Fatalf("get k%03d after the join and leave: %q %v", i, v, err)
		}
	}
}

// After a join, `grafo cluster cleanup` makes the former owners delete
// what they no longer own: every key then has exactly N copies, and all
// still read at quorum.
func TestClusterCleanupAfterJoin(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	nodes := startCluster(t, 3, "--replicas", "2", "--anti-entropy=-1s")
	c1 := nodes[0].client()
	ctx := context.Background()
	const total = 2000
	putEach(t, total, func(i int) error {
		return nodes[i%3].client().Put(ctx, []byte(fmt.Sprintf("c%04d", i)), []byte("v"), kv.Options{})
	})
	n4 := newProc(t, "n4", "--replicas", "2", "--anti-entropy=-1s", "--join", nodes[0].http)
	all := append(nodes, n4)
	// Each node counts what it owns under its own ring: wait until every
	// one has applied the join, not only n1 (followers apply it later).
	for _, p := range all {
		waitUp(t, p.client(), 4)
	}
	// keys in /v1/cluster counts owned data only; the engines' own count
	// shows the copies former owners still hold.
	stored := func() int64 { return int64(metricSum(t, all, "grafo_engine_keys")) }
	sum := func() (s int64) {
		for _, k := range keysOf(t, c1) {
			s += k
		}
		return
	}
	if s := sum(); s != 2*total {
		t.Fatalf("/v1/cluster counts %d owned copies (%v) before cleanup, want 2×%d", s, keysOf(t, c1), total)
	}
	if s := stored(); s <= 2*total {
		t.Fatalf("before cleanup the engines hold %d copies; the join should have added some to 2×%d", s, total)
	}
	out, e, err := grafo(t, "cluster", "cleanup", "--server", nodes[1].url())
	if err != nil || strings.Count(out, "deleted") != 4 {
		t.Fatalf("cluster cleanup: %v\n%s%s", err, out, e)
	}
	// keys in /v1/cluster is each node's live count, read on request.
	if s := stored(); s != 2*total {
		t.Fatalf("after cleanup the engines hold %d copies, want exactly %d (N=2)\n%s", s, 2*total, out)
	}
	for i := 0; i < total; i++ {
		if _, _, err := c1.Get(ctx, []byte(fmt.Sprintf("c%04d", i)), kv.Options{Level: kv.Quorum}); err != nil {
			t.Fatalf("get c%04d after cleanup: %v", i, err)
		}
	}
}
