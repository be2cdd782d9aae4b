package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// subscribe opens a graphChanged subscription replaying changes after
// since, and returns a function that waits (until deadline) for the next
// event whose payload contains want.
func subscribe(t *testing.T, httpAddr, graph string, since time.Time) func(want string, deadline time.Time) error {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+httpAddr+"/graphql", map[string][]string{"Sec-WebSocket-Protocol": {"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	type msg struct {
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := ws.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	var m msg
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := ws.ReadJSON(&m); err != nil || m.Type != "connection_ack" {
		t.Fatalf("connection_init: %+v %v", m, err)
	}
	err = ws.WriteJSON(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{
		"query":     `subscription($g: ID!, $s: Time) { graphChanged(graphId: $g, since: $s) { kind nodes at } }`,
		"variables": map[string]any{"g": graph, "s": since.UTC().Format(time.RFC3339Nano)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return func(want string, deadline time.Time) error {
		for {
			ws.SetReadDeadline(deadline)
			var m msg
			if err := ws.ReadJSON(&m); err != nil {
				return err
			}
			if m.Type == "next" && strings.Contains(string(m.Payload), want) {
				return nil
			}
		}
	}
}

// grafo ingest --watch: a saved edit reaches a subscriber within 2 s, and
// symbolAt then answers from the new code; a deleted file's nodes go.
//
// Not parallel: the 2 s it asserts is a latency on an idle machine, and
// the package's other tests, four at a time on two cores, once stretched a
// 30 ms go list to 800 ms and the save's run past 2 s. Sequential tests run
// before the parallel ones start.
func TestIngestWatch(t *testing.T) {
	p := newProc(t, "w1")
	dir := filepath.Join(t.TempDir(), "tree")
	write := func(rel, src string) { t.Helper(); writeFile(t, filepath.Join(dir, rel), src) }
	write("go.mod", "module example.com/w\n\ngo 1.22\n")
	write("a.go", "package w\n\nfunc Old() {}\n\nfunc Caller() {\n\tOld()\n}\n")
	write("b.go", "package w\n\nfunc Doomed() {}\n")

	w := startWatch(t, dir, "--graph", "w", "--watch", "--server", p.url())
	cmd, runs, logs, exited := w.cmd, w.runs, w.logs, w.exited
	select {
	case <-runs:
	case <-time.After(60 * time.Second):
		t.Fatalf("no first ingest in 60 s:\n%s", logs)
	}

	ctx := context.Background()
	symbolAt := func(path string, line, col int) string {
		var r struct {
			Graph struct {
				SymbolAt *struct{ QualifiedName string }
			}
		}
		err := p.client().GraphQL(ctx, `query($p: String!, $l: Int!, $c: Int!) { graph(id: "w") { symbolAt(path: $p, line: $l, column: $c) { qualifiedName } } }`,
			map[string]any{"p": path, "l": line, "c": col}, &r)
		if err != nil {
			t.Fatal(err)
		}
		if r.Graph.SymbolAt == nil {
			return ""
		}
		return r.Graph.SymbolAt.QualifiedName
	}
	if got := symbolAt("a.go", 6, 2); got != "example.com/w.Old" {
		t.Fatalf("before the edit, symbolAt a.go:6:2 = %q", got)
	}

	// The watcher and the subscription are both live: save an edit.
	next := subscribe(t, p.http, "w", time.Now())
	saved := time.Now()
	write("a.go", "package w\n\nfunc Renamed() {}\n\nfunc Caller() {\n\tRenamed()\n}\n")
	if err := next("FILES_CHANGED", saved.Add(2*time.Second)); err != nil {
		t.Fatalf("no FILES_CHANGED event within 2 s of the save: %v\n%s", err, logs)
	}
	if got := symbolAt("a.go", 6, 2); got != "example.com/w.Renamed" {
		t.Fatalf("symbolAt a.go:6:2 after the edit = %q, want example.com/w.Renamed", got)
	}
	t.Logf("edit seen by the subscriber and symbolAt %v after the save", time.Since(saved))

	// A deleted file's nodes go too.
	deleted := time.Now()
	if err := os.Remove(filepath.Join(dir, "b.go")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "b.go's node to go", func() bool {
		exists, err := nodeExists(ctx, p, "w", "example.com/w.Doomed")
		return err == nil && !exists
	})
	t.Logf("deletion applied %v after the remove", time.Since(deleted))

	// A new directory is watched as it appears: a file added in it later
	// is ingested too.
	waitFor(t, 5*time.Second, "the runs of the edit and the delete", func() bool { return len(runs) >= 2 })
	for len(runs) > 0 {
		<-runs
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	select { // the run after the directory's creation: it is watched by then
	case <-runs:
	case <-time.After(5 * time.Second):
		t.Fatalf("no run after creating a directory:\n%s", logs)
	}
	added := time.Now()
	write("sub/c.go", "package sub\n\nfunc Fresh() {}\n")
	waitFor(t, 2*time.Second, "sub/c.go's node to appear", func() bool {
		exists, err := nodeExists(ctx, p, "w", "example.com/w/sub.Fresh")
		return err == nil && exists
	})
	t.Logf("a file in a new directory ingested %v after it was written", time.Since(added))

	// Interrupted, it stops cleanly.
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("grafo ingest --watch exited with %v after SIGINT:\n%s", err, logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("grafo ingest --watch still running 10 s after SIGINT")
	}
}

// watching is a running grafo ingest --watch.
type watching struct {
	cmd    *exec.Cmd
	runs   chan string // its "graph NAME: …" lines, one per ingest run
	logs   *syncBuffer // its stdout and stderr
	exited chan error
}

// startWatch starts grafo ingest DIR ARGS…, killed when the test ends.
func startWatch(t *testing.T, dir string, args ...string) *watching {
	t.Helper()
	w := &watching{cmd: exec.Command(grafoBin, append([]string{"ingest", dir}, args...)...),
		runs: make(chan string, 16), logs: &syncBuffer{}, exited: make(chan error, 1)}
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w.cmd.Stderr = w.logs
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.exited <- w.cmd.Wait() }()
	t.Cleanup(func() { w.cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.logs.Write([]byte(sc.Text() + "\n"))
			if strings.HasPrefix(sc.Text(), "graph ") {
				w.runs <- sc.Text()
			}
		}
	}()
	return w
}

// nodeExists reports whether graph holds a node named qn.
func nodeExists(ctx context.Context, p *proc, graph, qn string) (bool, error) {
	var r struct {
		Graph *struct{ Node *struct{ ID string } }
	}
	err := p.client().GraphQL(ctx, `query($g: ID!, $q: String!) { graph(id: $g) { node(qualifiedName: $q) { id } } }`,
		map[string]any{"g": graph, "q": qn}, &r)
	return err == nil && r.Graph != nil && r.Graph.Node != nil, err
}

// writeFile writes src to path, creating its directory.
func writeFile(t *testing.T, path, src string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}
