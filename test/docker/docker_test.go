//go:build docker

// Package dockertest runs the three-node cluster of docker-compose.yml in
// containers and breaks it while a client writes and reads through node1:
// a container killed with `docker kill` (and started again), a node process
// that crashes and is restarted by Docker's restart policy, a node paused
// for 10 s, and a node cut off from the compose network and reconnected.
// Afterwards every acknowledged write must be readable at quorum from every
// node. It also ingests a small Go tree from the host and queries its graph
// through node2.
//
// Run with `make test-docker` (builds bin/grafo-static and the grafo:local
// image first), or
//
//	go test -tags docker -count=1 -v ./test/docker/
//
// It uses its own compose project (grafotest) on free host ports, removes
// whatever an earlier run left, and removes everything (volumes too) at the
// end, so it can run next to a `make cluster`.
package dockertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const project = "grafotest"

var services = []string{"node1", "node2", "node3"}

// env is the test's view of the running compose project.
type env struct {
	t       *recorder
	root    string   // repository root
	compose []string // "docker compose" or "docker-compose", with -p and -f
	vars    []string // environment for compose
	ports   map[string]int
	hc      *http.Client
}

func TestCluster(t *testing.T) {
	start := time.Now()
	e := setup(t)

	// The graph part first: a fixture ingested from the host through node1,
	// queried through node2 (from inside its container).
	ingestStart := time.Now()
	e.ingestFixture()
	t.Logf("ingest + query through node2: %v", time.Since(ingestStart).Round(time.Millisecond))

	r := e.faults()
	e.verify(r)

	// The graph is still whole after the faults.
	e.queryGraph("node3")
	t.Logf("total %v", time.Since(start).Round(time.Second))
}

// ---------------------------------------------------------------------------
// Set-up and tear-down.

func setup(t *testing.T) *env {
	return setupWith(t, project, "GRAFO_REPLICAS=3", "GRAFO_WRITE_QUORUM=2", "GRAFO_READ_QUORUM=2", "GRAFO_HEARTBEAT=1s")
}

// setupWith starts the compose cluster as project with the given extra
// environment (N/W/R and other GRAFO_ settings) and waits for it.
func setupWith(t *testing.T, project string, settings ...string) *env {
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Skipf("DOCKER TESTS NOT RUN: `docker info` failed: %v", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	image := os.Getenv("GRAFO_IMAGE")
	if image == "" {
		image = "grafo:local"
	}
	if err := exec.Command("docker", "image", "inspect", image).Run(); err != nil {
		t.Fatalf("image %s not found: run `make docker-image` (or `make test-docker`)", image)
	}
	if _, err := os.Stat(filepath.Join(root, "bin/grafo-static")); err != nil {
		t.Fatalf("bin/grafo-static not found: run `make static`: %v", err)
	}
	e := &env{t: record(t), root: root, ports: map[string]int{}, hc: &http.Client{Timeout: 20 * time.Second}}
	if exec.Command("docker", "compose", "version").Run() == nil {
		e.compose = []string{"docker", "compose"}
	} else if _, err := exec.LookPath("docker-compose"); err == nil {
		e.compose = []string{"docker-compose"}
	} else {
		t.Skip("DOCKER TESTS NOT RUN: neither `docker compose` nor `docker-compose` works")
	}
	e.compose = append(e.compose, "-p", project, "-f", filepath.Join(root, "docker-compose.yml"))
	e.vars = append(append(os.Environ(), "GRAFO_IMAGE="+image), settings...)
	for i, s := range services {
		e.ports[s] = freePort(t)
		e.vars = append(e.vars, fmt.Sprintf("GRAFO_PORT%d=%d", i+1, e.ports[s]))
	}

	e.composeRun("down", "-v", "--remove-orphans") // whatever an earlier run left
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := e.composeOut("logs", "--no-color", "--tail", "60")
			t.Logf("container logs (last lines):\n%s", out)
			e.t.repeat()
		}
		if os.Getenv("GRAFO_DOCKER_KEEP") != "" {
			t.Logf("GRAFO_DOCKER_KEEP set: project %s left running", project)
			return
		}
		e.composeRun("down", "-v", "--remove-orphans")
	})
	up := time.Now()
	if out, err := e.composeOut("up", "-d"); err != nil {
		t.Fatalf("compose up: %v\n%s", err, out)
	}
	if err := e.waitHealthy(90 * time.Second); err != nil {
		t.Fatalf("cluster did not come up: %v", err)
	}
	t.Logf("three containers up, ready and healthy in %v (ports node1=%d node2=%d node3=%d)",
		time.Since(up).Round(time.Millisecond), e.ports["node1"], e.ports["node2"], e.ports["node3"])
	return e
}

