package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
	"github.com/grafo/grafo/kv/nemesis"
)

// The multi-process nemesis: three grafo processes on loopback; clients on
// every node run put/get on a few quorum and linearizable keys through the
// public HTTP API while the nemesis kill -9s and restarts nodes and pauses
// them with SIGSTOP/SIGCONT. The histories are checked with porcupine
// (kv/nemesis): linearizable keys must be linearizable, quorum keys
// regular.
func TestNemesisProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process nemesis")
	}
	nodes := startCluster(t, 3, "--anti-entropy", "1s")
	hq, hl := nemesis.NewHistory(), nemesis.NewHistory()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const keys = 4
	run := func(id, node int, level kv.Level, h *nemesis.History, prefix string) {
		defer wg.Done()
		c := client.New(nodes[node].url())
		rng := rand.New(rand.NewPCG(7, uint64(id)))
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			k := rng.IntN(keys)
			key := fmt.Sprintf("%s%d", prefix, k)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			var err error
			if rng.IntN(2) == 0 && (level != kv.Quorum || k%3 == node) {
				val := fmt.Sprintf("c%d-%d", id, n)
				call := h.Now()
				err = c.Put(ctx, []byte(key), []byte(val), kv.Options{Level: level})
				h.Add(nemesis.Op{Client: id, Key: key, Put: true, Value: val, Call: call, Return: h.Now(), Err: err})
			} else {
				call := h.Now()
				var v []byte
				v, _, err = c.Get(ctx, []byte(key), kv.Options{Level: level})
				if errors.Is(err, kv.ErrNotFound) {
					err = nil
				}
				h.Add(nemesis.Op{Client: id, Key: key, Value: string(v), Call: call, Return: h.Now(), Err: err})
			}
			cancel()
			pause := time.Duration(10+rng.IntN(15)) * time.Millisecond
			if err != nil {
				pause += 50 * time.Millisecond
			}
			select {
			case <-stop:
				return
			case <-time.After(pause):
			}
		}
	}
	id := 0
	for _, m := range []struct {
		level  kv.Level
		h      *nemesis.History
		prefix string
	}{{kv.Quorum, hq, "q"}, {kv.Linearizable, hl, "l"}} {
		for node := range 3 {
			wg.Add(1)
			go run(id, node, m.level, m.h, m.prefix)
			id++
		}
	}
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
	close(stop)
	wg.Wait()
	t.Logf("nemesis: %d kill -9 + restart, %d SIGSTOP/SIGCONT over %v", kills, pauses, time.Since(start).Round(time.Millisecond))
	for _, c := range []struct {
		name string
		h    *nemesis.History
		mode nemesis.Mode
	}{{"quorum", hq, nemesis.Regular}, {"linearizable", hl, nemesis.Linearizable}} {
		began := time.Now()
		r, err := c.h.Check(c.mode, 60*time.Second, nemesis.ArtifactsDir(), t.Name()+"-"+c.name)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v -> %s in %v", c.name, c.h.Stats(), r.Result, time.Since(began).Round(time.Millisecond))
		if !r.Ok() {
			t.Errorf("%s history is %s; visualization: %s", c.name, r.Result, r.Visualization)
		}
	}
}
