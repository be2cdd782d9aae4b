// Command graphload builds a synthetic code graph of -nodes functions and
// -edges CALLS edges through a node's remote-ingest API (the same path
// `grafo ingest` uses), then measures `callers(depth: 3)` of random
// functions with concurrent GraphQL clients and prints p50/p99.
// bench/graph.sh runs it against one node and a three-node cluster.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/remote"
	"github.com/grafo/grafo/kv/client"
)

func main() {
	addrs := flag.String("addrs", "http://127.0.0.1:7070", "comma-separated node URLs")
	nodes := flag.Int("nodes", 100000, "functions")
	edges := flag.Int("edges", 500000, "CALLS edges")
	perFile := flag.Int("per-file", 100, "functions per synthetic file")
	queries := flag.Int("queries", 400, "callers(depth: 3) queries")
	clients := flag.Int("clients", 8, "concurrent query clients")
	graph := flag.String("graph", "bench", "graph name")
	label := flag.String("label", "", "label of the result line")
	skipLoad := flag.Bool("skip-load", false, "only query")
	flag.Parse()
	ctx := context.Background()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 5 * time.Minute}
	var cs []*client.Client
	for _, a := range strings.Split(*addrs, ",") {
		cs = append(cs, client.New(a, client.WithHTTPClient(hc)))
	}
	qn := func(i int) string { return fmt.Sprintf("bench/f%03d.F%d", i / *perFile, i) }
	if !*skipLoad {
		start := time.Now()
		sink := remote.New(cs[0])
		r := rand.New(rand.NewPCG(1, 2))
		files := (*nodes + *perFile - 1) / *perFile
		perNodeEdges := *edges / *nodes
		var batch []ingest.FileFacts
		flush := func() {
			if err := sink.PutFiles(ctx, *graph, batch); err != nil {
				fmt.Fprintln(os.Stderr, "load:", err)
				os.Exit(1)
			}
			batch = batch[:0]
		}
		for f := 0; f < files; f++ {
			path := fmt.Sprintf("f%03d.go", f)
			ff := ingest.FileFacts{File: ingest.File{Path: path, Name: path, MD5: fmt.Sprintf("%032x", f), Adler32: fmt.Sprintf("%08x", f), Language: "go"}}
			for i := f * *perFile; i < min((f+1)**perFile, *nodes); i++ {
				ff.Nodes = append(ff.Nodes, ingest.Node{Kind: ingest.Function, Name: fmt.Sprintf("F%d", i), QualifiedName: qn(i), Path: path, Line: 1 + (i%*perFile)*10, EndLine: 9 + (i%*perFile)*10})
				for e := 0; e < perNodeEdges; e++ {
					ff.Edges = append(ff.Edges, ingest.Edge{From: qn(i), To: qn(r.IntN(*nodes)), Relation: ingest.Calls, Path: path, Line: 2 + (i%*perFile)*10 + e})
				}
			}
			batch = append(batch, ff)
			if len(batch) == 20 {
				flush()
			}
		}
		if len(batch) > 0 {
			flush()
		}
		fmt.Printf("%-24s loaded %d nodes, %d edges in %v\n", *label, *nodes, *edges, time.Since(start).Round(time.Millisecond))
	}
	const q = `query($g: ID!, $q: String!) { graph(id: $g) { node(qualifiedName: $q) { callers(depth: 3) { id } } } }`
	var mu sync.Mutex
	var lat []time.Duration
	total := 0
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < *clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cs[w%len(cs)]
			for i := range work {
				var out struct {
					Graph struct {
						Node struct{ Callers []struct{ ID string } }
					}
				}
				t0 := time.Now()
				err := c.GraphQL(ctx, q, map[string]any{"g": *graph, "q": qn(i)}, &out)
				d := time.Since(t0)
				if err != nil {
					fmt.Fprintln(os.Stderr, "query:", err)
					os.Exit(1)
				}
				mu.Lock()
				lat = append(lat, d)
				total += len(out.Graph.Node.Callers)
				mu.Unlock()
			}
		}()
	}
	r := rand.New(rand.NewPCG(3, 4))
	start := time.Now()
	for i := 0; i < *queries; i++ {
		work <- r.IntN(*nodes)
	}
	close(work)
	wg.Wait()
	el := time.Since(start)
	slices.Sort(lat)
	fmt.Printf("%-24s callers(depth: 3): %d queries, %d clients, %.0f q/s, p50 %v, p99 %v, %.0f callers per answer\n",
		*label, len(lat), *clients, float64(len(lat))/el.Seconds(),
		lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), float64(total)/float64(len(lat)))
}
