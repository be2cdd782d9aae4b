package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/wire"
)

// fakeNode serves the public HTTP routes over an in-test map. It
// stands in for the real server only to check this client's encoding and
// decoding; the real server is tested end-to-end with this client.
type fakeNode struct {
	token string // required bearer token, if set

	mu      sync.Mutex
	data    map[string][]byte
	vers    map[string]kv.Version
	clock   *kv.Clock
	queries []url.Values // query of every /v1/kv request, in order
	joined  []string
	left    []string
	gqlReq  map[string]any
}

func newFakeNode(t *testing.T, token string) (*fakeNode, *httptest.Server) {
	t.Helper()
	f := &fakeNode{token: token, data: map[string][]byte{}, vers: map[string]kv.Version{}, clock: kv.NewClock("n1")}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/kv/{key...}", f.put)
	mux.HandleFunc("GET /v1/kv/{key...}", f.get)
	mux.HandleFunc("DELETE /v1/kv/{key...}", f.del)
	mux.HandleFunc("GET /v1/cluster", f.cluster)
	mux.HandleFunc("POST /v1/cluster/join", f.join)
	mux.HandleFunc("POST /v1/cluster/leave", f.leave)
	mux.HandleFunc("POST /graphql", f.graphql)
	mux.HandleFunc("GET /v1/plain", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream went away", http.StatusBadGateway)
	})
	srv := httptest.NewServer(f.auth(mux))
	t.Cleanup(srv.Close)
	return f, srv
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (f *fakeNode) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
			writeErr(w, 401, wire.CodeUnauthorized, "missing or unknown token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// kvRequest validates what every /v1/kv route shares; ok=false means an
// error was written.
func (f *fakeNode) kvRequest(w http.ResponseWriter, r *http.Request) (string, bool) {
	f.mu.Lock()
	f.queries = append(f.queries, r.URL.Query())
	f.mu.Unlock()
	key := r.PathValue("key")
	if key == "" {
		writeErr(w, 400, wire.CodeEmptyKey, "empty key")
		return "", false
	}
	if _, err := kv.ParseLevel(r.URL.Query().Get("consistency")); err != nil {
		writeErr(w, 400, wire.CodeInvalidConsistency, err.Error())
		return "", false
	}
	if r.URL.Query().Get("w") == "3" {
		writeErr(w, 503, wire.CodeUnavailable, "quorum not reached: 1 of 3 required acks (replicas: n1 ok, n2 down, n3 down)")
		return "", false
	}
	return key, true
}

func (f *fakeNode) put(w http.ResponseWriter, r *http.Request) {
	key, ok := f.kvRequest(w, r)
	if !ok {
		return
	}
	value, _ := io.ReadAll(r.Body)
	if len(key)+len(value) > kv.MaxPairSize {
		writeErr(w, 413, wire.CodeTooLarge, "key + value over 10240 bytes")
		return
	}
	f.mu.Lock()
	f.data[key], f.vers[key] = value, f.clock.Now()
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeNode) get(w http.ResponseWriter, r *http.Request) {
	key, ok := f.kvRequest(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	value, found := f.data[key]
	v := f.vers[key]
	f.mu.Unlock()
	if !found {
		writeErr(w, 404, wire.CodeNotFound, "no such key")
		return
	}
	w.Header().Set(VersionHeader, v.String())
	_, _ = w.Write(value)
}

func (f *fakeNode) del(w http.ResponseWriter, r *http.Request) {
	key, ok := f.kvRequest(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	delete(f.data, key)
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeNode) cluster(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, `{"nodes":[
		{"id":"n1","http":"127.0.0.1:7070","cluster":"127.0.0.1:7071","weight":1,"state":"up","vnodes":128,"keys":42,"lastContact":"2025-01-02T03:04:05Z"},
		{"id":"n2","http":"127.0.0.1:7080","cluster":"127.0.0.1:7081","weight":2,"state":"down","vnodes":256,"keys":7,"lastContact":1735787045000},
		{"id":"n3","http":"h3:7070","cluster":"h3:7071","weight":1,"state":"joining","vnodes":128,"keys":0,"lastContact":null}],
		"replicas":3,"writeQuorum":2,"readQuorum":2,"leader":"n1","hintsPending":5,"rebalancing":true}`)
}

func (f *fakeNode) join(w http.ResponseWriter, r *http.Request) {
	var body struct{ Addr string }
	if json.NewDecoder(r.Body).Decode(&body) != nil || body.Addr == "" {
		writeErr(w, 400, wire.CodeBadRequest, "want {\"addr\": ...}")
		return
	}
	f.mu.Lock()
	f.joined = append(f.joined, body.Addr)
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeNode) leave(w http.ResponseWriter, r *http.Request) {
	var body struct{ Node string }
	if json.NewDecoder(r.Body).Decode(&body) != nil || body.Node == "" {
		writeErr(w, 400, wire.CodeBadRequest, "want {\"node\": ...}")
		return
	}
	if body.Node == "ghost" {
		writeErr(w, 403, wire.CodeForbidden, "admin role required")
		return
	}
	f.mu.Lock()
	f.left = append(f.left, body.Node)
	f.mu.Unlock()
	_, _ = io.WriteString(w, `{"ok":true}`)
}

func (f *fakeNode) graphql(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeErr(w, 400, wire.CodeBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	f.gqlReq = req
	f.mu.Unlock()
	q, _ := req["query"].(string)
	switch {
	case strings.Contains(q, "syntax error"):
		w.WriteHeader(422)
		_, _ = io.WriteString(w, `{"errors":[{"message":"Unexpected Name \"syntax\""}]}`)
	case strings.Contains(q, "partial"):
		_, _ = io.WriteString(w, `{"data":{"graphs":[{"id":"g1"}],"get":null},"errors":[{"message":"quorum not reached","path":["get"],"extensions":{"code":"unavailable"}},{"message":"other"}]}`)
	default:
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"echo": req["variables"]}})
	}
}

