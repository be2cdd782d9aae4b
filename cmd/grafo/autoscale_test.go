package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
)

// actuatorScript is an --autoscale-exec for processes on loopback: `up`
// starts one more grafo serve joining the seed, `down NODE` stops it.
// Each call is logged to calls, one line each.
const actuatorScript = `#!/bin/sh
set -e
dir=$(dirname "$0")
case "$1" in
up)
  n=$(ls "$dir" | grep -c '\.pid$' || true)
  id="auto$((n+1))"
  "$(cat "$dir/bin")" serve --node-id "$id" --data "$dir/$id" --http 127.0.0.1:0 --cluster 127.0.0.1:0 \
    --heartbeat 200ms --join "$(cat "$dir/seed")" >"$dir/$id.log" 2>&1 &
  echo $! >"$dir/$id.pid"
  echo "up $id" >>"$dir/calls" ;;
down)
  kill "$(cat "$dir/$2.pid")"
  echo "down $2" >>"$dir/calls" ;;
*) echo "usage: $0 up | down NODE" >&2; exit 2 ;;
esac
`

// The whole loop on real processes: writes above target start a 4th
// node through the actuator; when they stop, that node leaves (its
// ranges handed over) and only then is its process stopped. A quorum
// client running throughout never fails, and every acknowledged write
// reads back.
func TestAutoscaleOutAndIn(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	dir := t.TempDir()
	script := filepath.Join(dir, "actuator.sh")
	if err := os.WriteFile(script, []byte(actuatorScript), 0o755); err != nil {
		t.Fatal(err)
	}
	// The binary's path in a file beside the script, as the seed's: an
	// environment variable would need t.Setenv, which a parallel test
	// cannot use.
	if err := os.WriteFile(filepath.Join(dir, "bin"), []byte(grafoBin), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pids, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
		for _, f := range pids {
			b, _ := os.ReadFile(f)
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	nodes := startCluster(t, 3, "--autoscale", "min=3,max=4,writes=15,window=3s,cooldown=6s",
		"--autoscale-exec", "sh "+script)
	if err := os.WriteFile(filepath.Join(dir, "seed"), []byte(nodes[0].http), 0o644); err != nil {
		t.Fatal(err)
	}
	c := nodes[0].client()
	calls := func() string { b, _ := os.ReadFile(filepath.Join(dir, "calls")); return string(b) }

	// Load: quorum writers at well over 150 writes/s against a target of 15 a node.
	w := startQuorumWriter(nodes)
	defer w.stop()

	waitFor(t, 60*time.Second, "the actuator's up and a 4th node up", func() bool {
		st, err := c.Cluster(context.Background())
		if err != nil || len(st.Nodes) != 4 || st.Rebalancing || !strings.Contains(calls(), "up auto1") {
			return false
		}
		for _, n := range st.Nodes {
			if n.State != "up" {
				return false
			}
		}
		return true
	})
	st := waitUp(t, c, 4)
	total := 0
	for _, n := range st.Nodes {
		total += n.VNodes
	}
	for _, n := range st.Nodes {
		if n.ID == "auto1" {
			if share := float64(n.VNodes) / float64(total); share < 0.2 || share > 0.3 {
				t.Fatalf("auto1 holds %.0f%% of the vnodes, want about a quarter", share*100)
			}
		}
	}
	if st.Autoscale == nil || st.Autoscale.Last == nil || st.Autoscale.Last.Action != "up" || !strings.Contains(st.Autoscale.Last.Reason, "writes") {
		t.Fatalf("/v1/cluster autoscale after scale-out: %+v", st.Autoscale)
	}
	outb, err := exec.Command(grafoBin, "cluster", "status", "--server", nodes[1].url()).CombinedOutput()
	out := string(outb)
	if err != nil || !strings.Contains(out, "autoscale min=3,max=4") || !strings.Contains(out, "last decision") {
		t.Fatalf("cluster status from a follower: %v\n%s", err, out)
	}

	w.hot.Store(false)
	waitFor(t, 90*time.Second, "auto1 to leave and its process to stop", func() bool {
		st, err := c.Cluster(context.Background())
		return err == nil && len(st.Nodes) == 3 && strings.Contains(calls(), "down auto1")
	})
	// The machine went only after the hand-off: the leave finished first.
	if st := waitUp(t, c, 3); st.Autoscale.Last.Action != "down" || st.Autoscale.Last.Node != "auto1" {
		t.Fatalf("last decision %+v, want down auto1", st.Autoscale.Last)
	}
	if got := calls(); got != "up auto1\ndown auto1\n" {
		t.Fatalf("actuator calls %q: want exactly one up and one down (no flapping)", got)
	}
	w.stop()
	w.verify(t, c)
}

// quorumWriter writes at quorum through the nodes in turn: hot, as fast
// as its pace allows on writerGoroutines goroutines; otherwise a
// trickle. It counts failures and remembers every acknowledged write.
type quorumWriter struct {
	hot      atomic.Bool
	next     atomic.Int64 // the next write's number
	mu       sync.Mutex
	acked    map[string]string
	failures atomic.Int64
	lastErr  atomic.Value
	done     chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
}

// writerGoroutines, each writing at most once per hotPace, make a hot
// load of 160 writes/s that stays above the target (15 writes/s a node,
// 45/s over three) even when a quorum write takes 100 ms, as it can while
// other tests' nodes share the cores and the disk; one writer waiting on
// each write in turn fell below it.
const (
	writerGoroutines = 8
	hotPace          = 50 * time.Millisecond
)

func startQuorumWriter(nodes []*proc) *quorumWriter {
	w := &quorumWriter{acked: map[string]string{}, done: make(chan struct{})}
	w.hot.Store(true)
	for range writerGoroutines {
		w.wg.Add(1)
		go w.run(nodes)
	}
	return w
}

func (w *quorumWriter) run(nodes []*proc) {
	defer w.wg.Done()
	for {
		select {
		case <-w.done:
			return
		default:
		}
		i := int(w.next.Add(1)) - 1
		if !w.hot.Load() && i%20 != 0 {
			time.Sleep(50 * time.Millisecond) // idle: a trickle
			continue
		}
		began := time.Now()
		k, v := fmt.Sprintf("as-%05d", i), fmt.Sprintf("v%d", i)
		// Spread over the three seeds, as a load balancer would.
		if err := nodes[i%3].client().Put(context.Background(), []byte(k), []byte(v), kv.Options{Level: kv.Quorum}); err != nil {
			w.failures.Add(1)
			w.lastErr.Store(err.Error())
			continue
		}
		w.mu.Lock()
		w.acked[k] = v
		w.mu.Unlock()
		time.Sleep(hotPace - time.Since(began))
	}
}

func (w *quorumWriter) stop() {
	w.once.Do(func() { close(w.done) })
	w.wg.Wait()
}

// verify fails t if any write failed or an acknowledged one does not
// read back at quorum.
func (w *quorumWriter) verify(t *testing.T, c *client.Client) {
	t.Helper()
	if n := w.failures.Load(); n > 0 {
		t.Fatalf("%d quorum writes failed during scaling; last: %v", n, w.lastErr.Load())
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, v := range w.acked {
		got, _, err := c.Get(context.Background(), []byte(k), kv.Options{Level: kv.Quorum})
		if err != nil || string(got) != v {
			t.Fatalf("acknowledged %s=%s reads back %q, %v", k, v, got, err)
		}
	}
	t.Logf("%d acknowledged writes read back after scale-out and scale-in", len(w.acked))
}

// A preStop hook runs `grafo cluster leave --wait` against its own node
// with only GRAFO_NODE_ID to name it; it returns once the node is gone.
func TestLeaveWaitFromTheLeavingNode(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	nodes := startCluster(t, 4)
	cmd := exec.Command(grafoBin, "cluster", "leave", "--wait", "60s", "--server", nodes[3].url())
	cmd.Env = append(os.Environ(), "GRAFO_NODE_ID=n4")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "n4 has left") {
		t.Fatalf("leave --wait: %v\n%s", err, out)
	}
	st, err := nodes[0].client().Cluster(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.ID == "n4" {
			t.Fatalf("n4 still a member after leave --wait returned: %+v", st.Nodes)
		}
	}
	cmd = exec.Command(grafoBin, "cluster", "leave", "--server", nodes[0].url())
	cmd.Env = append(os.Environ(), "GRAFO_NODE_ID=")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "GRAFO_NODE_ID") {
		t.Fatalf("leave without a node: %v\n%s", err, out)
	}
}

// Every member of a StatefulSet gets the same --join; the node it names
// sees its own address there and bootstraps instead of waiting on itself.
func TestJoinListNamingItselfBootstraps(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	p := &proc{t: t, id: "self", data: filepath.Join(t.TempDir(), "self"), http: freePort(t), clust: freePort(t)}
	p.args = []string{"--advertise", p.clust, "--join", p.clust}
	p.start()
	t.Cleanup(p.kill)
	st := waitUp(t, p.client(), 1)
	if st.Nodes[0].ID != "self" {
		t.Fatalf("status %+v", st)
	}
}
