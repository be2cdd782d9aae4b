package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grafo/grafo/internal/testutil"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
)

// These tests run the real grafo binary as separate processes on loopback.
// That binary is this test binary: started with asGrafoEnv=1 in its
// environment it runs grafo's main instead of the tests. It holds the same
// package main that `go build` would link, and the suite spares a second
// compile and link of it before the first test can start.

// asGrafoEnv is set in this process's environment, so every process the
// tests start inherit it: the nodes, the CLI, and what those start in
// turn (grafo dev cluster's nodes, the autoscaler's actuator script).
const asGrafoEnv = "GRAFO_TEST_AS_GRAFO"

var grafoBin string

func TestMain(m *testing.M) {
	if os.Getenv(asGrafoEnv) == "1" {
		main()
		os.Exit(0)
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "the test binary's path:", err)
		os.Exit(1)
	}
	grafoBin = bin
	os.Setenv(asGrafoEnv, "1")
	widenParallel()
	os.Exit(m.Run())
}

// testsAtOnce is how many tests of this package run at once unless
// -parallel says otherwise. They spend their time waiting on processes
// (joins, heartbeats, the nemesis's schedule), not on this process's CPU,
// so the default of one per core leaves the machine idle.
const testsAtOnce = 4

// widenParallel raises -test.parallel to testsAtOnce when the command line
// did not set it.
func widenParallel() {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set && runtime.GOMAXPROCS(0) < testsAtOnce {
		flag.Set("test.parallel", strconv.Itoa(testsAtOnce))
	}
}

// freePort returns a loopback address for a node this test starts: a port
// of this process's own block, so parallel test processes and the kernel's
// ephemeral ports cannot take it between here and the node's bind.
func freePort(t testing.TB) string { return testutil.FreeAddr(t) }

// proc is one running grafo serve.
type proc struct {
	t           testing.TB
	id          string
	data        string
	http, clust string
	args        []string
	env         []string // added to the test's environment
	cmd         *exec.Cmd
	logs        *syncBuffer
	done        chan struct{}
	exitErr     error
}

type syncBuffer = testutil.Buffer

// newProc prepares a node with fixed ports (so a restart keeps its
// addresses, as a real deployment does) and starts it.
func newProc(t testing.TB, id string, args ...string) *proc {
	p := &proc{t: t, id: id, data: filepath.Join(t.TempDir(), id), http: freePort(t), clust: freePort(t), args: args}
	p.start()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) url() string { return "http://" + p.http }

func (p *proc) client() *client.Client { return client.New(p.url()) }

func (p *proc) start() {
	p.t.Helper()
	args := append([]string{"serve", "--node-id", p.id, "--data", p.data, "--http", p.http, "--cluster", p.clust, "--heartbeat", "200ms"}, p.args...)
	p.cmd = exec.Command(grafoBin, args...)
	if len(p.env) > 0 {
		p.cmd.Env = append(os.Environ(), p.env...)
	}
	p.logs = &syncBuffer{}
	p.cmd.Stderr = p.logs
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.done = make(chan struct{})
	serving := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			p.logs.Write([]byte(sc.Text() + "\n"))
			if strings.Contains(sc.Text(), "serving http://") {
				once.Do(func() { close(serving) })
			}
		}
	}()
	go func() {
		p.exitErr = p.cmd.Wait()
		close(p.done)
	}()
	select {
	case <-serving:
	case <-p.done:
		p.t.Fatalf("node %s exited: %v\n%s", p.id, p.exitErr, p.logs)
	case <-time.After(60 * time.Second):
		p.t.Fatalf("node %s did not start in 60s\n%s", p.id, p.logs)
	}
	p.waitReady()
}