func TestKeysRoundTripAnyBytes(t *testing.T) {
	t.Parallel()
	f, srv := newFakeNode(t, "")
	c := New(srv.URL)
	ctx := context.Background()
	keys := []string{"plain", "a/b", "a//b", "/lead", "trail/", ".", "..", "a/../b", "./x", "x\x00y", "%2F", "100%",
		"sp ace", "?q=1&r=2#frag", "\xff\xfe\x00", "ünï/cödé", "+plus", ";semi", "graph\x00node/42"}
	for i, k := range keys {
		val := []byte(fmt.Sprintf("value-%d", i))
		if err := c.Put(ctx, []byte(k), val, kv.Options{}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
		f.mu.Lock()
		stored, ok := f.data[k]
		f.mu.Unlock()
		if !ok || string(stored) != string(val) {
			t.Fatalf("server did not receive key %q byte for byte (stored=%v)", k, ok)
		}
		got, ver, err := c.Get(ctx, []byte(k), kv.Options{})
		if err != nil || string(got) != string(val) {
			t.Fatalf("get %q = %q, %v", k, got, err)
		}
		if ver.Node != "n1" || ver.TS == 0 {
			t.Fatalf("get %q: version %v not decoded from %s", k, ver, VersionHeader)
		}
	}
	f.mu.Lock()
	n := len(f.data)
	f.mu.Unlock()
	if n != len(keys) {
		t.Fatalf("server holds %d keys, want %d distinct", n, len(keys))
	}
}

func TestPutGetDeleteAndErrors(t *testing.T) {
	t.Parallel()
	_, srv := newFakeNode(t, "")
	c := New(strings.TrimPrefix(srv.URL, "http://")) // bare host:port
	ctx := context.Background()
	key := []byte("k")
	if err := c.Put(ctx, key, []byte("v1"), kv.Options{Level: kv.Quorum}); err != nil {
		t.Fatal(err)
	}
	_, v1, _ := c.Get(ctx, key, kv.Options{})
	if err := c.Put(ctx, key, []byte("v2"), kv.Options{}); err != nil {
		t.Fatal(err)
	}
	got, v2, err := c.Get(ctx, key, kv.Options{Level: kv.One})
	if err != nil || string(got) != "v2" || !v2.Newer(v1) {
		t.Fatalf("get after overwrite = %q %v (prev %v), %v", got, v2, v1, err)
	}
	if err := c.Delete(ctx, key, kv.Options{}); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Get(ctx, key, kv.Options{})
	var we *Error
	if !errors.Is(err, kv.ErrNotFound) || !errors.As(err, &we) || we.Status != 404 || we.Code != wire.CodeNotFound {
		t.Fatalf("get deleted key: %v", err)
	}
	if err.Error() != "grafo: not_found: no such key" {
		t.Fatalf("error text %q", err.Error())
	}

	cases := []struct {
		name   string
		call   func() error
		target error
		status int
	}{
		{"too large", func() error { return c.Put(ctx, key, make([]byte, kv.MaxPairSize), kv.Options{}) }, kv.ErrTooLarge, 413},
		{"empty key", func() error { return c.Put(ctx, nil, []byte("v"), kv.Options{}) }, kv.ErrEmptyKey, 400},
		{"invalid consistency", func() error { return c.Delete(ctx, key, kv.Options{Level: kv.Level(99)}) }, kv.ErrInvalidConsistency, 400},
		{"unavailable", func() error { return c.Put(ctx, key, []byte("v"), kv.Options{W: 3}) }, kv.ErrUnavailable, 503},
		{"non-JSON 502", func() error { return c.Do(ctx, http.MethodGet, "/v1/plain", nil, nil) }, kv.ErrUnavailable, 502},
		{"unrouted 404", func() error { return c.Do(ctx, http.MethodGet, "/nope", nil, nil) }, kv.ErrNotFound, 404},
	}
	for _, tc := range cases {
		err := tc.call()
		var e *Error
		if !errors.Is(err, tc.target) || !errors.As(err, &e) || e.Status != tc.status {
			t.Errorf("%s: got %v (%#v), want %v with status %d", tc.name, err, e, tc.target, tc.status)
		}
	}
	// The 503 message (how many of how many answered) reaches the caller.
	err = c.Put(ctx, key, []byte("v"), kv.Options{W: 3})
	if !strings.Contains(err.Error(), "1 of 3 required acks") {
		t.Fatalf("unavailable message lost: %v", err)
	}
}

func TestQueryFor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		o    kv.Options
		want string
	}{
		{kv.Options{}, ""},
		{kv.Options{Level: kv.One}, "consistency=one"},
		{kv.Options{Level: kv.Quorum}, "consistency=quorum"},
		{kv.Options{Level: kv.All}, "consistency=all"},
		{kv.Options{Level: kv.Linearizable}, "consistency=linearizable"},
		{kv.Options{W: 2}, "w=2"},
		{kv.Options{R: 1, Sloppy: true}, "r=1&sloppy=true"},
		{kv.Options{Level: kv.All, W: 3, R: 2, Sloppy: true}, "consistency=all&r=2&sloppy=true&w=3"},
	}
	for _, c := range cases {
		q := QueryFor(c.o)
		if got := q.Encode(); got != c.want {
			t.Errorf("QueryFor(%+v) = %q, want %q", c.o, got, c.want)
		}
		// What the server parses back must be what was asked.
		if lv, err := kv.ParseLevel(q.Get("consistency")); err != nil || lv != c.o.Level {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", q.Get("consistency"), lv, err, c.o.Level)
		}
	}
}

