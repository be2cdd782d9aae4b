//go:build docker

package dockertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const scaleProject = "grafoscale"

// scaleStatus is the part of GET /v1/cluster this test reads.
type scaleStatus struct {
	Nodes []struct {
		ID     string `json:"id"`
		State  string `json:"state"`
		VNodes int    `json:"vnodes"`
	} `json:"nodes"`
	Rebalancing bool `json:"rebalancing"`
	Autoscale   *struct {
		Last *struct {
			Action, Node, Reason string
		} `json:"lastDecision"`
	} `json:"autoscale"`
}

// TestAutoscale: docker-compose.autoscale.yml with min=3,max=4 and a low
// write target. A quorum writer pushes above it → the leader's actuator
// (grafo autoscale-docker) starts a 4th container, which joins and takes
// about a quarter of the ring; the writer slows to a trickle → after the
// cooldown that node leaves and its container is removed. No quorum write
// fails throughout, and every acknowledged write reads back.
func TestAutoscale(t *testing.T) {
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Skipf("DOCKER TESTS NOT RUN: `docker info` failed: %v", err)
	}
	e := startScaleCluster(t)
	e.waitStable("three nodes up", 90*time.Second, func(st scaleStatus) bool { return len(st.Nodes) == 3 })

	w := &scaleWriter{acked: map[string]string{}, stopc: make(chan struct{})}
	w.hot.Store(true)
	w.wg.Add(1)
	go w.run(e)
	defer w.stop()

	up := time.Now()
	st := e.waitStable("a 4th node started by the actuator", 90*time.Second, func(st scaleStatus) bool {
		return len(st.Nodes) == 4 && len(startedNodes()) == 1
	})
	t.Logf("scale-out: 4th container joined %v after the load started", time.Since(up).Round(time.Second))
	checkScaledOut(t, st)

	w.hot.Store(false)
	down := time.Now()
	st = e.waitStable("the started node to leave and its container to go", 150*time.Second, func(st scaleStatus) bool {
		return len(st.Nodes) == 3 && len(startedNodes()) == 0
	})
	t.Logf("scale-in: node left and container removed %v after the load dropped", time.Since(down).Round(time.Second))
	if st.Autoscale == nil || st.Autoscale.Last == nil || st.Autoscale.Last.Action != "down" {
		t.Fatalf("/v1/cluster autoscale after scale-in: %+v", st.Autoscale)
	}
	w.stop()
	if n := w.failures.Load(); n > 0 {
		t.Fatalf("%d quorum writes failed during scaling; last: %v", n, w.lastErr.Load())
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, v := range w.acked {
		status, body, err := e.kvDo(http.MethodGet, "node2", k, "", "quorum")
		if err != nil || status != 200 || string(body) != v {
			t.Fatalf("acknowledged %s=%s reads back %s", k, v, errText(status, body, err))
		}
	}
	t.Logf("%d acknowledged writes read back after scale-out and scale-in", len(w.acked))
}

// startScaleCluster brings up docker-compose.autoscale.yml (min=3,max=4)
// from a clean slate, and removes it, with any container the actuator
// started, when the test ends.
func startScaleCluster(t *testing.T) *env {
	root, _ := filepath.Abs("../..")
	image := os.Getenv("GRAFO_IMAGE")
	if image == "" {
		image = "grafo:local"
	}
	e := &env{t: record(t), root: root, ports: map[string]int{}, hc: &http.Client{Timeout: 20 * time.Second}}
	if exec.Command("docker", "compose", "version").Run() == nil {
		e.compose = []string{"docker", "compose"}
	} else {
		e.compose = []string{"docker-compose"}
	}
	e.compose = append(e.compose, "-p", scaleProject, "-f", filepath.Join(root, "docker-compose.autoscale.yml"))
	e.vars = append(os.Environ(), "GRAFO_IMAGE="+image, "GRAFO_AS_PREFIX="+scaleProject,
		"GRAFO_AUTOSCALE=min=3,max=4,writes=15,window=5s,cooldown=20s")
	for i, s := range services {
		e.ports[s] = freePort(t)
		e.vars = append(e.vars, fmt.Sprintf("GRAFO_PORT%d=%d", i+1, e.ports[s]))
	}
	// Containers the actuator started are not compose's to remove.
	removeStarted := func() {
		ids, _ := docker("ps", "-aq", "--filter", "label=grafo.autoscale.node", "--filter", "label=com.docker.compose.project="+scaleProject)
		for _, id := range strings.Fields(ids) {
			docker("rm", "-f", "-v", id)
		}
	}
	e.composeRun("down", "-v", "--remove-orphans")
	removeStarted()
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := e.composeOut("logs", "--no-color", "--tail", "40")
			t.Logf("container logs (last lines):\n%s", out)
			e.t.repeat()
		}
		removeStarted()
		e.composeRun("down", "-v", "--remove-orphans")
	})
	if out, err := e.composeOut("up", "-d"); err != nil {
		t.Fatalf("compose up: %v\n%s", err, out)
	}
	return e
}

