package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
	"github.com/grafo/grafo/kv/ring"
)

// putAll writes keys prefix0000… at quorum through the nodes in turn,
// eight at a time, and fails the test on any error.
func putAll(t *testing.T, nodes []*proc, prefix string, count int, value func(string) string) []string {
	t.Helper()
	keys := make([]string, count)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	clients := make([]*client.Client, len(nodes))
	for i, p := range nodes {
		clients[i] = p.client()
	}
	putEach(t, count, func(i int) error {
		err := clients[i%len(clients)].Put(context.Background(), []byte(keys[i]), []byte(value(keys[i])), kv.Options{Level: kv.Quorum})
		if err != nil {
			return fmt.Errorf("put %s: %w", keys[i], err)
		}
		return nil
	})
	return keys
}

// putEach calls put(0) … put(count-1) from eight goroutines, so that the
// nodes' group commit shares each fsync among several writes (one writer
// pays two fsyncs a write), and fails the test on the first error.
func putEach(t *testing.T, count int, put func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	var stop atomic.Bool
	next := atomic.Int64{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				i := int(next.Add(1)) - 1
				if i >= count {
					return
				}
				if err := put(i); err != nil {
					once.Do(func() { first = fmt.Errorf("write %d of %d: %w", i, count, err) })
					stop.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}

func valueOf(key string) string { return "value-of-" + key }

// quorumReader reads every acknowledged key at quorum in a loop until
// stopped, counting reads that come back without the acknowledged value.
type quorumReader struct {
	mu     sync.Mutex
	keys   []string
	reads  atomic.Int64
	errs   atomic.Int64
	misses []string
	stop   chan struct{}
	done   chan struct{}
}

func startReader(c *client.Client, keys []string) *quorumReader {
	r := &quorumReader{keys: slices.Clone(keys), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			r.mu.Lock()
			keys := slices.Clone(r.keys)
			r.mu.Unlock()
			for _, k := range keys {
				select {
				case <-r.stop:
					return
				default:
				}
				v, _, err := c.Get(context.Background(), []byte(k), kv.Options{Level: kv.Quorum})
				r.reads.Add(1)
				switch {
				case errors.Is(err, kv.ErrNotFound) || err == nil && string(v) != valueOf(k):
					r.mu.Lock()
					r.misses = append(r.misses, k)
					r.mu.Unlock()
				case err != nil:
					r.errs.Add(1)
				}
			}
		}
	}()
	return r
}

// acked adds a key whose write was acknowledged.
func (r *quorumReader) acked(k string) {
	r.mu.Lock()
	r.keys = append(r.keys, k)
	r.mu.Unlock()
}

// finish stops the reader and fails the test if any acknowledged write
// read as missing.
func (r *quorumReader) finish(t *testing.T) {
	t.Helper()
	close(r.stop)
	<-r.done
	t.Logf("reader: %d quorum reads, %d errors, %d misses", r.reads.Load(), r.errs.Load(), len(r.misses))
	if len(r.misses) > 0 {
		t.Fatalf("%d quorum reads missed an acknowledged write, e.g. %v", len(r.misses), r.misses[:min(5, len(r.misses))])
	}
	if r.reads.Load() == 0 {
		t.Fatal("the reader read nothing")
	}
}

// readAllAtOne reads every key at consistency one through p.
func readAllAtOne(t *testing.T, p *proc, keys []string) {
	t.Helper()
	c := p.client()
	for _, k := range keys {
		v, _, err := c.Get(context.Background(), []byte(k), kv.Options{Level: kv.One})
		if err != nil || string(v) != valueOf(k) {
			t.Fatalf("get %s at one from %s: %q %v", k, p.id, v, err)
		}
	}
}

func nodeStatus(t *testing.T, c *client.Client, id string) client.NodeStatus {
	t.Helper()
	st, err := c.Cluster(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.ID == id {
			return n
		}
	}
	t.Fatalf("%s is not in /v1/cluster", id)
	return client.NodeStatus{}
}

// ringOf rebuilds the ring a status describes (tokens depend on member
// ids and weights only).
func ringOf(st client.ClusterStatus) *ring.Ring {
	var ms []ring.Member
	vn := 0
	for _, n := range st.Nodes {
		ms = append(ms, ring.Member{ID: n.ID, Weight: n.Weight})
		vn = n.VNodes / max(n.Weight, 1)
	}
	return ring.New(ms, vn)
}

// A dead n2 replaced by a new process on a fresh data directory and new
// addresses: the ring's tokens stay as they were, a quorum reader never
// misses an acknowledged write during the rebuild (nor do writes made
// meanwhile go missing), and afterwards the replacement alone serves
// every key.
func TestReplaceDeadNode(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	args := []string{"--replicas", "3", "--anti-entropy=-1s"}
	nodes := startCluster(t, 3, args...)
	c1 := nodes[0].client()
	keys := putAll(t, nodes, "r", 1500, valueOf)
	before, err := c1.Cluster(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	oldAddr := nodeStatus(t, c1, "n2").Cluster

	// Refused while n2 is alive: two processes would claim its id.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, grafoBin, "serve", "--replace", "n2", "--data", filepath.Join(t.TempDir(), "x"),
		"--http", freePort(t), "--cluster", freePort(t), "--join", nodes[0].http).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "answers heartbeats") {
		t.Fatalf("--replace of a live node: %v\n%s", err, out)
	}

	nodes[1].kill()
	waitFor(t, 30*time.Second, "n2 down", func() bool { return stateOf(t, c1, "n2") == "down" })
	r := startReader(c1, keys)
	var wrote atomic.Int64
	stopW := make(chan struct{})
	wDone := make(chan struct{})
	go func() {
		defer close(wDone)
		c3 := nodes[2].client()
		for i := 0; ; i++ {
			select {
			case <-stopW:
				return
			default:
			}
			k := fmt.Sprintf("w%05d", i)
			if c3.Put(context.Background(), []byte(k), []byte(valueOf(k)), kv.Options{Level: kv.Quorum}) == nil {
				r.acked(k)
				wrote.Add(1)
			}
		}
	}()
	// New addresses, never the dead one's: a port it freed can come back
	// from freePort, and the replacement would then dial itself.
	n2 := &proc{t: t, id: "n2", data: filepath.Join(t.TempDir(), "n2"), http: freePort(t), clust: freePort(t),
		args: append([]string{"--replace", "n2", "--join", nodes[0].http}, args...)}
	for n2.clust == oldAddr || n2.http == nodes[1].http {
		n2.clust, n2.http = freePort(t), freePort(t)
	}
	n2.start()
	t.Cleanup(n2.kill)
	waitUp(t, c1, 3)
	close(stopW)
	<-wDone
	r.finish(t)
	t.Logf("%d writes acknowledged during the replacement", wrote.Load())

	after := waitUp(t, c1, 3)
	rb, ra := ringOf(before), ringOf(after)
	for _, m := range rb.Members() {
		if !slices.Equal(rb.Tokens(m.ID), ra.Tokens(m.ID)) {
			t.Fatalf("tokens of %s changed by the replacement", m.ID)
		}
	}
	if got := nodeStatus(t, c1, "n2"); got.Cluster == oldAddr || got.Cluster != n2.clust {
		t.Fatalf("n2's cluster address is %s; the replacement listens on %s (the dead one was %s)", got.Cluster, n2.clust, oldAddr)
	}
	p := nodeStatus(t, c1, "n2").Progress
	if p == nil || p.Kind != "rebuild" || !p.Finished || p.RangesDone != p.RangesTotal || p.BytesStreamed == 0 {
		t.Fatalf("n2's progress after the replacement: %+v", p)
	}
	// Writes made during the rebuild reached n2 as hints.
	waitFor(t, 30*time.Second, "hints delivered", func() bool {
		st, err := c1.Cluster(context.Background())
		return err == nil && st.HintsPending == 0
	})
	// The replacement holds every key: with both others dead it answers
	// them all at one.
	r.mu.Lock()
	all := slices.Clone(r.keys)
	r.mu.Unlock()
	nodes[0].kill()
	nodes[2].kill()
	readAllAtOne(t, n2, all)
}

