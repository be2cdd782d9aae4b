package replica

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/hints"
	"github.com/grafo/grafo/kv/nemesis"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The in-process nemesis suite: 3 coordinators on real engines, N=3,
// joined by the in-memory network. Clients bound to each coordinator run
// put/get on a few keys per consistency level while the nemesis isolates
// nodes, cuts them off and marks them down, delays and drops messages.
// Histories are checked with porcupine: linearizable and quorum keys must
// be linearizable (see kv/nemesis); for one, replicas must converge after
// healing without losing an acknowledged write.

type nemesisOpts struct {
	duration time.Duration
	seed     uint64
	broken   bool
	// isolateFirst isolates n3 for this long before the random faults.
	isolateFirst time.Duration
}

type putRecord struct {
	key, value string
	version    kv.Version
	err        error
}

type nemesisResult struct {
	quorum, linear *nemesis.History
	one            []putRecord
	tc             *testCluster
}

const nemesisKeys = 4

func runNemesis(t *testing.T, o nemesisOpts) *nemesisResult {
	tc := newTestCluster(t, 3, 3)
	withHints(t, tc, o.broken)
	r := &nemesisRun{seed: o.seed, stop: make(chan struct{}),
		res: &nemesisResult{quorum: nemesis.NewHistory(), linear: nemesis.NewHistory(), tc: tc}}
	id := 0
	// Two quorum clients per node, so that writes of one key from
	// different coordinators overlap and replicas refuse some.
	for _, level := range []kv.Level{kv.Quorum, kv.Quorum, kv.Linearizable, kv.One} {
		for node := range 3 {
			r.wg.Add(1)
			go r.client(id, node, level)
			id++
		}
	}
	faults := injectFaults(tc, o)
	close(r.stop)
	r.wg.Wait()
	for _, c := range tc.coords {
		c.Wait()
	}
	t.Logf("nemesis: %d faults over %v", faults, o.duration+o.isolateFirst)
	return r.res
}

