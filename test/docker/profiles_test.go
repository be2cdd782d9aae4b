//go:build docker

package dockertest

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The seed's N/W/R profiles on the compose cluster, and what each
// survives: W=1 R=3 (write-optimised) keeps accepting writes with two
// nodes down; R=1 W=3 (read-optimised) refuses writes with one down while
// its reads stay consistent. The write-optimised run ends with an engine
// made to fail in node3: its watcher exits the process, Docker's restart
// policy starts it again, and it rejoins.
func TestProfiles(t *testing.T) {
	t.Run("W1R3", func(t *testing.T) {
		e := setupWith(t, "grafoprofiles", "GRAFO_REPLICAS=3", "GRAFO_WRITE_QUORUM=1", "GRAFO_READ_QUORUM=3",
			"GRAFO_HEARTBEAT=1s", "GRAFO_TEST_PROBE_FAULT_FILE=/data/fail-probe")
		acked := e.putKeys("before", 50, "")
		e.stop("node2", "node3")
		acked = append(acked, e.putKeys("during", 50, "")...) // W=1: node1 alone takes them
		if st, b, err := e.kvDo(http.MethodGet, "node1", acked[0], "", ""); !refusedClearly(st, b, err) {
			t.Fatalf("a read at R=3 with two nodes down: %s, want 503 quorum not reached", errText(st, b, err))
		}
		e.start("node2", "node3")
		e.readKeys("node2", acked, "") // R=3 reads every replica: the newest wins
		e.engineFailureRestarts("node3")
		e.readKeys("node3", acked, "")
	})
	t.Run("R1W3", func(t *testing.T) {
		e := setupWith(t, "grafoprofiles", "GRAFO_REPLICAS=3", "GRAFO_WRITE_QUORUM=3", "GRAFO_READ_QUORUM=1", "GRAFO_HEARTBEAT=1s")
		acked := e.putKeys("before", 50, "")
		e.stop("node3")
		for i := 0; i < 10; i++ {
			k := fmt.Sprintf("refused-%02d", i)
			if st, b, err := e.kvDo(http.MethodPut, "node1", k, "v", ""); !refusedClearly(st, b, err) {
				t.Fatalf("a write at W=3 with node3 down: %s, want 503 quorum not reached", errText(st, b, err))
			}
		}
		// Every acknowledged write is on all three replicas: one answer
		// from either survivor is the latest.
		e.readKeys("node1", acked, "")
		e.readKeys("node2", acked, "")
		e.start("node3")
	})
}

func valueFor(k string) string { return "value-of-" + k }

// putKeys writes count keys through node1 at the given consistency ("":
// the cluster's W) and returns them; every write must be acknowledged.
func (e *env) putKeys(prefix string, count int, consistency string) []string {
	e.t.Helper()
	var keys []string
	for i := 0; i < count; i++ {
		k := fmt.Sprintf("%s-%03d", prefix, i)
		if st, b, err := e.kvDo(http.MethodPut, "node1", k, valueFor(k), consistency); err != nil || st != http.StatusNoContent {
			e.t.Fatalf("put %s: %s", k, errText(st, b, err))
		}
		keys = append(keys, k)
	}
	return keys
}

// readKeys reads every key through svc and wants its value.
func (e *env) readKeys(svc string, keys []string, consistency string) {
	e.t.Helper()
	for _, k := range keys {
		st, b, err := e.kvDo(http.MethodGet, svc, k, "", consistency)
		if err != nil || st != http.StatusOK || string(b) != valueFor(k) {
			e.t.Fatalf("get %s through %s: %s (body %q)", k, svc, errText(st, b, err), b)
		}
	}
}

// stop stops services (Docker does not restart a stopped container) and
// waits until node1 reports them down.
func (e *env) stop(svcs ...string) {
	e.t.Helper()
	for _, s := range svcs {
		e.mustDocker("stop", "-t", "5", e.container(s))
	}
	e.waitState(30*time.Second, "down", svcs...)
}

// start starts stopped services and waits for the whole cluster.
func (e *env) start(svcs ...string) {
	e.t.Helper()
	for _, s := range svcs {
		e.mustDocker("start", e.container(s))
	}
	if err := e.waitHealthy(90 * time.Second); err != nil {
		e.t.Fatalf("cluster not back after starting %v: %v", svcs, err)
	}
}

// waitState waits until node1 reports every one of ids in state.
func (e *env) waitState(d time.Duration, state string, ids ...string) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for {
		st, err := e.cluster("node1")
		n := 0
		for _, nd := range st.Nodes {
			for _, id := range ids {
				if nd.ID == id && nd.State == state {
					n++
				}
			}
		}
		if err == nil && n == len(ids) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("node1 does not see %v %s after %v: %+v %v", ids, state, d, st.Nodes, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// engineFailureRestarts makes svc's engine probe fail (the test-only
// fault file in its volume): the node must show as unhealthy, exit, be
// restarted by Docker's restart policy, and come back up.
func (e *env) engineFailureRestarts(svc string) {
	e.t.Helper()
	c := e.container(svc)
	restarts := func() int {
		n, _ := strconv.Atoi(e.mustDocker("inspect", "-f", "{{.RestartCount}}", c))
		return n
	}
	before := restarts()
	f := filepath.Join(e.t.TempDir(), "fail-probe")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.mustDocker("cp", f, c+":/data/fail-probe")
	began := time.Now()
	e.waitState(15*time.Second, "unhealthy", svc)
	e.t.Logf("%s unhealthy after %v", svc, time.Since(began).Round(time.Millisecond))
	deadline := time.Now().Add(60 * time.Second)
	for restarts() == before {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s was not restarted within 60 s of its engine failing", svc)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := e.waitHealthy(90 * time.Second); err != nil {
		e.t.Fatalf("%s did not rejoin after its restart: %v", svc, err)
	}
	e.t.Logf("%s restarted by Docker and up again %v after its engine failed", svc, time.Since(began).Round(time.Millisecond))
}
