package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/grafo/grafo/graph"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/internal/testutil"
	"github.com/grafo/grafo/kv/kvtest"
)

// postRaw posts body to h and returns the status and answer.
func postRaw(h http.Handler, body []byte) (int, []byte) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func postQuery(h http.Handler, q string) gqlResult {
	body, _ := json.Marshal(map[string]any{"query": q})
	_, b := postRaw(h, body)
	var r gqlResult
	json.Unmarshal(b, &r)
	return r
}

func newBareHandler(t testing.TB, o graph.HandlerOptions) http.Handler {
	raw := kvtest.NewStore(t)
	return graph.NewHandler(&graph.Resolver{Store: store.New(raw, store.Options{}), KV: raw}, o)
}

// typeRef is graphql-js's introspection TypeRef: seven ofType levels.
const typeRef = `fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }`

const introspectionQuery = `query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name }
  types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue } interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
` + typeRef

// Introspection is not free: one __schema per document, its fields count
// in depth and complexity. Before, 400 aliases of __schema answered 11 MB
// and neither walk looked inside introspection.
func TestIntrospectionIsCounted(t *testing.T) {
	h := newBareHandler(t, graph.HandlerOptions{})
	if r := postQuery(h, introspectionQuery); len(r.Errors) > 0 || len(r.Data["__schema"]) < 1000 {
		t.Fatalf("the standard introspection query is refused: %+v", r.Errors)
	}
	for _, c := range []struct{ name, q, code, msg string }{
		{"two __schema", `{ a: __schema { queryType { name } } b: __schema { queryType { name } } }`, graph.CodeDocumentLimit, "__schema 2 times"},
		{"__schema in a fragment spread twice", `{ ...S ...S } fragment S on Query { __schema { queryType { name } } }`, graph.CodeDocumentLimit, "__schema 2 times"},
		{"deep introspection", `{ __schema { types { fields { type {` + strings.Repeat(` ofType {`, 12) + ` name` + strings.Repeat(` }`, 12) + ` } } } } }`, graph.CodeDepthLimit, "exceeds the limit of 15"},
		// 4952 without the __schema fields, which push it past 5000.
		{"complexity", `{ graph(id: "g") { nodes(first: 990) { nodes { id name kind qualifiedName } } } __schema { types {` + repeatf(60, " a%d: name") + ` } } }`, graph.CodeComplexityLimit, "exceeds the limit of 5000"},
	} {
		r := postQuery(h, c.q)
		if r.code() != c.code || !strings.Contains(r.Errors[0].Message, c.msg) {
			t.Errorf("%s: got %+v, want %s %q", c.name, r.Errors, c.code, c.msg)
		}
	}
}

// A selection set of 4,000 repeated fields is refused before validation,
// whose overlap check is quadratic in it (3.9 s of CPU before).
func TestWideSelectionRefusedBeforeValidation(t *testing.T) {
	h := newBareHandler(t, graph.HandlerOptions{})
	r := postQuery(h, "{"+strings.Repeat(" graphs { id }", 4000)+" }")
	if r.code() != graph.CodeDocumentLimit || !strings.Contains(r.Errors[0].Message, "4000 selections") {
		t.Fatalf("got %+v", r.Errors)
	}
	// Fragments spread into one set count toward its width.
	q := `{ ...A ...A ...A }` + ` fragment A on Query {` + repeatf(70, " a%d: graphs { id }") + ` }`
	if r := postQuery(h, q); r.code() != graph.CodeDocumentLimit || !strings.Contains(r.Errors[0].Message, "210 selections") {
		t.Fatalf("fragments: got %+v", r.Errors)
	}
	if r := postQuery(h, "{"+repeatf(200, " a%d: graphs { id }")+" }"); len(r.Errors) > 0 {
		t.Fatalf("200 selections are allowed: %+v", r.Errors)
	}
}

// The parsed-document cache is bounded by bytes: before, it kept 1,000
// documents of up to 8 MiB each. Thirty distinct 1 MiB documents leave
// the heap as it was (they are refused), and a hundred 100 KiB ones keep
// at most the cache's 2 MiB of source.
func TestQueryCacheBoundedByBytes(t *testing.T) {
	h := newBareHandler(t, graph.HandlerOptions{})
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for _, c := range []struct {
		n, size int
		limit   uint64
	}{{30, 1 << 20, 4 << 20}, {100, 100 << 10, 8 << 20}} {
		before := heap()
		for i := 0; i < c.n; i++ {
			q := fmt.Sprintf("# %d %s\n{ graphs { id } }", i, strings.Repeat("x", c.size))
			body, _ := json.Marshal(map[string]any{"query": q})
			postRaw(h, body)
		}
		after := heap()
		runtime.KeepAlive(h)
		if after > before && after-before > c.limit {
			t.Errorf("%d documents of %d bytes: heap grew by %d bytes, want at most %d", c.n, c.size, after-before, c.limit)
		}
	}
}

// syncBuffer is a log destination tests can read while handlers write.
type syncBuffer = testutil.Buffer

// A malformed body is not echoed into the answer or the log (before, all
// of a 7 MiB body went to both, and the log line was an ERROR).
func TestMalformedBodyNotEchoed(t *testing.T) {
	var logs syncBuffer
	raw := kvtest.NewStore(t)
	h := graph.NewHandler(&graph.Resolver{Store: store.New(raw, store.Options{}), KV: raw,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, graph.HandlerOptions{})
	for name, body := range map[string]string{
		"not json":       "{" + strings.Repeat("A", 1<<20),
		"query a number": `{"query": 5, "pad": "` + strings.Repeat("B", 1<<20) + `"}`,
		"huge token":     `{"query": "{ ` + strings.Repeat("C", 100<<10) + `( }"}`,
	} {
		status, answer := postRaw(h, []byte(body))
		if len(answer) > 2048 || status < 400 || status >= 500 {
			t.Errorf("%s: status %d, %d bytes answered: %.200s", name, status, len(answer), answer)
		}
		if logs.Len() > 2048 {
			t.Errorf("%s: %d bytes logged", name, logs.Len())
		}
	}
}