// scaleStatus returns node1's GET /v1/cluster.
func (e *env) scaleStatus() (scaleStatus, error) {
	var st scaleStatus
	resp, err := e.hc.Get(e.url("node1", "/v1/cluster"))
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitStable waits up to timeout for a cluster not rebalancing, every
// node up, that want accepts, and returns its status.
func (e *env) waitStable(what string, timeout time.Duration, want func(scaleStatus) bool) scaleStatus {
	t := e.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := e.scaleStatus()
		ok := err == nil && !st.Rebalancing && want(st)
		for _, n := range st.Nodes {
			ok = ok && n.State == "up"
		}
		if ok {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last status %+v, %v", timeout, what, st, err)
		}
		time.Sleep(time.Second)
	}
}

// startedNodes returns the ids of the running containers the actuator
// started.
func startedNodes() []string {
	out, _ := docker("ps", "-q", "--filter", "label=grafo.autoscale.node", "--filter", "label=com.docker.compose.project="+scaleProject)
	return strings.Fields(out)
}

// checkScaledOut checks that the started node holds about a quarter of
// the vnodes and that the last decision was a scale-up.
func checkScaledOut(t *testing.T, st scaleStatus) {
	total, share := 0, 0.0
	for _, n := range st.Nodes {
		total += n.VNodes
	}
	for _, n := range st.Nodes {
		if strings.HasPrefix(n.ID, "auto-") {
			share = float64(n.VNodes) / float64(total)
		}
	}
	if share < 0.2 || share > 0.3 {
		t.Fatalf("the started node holds %.0f%% of the vnodes, want about a quarter: %+v", share*100, st.Nodes)
	}
	if st.Autoscale == nil || st.Autoscale.Last == nil || st.Autoscale.Last.Action != "up" {
		t.Fatalf("/v1/cluster autoscale: %+v", st.Autoscale)
	}
}

// scaleWriter writes at quorum through the three compose nodes in turn:
// flat out while hot (above the write target), a trickle otherwise. It
// keeps what was acknowledged and counts what failed.
type scaleWriter struct {
	mu       sync.Mutex
	acked    map[string]string
	failures atomic.Int64
	lastErr  atomic.Value
	hot      atomic.Bool
	stopc    chan struct{}
	wg       sync.WaitGroup
}

// run writes until stop; the caller has added it to w.wg.
func (w *scaleWriter) run(e *env) {
	defer w.wg.Done()
	for i := 0; ; i++ {
		select {
		case <-w.stopc:
			return
		default:
		}
		if !w.hot.Load() {
			time.Sleep(500 * time.Millisecond) // a trickle: well below target
		}
		k, v := fmt.Sprintf("scale-%06d", i), fmt.Sprintf("v%d", i)
		status, body, err := e.kvDo(http.MethodPut, services[i%3], k, v, "quorum")
		if err != nil || status/100 != 2 {
			w.failures.Add(1)
			w.lastErr.Store(errText(status, body, err))
			continue
		}
		w.mu.Lock()
		w.acked[k] = v
		w.mu.Unlock()
	}
}

// stop stops the writer and waits for it; it may be called again.
func (w *scaleWriter) stop() {
	select {
	case <-w.stopc:
	default:
		close(w.stopc)
	}
	w.wg.Wait()
}
