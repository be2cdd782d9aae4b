package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
)

// startCluster starts n nodes as processes: the first bootstraps, the
// others join it through its public address.
func startCluster(t *testing.T, n int, args ...string) []*proc {
	t.Helper()
	first := newProc(t, "n1", args...)
	nodes := []*proc{first}
	for i := 2; i <= n; i++ {
		nodes = append(nodes, newProc(t, fmt.Sprintf("n%d", i), append([]string{"--join", first.http}, args...)...))
	}
	waitUp(t, first.client(), n)
	return nodes
}

// waitUp waits until the cluster reports want nodes, all up and nothing
// moving.
func waitUp(t *testing.T, c *client.Client, want int) client.ClusterStatus {
	t.Helper()
	var st client.ClusterStatus
	waitFor(t, 60*time.Second, fmt.Sprintf("%d nodes up", want), func() bool {
		var err error
		st, err = c.Cluster(context.Background())
		if err != nil || len(st.Nodes) != want || st.Rebalancing {
			return false
		}
		for _, n := range st.Nodes {
			if n.State != "up" {
				return false
			}
		}
		return true
	})
	return st
}

func keysOf(t *testing.T, c *client.Client) map[string]int64 {
	t.Helper()
	st, err := c.Cluster(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, n := range st.Nodes {
		out[n.ID] = n.Keys
	}
	return out
}

func TestClusterQuorum(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	nodes := startCluster(t, 3)
	ctx := context.Background()
	c1, c3 := nodes[0].client(), nodes[2].client()
	q := kv.Options{Level: kv.Quorum}
	putEach(t, 300, func(i int) error {
		if err := c1.Put(ctx, []byte(fmt.Sprintf("k%03d", i)), []byte(fmt.Sprintf("v%03d", i)), q); err != nil {
			return fmt.Errorf("put %d through n1: %w", i, err)
		}
		return nil
	})
	for i := 0; i < 300; i++ {
		v, _, err := c3.Get(ctx, []byte(fmt.Sprintf("k%03d", i)), q)
		if err != nil || string(v) != fmt.Sprintf("v%03d", i) {
			t.Fatalf("get k%03d through n3: %q %v", i, v, err)
		}
	}
	// N=3: every node holds every key.
	for id, k := range keysOf(t, c1) {
		if k != 300 {
			t.Fatalf("%s holds %d keys, want 300", id, k)
		}
	}
	nodes[1].kill()
	for i := 0; i < 50; i++ {
		k := []byte(fmt.Sprintf("after-%d", i))
		if err := c1.Put(ctx, k, []byte("x"), q); err != nil {
			t.Fatalf("quorum put with n2 dead: %v", err)
		}
		if _, _, err := c3.Get(ctx, k, q); err != nil {
			t.Fatalf("quorum get with n2 dead: %v", err)
		}
	}
	err := c1.Put(ctx, []byte("all"), []byte("x"), kv.Options{Level: kv.All})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 503 || !strings.Contains(ce.Message, "quorum not reached") || !strings.Contains(ce.Message, "n2") {
		t.Fatalf("all with n2 dead: %v, want 503 naming n2", err)
	}
	if !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("all with n2 dead: %v is not ErrUnavailable", err)
	}
}

func TestClusterWeights(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	first := newProc(t, "n1", "--replicas", "1")
	newProc(t, "n2", "--replicas", "1", "--join", first.http)
	newProc(t, "n3", "--replicas", "1", "--join", first.http, "--weight", "2")
	c := first.client()
	waitUp(t, c, 3)
	ctx := context.Background()
	putEach(t, 3000, func(i int) error {
		return c.Put(ctx, []byte(fmt.Sprintf("w%04d", i)), []byte("v"), kv.Options{})
	})
	keys := keysOf(t, c)
	share := float64(keys["n3"]) / 3000
	t.Logf("keys per node: %v (n3 share %.3f)", keys, share)
	if share < 0.43 || share > 0.57 {
		t.Fatalf("weight-2 node holds %.1f%% of keys, want 50%% ± 7%%", share*100)
	}
}