// n2's data directory wiped and n2 restarted under its id: it comes back
// joining (rebuilding), no quorum read misses an acknowledged write
// meanwhile, and it ends up holding every key again.
func TestLostDiskRebuilds(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	args := []string{"--replicas", "3", "--anti-entropy=-1s"}
	nodes := startCluster(t, 3, args...)
	c1 := nodes[0].client()
	big := func(k string) string { return valueOf(k) }
	keys := putAll(t, nodes, "d", 3000, big)

	nodes[1].kill()
	if err := os.RemoveAll(nodes[1].data); err != nil {
		t.Fatal(err)
	}
	r := startReader(c1, keys)
	var seen sync.Map
	stopPoll := make(chan struct{})
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		for {
			select {
			case <-stopPoll:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if st, err := c1.Cluster(context.Background()); err == nil {
				for _, n := range st.Nodes {
					if n.ID == "n2" {
						seen.Store(n.State, true)
					}
				}
			}
		}
	}()
	nodes[1].start() // same id and addresses, empty --data
	waitUp(t, c1, 3)
	close(stopPoll)
	<-pollDone
	r.finish(t)
	var states []string
	seen.Range(func(k, _ any) bool { states = append(states, k.(string)); return true })
	t.Logf("n2 states seen by n1: %v", states)
	if _, ok := seen.Load("joining"); !ok {
		t.Fatalf("n2 was never reported joining while it rebuilt (saw %v)", states)
	}
	if p := nodeStatus(t, c1, "n2").Progress; p == nil || p.Kind != "rebuild" || !p.Finished {
		t.Fatalf("n2's progress: %+v", p)
	}
	if !strings.Contains(nodes[1].logs.String(), "kind=rebuild") {
		t.Fatalf("n2 did not log a rebuild:\n%s", nodes[1].logs)
	}
	nodes[0].kill()
	nodes[2].kill()
	readAllAtOne(t, nodes[1], keys)
}