// withHints gives every coordinator of tc a hint store that delivers (and
// the broken read knob when asked).
func withHints(t *testing.T, tc *testCluster, broken bool) {
	dir := t.TempDir()
	for i, c := range tc.coords {
		hs, err := hints.Open(filepath.Join(dir, fmt.Sprintf("hints%d.db", i)), hints.Config{NoSync: true, Interval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		c.cfg.Hints = hs
		if broken {
			c.cfg.Knobs = &Knobs{BrokenQuorumReads: true}
		}
		hs.Run(c)
		t.Cleanup(func() { hs.Close() })
	}
}

// nemesisRun is the clients' side of a nemesis run.
type nemesisRun struct {
	seed  uint64
	res   *nemesisResult
	oneMu sync.Mutex // guards res.one
	stop  chan struct{}
	wg    sync.WaitGroup
}

// client runs put/get on the keys of its level through coordinator node
// until stop, recording a history (quorum, linearizable) or the puts (one).
func (r *nemesisRun) client(id, node int, level kv.Level) {
	defer r.wg.Done()
	rng := rand.New(rand.NewPCG(r.seed, uint64(id)))
	c := r.res.tc.coords[node]
	h := r.res.quorum
	prefix := "q"
	switch level {
	case kv.Linearizable:
		h, prefix = r.res.linear, "l"
	case kv.One:
		h, prefix = nil, "o"
	}
	for n := 0; ; n++ {
		select {
		case <-r.stop:
			return
		default:
		}
		key := fmt.Sprintf("%s%d", prefix, rng.IntN(nemesisKeys))
		// Every key has writers on every coordinator.
		var err error
		if rng.IntN(2) == 0 {
			err = r.put(c, h, id, key, fmt.Sprintf("c%d-%d", id, n), level)
		} else {
			err = r.get(c, h, id, key, level)
		}
		// Pace the client (a load generator's think time), longer after
		// a failure, so histories stay small enough to check.
		pause := time.Duration(5+rng.IntN(10)) * time.Millisecond
		if err != nil {
			pause += 20 * time.Millisecond
		}
		select {
		case <-r.stop:
			return
		case <-time.After(pause):
		}
	}
}

func (r *nemesisRun) put(c *Coordinator, h *nemesis.History, id int, key, val string, level kv.Level) error {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var call int64
	if h != nil {
		call = h.Now()
	}
	v, err := c.Put(ctx, []byte(key), []byte(val), kv.Options{Level: level})
	if h != nil {
		h.Add(nemesis.Op{Client: id, Key: key, Put: true, Value: val, Call: call, Return: h.Now(), Err: err})
	} else {
		r.oneMu.Lock()
		r.res.one = append(r.res.one, putRecord{key: key, value: val, version: v, err: err})
		r.oneMu.Unlock()
	}
	return err
}

func (r *nemesisRun) get(c *Coordinator, h *nemesis.History, id int, key string, level kv.Level) error {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var call int64
	if h != nil {
		call = h.Now()
	}
	cell, err := c.Get(ctx, []byte(key), kv.Options{Level: level})
	if errors.Is(err, kv.ErrNotFound) {
		err = nil
	}
	if h != nil {
		h.Add(nemesis.Op{Client: id, Key: key, Value: string(cell.Value), Call: call, Return: h.Now(), Err: err})
	}
	return err
}

// injectFaults runs the nemesis's schedule on tc for o.duration (after
// o.isolateFirst), heals everything and returns how many faults it made.
func injectFaults(tc *testCluster, o nemesisOpts) int {
	addr := func(i int) string { return fmt.Sprintf("n%d:7071", i+1) }
	all := []string{addr(0), addr(1), addr(2)}
	heal := func() {
		tc.net.Heal()
		for i := range 3 {
			tc.net.Reconnect(addr(i))
			tc.members.SetDown(fmt.Sprintf("n%d", i+1), false)
			for j := range 3 {
				tc.net.SetDelay(addr(i), addr(j), 0)
				tc.net.SetDrop(addr(i), addr(j), 0)
			}
		}
	}
	rng := rand.New(rand.NewPCG(o.seed, 99))
	faults := 0
	if o.isolateFirst > 0 {
		tc.net.Partition([]string{addr(2)}, []string{addr(0), addr(1)})
		time.Sleep(o.isolateFirst) // the nemesis's schedule, not a wait for a condition
		heal()
		faults++
	}
	end := time.Now().Add(o.duration)
	for time.Now().Before(end) {
		if rng.IntN(3) == 0 {
			heal()
		}
		x, y := rng.IntN(3), rng.IntN(3)
		switch rng.IntN(4) {
		case 0: // isolate x
			var rest []string
			for _, a := range all {
				if a != addr(x) {
					rest = append(rest, a)
				}
			}
			tc.net.Partition([]string{addr(x)}, rest)
		case 1: // "kill" x: cut off and known down
			tc.net.Disconnect(addr(x))
			tc.members.SetDown(fmt.Sprintf("n%d", x+1), true)
		case 2:
			d := time.Duration(5+rng.IntN(60)) * time.Millisecond
			tc.net.SetDelay(addr(x), addr(y), d)
			tc.net.SetDelay(addr(y), addr(x), d)
		case 3:
			tc.net.SetDrop(addr(x), addr(y), 0.5)
		}
		faults++
		time.Sleep(time.Duration(100+rng.IntN(200)) * time.Millisecond)
	}
	heal()
	return faults
}

func check(t *testing.T, h *nemesis.History, mode nemesis.Mode, name string) nemesis.Result {
	t.Helper()
	start := time.Now()
	r, err := h.Check(mode, 60*time.Second, nemesis.ArtifactsDir(), t.Name()+"-"+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %v -> %s in %v", name, h.Stats(), r.Result, time.Since(start).Round(time.Millisecond))
	if r.Visualization != "" {
		t.Logf("%s: history written to %s", name, r.Visualization)
	}
	return r
}

func TestNemesisInProcess(t *testing.T) {
	res := runNemesis(t, nemesisOpts{duration: 4 * time.Second, seed: 1})
	if r := check(t, res.linear, nemesis.Linearizable, "linearizable"); !r.Ok() {
		t.Errorf("linearizable history: %s", r.Result)
	}
	if r := check(t, res.quorum, nemesis.Linearizable, "quorum"); !r.Ok() {
		t.Errorf("quorum history: %s", r.Result)
	}
	checkConvergence(t, res)
	var wb, retries, superseded, refusals float64
	for _, c := range res.tc.coords {
		wb += testutil.ToFloat64(c.metrics.writeBacks)
		retries += testutil.ToFloat64(c.metrics.writeRetries)
		superseded += testutil.ToFloat64(c.metrics.superseded)
		refusals += testutil.ToFloat64(c.metrics.refusals)
	}
	t.Logf("extra round trips: %v read write-backs, %v write retries; %v writes superseded, %v refusals", wb, retries, superseded, refusals)
}

// checkConvergence: after healing, anti-entropy brings every replica of
// the one-level keys to the same cell, and that cell is at least as new as
// every acknowledged write (none lost unless a newer write replaced it).
func checkConvergence(t *testing.T, res *nemesisResult) {
	t.Helper()
	ctx := context.Background()
	tc := res.tc
	rounds := 0
	for {
		rounds++
		differ := 0
		for i := range tc.coords {
			st, err := tc.ae(i, -1).Round(ctx)
			if err != nil {
				t.Fatal(err)
			}
			differ += st.Differ
		}
		if differ == 0 {
			break
		}
		if rounds > 5 {
			t.Fatalf("replicas still differ after %d anti-entropy rounds", rounds)
		}
	}
	newest := map[string]putRecord{}
	byVersion := map[kv.Version]putRecord{}
	acked := 0
	for _, p := range res.one {
		byVersion[p.version] = p
		if p.err == nil {
			acked++
			if p.version.Newer(newest[p.key].version) {
				newest[p.key] = p
			}
		}
	}
	for k := range nemesisKeys {
		key := fmt.Sprintf("o%d", k)
		var cells []kv.Cell
		for _, e := range tc.engines {
			c, err := e.Get(ctx, []byte(key))
			if err != nil && !errors.Is(err, kv.ErrNotFound) {
				t.Fatal(err)
			}
			cells = append(cells, c)
		}
		for i := 1; i < 3; i++ {
			if cells[i].Version != cells[0].Version || string(cells[i].Value) != string(cells[0].Value) {
				t.Fatalf("%s: replicas disagree after healing: n1 %v %q, n%d %v %q", key, cells[0].Version, cells[0].Value, i+1, cells[i].Version, cells[i].Value)
			}
		}
		if w := newest[key]; !w.version.IsZero() && w.version.Newer(cells[0].Version) {
			t.Fatalf("%s: acknowledged write %q (%v) lost: replicas hold %q (%v)", key, w.value, w.version, cells[0].Value, cells[0].Version)
		}
		if w, ok := byVersion[cells[0].Version]; !cells[0].Version.IsZero() && (!ok || w.value != string(cells[0].Value)) {
			t.Fatalf("%s: replicas hold %q (%v), which no client wrote", key, cells[0].Value, cells[0].Version)
		}
	}
	t.Logf("one: %d puts (%d acknowledged), replicas converged after %d anti-entropy round(s)", len(res.one), acked, rounds)
}

// The checker catches a broken store: reads that take one answer and skip
// write-back, while n3 is isolated and misses writes, break the quorum
// promise, and porcupine must say so.
func TestNemesisBrokenQuorumReadsDetected(t *testing.T) {
	res := runNemesis(t, nemesisOpts{duration: time.Second, seed: 2, broken: true, isolateFirst: time.Second})
	r := check(t, res.quorum, nemesis.Linearizable, "quorum-broken")
	if r.Ok() {
		t.Fatal("porcupine found no violation in the quorum history of a store with BrokenQuorumReads")
	}
	lr := check(t, res.linear, nemesis.Linearizable, "linearizable-broken")
	t.Logf("violations found with BrokenQuorumReads: quorum %s, linearizable %s", r.Result, lr.Result)
}
