//go:build unix

package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grafo/grafo/graph"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/kv/kvtest"
)

// hostileDocuments are the denial-of-service documents of the red-team
// report, each a few KB to a few MB, each costing seconds of CPU or
// hundreds of MB before the document limits.
func hostileDocuments() map[string]string {
	docs := map[string]string{}
	bomb := func(n int) string {
		var b strings.Builder
		b.WriteString(`query { ...F0 }`)
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, ` fragment F%d on Query { ...F%d ...F%d }`, i, i+1, i+1)
		}
		fmt.Fprintf(&b, ` fragment F%d on Query { graphs { id } }`, n)
		return b.String()
	}
	docs["fragment bomb 20"] = bomb(20)
	docs["fragment bomb 60"] = bomb(60)
	docs["introspection aliases"] = "{" + repeatf(400, " a%d: __schema { types { name fields { name type { name } } } }") + " }"
	docs["40 introspection aliases"] = "{" + repeatf(40, " a%d: __schema { types { name fields { name type { name } } } }") + " }"
	docs["introspection in fragments"] = `{ ...S ...S }` + ` fragment S on Query { __schema { types { name } } }`
	docs["4000 repeated fields"] = "{" + strings.Repeat(" graphs { id }", 4000) + " }"
	docs["4000 aliases"] = "{" + repeatf(4000, " a%d: graphs { id }") + " }"
	docs["deep nesting"] = `{ graph(id: "g") { node(id: "x") {` + strings.Repeat(" callers {", 2000) + " id" + strings.Repeat(" }", 2002) + " }"
	docs["deep braces"] = strings.Repeat("{ a ", 10000) + strings.Repeat("} ", 10000)
	docs["big document"] = "# " + strings.Repeat("x", 4<<20) + "\n{ graphs { id } }"
	docs["document at the body limit"] = "# " + strings.Repeat("x", 8<<20-64) + "\n{ graphs { id } }"
	docs["token flood"] = `{ graphs(x: [` + strings.Repeat("1,", 60000) + `]) { id } }`
	docs["directive flood"] = `{ graphs` + strings.Repeat(" @include(if: true)", 3000) + ` { id } }`
	docs["directive flood 2000"] = `{ graphs` + strings.Repeat(" @include(if: true)", 2000) + ` { id } }`
	docs["1000 unused fragments"] = `{ graphs { id } }` + repeatf(1000, " fragment F%d on Query { graphs { id } }")
	docs["many operations"] = repeatf(3000, " query q%d { graphs { id } }")
	docs["many variables"] = `query(` + repeatf(3000, "$v%d: Int ") + `) { graphs { id } }`
	docs["many fragments"] = `{ ...F0 }` + repeatf(2000, " fragment F%d on Query { graphs { id } }")
	return docs
}

func repeatf(n int, format string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs the request and returns the bytes allocated and the CPU
// time the process spent; the smallest of a few runs, so that the test
// holds on a loaded machine (other processes' CPU never counts; a GC
// cycle started by earlier work might, once).
func measure(h http.Handler, body []byte) (alloc uint64, cpu time.Duration, answer []byte) {
	alloc, cpu = ^uint64(0), time.Hour
	for try := 0; try < 3; try++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c0 := cpuTime()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		c1 := cpuTime()
		runtime.ReadMemStats(&after)
		alloc = min(alloc, after.TotalAlloc-before.TotalAlloc)
		cpu = min(cpu, c1-c0)
		answer = rec.Body.Bytes()
	}
	return alloc, cpu, answer
}

// Every hostile document is refused within 50 ms of CPU and 10 MB of
// allocation, beyond what merely decoding its request body as JSON costs
// (a peer measured in the same run: reading a body is linear in its size,
// which the body limit bounds; what this guards against is work that
// grows faster than the input). Before the document limits the fragment
// bomb took 0.7 s (×4 per two more fragments), 400 introspection aliases
// answered 11 MB, and 4,000 repeated fields took 3.9 s of validation.
func TestHostileDocumentsBudget(t *testing.T) {
	raw := kvtest.NewStore(t)
	s := store.New(raw, store.Options{})
	h := graph.NewHandler(&graph.Resolver{Store: s, KV: raw}, graph.HandlerOptions{})
	const maxAlloc, maxCPU = 10 << 20, 50 * time.Millisecond
	for name, doc := range hostileDocuments() {
		body, _ := json.Marshal(map[string]any{"query": doc})
		alloc, cpu, answer := measure(h, body)
		decode := decodeCPU(body)
		t.Logf("%-28s %8d bytes in, %9d bytes allocated, %v CPU (decoding the body alone: %v), %d bytes out", name, len(body), alloc, cpu, decode, len(answer))
		var r struct {
			Data   json.RawMessage
			Errors []struct {
				Message    string
				Extensions map[string]any
			}
		}
		if err := json.Unmarshal(answer, &r); err != nil || len(r.Errors) == 0 {
			t.Errorf("%s: not refused: %.300s", name, answer)
			continue
		}
		t.Logf("  → %.150s", r.Errors[0].Message)
		if len(answer) > 64<<10 {
			t.Errorf("%s: answer of %d bytes", name, len(answer))
		}
		if alloc > maxAlloc || cpu > maxCPU+decode {
			t.Errorf("%s: %d bytes allocated, %v CPU; budget %d bytes, %v beyond the %v decoding the body takes", name, alloc, cpu, maxAlloc, maxCPU, decode)
		}
	}
}

// decodeCPU is the least CPU of a few runs of decoding body as JSON: the
// linear floor of any request handler that reads it.
func decodeCPU(body []byte) time.Duration {
	best := time.Hour
	for try := 0; try < 3; try++ {
		runtime.GC()
		c0 := cpuTime()
		var v map[string]any
		_ = json.Unmarshal(body, &v)
		best = min(best, cpuTime()-c0)
	}
	return best
}
