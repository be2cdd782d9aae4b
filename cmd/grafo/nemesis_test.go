package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
	"github.com/grafo/grafo/kv/nemesis"
)

// kvLoad is one consistency level's share of a load: its clients use keys
// prefix0..prefixK-1 and record into h.
type kvLoad struct {
	level  kv.Level
	prefix string
	h      *nemesis.History
}

// startLoad starts clients per load (client i talks to node i mod 3) doing
// put/get at random on keys keys, with writers of every key on every
// node, until the returned stop is called (which waits for them).
func startLoad(nodes []*proc, clients, keys int, seed uint64, loads ...kvLoad) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	run := func(id int, node *proc, l kvLoad) {
		defer wg.Done()
		c := client.New(node.url())
		rng := rand.New(rand.NewPCG(seed, uint64(id)))
		h := l.h
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			default:
			}
			key := fmt.Sprintf("%s%d", l.prefix, rng.IntN(keys))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			op := nemesis.Op{Client: id, Key: key, Call: h.Now()}
			if rng.IntN(2) == 0 {
				op.Put, op.Value = true, fmt.Sprintf("c%d-%d", id, n)
				op.Err = c.Put(ctx, []byte(key), []byte(op.Value), kv.Options{Level: l.level})
			} else {
				var v []byte
				v, _, op.Err = c.Get(ctx, []byte(key), kv.Options{Level: l.level})
				if errors.Is(op.Err, kv.ErrNotFound) {
					op.Err = nil
				}
				op.Value = string(v)
			}
			op.Return = h.Now()
			cancel()
			// A refused connection (the node is dead) sent nothing: the
			// operation did not happen. Anything else is recorded, a
			// failed write as ambiguous.
			if !errors.Is(op.Err, syscall.ECONNREFUSED) {
				h.Add(op)
			}
			pause := time.Duration(10+rng.IntN(15)) * time.Millisecond
			if op.Err != nil {
				pause += 50 * time.Millisecond
			}
			select {
			case <-done:
				return
			case <-time.After(pause):
			}
		}
	}
	id := 0
	for _, l := range loads {
		for i := 0; i < clients; i++ {
			wg.Add(1)
			go run(id, nodes[i%len(nodes)], l)
			id++
		}
	}
	return func() { close(done); wg.Wait() }
}

// checkHistory checks h with porcupine (at most a minute) and fails the
// test unless it is linearizable.
func checkHistory(t *testing.T, name string, h *nemesis.History) {
	t.Helper()
	began := time.Now()
	r, err := h.Check(nemesis.Linearizable, 60*time.Second, nemesis.ArtifactsDir(), t.Name()+"-"+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %v -> %s in %v", name, h.Stats(), r.Result, time.Since(began).Round(time.Millisecond))
	if !r.Ok() {
		t.Errorf("%s history is %s; visualization: %s", name, r.Result, r.Visualization)
	}
}

// metricSum adds up a counter over the nodes' /metrics (a restarted node
// counts from zero again).
func metricSum(t *testing.T, nodes []*proc, name string) float64 {
	t.Helper()
	sum := 0.0
	for _, p := range nodes {
		resp, err := http.Get(p.url() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
				v, _ := strconv.ParseFloat(f[1], 64)
				sum += v
			}
		}
		resp.Body.Close()
	}
	return sum
}

func logRoundTrips(t *testing.T, nodes []*proc) {
	t.Helper()
	t.Logf("extra round trips: %v read write-backs, %v write retries; %v writes superseded by a concurrent newer one, %v refusals",
		metricSum(t, nodes, "grafo_kv_read_writebacks_total"), metricSum(t, nodes, "grafo_kv_write_retries_total"),
		metricSum(t, nodes, "grafo_kv_writes_superseded_total"), metricSum(t, nodes, "grafo_kv_write_refusals_total"))
}

