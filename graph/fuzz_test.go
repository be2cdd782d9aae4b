package graph_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/graph"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv/kvtest"
)

// FuzzGraphQL throws documents and variables at the GraphQL front door as
// a write token scoped to graph teamA, and checks after each one that
//   - it took less than a second of wall time and 64 MB of allocation
//     (the document limits hold whatever the input),
//   - the graph "other" is untouched and none of its names leaked into
//     the answer, and no graph outside the scope was created,
//   - the server answered well-formed JSON (never a panic or a 5xx).
func FuzzGraphQL(f *testing.F) {
	for _, seed := range []struct{ doc, vars string }{
		{`{ graphs { id } }`, ``},
		{`mutation { createGraph(id: 9999) { id } }`, ``},
		{`query($g: ID!) { graph(id: $g) { id nodes { nodes { name } } } }`, `{"g": "other"}`},
		{`mutation($g: ID!) { upsertNodes(graphId: $g, nodes: [{kind: CLASS, name: "x", qualifiedName: "x"}]) { id } }`, `{"g": 4242}`},
		{`mutation { deleteGraph(id: "other") }`, ``},
		{`{ get(key: "graphs\u0000other") { value } }`, ``},
		{`query { ...F0 } fragment F0 on Query { ...F1 ...F1 } fragment F1 on Query { ...F2 ...F2 } fragment F2 on Query { graphs { id } }`, ``},
		{`{ a: __schema { types { name } } b: __schema { types { name } } }`, ``},
		{`{ __type(name: "Graph") { fields { name type { name ofType { name } } } } }`, ``},
		{`{ graph(id: "teamA") { nodes(first: 1000) { nodes { callers(depth: 100) { name } } } } }`, ``},
		{`subscription { graphChanged(graphId: "other") { kind } }`, ``},
		{`{ graphs { id } graphs { id } graphs { id } }`, `{"x": [1, 2, {"y": null}]}`},
		{`mutation($n: [NodeInput!]!) { upsertNodes(graphId: "teamA", nodes: $n) { id name } }`, `{"n": [{"kind": "FUNCTION", "name": "a\u0001b", "qualifiedName": "q"}]}`},
		{`{ graph(id: "teamA") { search(query: "") { name } stats { nodes } } }`, `null`},
	} {
		f.Add(seed.doc, []byte(seed.vars))
	}
	raw := kvtest.NewStore(f)
	s := store.New(raw, store.Options{})
	ctx := f.Context()
	for _, g := range []string{"teamA", "other"} {
		if _, err := s.CreateGraph(ctx, g); err != nil {
			f.Fatal(err)
		}
	}
	const secret = "SecretNodeOfOther"
	if _, err := s.UpsertNodes(ctx, "other", []ingest.Node{{Kind: ingest.Class, Name: secret, QualifiedName: "p." + secret}}); err != nil {
		f.Fatal(err)
	}
	before, err := s.Graph(ctx, "other")
	if err != nil {
		f.Fatal(err)
	}
	h := graph.NewHandler(&graph.Resolver{Store: s, KV: raw}, graph.HandlerOptions{})
	scoped := auth.Principal{Role: auth.Write, Graphs: map[string]bool{"teamA": true}, ID: "fuzz"}
	f.Fuzz(func(t *testing.T, doc string, vars []byte) {
		req := map[string]any{"query": doc}
		if json.Valid(vars) {
			req["variables"] = json.RawMessage(vars)
		}
		body, err := json.Marshal(req)
		if err != nil {
			return
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		start := time.Now()
		r, _ := http.NewRequestWithContext(auth.With(ctx, scoped), http.MethodPost, "/graphql", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		elapsed := time.Since(start)
		runtime.ReadMemStats(&m1)
		if elapsed > time.Second {
			t.Errorf("took %v", elapsed)
		}
		if a := m1.TotalAlloc - m0.TotalAlloc; a > 64<<20 {
			t.Errorf("allocated %d bytes", a)
		}
		if w.Code >= 500 || !json.Valid(w.Body.Bytes()) {
			t.Errorf("status %d, answer %.300q", w.Code, w.Body.Bytes())
		}
		// (Error messages may quote the input, which may name it.)
		if strings.Contains(w.Body.String(), secret) && !strings.Contains(string(body), secret[:8]) {
			t.Fatalf("answer shows graph other's node: %.300s", w.Body.Bytes())
		}
		after, err := s.Graph(ctx, "other")
		if err != nil || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Fatalf("graph other touched: %+v %v", after, err)
		}
		ms, err := s.Graphs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.ID != "teamA" && m.ID != "other" {
				t.Fatalf("scoped token created graph %q", m.ID)
			}
		}
	})
}
