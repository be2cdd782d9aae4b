// Command mcpload measures the latency of every MCP tool of a Grafo node
// (/mcp, streamable HTTP, the official SDK's client) on one graph: each
// tool is called ROUNDS times, one call at a time, on symbols sampled from
// the graph (plus a few famous ones), and p50/p99 per tool are printed.
//
//	mcpload -addr http://127.0.0.1:7070 -graph std -rounds 100
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/grafo/grafo/kv/client"
)

func main() {
	addr := flag.String("addr", "http://127.0.0.1:7070", "node URL")
	graph := flag.String("graph", "std", "graph to ask")
	rounds := flag.Int("rounds", 100, "calls per tool")
	target := flag.Duration("target", 50*time.Millisecond, "p99 target per tool")
	flag.Parse()
	ctx := context.Background()

	syms, poss := sampleFunctions(ctx, *addr, *graph)
	// One generator shared by symbol and position picks, so the sequence
	// of calls is reproducible run to run.
	rng := rand.New(rand.NewPCG(1, 2))

	cs, err := sdk.NewClient(&sdk.Implementation{Name: "mcpload", Version: "1"}, nil).Connect(ctx,
		&sdk.StreamableClientTransport{Endpoint: *addr + "/mcp", DisableStandaloneSSE: true}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cs.Close()

	tools := toolCalls(*graph, syms, poss, rng)
	fmt.Printf("%-16s %9s %9s %9s  (%d calls each, one at a time, graph %s)\n", "tool", "p50", "p99", "max", *rounds, *graph)
	missed := 0
	for _, t := range tools {
		if measure(ctx, cs, t, *rounds, *target) {
			missed++
		}
	}
	if missed > 0 {
		fmt.Printf("%d tools over the p99 target of %s\n", missed, *target)
		os.Exit(1)
	}
	fmt.Printf("every tool within the p99 target of %s\n", *target)
}

// pos is a position inside a function: a file path and a 1-based line.
type pos struct {
	path string
	line int
}

// sampleFunctions returns the qualified names of up to 800 functions of
// the graph that have a position, and a position inside each; it exits
// when the graph cannot be asked or has none.
func sampleFunctions(ctx context.Context, addr, graph string) ([]string, []pos) {
	var d struct {
		Graph *struct {
			Nodes struct {
				Nodes []struct {
					QualifiedName string
					Line          *int
					File          *struct{ Path string }
				}
			}
		}
	}
	if err := client.New(addr).GraphQL(ctx, `query($g: ID!) { graph(id: $g) { nodes(kind: FUNCTION, first: 800) { nodes { qualifiedName line file { path } } } } }`,
		map[string]any{"g": graph}, &d); err != nil || d.Graph == nil {
		log.Fatalf("sampling graph %s: %v", graph, err)
	}
	var syms []string
	var poss []pos
	for _, n := range d.Graph.Nodes.Nodes {
		if n.File != nil && n.Line != nil {
			syms = append(syms, n.QualifiedName)
			poss = append(poss, pos{n.File.Path, *n.Line + 1})
		}
	}
	if len(syms) == 0 {
		log.Fatalf("graph %s has no functions with positions", graph)
	}
	return syms, poss
}

// toolCall is one MCP tool and the arguments of its i-th call.
type toolCall struct {
	name string
	args func(i int) map[string]any
}

// toolCalls returns every MCP tool with arguments drawn from the sampled
// symbols and positions; one call in four asks for a famous symbol.
func toolCalls(graph string, syms []string, poss []pos, rng *rand.Rand) []toolCall {
	famous := []string{"fmt.Errorf", "os.Exit", "io.Reader", "sync.Mutex.Lock", "strings.Builder.WriteString", "net/http.Handler", "sort.Interface", "errors.New"}
	sym := func(i int) string {
		if i%4 == 0 {
			return famous[(i/4)%len(famous)]
		}
		return syms[rng.IntN(len(syms))]
	}
	return []toolCall{
		{"list_graphs", func(int) map[string]any { return map[string]any{} }},
		{"search_symbols", func(i int) map[string]any { return map[string]any{"graph": graph, "query": sym(i)} }},
		{"symbol_at", func(i int) map[string]any {
			p := poss[rng.IntN(len(poss))]
			return map[string]any{"graph": graph, "path": p.path, "line": p.line, "column": 2}
		}},
		{"describe", func(i int) map[string]any { return map[string]any{"graph": graph, "symbol": sym(i)} }},
		{"callers", func(i int) map[string]any { return map[string]any{"graph": graph, "symbol": sym(i), "depth": 2} }},
		{"callees", func(i int) map[string]any { return map[string]any{"graph": graph, "symbol": sym(i), "depth": 2} }},
		{"references", func(i int) map[string]any { return map[string]any{"graph": graph, "symbol": sym(i)} }},
		{"implementations", func(i int) map[string]any { return map[string]any{"graph": graph, "symbol": sym(i)} }},
		{"relations", func(i int) map[string]any { return map[string]any{"graph": graph, "symbol": sym(i)} }},
		{"impact", func(i int) map[string]any { return map[string]any{"graph": graph, "symbol": sym(i)} }},
		{"neighbourhood", func(i int) map[string]any { return map[string]any{"graph": graph, "symbol": sym(i), "format": "dot"} }},
		{"graph_stats", func(int) map[string]any { return map[string]any{"graph": graph} }},
	}
}

// measure calls the tool rounds times, one call at a time, prints its
// p50, p99 and max latency, and reports whether its p99 is over target.
// A failed call, or a tool error from any tool but implementations,
// exits.
func measure(ctx context.Context, cs *sdk.ClientSession, t toolCall, rounds int, target time.Duration) bool {
	lat := make([]time.Duration, 0, rounds)
	for i := 0; i < rounds; i++ {
		start := time.Now()
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: t.name, Arguments: t.args(i)})
		if err != nil {
			log.Fatalf("%s: %v", t.name, err)
		}
		lat = append(lat, time.Since(start))
		if res.IsError && t.name != "implementations" {
			log.Fatalf("%s %v: tool error: %v", t.name, t.args(i), res.Content)
		}
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	mark := ""
	over := p(0.99) > target
	if over {
		mark = "  over target"
	}
	fmt.Printf("%-16s %9s %9s %9s%s\n", t.name, p(0.5).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond), mark)
	return over
}
