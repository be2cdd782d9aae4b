package graph_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/99designs/gqlgen/client"

	"github.com/grafo/grafo/ingest"
)

// benchSize reads GRAFO_BENCH_NODES (default 2000); edges are five times
// the nodes. GRAFO_BENCH_NODES=100000 is the README's large run.
func benchSize(b *testing.B) int {
	n := 2000
	if v := os.Getenv("GRAFO_BENCH_NODES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 10 {
			b.Fatalf("GRAFO_BENCH_NODES=%q: want a number >= 10", v)
		}
	}
	return n
}

// genGraph ingests n functions in files of 100, each calling five random
// others, through the store's ingest path.
func genGraph(b *testing.B, e *env, graph string, n int) {
	rng := rand.New(rand.NewPCG(1, 2))
	var facts []ingest.FileFacts
	for f := 0; f*100 < n; f++ {
		ff := ingest.FileFacts{File: ingest.File{Path: fmt.Sprintf("f%05d.go", f), Name: "f.go"}}
		for i := f * 100; i < min(n, (f+1)*100); i++ {
			qn := fmt.Sprintf("p.F%d", i)
			ff.Nodes = append(ff.Nodes, ingest.Node{Kind: ingest.Function, Name: fmt.Sprintf("F%d", i), QualifiedName: qn, Line: i%100*10 + 1, EndLine: i%100*10 + 9})
			for k := 0; k < 5; k++ {
				ff.Edges = append(ff.Edges, ingest.Edge{From: qn, To: fmt.Sprintf("p.F%d", rng.IntN(n)), Relation: ingest.Calls, Line: i%100*10 + 2 + k})
			}
		}
		facts = append(facts, ff)
	}
	ctx := context.Background()
	for i := 0; i < len(facts); i += 50 {
		if err := e.store.PutFiles(ctx, graph, facts[i:min(i+50, len(facts))]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCallers(b *testing.B) {
	n := benchSize(b)
	e := newEnv(b)
	genGraph(b, e, "bench", n)
	rng := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	b.ResetTimer()
	total := 0
	for b.Loop() {
		var r struct {
			Graph struct {
				Node struct{ Callers []struct{ ID string } }
			}
		}
		e.post(b, `query($q: String!) { graph(id: "bench") { node(qualifiedName: $q) { callers(depth: 3) { id } } } }`, &r,
			client.Var("q", fmt.Sprintf("p.F%d", rng.IntN(n))))
		total += len(r.Graph.Node.Callers)
	}
	b.ReportMetric(float64(total)/float64(b.N), "callers/op")
}

func BenchmarkIngest(b *testing.B) {
	n := benchSize(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e := newEnv(b)
		genGraph(b, e, fmt.Sprintf("g%d", i), n)
	}
	// Each node writes meta, name and index rows; each edge out, in and index.
	b.ReportMetric(float64(n*3+5*n*3), "rows/op")
}