func TestClusterJoinLeave(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	nodes := startCluster(t, 3, "--replicas", "1")
	c := nodes[0].client()
	ctx := context.Background()
	const total = 3000
	putEach(t, total, func(i int) error {
		return c.Put(ctx, []byte(fmt.Sprintf("j%04d", i)), []byte(fmt.Sprintf("v%d", i)), kv.Options{})
	})
	before := keysOf(t, c)
	n4 := newProc(t, "n4", "--replicas", "1", "--join", nodes[0].http)
	// Each node counts what it owns under its own ring, and followers
	// apply the join after the leader: wait until every node has.
	for _, p := range append(nodes, n4) {
		waitUp(t, p.client(), 4)
	}
	after := keysOf(t, c)
	share := float64(after["n4"]) / total
	t.Logf("before %v, after join %v (n4 share %.3f)", before, after, share)
	if share < 0.18 || share > 0.32 {
		t.Fatalf("n4 holds %.1f%% of keys after joining, want 25%% ± 7%%", share*100)
	}
	// Only the keys n4 took changed owner (old owners keep a stale copy
	// until cleanup, which reads never consult).
	if moved := float64(after["n4"]) / total; moved >= 0.35 {
		t.Fatalf("%.1f%% of keys changed owner, want < 35%%", moved*100)
	}
	for i := 0; i < total; i++ {
		v, _, err := n4.client().Get(ctx, []byte(fmt.Sprintf("j%04d", i)), kv.Options{})
		if err != nil || string(v) != fmt.Sprintf("v%d", i) {
			t.Fatalf("after join: j%04d = %q %v", i, v, err)
		}
	}
	if err := c.Leave(ctx, "n4"); err != nil {
		t.Fatal(err)
	}
	waitUp(t, c, 3)
	for i := 0; i < total; i++ {
		v, _, err := c.Get(ctx, []byte(fmt.Sprintf("j%04d", i)), kv.Options{})
		if err != nil || string(v) != fmt.Sprintf("v%d", i) {
			t.Fatalf("after leave: j%04d = %q %v", i, v, err)
		}
	}
}

// serveRaw starts grafo serve as p without waiting for it to serve (it
// may be waiting to join or to bootstrap) and kills it when the test
// ends; its output goes to the returned buffer.
func serveRaw(t *testing.T, p *proc, args ...string) *syncBuffer {
	t.Helper()
	cmd := exec.Command(grafoBin, append([]string{"serve", "--node-id", p.id, "--data", p.data,
		"--http", p.http, "--cluster", p.clust, "--heartbeat", "200ms"}, args...)...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return logs
}

// A node whose --join names the public address of a member that is not
// up yet waits for it and joins (containers start together).
func TestJoinBeforeSeedIsUp(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	seed := &proc{t: t, id: "n1", data: filepath.Join(t.TempDir(), "n1"), http: freePort(t), clust: freePort(t)}
	late := &proc{t: t, id: "n2", data: filepath.Join(t.TempDir(), "n2"), http: freePort(t), clust: freePort(t),
		args: []string{"--join", seed.http}}
	logs := serveRaw(t, late, late.args...)
	// The joiner opens its HTTP listener before it looks for the seed: once
	// that accepts, it is waiting for a seed that does not exist yet.
	waitFor(t, 30*time.Second, "the joiner to start", func() bool {
		c, err := net.Dial("tcp", late.http)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	seed.start()
	t.Cleanup(seed.kill)
	waitUp(t, seed.client(), 2)
	if !strings.Contains(logs.String(), "serving http://") {
		t.Fatalf("joiner never served:\n%s", logs)
	}
}

// `grafo cluster join ADDR` admits a node that is waiting at ADDR (started
// with a --join that leads nowhere yet), with its public address and
// weight.
func TestAdminJoin(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	n1 := newProc(t, "n1")
	waiting := &proc{t: t, id: "n2", data: filepath.Join(t.TempDir(), "n2"), http: freePort(t), clust: freePort(t)}
	logs := serveRaw(t, waiting, "--weight", "2", "--join", freePort(t))
	admit := func() error {
		c := exec.Command(grafoBin, "cluster", "join", waiting.clust, "--server", n1.url())
		out, err := c.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	// The waiting node answers on its cluster port once it has opened it.
	var err error
	waitFor(t, 30*time.Second, "the admin join to be accepted", func() bool { err = admit(); return err == nil })
	st := waitUp(t, n1.client(), 2)
	for _, n := range st.Nodes {
		if n.ID == "n2" && (n.HTTP != waiting.http || n.Weight != 2) {
			t.Fatalf("admitted node recorded as %+v, want http %s weight 2", n, waiting.http)
		}
	}
	waitFor(t, 10*time.Second, "the admitted node to serve", func() bool {
		return strings.Contains(logs.String(), "serving http://")
	})
}
