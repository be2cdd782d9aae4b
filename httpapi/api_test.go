package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
	"github.com/grafo/grafo/kv/engine"
	"github.com/grafo/grafo/kv/kvtest"
	"github.com/grafo/grafo/kv/replica"
	"github.com/grafo/grafo/kv/wire"
)

// newCoordinator is a single node's store: a real engine in a temp dir and
// the coordinator over it, checked and closed when the test ends.
func newCoordinator(t *testing.T, replicas int) (*replica.Coordinator, *engine.Engine) {
	t.Helper()
	c := kvtest.NewCluster(t, kvtest.Options{Replicas: replicas})
	return c.Coords[0], c.Engines[0]
}

// newNode serves the API of a single node.
func newNode(t *testing.T) (*httptest.Server, *engine.Engine) {
	t.Helper()
	coord, e := newCoordinator(t, 3)
	srv := httptest.NewServer(New(Config{Store: coord}))
	t.Cleanup(srv.Close)
	return srv, e
}

func do(t *testing.T, method, url string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func errCode(t *testing.T, b []byte) (string, string) {
	t.Helper()
	var eb wire.ErrorBody
	if err := json.Unmarshal(b, &eb); err != nil {
		t.Fatalf("error body %q is not JSON: %v", b, err)
	}
	return eb.Error.Code, eb.Error.Message
}

func TestPairLimit(t *testing.T) {
	t.Parallel()
	srv, e := newNode(t)
	key := "limit"
	ok := bytes.Repeat([]byte("x"), kv.MaxPairSize-len(key))
	resp, _ := do(t, "PUT", srv.URL+"/v1/kv/"+key, bytes.NewReader(ok))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("10240-byte pair: status %d", resp.StatusCode)
	}
	resp, b := do(t, "PUT", srv.URL+"/v1/kv/"+key+"2", bytes.NewReader(append(ok, 'y')))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("10241-byte pair: status %d", resp.StatusCode)
	}
	if code, _ := errCode(t, b); code != "too_large" {
		t.Fatalf("code %q", code)
	}
	if _, err := e.Get(context.Background(), []byte(key+"2")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("oversized pair was stored: %v", err)
	}
	resp, b = do(t, "GET", srv.URL+"/v1/kv/"+key, nil)
	if resp.StatusCode != 200 || !bytes.Equal(b, ok) || resp.Header.Get("X-Grafo-Version") == "" {
		t.Fatalf("get: %d, %d bytes, version %q", resp.StatusCode, len(b), resp.Header.Get("X-Grafo-Version"))
	}
}

// A 100 MB body is refused from its Content-Length, without reading it.
func TestHugeBodyNotRead(t *testing.T) {
	t.Parallel()
	srv, _ := newNode(t)
	r := &countingReader{n: 100 << 20}
	req, _ := http.NewRequest("PUT", srv.URL+"/v1/kv/huge", r)
	req.ContentLength = 100 << 20
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if r.read > 16<<20 {
		t.Fatalf("server made the client send %d bytes of a refused body", r.read)
	}
}

type countingReader struct{ n, read int }

func (c *countingReader) Read(p []byte) (int, error) {
	if c.read >= c.n {
		return 0, io.EOF
	}
	if len(p) > c.n-c.read {
		p = p[:c.n-c.read]
	}
	c.read += len(p)
	return len(p), nil
}

func TestErrorsAndConsistency(t *testing.T) {
	t.Parallel()
	srv, _ := newNode(t)
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"PUT", "/v1/kv/", 400, "empty_key"},
		{"GET", "/v1/kv/absent", 404, "not_found"},
		{"PUT", "/v1/kv/a?w=2", 503, "unavailable"},
		{"GET", "/v1/kv/a?r=2", 503, "unavailable"},
		{"PUT", "/v1/kv/a?w=4", 400, "invalid_consistency"},
		{"PUT", "/v1/kv/a?consistency=most", 400, "invalid_consistency"},
		{"PUT", "/v1/kv/a?consistency=all", 204, ""},
		{"GET", "/v1/kv/a?consistency=all", 200, ""},
		{"GET", "/v1/kv/a?consistency=linearizable", 200, ""},
		{"DELETE", "/v1/kv/a", 204, ""},
		{"GET", "/v1/kv/a", 404, "not_found"},
	} {
		resp, b := do(t, tc.method, srv.URL+tc.path, strings.NewReader("v"))
		if resp.StatusCode != tc.status {
			t.Fatalf("%s %s: status %d (%s), want %d", tc.method, tc.path, resp.StatusCode, b, tc.status)
		}
		if tc.code != "" {
			code, msg := errCode(t, b)
			if code != tc.code {
				t.Fatalf("%s %s: code %q, want %q", tc.method, tc.path, code, tc.code)
			}
			if tc.code == "unavailable" && !strings.Contains(msg, "1 of 2 required") {
				t.Fatalf("unavailable message %q does not say how many answered", msg)
			}
		}
	}
}

// The Go client and the server agree on keys that a URL would mangle.
func TestClientRoundTripOddKeys(t *testing.T) {
	t.Parallel()
	srv, _ := newNode(t)
	c := client.New(srv.URL)
	ctx := context.Background()
	for _, k := range []string{"a/b", "a//b", "..", ".", "a/../b", "sp ace", "q?x=1", "nul\x00row", "ü"} {
		if err := c.Put(ctx, []byte(k), []byte("v:"+k), kv.Options{}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
		v, ver, err := c.Get(ctx, []byte(k), kv.Options{Level: kv.Quorum})
		if err != nil || string(v) != "v:"+k || ver.IsZero() {
			t.Fatalf("get %q: %q %v %v", k, v, ver, err)
		}
	}
	if err := c.Put(ctx, []byte("big"), make([]byte, kv.MaxPairSize), kv.Options{}); !errors.Is(err, kv.ErrTooLarge) {
		t.Fatalf("client oversized put: %v", err)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	t.Parallel()
	srv, _ := newNode(t)
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if resp, b := do(t, "GET", srv.URL+p, nil); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, b)
		}
	}
}
