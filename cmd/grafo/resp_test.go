package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A three-node cluster (N=3, W=2, R=2) serves the Redis protocol on every
// node: a write through one node is read through the others, INFO shows
// the cluster, and losing a node fails only what needs every replica.
func TestRESPCluster(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	ctx := context.Background()
	respAddr := []string{freePort(t), freePort(t), freePort(t)}
	first := newProc(t, "n1", "--resp", respAddr[0], "--replicas", "3")
	nodes := []*proc{first}
	for i := 2; i <= 3; i++ {
		nodes = append(nodes, newProc(t, fmt.Sprintf("n%d", i), "--join", first.http, "--resp", respAddr[i-1]))
	}
	waitUp(t, first.client(), 3)
	rdb := make([]*redis.Client, 3)
	for i, a := range respAddr {
		rdb[i] = redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
		t.Cleanup(func() { rdb[i].Close() })
	}

	for i := range 50 {
		if err := rdb[i%3].Set(ctx, fmt.Sprintf("key-%02d", i), fmt.Sprintf("value-%02d", i), 0).Err(); err != nil {
			t.Fatalf("SET through n%d: %v", i%3+1, err)
		}
	}
	for i := range 50 {
		if v, err := rdb[(i+1)%3].Get(ctx, fmt.Sprintf("key-%02d", i)).Result(); err != nil || v != fmt.Sprintf("value-%02d", i) {
			t.Fatalf("GET key-%02d through n%d = %q, %v", i, (i+1)%3+1, v, err)
		}
	}
	// Node states come from heartbeats (200 ms here): on a loaded machine a
	// node can miss five and show down for a moment, so wait for the view
	// to settle rather than sample it once.
	var info string
	waitFor(t, 15*time.Second, "INFO replication to show the three nodes up", func() bool {
		var err error
		info, err = rdb[1].Info(ctx, "replication").Result()
		if err != nil {
			return false
		}
		for _, want := range []string{"grafo_replicas:3", "grafo_write_quorum:2", "grafo_read_quorum:2", "grafo_nodes:3", "id=n3,state=up"} {
			if !strings.Contains(info, want) {
				return false
			}
		}
		return true
	})
	if path, err := exec.LookPath("redis-cli"); err == nil {
		host, port, _ := strings.Cut(respAddr[2], ":")
		out, err := exec.Command(path, "-h", host, "-p", port, "get", "key-07").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "value-07" {
			t.Fatalf("redis-cli get: %q, %v", out, err)
		}
	}

	// SCAN lists the keys of all three nodes, each once, in order.
	want := make([]string, 50)
	for i := range want {
		want[i] = fmt.Sprintf("key-%02d", i)
	}
	scanAll(ctx, t, rdb[2], want)

	// n3 goes away: W=2 writes and R=2 reads go on; ALL cannot.
	nodes[2].kill()
	if err := rdb[0].Set(ctx, "after", "kill", 0).Err(); err != nil {
		t.Fatalf("W=2 SET with one node down: %v", err)
	}
	scanAll(ctx, t, rdb[1], append([]string{"after"}, want...))
	if v, err := rdb[1].Get(ctx, "after").Result(); err != nil || v != "kill" {
		t.Fatalf("R=2 GET with one node down = %q, %v", v, err)
	}
	conn := rdb[0].Conn()
	defer conn.Close()
	if err := conn.Do(ctx, "GRAFO.CONSISTENCY", "all").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := conn.Set(ctx, "all", "x", 0).Err()
		if err != nil && strings.HasPrefix(err.Error(), "UNAVAILABLE quorum not reached: 2 of 3 required acks") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SET at consistency all with a node down: %v, want UNAVAILABLE", err)
		}
	}
}

// scanAll walks SCAN to the end through rdb (pages of 7) and fails unless
// it lists exactly want, in order.
func scanAll(ctx context.Context, t *testing.T, rdb *redis.Client, want []string) {
	t.Helper()
	var got []string
	it := rdb.Scan(ctx, 0, "", 7).Iterator()
	for it.Next(ctx) {
		got = append(got, it.Val())
	}
	if err := it.Err(); err != nil || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("SCAN listed %d keys %v, want %d in order; err %v", len(got), got, len(want), err)
	}
}
