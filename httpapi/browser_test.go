package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/graph"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
	"github.com/grafo/grafo/kv/wire"
)

// newAPI serves a single node's API, GraphQL mounted, with cfg's limits.
func newAPI(t *testing.T, cfg Config, gqlOpts graph.HandlerOptions) *httptest.Server {
	t.Helper()
	coord, _ := newCoordinator(t, 1)
	s := store.New(coord, store.Options{})
	if cfg.Tokens.Enabled() {
		gqlOpts.Authenticate = cfg.Tokens.Check
	}
	cfg.Store = coord
	cfg.Sink = s
	cfg.Mounts = map[string]http.Handler{"/graphql": graph.NewHandler(&graph.Resolver{Store: s, KV: coord}, gqlOpts)}
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	return srv
}

func wsURL(srv *httptest.Server) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/graphql"
}

// Without tokens the API is open to whatever reaches 127.0.0.1, which
// includes every web page the user's browser shows. Before the Host and
// cross-site checks, each refused request below went through.
func TestBrowserRequestsRefused(t *testing.T) {
	t.Parallel()
	srv := newAPI(t, Config{Hosts: []string{"grafo-node1"}}, graph.HandlerOptions{})
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, tc := range []struct {
		name, method, path, body string
		header                   map[string]string
		want                     int
	}{
		{"curl put", "PUT", "/v1/kv/k", "v", nil, 204},
		{"same-origin put", "PUT", "/v1/kv/k", "v", map[string]string{"Origin": srv.URL, "Sec-Fetch-Site": "same-origin"}, 204},
		{"cross-origin put", "PUT", "/v1/kv/k", "v", map[string]string{"Origin": "http://evil.example"}, 403},
		{"cross-site put", "PUT", "/v1/kv/k", "v", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"other port, same site", "POST", "/v1/kv/k", "v", map[string]string{"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}, 403},
		{"null origin", "DELETE", "/v1/kv/k", "", map[string]string{"Origin": "null"}, 403},
		{"cross-site join", "POST", "/v1/cluster/join", `{"addr":"10.0.0.9:7071"}`, map[string]string{"Origin": "http://evil.example"}, 403},
		{"cross-site ingest", "POST", "/v1/graphs/g/files", `[]`, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"cross-site graphql", "POST", "/graphql", `{"query":"mutation { createGraph(id: \"x\") { id } }"}`, map[string]string{"Origin": "http://evil.example", "Content-Type": "application/json"}, 403},
		{"rebound name", "GET", "/v1/kv/k", "", map[string]string{"Host": "evil.example" + port}, 403},
		{"rebound name, same origin", "PUT", "/v1/kv/k", "v", map[string]string{"Host": "evil.example" + port, "Origin": "http://evil.example" + port, "Sec-Fetch-Site": "same-origin"}, 403},
		{"localhost", "GET", "/v1/kv/k", "", map[string]string{"Host": "localhost" + port}, 200},
		{"node's own name", "GET", "/v1/kv/k", "", map[string]string{"Host": "GRAFO-node1" + port}, 200},
		{"ipv6 literal", "GET", "/v1/kv/k", "", map[string]string{"Host": "[::1]" + port}, 200},
		{"health on any host", "GET", "/healthz", "", map[string]string{"Host": "evil.example"}, 200},
		{"cross-site read", "GET", "/v1/kv/k", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, 200},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		for k, v := range tc.header {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %s %s: status %d, want %d", tc.name, tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
	// Websockets: a page elsewhere may not open one (it could run
	// mutations); the explorer's own origin may.
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
	if c, resp, err := d.Dial(wsURL(srv), http.Header{"Origin": {"http://evil.example"}}); err == nil {
		c.Close()
		t.Error("websocket from another origin was accepted")
	} else if resp == nil || resp.StatusCode != 403 {
		t.Errorf("websocket from another origin: %v", err)
	}
	c, _, err := d.Dial(wsURL(srv), http.Header{"Origin": {srv.URL}})
	if err != nil {
		t.Fatalf("same-origin websocket: %v", err)
	}
	c.Close()
	// The Go client (and so the CLI) works as before.
	cl := client.New(srv.URL)
	if err := cl.Put(context.Background(), []byte("gk"), []byte("gv"), kv.Options{}); err != nil {
		t.Fatal(err)
	}
	if v, _, err := cl.Get(context.Background(), []byte("gk"), kv.Options{}); err != nil || string(v) != "gv" {
		t.Fatalf("client get: %q %v", v, err)
	}
}

// With tokens on, a rebound page has no token, so any Host is accepted
// (proxies, LAN names); cross-site writes are still refused.
func TestHostFreeWithTokens(t *testing.T) {
	t.Parallel()
	tokens, err := auth.Parse(strings.NewReader("writer-0001 write\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv := newAPI(t, Config{Tokens: tokens}, graph.HandlerOptions{})
	for _, tc := range []struct {
		origin string
		want   int
	}{{"", 204}, {"http://evil.example", 403}} {
		req, _ := http.NewRequest("PUT", srv.URL+"/v1/kv/k", strings.NewReader("v"))
		req.Host = "grafo.example.com"
		req.Header.Set("Authorization", "Bearer writer-0001")
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("origin %q: %d, want %d", tc.origin, resp.StatusCode, tc.want)
		}
	}
}

// Unauthenticated websockets used to hold request slots until their 30 s
// init timeout: 1,024 of them made every API call answer 429. Now they
// never count against requests, wait in a small pending budget of their
// own, and are closed when connection_init does not come in time.
func TestWebsocketsDoNotStarveRequests(t *testing.T) {
	t.Parallel()
	tokens, err := auth.Parse(strings.NewReader("reader-0001 read\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv := newAPI(t, Config{Tokens: tokens, MaxConcurrent: 4, MaxPendingWebsockets: 8, MaxWebsockets: 2},
		graph.HandlerOptions{InitTimeout: 3 * time.Second})
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
	var idle []*websocket.Conn
	for i := 0; i < 8; i++ {
		c, _, err := d.Dial(wsURL(srv), nil)
		if err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	get := func() int {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/cluster", nil)
		req.Header.Set("Authorization", "Bearer reader-0001")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got == http.StatusTooManyRequests {
		t.Fatal("8 idle websockets starve API calls (429)")
	}
	if c, resp, err := d.Dial(wsURL(srv), nil); err == nil {
		c.Close()
		t.Fatal("a 9th pending websocket was accepted")
	} else if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("9th pending websocket: %v", err)
	}
	// Two authenticate and move to the established budget (2), freeing
	// their pending slots; a third finds no room and is closed.
	for i, c := range idle[:3] {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer reader-0001"}})
		var m struct{ Type string }
		err := c.ReadJSON(&m)
		if i < 2 && (err != nil || m.Type != "connection_ack") {
			t.Fatalf("socket %d init: %v %+v", i, err, m)
		}
		if i == 2 && err == nil && m.Type == "connection_ack" {
			t.Fatal("a third socket was admitted past MaxWebsockets=2")
		}
	}
	// Fill the pending budget again; those sockets never send
	// connection_init and are closed after the init timeout, which frees
	// the budget.
	for i := 0; i < 3; i++ {
		c, _, err := d.Dial(wsURL(srv), nil)
		if err != nil {
			t.Fatalf("refill %d: %v", i, err)
		}
		defer c.Close()
	}
	if c, _, err := d.Dial(wsURL(srv), nil); err == nil {
		c.Close()
		t.Fatal("pending budget not full again")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, _, err := d.Dial(wsURL(srv), nil)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending websockets never timed out: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// An invalid graph id on the ingest routes is the client's error (400,
// naming the allowed form), not a 500.
func TestInvalidGraphIDIsBadRequest(t *testing.T) {
	t.Parallel()
	srv := newAPI(t, Config{}, graph.HandlerOptions{})
	for _, path := range []string{"/v1/graphs/a%01b/files", "/v1/graphs/a%2Fb/files", "/v1/graphs/" + strings.Repeat("x", 300) + "/files"} {
		resp, b := do(t, "GET", srv.URL+path, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %d %s, want 400", path, resp.StatusCode, b)
			continue
		}
		if code, msg := errCode(t, b); code != wire.CodeBadRequest || !strings.Contains(msg, "without '/' or control characters") {
			t.Errorf("GET %s: %s %q", path, code, msg)
		}
	}
}