// recorder is the test's T that also keeps its failure messages, to say
// them again after the container logs: CI shows a log's tail, and the
// logs of three containers would push the reason out of it.
type recorder struct {
	*testing.T
	mu   sync.Mutex
	msgs []string
}

func record(t *testing.T) *recorder { return &recorder{T: t} }

func (r *recorder) keep(format string, args ...any) {
	r.mu.Lock()
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recorder) Errorf(format string, args ...any) {
	r.T.Helper()
	r.keep(format, args...)
	r.T.Errorf(format, args...)
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.T.Helper()
	r.keep(format, args...)
	r.T.Fatalf(format, args...)
}

func (r *recorder) Fatal(args ...any) {
	r.T.Helper()
	r.keep("%s", fmt.Sprint(args...))
	r.T.Fatal(args...)
}

// repeat logs the failures kept so far, last in the output.
func (r *recorder) repeat() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) == 0 {
		r.T.Logf("FAILED (the reason was not kept: see above the container logs)")
		return
	}
	r.T.Logf("FAILED, the reasons again (%d):\n  %s", len(r.msgs), strings.Join(r.msgs, "\n  "))
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (e *env) composeOut(args ...string) (string, error) {
	cmd := exec.Command(e.compose[0], append(e.compose[1:], args...)...)
	cmd.Dir = e.root
	cmd.Env = e.vars
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *env) composeRun(args ...string) {
	if out, err := e.composeOut(args...); err != nil {
		e.t.Logf("compose %v: %v\n%s", args, err, out)
	}
}

// container returns the id of a service's container.
func (e *env) container(svc string) string {
	out, err := e.composeOut("ps", "-q", svc)
	id := strings.TrimSpace(out)
	if err != nil || id == "" {
		e.t.Fatalf("no container for %s: %v %s", svc, err, out)
	}
	return strings.Fields(id)[0]
}

