package lsp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/uri"

	"github.com/grafo/grafo/graph"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	_ "github.com/grafo/grafo/ingest/golang"
	"github.com/grafo/grafo/kv/client"
	"github.com/grafo/grafo/kv/kvtest"
	"github.com/grafo/grafo/lsp"
)

// session is an LSP client connected to lsp.Serve in process, the server
// answering from a real GraphQL handler over a real store.
type session struct {
	conn   jsonrpc2.Conn
	served chan error

	mu    sync.Mutex
	notes []note // notifications from the server, in order
}

// note is a notification the server sent.
type note struct {
	Method string
	Params json.RawMessage
}

// notified waits until the server has sent n notifications of method and
// returns their parameters.
func (s *session) notified(t *testing.T, method string, n int) []json.RawMessage {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []json.RawMessage
		s.mu.Lock()
		for _, nt := range s.notes {
			if nt.Method == method {
				got = append(got, nt.Params)
			}
		}
		s.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newSession(t *testing.T, root string, cfg lsp.Config, capabilities map[string]any) (*session, map[string]any) {
	t.Helper()
	s := store.New(kvtest.NewStore(t), store.Options{})
	if _, err := ingest.Run(context.Background(), root, filepath.Base(root), s, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(graph.NewHandler(&graph.Resolver{Store: s}, graph.HandlerOptions{}))
	t.Cleanup(h.Close)
	cfg.Client = client.New(h.URL)
	a, b := net.Pipe()
	ss := &session{served: make(chan error, 1)}
	go func() { ss.served <- lsp.Serve(context.Background(), a, cfg) }()
	ss.conn = jsonrpc2.NewConn(jsonrpc2.NewStream(b))
	ss.conn.Go(context.Background(), func(ctx context.Context, reply jsonrpc2.Replier, req jsonrpc2.Request) error {
		if _, isCall := req.(*jsonrpc2.Call); isCall {
			return jsonrpc2.MethodNotFoundHandler(ctx, reply, req)
		}
		ss.mu.Lock()
		ss.notes = append(ss.notes, note{req.Method(), req.Params()})
		ss.mu.Unlock()
		return nil
	})
	t.Cleanup(func() { ss.conn.Close() })
	var res map[string]any
	ss.call(t, "initialize", map[string]any{"rootUri": uri.File(root), "capabilities": capabilities}, &res)
	return ss, res
}

func (s *session) call(t *testing.T, method string, params, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.conn.Call(ctx, method, params, out); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}

// A client offering UTF-8 gets it, and columns count bytes: on the line
// with an emoji and CJK, Größe starts at byte 26.
func TestUTF8NegotiationAndExit(t *testing.T) {
	root := filepath.Join(t.TempDir(), "shop")
	writeFile(t, filepath.Join(root, "go.mod"), "module example.com/shop\n\ngo 1.22\n")
	writeFile(t, filepath.Join(root, "shop.go"), shopGo)
	s, init := newSession(t, root, lsp.Config{}, map[string]any{"general": map[string]any{"positionEncodings": []string{"utf-16", "utf-8"}}})
	caps, _ := init["capabilities"].(map[string]any)
	if caps["positionEncoding"] != "utf-8" {
		t.Fatalf("positionEncoding = %v, want utf-8", caps["positionEncoding"])
	}
	line := strings.Split(shopGo, "\n")[30]
	col := strings.Index(line, "Größe") // bytes
	var locs []location
	s.call(t, "textDocument/definition", map[string]any{"textDocument": map[string]any{"uri": uri.File(filepath.Join(root, "shop.go"))},
		"position": map[string]any{"line": 30, "character": col}}, &locs)
	// func Größe: "func " then five characters, seven bytes.
	if len(locs) != 1 || locs[0].String() != "shop.go:27:5-27:12" {
		t.Fatalf("definition in UTF-8 = %v, want shop.go:27:5-27:12", locs)
	}
	// Highlights of Total in its file: the declaration, a write, a read.
	var hl []struct {
		Range lspRange
		Kind  int
	}
	s.call(t, "textDocument/documentHighlight", map[string]any{"textDocument": map[string]any{"uri": uri.File(filepath.Join(root, "shop.go"))},
		"position": map[string]any{"line": 24, "character": 9}}, &hl)
	var got []string
	for _, h := range hl {
		got = append(got, fmt.Sprint(h.Range, "/", h.Kind))
	}
	if want := "[18:4-18:9/1 22:2-22:7/3 24:8-24:13/2]"; fmt.Sprint(got) != want {
		t.Errorf("highlights of Total = %v, want %s", got, want)
	}
	var null json.RawMessage
	s.call(t, "shutdown", nil, &null)
	if err := s.conn.Notify(context.Background(), "exit", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.served:
		if err != nil {
			t.Fatalf("Serve after exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still running 10 s after exit")
	}
}

// A workspace whose graph the node does not hold is answered with an error
// that says what to do, not with silence.
func TestUnknownGraph(t *testing.T) {
	root := filepath.Join(t.TempDir(), "shop")
	writeFile(t, filepath.Join(root, "go.mod"), "module example.com/shop\n\ngo 1.22\n")
	writeFile(t, filepath.Join(root, "shop.go"), shopGo)
	s, _ := newSession(t, root, lsp.Config{Graph: "nope"}, nil)
	_, err := s.conn.Call(context.Background(), "textDocument/hover", map[string]any{"textDocument": map[string]any{"uri": uri.File(filepath.Join(root, "shop.go"))},
		"position": map[string]any{"line": 20, "character": 6}}, new(json.RawMessage))
	if err == nil || !strings.Contains(err.Error(), `graph "nope" not found`) {
		t.Fatalf("hover with an unknown graph: %v", err)
	}
}

// References come in pages: a client that takes no partial results gets
// the first MaxResults and a message saying how many there are; one that
// offers a partialResultToken gets every one as partial results and an
// empty final answer. Incoming calls are bounded the same way.
func TestReferencesInPages(t *testing.T) {
	root := filepath.Join(t.TempDir(), "shop")
	writeFile(t, filepath.Join(root, "go.mod"), "module example.com/shop\n\ngo 1.22\n")
	writeFile(t, filepath.Join(root, "shop.go"), shopGo)
	s, _ := newSession(t, root, lsp.Config{MaxResults: 2}, nil)
	at := map[string]any{"textDocument": map[string]any{"uri": uri.File(filepath.Join(root, "shop.go"))},
		"position": map[string]any{"line": 18, "character": 5}, "context": map[string]any{"includeDeclaration": true}}
	var locs []location
	s.call(t, "textDocument/references", at, &locs)
	if fmt.Sprint(locs) != "[shop.go:18:4-18:9 shop.go:22:2-22:7]" {
		t.Errorf("first page of references of Total = %v", locs)
	}
	msgs := s.notified(t, "window/showMessage", 1)
	if len(msgs) != 1 || !strings.Contains(string(msgs[0]), "the first 2 of 3 references") {
		t.Errorf("showMessage = %s, want one saying 2 of 3", msgs)
	}

	at["partialResultToken"] = "refs-1"
	s.call(t, "textDocument/references", at, &locs)
	if len(locs) != 0 {
		t.Errorf("final answer with partial results = %v, want empty", locs)
	}
	var streamed []string
	for _, raw := range s.notified(t, "$/progress", 2) {
		var p struct {
			Token string
			Value []location
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		if p.Token != "refs-1" {
			t.Errorf("progress token %q", p.Token)
		}
		for _, l := range p.Value {
			streamed = append(streamed, l.String())
		}
	}
	if fmt.Sprint(streamed) != "[shop.go:18:4-18:9 shop.go:22:2-22:7 shop.go:24:8-24:13]" {
		t.Errorf("streamed references = %v", streamed)
	}
	if n := len(s.notified(t, "window/showMessage", 1)); n != 1 {
		t.Errorf("%d messages after a streamed answer, want still 1", n)
	}

	// Emoji calls Größe and Checkout (len is a builtin: no edge); bounded
	// to one call site, it lists one and says so.
	s, _ = newSession(t, root, lsp.Config{MaxResults: 1}, nil)
	var items []json.RawMessage
	s.call(t, "textDocument/prepareCallHierarchy", map[string]any{"textDocument": at["textDocument"],
		"position": map[string]any{"line": 29, "character": 6}}, &items)
	if len(items) != 1 {
		t.Fatalf("prepareCallHierarchy on Emoji = %s", items)
	}
	var out []struct{ To struct{ Name string } }
	s.call(t, "callHierarchy/outgoingCalls", map[string]any{"item": items[0]}, &out)
	if len(out) != 1 {
		t.Errorf("outgoing calls of Emoji with MaxResults 1 = %+v, want 1", out)
	}
	msgs = s.notified(t, "window/showMessage", 1)
	if len(msgs) != 1 || !strings.Contains(string(msgs[0]), "1 call sites listed, there are more") {
		t.Errorf("messages = %s, want one saying there are more call sites", msgs)
	}
}
