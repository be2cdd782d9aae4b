package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grafo/grafo/kv/kvtest"
)

// The handler's own cost per key-value request (no sockets): what the
// public API adds to a store call, allocations first.
func BenchmarkKVHandler(b *testing.B) {
	c := kvtest.NewCluster(b, kvtest.Options{Replicas: 1})
	h := New(Config{Store: c.Coords[0]})
	val := strings.Repeat("x", 100)
	serve := func(method, target, body string) int {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Host = "127.0.0.1:7070" // the DNS-rebinding check wants a name of this server
		h.ServeHTTP(w, r)
		return w.Code
	}
	if st := serve(http.MethodPut, "/v1/kv/hit", val); st != http.StatusNoContent {
		b.Fatalf("put: %d", st)
	}
	for _, tc := range []struct {
		name, method, target, body string
		want                       int
	}{
		{"put", http.MethodPut, "/v1/kv/k?consistency=quorum", val, http.StatusNoContent},
		{"get", http.MethodGet, "/v1/kv/hit?consistency=quorum", "", http.StatusOK},
		{"get-missing", http.MethodGet, "/v1/kv/missing?consistency=quorum", "", http.StatusNotFound},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if st := serve(tc.method, tc.target, tc.body); st != tc.want {
					b.Fatalf("%s %s: %d, want %d", tc.method, tc.target, st, tc.want)
				}
			}
		})
	}
}