// Quorum reads and writes (N=3, W=2, R=2) on real processes are
// linearizable: eight clients over three nodes put and get four keys for
// 20 s, every key written through every node; once calm, once with a node
// killed (kill -9) and restarted halfway.
func TestQuorumLinearizableProcesses(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	for _, tc := range []struct {
		name string
		kill bool
	}{{"calm", false}, {"kill-restart", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // a cluster of its own: the two 20 s loads overlap
			nodes := startCluster(t, 3, "--anti-entropy", "1s")
			h := nemesis.NewHistory()
			start := time.Now()
			stop := startLoad(nodes, 8, 4, 11, kvLoad{kv.Quorum, "q", h})
			if tc.kill {
				// The nemesis's schedule, not waits for conditions.
				time.Sleep(7 * time.Second)
				nodes[2].kill()
				time.Sleep(3 * time.Second)
				nodes[2].start()
			}
			time.Sleep(20*time.Second - time.Since(start))
			stop()
			t.Logf("load: 8 clients, 4 keys, %v", time.Since(start).Round(time.Millisecond))
			logRoundTrips(t, nodes)
			checkHistory(t, "quorum", h)
		})
	}
}

// The multi-process nemesis: three grafo processes on loopback; clients on
// every node run put/get on a few quorum and linearizable keys (every key
// written through every node) through the public HTTP API while the
// nemesis kill -9s and restarts nodes and pauses them with
// SIGSTOP/SIGCONT. Both histories must be linearizable (kv/nemesis).
func TestNemesisProcesses(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	if testing.Short() {
		t.Skip("multi-process nemesis")
	}
	nodes := startCluster(t, 3, "--anti-entropy", "1s")
	hq, hl := nemesis.NewHistory(), nemesis.NewHistory()
	stop := startLoad(nodes, 3, 4, 7, kvLoad{kv.Quorum, "q", hq}, kvLoad{kv.Linearizable, "l", hl})
	// The nemesis: one node at a time is killed and restarted, or paused.
	rng := rand.New(rand.NewPCG(7, 99))
	start := time.Now()
	var kills, pauses int
	for step := 0; time.Since(start) < 8*time.Second; step++ {
		p := nodes[rng.IntN(3)]
		hold := time.Duration(300+rng.IntN(1200)) * time.Millisecond
		if step%2 == 0 {
			p.kill()
			time.Sleep(hold) // the nemesis's schedule
			p.start()
			kills++
		} else {
			p.cmd.Process.Signal(syscall.SIGSTOP)
			time.Sleep(hold)
			p.cmd.Process.Signal(syscall.SIGCONT)
			pauses++
		}
		time.Sleep(time.Duration(200+rng.IntN(400)) * time.Millisecond)
	}
	stop()
	t.Logf("nemesis: %d kill -9 + restart, %d SIGSTOP/SIGCONT over %v", kills, pauses, time.Since(start).Round(time.Millisecond))
	logRoundTrips(t, nodes)
	checkHistory(t, "quorum", hq)
	checkHistory(t, "linearizable", hl)
}

// Permanent failures under load: four nodes (N=3), clients on n1 and n2
// running quorum and linearizable put/get; the nemesis kills n4 for good
// and removes it, then kills n3 and replaces it with a new process on a
// fresh data directory. Both histories must stay linearizable.
func TestNemesisRemoveReplace(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	if testing.Short() {
		t.Skip("multi-process nemesis")
	}
	nodes := startCluster(t, 4, "--anti-entropy", "1s")
	c1 := nodes[0].client()
	hq, hl := nemesis.NewHistory(), nemesis.NewHistory()
	stop := startLoad(nodes[:2], 3, 4, 13, kvLoad{kv.Quorum, "q", hq}, kvLoad{kv.Linearizable, "l", hl})
	start := time.Now()
	time.Sleep(2 * time.Second) // the nemesis's schedule: load first

	nodes[3].kill()
	waitFor(t, 30*time.Second, "n4 down", func() bool { return stateOf(t, c1, "n4") == "down" })
	if out, e, err := grafo(t, "cluster", "remove", "n4", "--server", nodes[0].url()); err != nil {
		t.Fatalf("cluster remove n4: %v\n%s%s", err, out, e)
	}
	waitUp(t, c1, 3)
	removed := time.Since(start)

	nodes[2].kill()
	waitFor(t, 30*time.Second, "n3 down", func() bool { return stateOf(t, c1, "n3") == "down" })
	newProc(t, "n3", "--anti-entropy", "1s", "--replace", "n3", "--join", nodes[0].http)
	waitUp(t, c1, 3)
	time.Sleep(2 * time.Second) // load on the replaced cluster
	stop()
	t.Logf("nemesis: n4 removed at %v, n3 replaced at %v", removed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	logRoundTrips(t, nodes[:2])
	checkHistory(t, "quorum", hq)
	checkHistory(t, "linearizable", hl)
}