// A 4th node joining a 3-node cluster (N=3) of 10,000 keys streams its
// share once: the old owners' keys drop to three quarters, and the bytes
// it pulled stay within 1.5× its share.
func TestJoinStreamsItsShareOnce(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	args := []string{"--replicas", "3", "--anti-entropy=-1s"}
	nodes := startCluster(t, 3, args...)
	c1 := nodes[0].client()
	const total = 10000
	putAll(t, nodes, "s", total, valueOf)
	start := time.Now()
	n4 := newProc(t, "n4", append([]string{"--join", nodes[0].http}, args...)...)
	waitUp(t, c1, 4)
	// The share of each of 4 equal nodes with N=3 is 3/4 of the keys.
	share := int64(total * 3 / 4)
	waitFor(t, time.Minute, "old owners' keys at their new share ±10%", func() bool {
		for _, id := range []string{"n1", "n2", "n3"} {
			k := keysOf(t, c1)[id]
			if k < share*9/10 || k > share*11/10 {
				return false
			}
		}
		return true
	})
	keys := keysOf(t, c1)
	entry := int64(len("s00000") + len(valueOf("s00000")))
	shareBytes := keys["n4"] * entry
	pulled := int64(metricSum(t, []*proc{n4}, `grafo_rebalance_bytes_total{kind="pulled"}`))
	t.Logf("keys after the join: %v (share %d, settled in %v); n4 pulled %d bytes for a share of %d bytes (%.2f×)",
		keys, share, time.Since(start).Round(time.Millisecond), pulled, shareBytes, float64(pulled)/float64(shareBytes))
	if keys["n4"] < share*9/10 {
		t.Fatalf("n4 holds %d keys, want about %d", keys["n4"], share)
	}
	if pulled == 0 || pulled > shareBytes*3/2 {
		t.Fatalf("n4 pulled %d bytes for a share of %d bytes; want at most 1.5×", pulled, shareBytes)
	}
}