func TestOptionsReachServer(t *testing.T) {
	t.Parallel()
	f, srv := newFakeNode(t, "")
	c := New(srv.URL + "/") // trailing slash is normalised away
	ctx := context.Background()
	_ = c.Put(ctx, []byte("k"), []byte("v"), kv.Options{Level: kv.All, Sloppy: true})
	_, _, _ = c.Get(ctx, []byte("k"), kv.Options{R: 2})
	_ = c.Delete(ctx, []byte("k"), kv.Options{Level: kv.Linearizable})
	f.mu.Lock()
	defer f.mu.Unlock()
	want := []string{"consistency=all&sloppy=true", "r=2", "consistency=linearizable"}
	if len(f.queries) != len(want) {
		t.Fatalf("server saw %d kv requests, want %d", len(f.queries), len(want))
	}
	for i, q := range f.queries {
		if q.Encode() != want[i] {
			t.Errorf("request %d query %q, want %q", i, q.Encode(), want[i])
		}
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	_, srv := newFakeNode(t, "s3cret")
	ctx := context.Background()
	err := New(srv.URL).Put(ctx, []byte("k"), []byte("v"), kv.Options{})
	var e *Error
	if !errors.Is(err, ErrUnauthorized) || !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("without token: %v", err)
	}
	if err := New(srv.URL, WithToken("s3cret"), WithHTTPClient(srv.Client())).Put(ctx, []byte("k"), []byte("v"), kv.Options{}); err != nil {
		t.Fatalf("with token: %v", err)
	}
}