// waitReady polls /readyz until it answers 200; a failure says what it
// answered last.
func (p *proc) waitReady() {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for {
		resp, err := http.Get(p.url() + "/readyz")
		if err != nil {
			last = err.Error()
		} else {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
			last = fmt.Sprintf("%s %s", resp.Status, body)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("node %s not ready after 30s; /readyz: %s\n%s", p.id, last, p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL: no shutdown code runs, as in a crash.
func (p *proc) kill() { p.signal(syscall.SIGKILL) }

// stop sends SIGTERM and waits for the node to exit: its shutdown runs
// (the engine checkpoints its write-ahead log into the bbolt file).
func (p *proc) stop() { p.signal(syscall.SIGTERM) }

// signal sends sig to a running node and waits for it to exit.
func (p *proc) signal(sig syscall.Signal) {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	<-p.done
}

// waitFor is testutil.WaitFor, the poll helper of every package's tests.
var waitFor = testutil.WaitFor

// 200 acknowledged puts survive kill -9 of the node.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	p := newProc(t, "solo")
	c := p.client()
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		if err := c.Put(ctx, []byte(fmt.Sprintf("key-%03d", i)), []byte(fmt.Sprintf("value-%03d", i)), kv.Options{}); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	p.kill()
	p.start()
	for i := 0; i < 200; i++ {
		v, _, err := c.Get(ctx, []byte(fmt.Sprintf("key-%03d", i)), kv.Options{})
		if err != nil || string(v) != fmt.Sprintf("value-%03d", i) {
			t.Fatalf("after kill -9: key-%03d = %q, %v", i, v, err)
		}
	}
}

// The CLI talks to a node; flags also come from GRAFO_* variables.
func TestCLI(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	p := newProc(t, "cli")
	grafo := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(grafoBin, args...)
		cmd.Env = append(os.Environ(), append([]string{"GRAFO_SERVER=" + p.url()}, env...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := grafo(nil, "kv", "put", "greeting", "hello"); err != nil {
		t.Fatalf("kv put: %v %s", err, out)
	}
	if out, err := grafo(nil, "kv", "get", "greeting", "--consistency", "all"); err != nil || out != "hello" {
		t.Fatalf("kv get: %q %v", out, err)
	}
	if out, err := grafo(nil, "kv", "put", "x", "y", "--w", "2"); err == nil || !strings.Contains(out, "quorum not reached") {
		t.Fatalf("w=2 on one node should fail with the quorum message: %q %v", out, err)
	}
	if out, err := grafo(nil, "kv", "del", "greeting"); err != nil {
		t.Fatalf("kv del: %v %s", err, out)
	}
	if out, err := grafo(nil, "kv", "get", "greeting"); err == nil || !strings.Contains(out, "not_found") {
		t.Fatalf("kv get after del: %q %v", out, err)
	}
	if out, err := grafo(nil, "version"); err != nil || !strings.Contains(out, "go1.") {
		t.Fatalf("version: %q %v", out, err)
	}
	if out, err := grafo(nil, "cluster", "status"); err != nil || !strings.Contains(out, "cli") || !strings.Contains(out, "up") {
		t.Fatalf("cluster status: %q %v", out, err)
	}
	// Export of a neighbourhood, through GraphQL.
	if out, err := grafo(nil, "query", `mutation { createGraph(id: "g") { id }
	  upsertNodes(graphId: "g", nodes: [{kind: FUNCTION, name: "a", qualifiedName: "p.a"}, {kind: FUNCTION, name: "b", qualifiedName: "p.b"}]) { id }
	  upsertEdges(graphId: "g", edges: [{from: "p.a", to: "p.b", relation: CALLS}]) }`); err != nil {
		t.Fatalf("mutations: %v %s", err, out)
	}
	if out, err := grafo(nil, "export", "g", "p.a", "--format", "dot"); err != nil || !strings.Contains(out, "digraph") || !strings.Contains(out, `label="CALLS"`) {
		t.Fatalf("export dot: %q %v", out, err)
	}
	if out, err := grafo(nil, "export", "g", "p.nope"); err == nil || !strings.Contains(out, "no node") {
		t.Fatalf("export of a missing node: %q %v", out, err)
	}
	if out, err := grafo(nil, "frobnicate"); err == nil || !strings.Contains(out, "unknown command") {
		t.Fatalf("unknown command: %q %v", out, err)
	}

	// A node configured only through the environment.
	envData := filepath.Join(t.TempDir(), "env")
	httpAddr, clusterAddr := freePort(t), freePort(t)
	cmd := exec.Command(grafoBin, "serve")
	cmd.Env = append(os.Environ(), "GRAFO_NODE_ID=from-env", "GRAFO_DATA="+envData, "GRAFO_HTTP="+httpAddr, "GRAFO_CLUSTER="+clusterAddr)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	c := client.New("http://" + httpAddr)
	waitFor(t, 30*time.Second, "env-configured node", func() bool {
		st, err := c.Cluster(context.Background())
		return err == nil && len(st.Nodes) == 1 && st.Nodes[0].ID == "from-env"
	})
	if _, err := os.Stat(filepath.Join(envData, "data.db")); err != nil {
		t.Fatalf("GRAFO_DATA not used: %v", err)
	}
}

// SIGTERM lets the node finish and exit cleanly.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	p := newProc(t, "term")
	if err := p.client().Put(context.Background(), []byte("k"), []byte("v"), kv.Options{}); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.exitErr != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", p.exitErr, p.logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("node did not exit after SIGTERM\n%s", p.logs)
	}
	p.start()
	v, _, err := p.client().Get(context.Background(), []byte("k"), kv.Options{})
	if err != nil || string(v) != "v" {
		t.Fatalf("after restart: %q %v", v, err)
	}
}