// An engine that stops working: within 5 s every node reports the node
// unhealthy, quorum writes go through the others without error, and the
// node exits non-zero after trying to reopen its engine.
func TestWatcherActsOnEngineFailure(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	args := []string{"--replicas", "3", "--anti-entropy=-1s"}
	nodes := startCluster(t, 2, args...)
	fault := filepath.Join(t.TempDir(), "fail-probe")
	n3 := &proc{t: t, id: "n3", data: filepath.Join(t.TempDir(), "n3"), http: freePort(t), clust: freePort(t),
		args: append([]string{"--join", nodes[0].http}, args...), env: []string{probeFaultEnv + "=" + fault}}
	n3.start()
	t.Cleanup(n3.kill)
	all := []*proc{nodes[0], nodes[1], n3}
	waitUp(t, nodes[0].client(), 3)

	if err := os.WriteFile(fault, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	waitFor(t, 5*time.Second, "n3 unhealthy in every node's /v1/cluster", func() bool {
		for _, p := range all {
			if stateOf(t, p.client(), "n3") != "unhealthy" {
				return false
			}
		}
		return true
	})
	t.Logf("unhealthy everywhere after %v", time.Since(began).Round(time.Millisecond))
	// Coordinators count it as down: quorum writes succeed through the
	// others, and what was meant for n3 becomes hints.
	c1 := nodes[0].client()
	i := 0
	waitFor(t, 5*time.Second-time.Since(began), "writes for n3 to become hints", func() bool {
		i++
		if err := c1.Put(context.Background(), []byte(fmt.Sprintf("u%03d", i)), []byte("v"), kv.Options{Level: kv.Quorum}); err != nil {
			t.Fatalf("quorum write %d with n3 unhealthy: %v", i, err)
		}
		st, err := c1.Cluster(context.Background())
		return err == nil && st.HintsPending > 0
	})
	for j := 0; j < 100; j++ {
		if err := c1.Put(context.Background(), []byte(fmt.Sprintf("x%03d", j)), []byte("v"), kv.Options{Level: kv.Quorum}); err != nil {
			t.Fatalf("quorum write %d with n3 unhealthy: %v", j, err)
		}
	}
	select {
	case <-n3.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("n3 still running 30 s after its engine failed\n%s", n3.logs)
	}
	var ee *exec.ExitError
	if !errors.As(n3.exitErr, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("n3 exited with %v, want a non-zero status", n3.exitErr)
	}
	if !strings.Contains(n3.logs.String(), "engine reopened") {
		t.Fatalf("n3 did not try to reopen its engine:\n%s", n3.logs)
	}
	t.Logf("n3 exited after %v: %v", time.Since(began).Round(time.Millisecond), n3.exitErr)
}

// A start with W+R <= N warns that reads may miss acknowledged writes;
// W+R > N does not.
func TestWeakQuorumWarning(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	weak := newProc(t, "n1", "--replicas", "3", "--write-quorum", "1", "--read-quorum", "2")
	strong := newProc(t, "n2", "--replicas", "3", "--write-quorum", "1", "--read-quorum", "3")
	if !strings.Contains(weak.logs.String(), "W+R <= N") {
		t.Fatalf("no warning with N=3 W=1 R=2:\n%s", weak.logs)
	}
	if strings.Contains(strong.logs.String(), "W+R <= N") {
		t.Fatalf("a warning with N=3 W=1 R=3:\n%s", strong.logs)
	}
}