func TestCluster(t *testing.T) {
	t.Parallel()
	f, srv := newFakeNode(t, "")
	c := New(srv.URL)
	ctx := context.Background()
	st, err := c.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 3 || st.Replicas != 3 || st.WriteQuorum != 2 || st.ReadQuorum != 2 ||
		st.Leader != "n1" || st.HintsPending != 5 || !st.Rebalancing {
		t.Fatalf("status %+v", st)
	}
	n1, n2, n3 := st.Nodes[0], st.Nodes[1], st.Nodes[2]
	if n1.ID != "n1" || n1.HTTP != "127.0.0.1:7070" || n1.Cluster != "127.0.0.1:7071" || n1.Weight != 1 ||
		n1.State != "up" || n1.VNodes != 128 || n1.Keys != 42 {
		t.Fatalf("node 1 %+v", n1)
	}
	want := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	if !n1.LastContact.Equal(want) || !n2.LastContact.Equal(want) || !n3.LastContact.IsZero() {
		t.Fatalf("lastContact: %v %v %v", n1.LastContact, n2.LastContact, n3.LastContact)
	}
	if n2.State != "down" || n2.Weight != 2 || n3.State != "joining" {
		t.Fatalf("nodes 2/3: %+v %+v", n2, n3)
	}

	if err := c.Join(ctx, "10.0.0.4:7071"); err != nil {
		t.Fatal(err)
	}
	if err := c.Leave(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	err = c.Leave(ctx, "ghost")
	var e *Error
	if !errors.Is(err, ErrForbidden) || !errors.As(err, &e) || e.Message != "admin role required" {
		t.Fatalf("forbidden leave: %v", err)
	}
	if !errors.Is(c.Join(ctx, ""), ErrBadRequest) {
		t.Fatal("join with no addr must be a bad request")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.joined) != 1 || f.joined[0] != "10.0.0.4:7071" || len(f.left) != 1 || f.left[0] != "n2" {
		t.Fatalf("server saw joined=%v left=%v", f.joined, f.left)
	}
}

func TestGraphQL(t *testing.T) {
	t.Parallel()
	f, srv := newFakeNode(t, "")
	c := New(srv.URL)
	ctx := context.Background()

	var out struct {
		Echo struct {
			ID    string `json:"id"`
			Depth int    `json:"depth"`
		} `json:"echo"`
	}
	err := c.GraphQL(ctx, "query($id: ID!){ graph(id: $id){ id } }", map[string]any{"id": "g1", "depth": 2}, &out)
	if err != nil || out.Echo.ID != "g1" || out.Echo.Depth != 2 {
		t.Fatalf("graphql = %+v, %v", out, err)
	}
	f.mu.Lock()
	q := f.gqlReq["query"]
	f.mu.Unlock()
	if q != "query($id: ID!){ graph(id: $id){ id } }" {
		t.Fatalf("server got query %v", q)
	}

	// Partial success: data is decoded and the errors are returned.
	var part struct {
		Graphs []struct{ ID string } `json:"graphs"`
	}
	err = c.GraphQL(ctx, "{ partial }", nil, &part)
	var ge *GraphQLError
	if !errors.As(err, &ge) || len(ge.Messages) != 2 || ge.Messages[0] != "quorum not reached" || len(part.Graphs) != 1 {
		t.Fatalf("partial: %v %+v", err, part)
	}
	if !errors.Is(err, kv.ErrUnavailable) || errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("graphql error codes not mapped: %v", err)
	}

	// A 422 with a GraphQL body is a GraphQL error, not an HTTP one.
	err = c.GraphQL(ctx, "{ syntax error", nil, nil)
	if !errors.As(err, &ge) || !strings.Contains(ge.Error(), "Unexpected Name") {
		t.Fatalf("syntax error: %v", err)
	}
}

func TestContextCancelled(t *testing.T) {
	t.Parallel()
	_, srv := newFakeNode(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := New(srv.URL).Get(ctx, []byte("k"), kv.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled get: %v", err)
	}
}

func TestBadVersionHeaderIsProtocolError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(VersionHeader, "not-a-version")
		_, _ = io.WriteString(w, "v")
	}))
	defer srv.Close()
	_, _, err := New(srv.URL).Get(context.Background(), []byte("k"), kv.Options{})
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("want ErrProtocol, got %v", err)
	}
}

func TestEscapeKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"a/b": "a%2Fb", ".": "%2E", "..": "%2E%2E", "...": "...", "x\x00": "x%00", "a b": "a%20b",
	} {
		if got := EscapeKey([]byte(in)); got != want {
			t.Errorf("EscapeKey(%q) = %q, want %q", in, got, want)
		}
	}
	if got := KeyPath([]byte("k/1"), kv.Options{W: 2}); got != "/v1/kv/k%2F1?w=2" {
		t.Errorf("KeyPath = %q", got)
	}
}