func docker(args ...string) (string, error) {
	out, err := exec.Command("docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (e *env) mustDocker(args ...string) string {
	out, err := docker(args...)
	if err != nil {
		e.t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return out
}

func (e *env) url(svc, path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", e.ports[svc], path)
}

// clusterState is GET /v1/cluster.
type clusterState struct {
	Nodes []struct {
		ID    string `json:"id"`
		State string `json:"state"`
		Keys  int64  `json:"keys"`
	} `json:"nodes"`
	Leader       string `json:"leader"`
	HintsPending int64  `json:"hintsPending"`
}

func (e *env) cluster(svc string) (clusterState, error) {
	var st clusterState
	resp, err := e.hc.Get(e.url(svc, "/v1/cluster"))
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return st, fmt.Errorf("GET /v1/cluster: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitHealthy waits until every container runs, answers `grafo health`
// inside the container (readiness), Docker calls it healthy, and node1 lists
// the three nodes up.
func (e *env) waitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		last = e.healthy()
		if last == nil {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return last
}

func (e *env) healthy() error {
	st, err := e.cluster("node1")
	if err != nil {
		return err
	}
	up := 0
	for _, n := range st.Nodes {
		if n.State == "up" {
			up++
		}
	}
	if up != len(services) || len(st.Nodes) != len(services) {
		return fmt.Errorf("node1 sees %d of %d nodes up: %+v", up, len(services), st.Nodes)
	}
	for _, s := range services {
		c := e.container(s)
		if out, err := docker("exec", c, "/grafo", "health", "--server", "http://127.0.0.1:7070"); err != nil {
			return fmt.Errorf("%s not ready: %v %s", s, err, out)
		}
		if h, _ := docker("inspect", "-f", "{{.State.Health.Status}}", c); h != "healthy" {
			return fmt.Errorf("%s: docker health %q", s, h)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Ingest and GraphQL.

func (e *env) ingestFixture() {
	fixture := filepath.Join(e.root, "test/docker/testdata/fixture")
	cmd := exec.Command(filepath.Join(e.root, "bin/grafo-static"), "ingest", fixture, "--graph", "fixture",
		"--quiet", "--server", e.url("node1", ""))
	cmd.Dir = fixture
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("grafo ingest through node1: %v\n%s", err, out)
	}
	e.t.Logf("grafo ingest (host → node1): %s", strings.TrimSpace(string(out)))
	e.queryGraph("node2")
}

// queryGraph runs `grafo query` inside svc's container against that node and
// checks the fixture's graph: stats and the callers of shapes.square.
func (e *env) queryGraph(svc string) {
	const q = `{ graph(id: "fixture") { stats { files nodes edges }
	  node(qualifiedName: "example.com/fixture/shapes.square") { qualifiedName callers { qualifiedName } } } }`
	out, err := docker("exec", e.container(svc), "/grafo", "query", q, "--server", "http://127.0.0.1:7070")
	if err != nil {
		e.t.Fatalf("grafo query in %s: %v\n%s", svc, err, out)
	}
	var res struct {
		Graph *struct {
			Stats struct{ Files, Nodes, Edges int }
			Node  *struct {
				QualifiedName string
				Callers       []struct{ QualifiedName string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		e.t.Fatalf("query output of %s: %v\n%s", svc, err, out)
	}
	if res.Graph == nil || res.Graph.Node == nil {
		e.t.Fatalf("%s: graph fixture or shapes.square missing:\n%s", svc, out)
	}
	var callers []string
	for _, c := range res.Graph.Node.Callers {
		callers = append(callers, c.QualifiedName)
	}
	sort.Strings(callers)
	want := []string{"example.com/fixture/shapes.Circle.Area", "example.com/fixture/shapes.Square.Area"}
	if strings.Join(callers, ",") != strings.Join(want, ",") {
		e.t.Errorf("%s: callers of shapes.square = %v, want %v", svc, callers, want)
	}
	st := res.Graph.Stats
	if st.Files != 3 || st.Nodes == 0 || st.Edges == 0 {
		e.t.Errorf("%s: stats %+v, want 3 files and some nodes and edges", svc, st)
	}
	e.t.Logf("GraphQL through %s (docker exec … grafo query): files=%d nodes=%d edges=%d, callers(shapes.square)=%v",
		svc, st.Files, st.Nodes, st.Edges, callers)
}

// ---------------------------------------------------------------------------
// KV over HTTP.

type apiError struct {
	Error struct{ Code, Message string } `json:"error"`
}

// kvDo runs one request; it returns the status, the body and a transport
// error.
func (e *env) kvDo(method, svc, key, val, consistency string) (int, []byte, error) {
	u := e.url(svc, "/v1/kv/"+key)
	if consistency != "" {
		u += "?consistency=" + consistency
	}
	var body io.Reader
	if method == http.MethodPut {
		body = strings.NewReader(val)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, body)
	if err != nil {
		return 0, nil, err
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func errText(status int, body []byte, err error) string {
	if err != nil {
		return err.Error()
	}
	var ae apiError
	if json.Unmarshal(body, &ae) == nil && ae.Error.Code != "" {
		return fmt.Sprintf("%d %s: %s", status, ae.Error.Code, ae.Error.Message)
	}
	return fmt.Sprintf("%d %s", status, bytes.TrimSpace(body))
}

// refusedClearly: a 503 "unavailable" saying the quorum was not reached.
func refusedClearly(status int, body []byte, err error) bool {
	var ae apiError
	return err == nil && status == http.StatusServiceUnavailable && json.Unmarshal(body, &ae) == nil &&
		ae.Error.Code == "unavailable" && strings.Contains(ae.Error.Message, "quorum not reached")
}

// ---------------------------------------------------------------------------
// The load and the faults.

// phaseStats counts what the client saw during one phase.
type phaseStats struct {
	name                       string
	dur                        time.Duration
	quorumPutOK, quorumPutFail int
	quorumGetOK, quorumGetFail int
	allOK, allRefused, allErr  int
	firstFail, refusal         string
	outWindow                  bool // a node was out during (part of) this phase
	allChecked                 string
}

type run struct {
	mu     sync.Mutex
	phase  *phaseStats
	phases []*phaseStats
	acked  map[string]string // key → value of every acknowledged write
	order  []string
}

func (r *run) enter(name string, out bool) *phaseStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := &phaseStats{name: name, outWindow: out}
	r.phase = p
	r.phases = append(r.phases, p)
	return p
}

func (r *run) record(f func(p *phaseStats)) {
	r.mu.Lock()
	f(r.phase)
	r.mu.Unlock()
}

func (r *run) ack(k, v string) {
	r.mu.Lock()
	if _, ok := r.acked[k]; !ok {
		r.order = append(r.order, k)
	}
	r.acked[k] = v
	r.mu.Unlock()
}

// writer puts a new key at quorum through node1 every few milliseconds and
// reads it back at quorum.
func (e *env) writer(r *run, stop <-chan struct{}, done *sync.WaitGroup, tag string) {
	defer done.Done()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(15 * time.Millisecond):
		}
		k := fmt.Sprintf("dk-%s-%06d", tag, i)
		v := fmt.Sprintf("value %d of run %s", i, tag)
		st, b, err := e.kvDo(http.MethodPut, "node1", k, v, "quorum")
		if err != nil || st != http.StatusNoContent {
			r.record(func(p *phaseStats) {
				p.quorumPutFail++
				if p.firstFail == "" {
					p.firstFail = "put " + k + ": " + errText(st, b, err)
				}
			})
			continue
		}
		r.ack(k, v)
		st, b, err = e.kvDo(http.MethodGet, "node1", k, "", "quorum")
		ok := err == nil && st == 200 && string(b) == v
		r.record(func(p *phaseStats) {
			p.quorumPutOK++
			if ok {
				p.quorumGetOK++
				return
			}
			p.quorumGetFail++
			if p.firstFail == "" {
				p.firstFail = "get " + k + ": " + errText(st, b, err)
			}
		})
	}
}

// allProber writes at consistency=all through node1 a few times a second.
func (e *env) allProber(r *run, stop <-chan struct{}, done *sync.WaitGroup, tag string) {
	defer done.Done()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(250 * time.Millisecond):
		}
		k := fmt.Sprintf("all-%s-%05d", tag, i)
		v := "all " + strconv.Itoa(i)
		st, b, err := e.kvDo(http.MethodPut, "node1", k, v, "all")
		switch {
		case err == nil && st == http.StatusNoContent:
			r.ack(k, v)
			r.record(func(p *phaseStats) { p.allOK++ })
		case refusedClearly(st, b, err):
			r.record(func(p *phaseStats) {
				p.allRefused++
				if p.refusal == "" {
					p.refusal = errText(st, b, err)
				}
			})
		default:
			r.record(func(p *phaseStats) {
				p.allErr++
				if p.firstFail == "" {
					p.firstFail = "all put " + k + ": " + errText(st, b, err)
				}
			})
		}
	}
}

// checkAllRefused writes at consistency=all while a node is known to be
// out: it must be refused with a 503 saying the quorum was not reached.
func (e *env) checkAllRefused(p *phaseStats) {
	t0 := time.Now()
	st, b, err := e.kvDo(http.MethodPut, "node1", "all-check-"+p.name, "x", "all")
	msg := errText(st, b, err)
	p.allChecked = fmt.Sprintf("%s (after %v)", msg, time.Since(t0).Round(time.Millisecond))
	if !refusedClearly(st, b, err) {
		e.t.Errorf("%s: a write at consistency=all with a node out got %q, want 503 unavailable \"quorum not reached …\"", p.name, msg)
	}
}

func (e *env) waitBack(p *phaseStats, svc string) {
	t0 := time.Now()
	if err := e.waitHealthy(90 * time.Second); err != nil {
		e.t.Fatalf("%s: %s did not come back: %v", p.name, svc, err)
	}
	e.t.Logf("%s: %s back (ready, healthy, up on node1) %v after the fault ended", p.name, svc, time.Since(t0).Round(time.Millisecond))
}

// faults runs the fault phases under a steady load of quorum writes and
// reads and consistency=all probes, and returns what the client saw.
func (e *env) faults() *run {
	tag := strconv.FormatInt(time.Now().Unix()%100000, 10) + fmt.Sprintf("%03d", rand.IntN(1000))
	r := &run{acked: map[string]string{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopLoad := func() {
		select {
		case <-stop:
		default:
			close(stop)
			wg.Wait()
		}
	}
	defer stopLoad()

	e.phase(r, "baseline", false, func(*phaseStats) {
		wg.Add(2)
		go e.writer(r, stop, &wg, tag)
		go e.allProber(r, stop, &wg, tag)
		time.Sleep(3 * time.Second)
	})
	e.phase(r, "kill node3", true, e.killNode3)
	e.phase(r, "crash node3", true, e.crashNode3)
	e.phase(r, "pause node2", true, e.pauseNode2)
	e.phase(r, "partition node3", true, e.partitionNode3)
	e.phase(r, "recovered", false, func(*phaseStats) { time.Sleep(3 * time.Second) })
	stopLoad()
	return r
}

// phase runs f as phase name of r (out: a node is out during it), timing
// it.
func (e *env) phase(r *run, name string, out bool, f func(p *phaseStats)) {
	t0 := time.Now()
	p := r.enter(name, out)
	e.t.Logf("== %s", name)
	f(p)
	p.dur = time.Since(t0)
}

// killNode3 is fault (a1), docker kill: Docker treats a container it
// killed itself as stopped by hand, so `unless-stopped` does not restart
// it (checked, and reported); the test starts it again like an operator
// would.
func (e *env) killNode3(p *phaseStats) {
	c := e.container("node3")
	e.mustDocker("kill", c)
	e.checkAllRefused(p)
	time.Sleep(4 * time.Second)
	state, _ := docker("inspect", "-f", "{{.State.Status}} restarts={{.RestartCount}}", c)
	e.t.Logf("kill node3: 4 s after `docker kill` the container is %q (restart policy unless-stopped)", state)
	if !strings.HasPrefix(state, "running") {
		e.mustDocker("start", c)
	}
	e.waitBack(p, "node3")
}

// crashNode3 is fault (a2), a crash: the node's process dies of SIGKILL
// that Docker did not send; the restart policy brings it back with the
// same volume and id.
func (e *env) crashNode3(p *phaseStats) {
	c := e.container("node3")
	before := e.mustDocker("inspect", "-f", "{{.RestartCount}}", c)
	pid, _ := strconv.Atoi(e.mustDocker("inspect", "-f", "{{.State.Pid}}", c))
	if pid <= 0 {
		e.t.Fatalf("crash node3: no pid for the container")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		e.t.Logf("crash node3: cannot signal pid %d from here (%v): using docker kill + docker start instead", pid, err)
		e.mustDocker("kill", c)
		e.mustDocker("start", c)
	} else {
		deadline := time.Now().Add(30 * time.Second)
		for {
			n := e.mustDocker("inspect", "-f", "{{.RestartCount}}", c)
			if n != before {
				e.t.Logf("crash node3: Docker restarted the container (restart count %s → %s)", before, n)
				break
			}
			if time.Now().After(deadline) {
				e.t.Fatalf("crash node3: Docker did not restart the crashed container within 30 s")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	e.waitBack(p, "node3")
}

// pauseNode2 is fault (b): node2 frozen for 10 s, its sockets open but
// nothing answering.
func (e *env) pauseNode2(p *phaseStats) {
	c := e.container("node2")
	t0 := time.Now()
	e.mustDocker("pause", c)
	e.checkAllRefused(p)
	time.Sleep(10*time.Second - time.Since(t0))
	e.mustDocker("unpause", c)
	e.waitBack(p, "node2")
}

// partitionNode3 is fault (c): node3 cut off from the compose network for
// 10 s, then reconnected under its service name.
func (e *env) partitionNode3(p *phaseStats) {
	c := e.container("node3")
	nets := e.mustDocker("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", c)
	network := strings.Fields(nets)[0]
	t0 := time.Now()
	e.mustDocker("network", "disconnect", network, c)
	e.checkAllRefused(p)
	time.Sleep(10*time.Second - time.Since(t0))
	e.mustDocker("network", "connect", "--alias", "node3", network, c)
	e.waitBack(p, "node3")
}

// ---------------------------------------------------------------------------
// Checks.

// verify reports and checks what the client saw in each phase, then
// that every acknowledged write reads back.
func (e *env) verify(r *run) {
	t := e.t
	rep, tot := phaseReport(r)
	t.Logf("operations through node1 by phase:%s", rep)
	checkPhases(t, r)

	// Every acknowledged write, read at quorum through every node.
	r.mu.Lock()
	keys := append([]string(nil), r.order...)
	acked := r.acked
	r.mu.Unlock()
	if len(keys) < 100 {
		t.Errorf("only %d writes acknowledged", len(keys))
	}
	e.checkReadable(keys, acked, tot)
	e.checkCLIReads(keys, acked)
	if st, err := e.cluster("node1"); err == nil {
		var ks []string
		for _, n := range st.Nodes {
			ks = append(ks, fmt.Sprintf("%s=%s/%d keys", n.ID, n.State, n.Keys))
		}
		t.Logf("cluster after the faults: leader %s, hints pending %d, %s", st.Leader, st.HintsPending, strings.Join(ks, ", "))
	}
}

// phaseReport returns the report of what the client saw in each phase,
// and the totals over the phases.
func phaseReport(r *run) (string, phaseStats) {
	var rep strings.Builder
	fmt.Fprintf(&rep, "\n%-16s %7s %9s %9s %9s %9s %7s %9s %7s\n", "phase", "secs", "putQ ok", "putQ fail", "getQ ok", "getQ fail", "all ok", "all 503", "all err")
	tot := phaseStats{}
	for _, p := range r.phases {
		fmt.Fprintf(&rep, "%-16s %7.1f %9d %9d %9d %9d %7d %9d %7d\n", p.name, p.dur.Seconds(),
			p.quorumPutOK, p.quorumPutFail, p.quorumGetOK, p.quorumGetFail, p.allOK, p.allRefused, p.allErr)
		tot.quorumPutOK += p.quorumPutOK
		tot.quorumPutFail += p.quorumPutFail
		tot.quorumGetFail += p.quorumGetFail
		tot.allRefused += p.allRefused
		tot.allOK += p.allOK
	}
	for _, p := range r.phases {
		if p.refusal != "" {
			fmt.Fprintf(&rep, "  %s: consistency=all refused with: %s\n", p.name, p.refusal)
		}
		if p.allChecked != "" {
			fmt.Fprintf(&rep, "  %s: consistency=all while the node was out: %s\n", p.name, p.allChecked)
		}
		if p.firstFail != "" {
			fmt.Fprintf(&rep, "  %s: first failure: %s\n", p.name, p.firstFail)
		}
	}
	return rep.String(), tot
}

// checkPhases checks each phase: no quorum operation failed, every
// consistency=all write succeeded or was clearly refused, and none was
// refused with every node up.
func checkPhases(t *recorder, r *run) {
	for _, p := range r.phases {
		if p.quorumPutFail > 0 || p.quorumGetFail > 0 {
			t.Errorf("%s: %d quorum writes and %d quorum reads failed while at most one node was out (first: %s)",
				p.name, p.quorumPutFail, p.quorumGetFail, p.firstFail)
		}
		if p.allErr > 0 {
			t.Errorf("%s: %d consistency=all writes failed without a clear 503 (first: %s)", p.name, p.allErr, p.firstFail)
		}
		if !p.outWindow && p.allRefused > 0 {
			t.Errorf("%s: %d consistency=all writes refused with every node up", p.name, p.allRefused)
		}
	}
}

// checkReadable reads every acknowledged write at quorum through every
// node, six at a time, logs the final report and fails on any lost.
func (e *env) checkReadable(keys []string, acked map[string]string, tot phaseStats) {
	t := e.t
	t0 := time.Now()
	lost := map[string]int{}
	var firstLost []string
	var mu sync.Mutex
	for _, svc := range services {
		jobs := make(chan string)
		var wg sync.WaitGroup
		for w := 0; w < 6; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range jobs {
					st, b, err := e.kvDo(http.MethodGet, svc, k, "", "quorum")
					if err == nil && st == 200 && string(b) == acked[k] {
						continue
					}
					mu.Lock()
					lost[svc]++
					if len(firstLost) < 5 {
						firstLost = append(firstLost, fmt.Sprintf("%s via %s: %s", k, svc, errText(st, b, err)))
					}
					mu.Unlock()
				}
			}()
		}
		for _, k := range keys {
			jobs <- k
		}
		close(jobs)
		wg.Wait()
	}
	totalLost := 0
	var per []string
	for _, svc := range services {
		totalLost += lost[svc]
		per = append(per, fmt.Sprintf("%s: %d", svc, lost[svc]))
	}
	t.Logf("REPORT: writes acknowledged %d (quorum %d + all %d), writes lost %d (not readable at quorum through %s; checked in %v), quorum writes refused %d, quorum reads failed %d, all refused %d",
		len(keys), tot.quorumPutOK, tot.allOK, totalLost, strings.Join(per, ", "), time.Since(t0).Round(time.Millisecond),
		tot.quorumPutFail, tot.quorumGetFail, tot.allRefused)
	if totalLost > 0 {
		t.Errorf("%d acknowledged writes not readable at quorum, e.g. %v", totalLost, firstLost)
	}
}

// checkCLIReads has the CLI inside the containers read a few of the
// acknowledged writes too (scratch has only /grafo, so no curl there).
func (e *env) checkCLIReads(keys []string, acked map[string]string) {
	for i, svc := range []string{"node2", "node3"} {
		for j := 0; j < 3; j++ {
			k := keys[(len(keys)-1)*(i*3+j)/5]
			out, err := docker("exec", e.container(svc), "/grafo", "kv", "get", k, "--consistency", "quorum",
				"--server", "http://127.0.0.1:7070")
			if err != nil || out != acked[k] {
				e.t.Errorf("docker exec %s grafo kv get %s = %q, %v; want %q", svc, k, out, err, acked[k])
			}
		}
	}
}
