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
	root, _ := filepath.Abs("../..")
	image := os.Getenv("GRAFO_IMAGE")
	if image == "" {
		image = "grafo:local"
	}
	e := &env{t: t, root: root, ports: map[string]int{}, hc: &http.Client{Timeout: 20 * time.Second}}
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
		}
		removeStarted()
		e.composeRun("down", "-v", "--remove-orphans")
	})
	if out, err := e.composeOut("up", "-d"); err != nil {
		t.Fatalf("compose up: %v\n%s", err, out)
	}
	status := func() (scaleStatus, error) {
		var st scaleStatus
		resp, err := e.hc.Get(e.url("node1", "/v1/cluster"))
		if err != nil {
			return st, err
		}
		defer resp.Body.Close()
		return st, json.NewDecoder(resp.Body).Decode(&st)
	}
	waitStable := func(what string, timeout time.Duration, want func(scaleStatus) bool) scaleStatus {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			st, err := status()
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
	waitStable("three nodes up", 90*time.Second, func(st scaleStatus) bool { return len(st.Nodes) == 3 })
	started := func() []string {
		out, _ := docker("ps", "-q", "--filter", "label=grafo.autoscale.node", "--filter", "label=com.docker.compose.project="+scaleProject)
		return strings.Fields(out)
	}

	var (
		mu       sync.Mutex
		acked    = map[string]string{}
		failures atomic.Int64
		lastErr  atomic.Value
		hot      atomic.Bool
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	hot.Store(true)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if !hot.Load() {
				time.Sleep(500 * time.Millisecond) // a trickle: well below target
			}
			k, v := fmt.Sprintf("scale-%06d", i), fmt.Sprintf("v%d", i)
			status, body, err := e.kvDo(http.MethodPut, services[i%3], k, v, "quorum")
			if err != nil || status/100 != 2 {
				failures.Add(1)
				lastErr.Store(errText(status, body, err))
				continue
			}
			mu.Lock()
			acked[k] = v
			mu.Unlock()
		}
	}()
	stopLoad := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	defer stopLoad()

	up := time.Now()
	st := waitStable("a 4th node started by the actuator", 90*time.Second, func(st scaleStatus) bool {
		return len(st.Nodes) == 4 && len(started()) == 1
	})
	t.Logf("scale-out: 4th container joined %v after the load started", time.Since(up).Round(time.Second))
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

	hot.Store(false)
	down := time.Now()
	st = waitStable("the started node to leave and its container to go", 150*time.Second, func(st scaleStatus) bool {
		return len(st.Nodes) == 3 && len(started()) == 0
	})
	t.Logf("scale-in: node left and container removed %v after the load dropped", time.Since(down).Round(time.Second))
	if st.Autoscale == nil || st.Autoscale.Last == nil || st.Autoscale.Last.Action != "down" {
		t.Fatalf("/v1/cluster autoscale after scale-in: %+v", st.Autoscale)
	}
	stopLoad()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d quorum writes failed during scaling; last: %v", n, lastErr.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	for k, v := range acked {
		status, body, err := e.kvDo(http.MethodGet, "node2", k, "", "quorum")
		if err != nil || status != 200 || string(body) != v {
			t.Fatalf("acknowledged %s=%s reads back %s", k, v, errText(status, body, err))
		}
	}
	t.Logf("%d acknowledged writes read back after scale-out and scale-in", len(acked))
}
