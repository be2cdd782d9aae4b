package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grafo/grafo/auth"
)

func TestTokensOnRoutes(t *testing.T) {
	t.Parallel()
	coord, _ := newCoordinator(t, 1)
	tokens, err := auth.Parse(strings.NewReader("reader-0001 read\nwriter-0001 write\nscoped-0001 admin teamA\nadmin-00001 admin\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Config{Store: coord, Tokens: tokens}))
	defer srv.Close()
	call := func(method, path, tok string) int {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader("v"))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), tok) && tok != "" {
			t.Fatalf("response echoes the token: %s", b)
		}
		return resp.StatusCode
	}
	for _, tc := range []struct {
		method, path, tok string
		want              int
	}{
		{"PUT", "/v1/kv/k", "", 401},
		{"PUT", "/v1/kv/k", "wrong-token", 401},
		{"PUT", "/v1/kv/k", "reader-0001", 403},
		{"PUT", "/v1/kv/k", "writer-0001", 204},
		{"GET", "/v1/kv/k", "reader-0001", 200},
		{"GET", "/v1/kv/k", "", 401},
		{"GET", "/v1/kv/k", "scoped-0001", 403}, // raw KV would expose other graphs' rows
		{"POST", "/v1/cluster/leave", "writer-0001", 403},
		{"GET", "/v1/graphs/teamB/files", "scoped-0001", 403},
		{"GET", "/metrics", "", 401},
		{"GET", "/metrics", "reader-0001", 200},
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 200},
	} {
		if got := call(tc.method, tc.path, tc.tok); got != tc.want {
			t.Errorf("%s %s with %q: status %d, want %d", tc.method, tc.path, tc.tok, got, tc.want)
		}
	}
}

func TestTooManyRequests(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	started := make(chan struct{}, 4)
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-block
	})
	srv := httptest.NewServer(New(Config{MaxConcurrent: 2, Mounts: map[string]http.Handler{"/slow": slow}}))
	defer srv.Close()
	defer close(block)
	for i := 0; i < 2; i++ {
		go http.Get(srv.URL + "/slow")
	}
	<-started
	<-started
	resp, err := http.Get(srv.URL + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third concurrent request: %d, want 429", resp.StatusCode)
	}
}
