// Command graphload builds a synthetic code graph of -nodes functions and
// -edges CALLS edges through a node's remote-ingest API (the same path
// `grafo ingest` uses), then measures `callers(depth: 3)` of random
// functions with concurrent GraphQL clients and prints p50/p99.
// bench/graph.sh runs it against one node and a three-node cluster.
//
// Two helper modes serve the dump/restore part of the benchmark:
// -compare URL checks that the graph at URL answers stats and -queries
// random callers(depth: 3) exactly as the one at -addrs; -exec runs the
// command after the flags with stdout to -out and prints its peak RSS
// (from the kernel's rusage, so nothing samples it).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	perBatch := flag.Int("batch", 20, "files per ingest request")
	concurrency := flag.Int("concurrency", 2*runtime.GOMAXPROCS(0), "ingest requests in flight")
	queries := flag.Int("queries", 400, "callers(depth: 3) queries")
	clients := flag.Int("clients", 8, "concurrent query clients")
	graph := flag.String("graph", "bench", "graph name")
	label := flag.String("label", "", "label of the result line")
	skipLoad := flag.Bool("skip-load", false, "only query")
	compare := flag.String("compare", "", "URL of a node whose graph must answer exactly as -addrs's (stats and -queries random callers)")
	execOut := flag.String("out", "", "with -exec: file for the command's stdout")
	execMode := flag.Bool("exec", false, "run the command after the flags, stdout to -out, and print its peak RSS")
	flag.Parse()
	if *execMode {
		if err := runMeasured(flag.Args(), *execOut, *label); err != nil {
			fmt.Fprintln(os.Stderr, "exec:", err)
			os.Exit(1)
		}
		return
	}
	ctx := context.Background()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 5 * time.Minute}
	var cs []*client.Client
	for _, a := range strings.Split(*addrs, ",") {
		cs = append(cs, client.New(a, client.WithHTTPClient(hc)))
	}
	qn := func(i int) string { return fmt.Sprintf("bench/f%03d.F%d", i / *perFile, i) }
	if *compare != "" {
		other := client.New(*compare, client.WithHTTPClient(hc))
		if err := compareGraphs(ctx, cs[0], other, *graph, *queries, *nodes, qn); err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
			os.Exit(1)
		}
		fmt.Printf("%-24s identical stats and identical answers on %d random callers(depth: 3) queries\n", *label, *queries)
		return
	}
	if !*skipLoad {
		load(ctx, cs[0], loadSpec{graph: *graph, nodes: *nodes, edges: *edges, perFile: *perFile, perBatch: *perBatch,
			concurrency: max(*concurrency, 1), label: *label, qn: qn})
		// Right after a load the nodes still move their logs' backlog
		// into bbolt, and their heaps are over their soft limits: queries
		// then are a figure of their own, and the steady one comes after.
		measureCallers(ctx, cs, *graph, *nodes, *queries, *clients, *label+" (right after the load)", qn)
		settle(hc, strings.Split(*addrs, ","), *label)
	}
	measureCallers(ctx, cs, *graph, *nodes, *queries, *clients, *label, qn)
}

// settle waits until no node holds writes its checkpoints have not moved
// into bbolt yet (grafo_engine_log_entries), at most settleMax.
func settle(hc *http.Client, addrs []string, label string) {
	const settleMax = 10 * time.Minute
	start := time.Now()
	for {
		left, err := logEntries(hc, addrs)
		if err == nil && left == 0 {
			fmt.Printf("%-24s settled %v after the load (the nodes' logs checkpointed into bbolt)\n", label, time.Since(start).Round(100*time.Millisecond))
			return
		}
		if time.Since(start) > settleMax {
			fmt.Printf("%-24s not settled after %v (%d log entries left, err %v): measuring anyway\n", label, settleMax, left, err)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// logEntries sums grafo_engine_log_entries over the nodes' /metrics.
func logEntries(hc *http.Client, addrs []string) (int64, error) {
	var sum int64
	for _, a := range addrs {
		resp, err := hc.Get(strings.TrimRight(a, "/") + "/metrics")
		if err != nil {
			return 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		found := false
		for line := range strings.Lines(string(body)) {
			if v, ok := strings.CutPrefix(line, "grafo_engine_log_entries "); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					return 0, err
				}
				sum += int64(f)
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("%s/metrics has no grafo_engine_log_entries", a)
		}
	}
	return sum, nil
}

// loadSpec is the synthetic graph to load and how to send it.
type loadSpec struct {
	graph                           string
	nodes, edges, perFile, perBatch int
	concurrency                     int // batches in flight
	label                           string
	qn                              func(int) string
}

// A batch that failed is sent again after a pause that doubles up to
// maxPause, for at most batchPatience in all: a load must not fail
// because the machine is slow, only because the cluster stays down.
const (
	maxPause      = 30 * time.Second
	batchPatience = 30 * time.Minute
)

// load writes the synthetic graph: files of perFile functions, each
// calling edges/nodes random others, perBatch files per request, with up
// to concurrency requests in flight (fewer while the cluster refuses
// batches, see gate). The files are generated in order from one seed,
// so every run (and every concurrency) loads the same graph.
func load(ctx context.Context, c *client.Client, sp loadSpec) {
	start := time.Now()
	sink := remote.New(c)
	batches := make(chan []ingest.FileFacts, sp.concurrency)
	g := newGate(sp.concurrency)
	var retries atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < sp.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				retries.Add(int64(sendBatch(ctx, sink, sp.graph, b, g)))
			}
		}()
	}
	genFiles(sp, func(b []ingest.FileFacts) { batches <- b })
	close(batches)
	wg.Wait()
	fmt.Printf("%-24s loaded %d nodes, %d edges in %v (up to %d in flight; %d batches of %d files sent again)\n",
		sp.label, sp.nodes, sp.edges, time.Since(start).Round(time.Millisecond), sp.concurrency, retries.Load(), sp.perBatch)
}

// sendBatch puts one batch through g and returns how many times it was
// sent again. A batch is files replaced as units, so sending it again is
// safe; on an overloaded machine a cluster can time out a quorum now and
// then (the retries are reported). It exits once the batch has failed
// for batchPatience.
func sendBatch(ctx context.Context, sink *remote.Sink, graph string, batch []ingest.FileFacts, g *gate) int {
	first := time.Now()
	pause := time.Second
	for attempt := 1; ; attempt++ {
		g.enter()
		err := sink.PutFiles(ctx, graph, batch)
		g.leave(err == nil)
		if err == nil {
			return attempt - 1
		}
		if time.Since(first) > batchPatience {
			fmt.Fprintf(os.Stderr, "load: a batch failed for %v, %d attempts: %v\n", batchPatience, attempt, err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "load: attempt %d of a batch failed, sending it again in %v: %v\n", attempt, pause, err)
		time.Sleep(pause)
		pause = min(2*pause, maxPause)
	}
}

// gate bounds the requests in flight, additive increase and
// multiplicative decrease: a failed request halves the bound, each run of
// successes as long as the bound raises it by one, up to max. A cluster
// that times out quorums then gets fewer requests while it catches up
// rather than the same load again plus the retries.
type gate struct {
	mu                     sync.Mutex
	cond                   *sync.Cond
	limit, max, active, ok int
}

func newGate(max int) *gate {
	g := &gate{limit: max, max: max}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gate) enter() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.active >= g.limit {
		g.cond.Wait()
	}
	g.active++
}

func (g *gate) leave(ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.active--
	if !ok {
		g.limit, g.ok = max(1, g.limit/2), 0
	} else if g.ok++; g.ok >= g.limit && g.limit < g.max {
		g.limit, g.ok = g.limit+1, 0
	}
	g.cond.Broadcast()
}

// genFiles calls send with each batch of synthetic files, in order.
func genFiles(sp loadSpec, send func([]ingest.FileFacts)) {
	r := rand.New(rand.NewPCG(1, 2))
	files := (sp.nodes + sp.perFile - 1) / sp.perFile
	perNodeEdges := sp.edges / sp.nodes
	var batch []ingest.FileFacts
	for f := 0; f < files; f++ {
		path := fmt.Sprintf("f%03d.go", f)
		ff := ingest.FileFacts{File: ingest.File{Path: path, Name: path, MD5: fmt.Sprintf("%032x", f), Adler32: fmt.Sprintf("%08x", f), Language: "go"}}
		for i := f * sp.perFile; i < min((f+1)*sp.perFile, sp.nodes); i++ {
			line := 1 + (i%sp.perFile)*10
			ff.Nodes = append(ff.Nodes, ingest.Node{Kind: ingest.Function, Name: fmt.Sprintf("F%d", i), QualifiedName: sp.qn(i), Path: path, Line: line, EndLine: line + 8})
			for e := 0; e < perNodeEdges; e++ {
				ff.Edges = append(ff.Edges, ingest.Edge{From: sp.qn(i), To: sp.qn(r.IntN(sp.nodes)), Relation: ingest.Calls, Path: path, Line: line + 1 + e})
			}
		}
		batch = append(batch, ff)
		if len(batch) >= sp.perBatch {
			send(batch)
			batch = nil
		}
	}
	if len(batch) > 0 {
		send(batch)
	}
}

// measureCallers runs queries callers(depth: 3) of random functions from
// clients concurrent clients spread over cs, and prints p50/p99.
func measureCallers(ctx context.Context, cs []*client.Client, graph string, nodes, queries, clients int, label string, qn func(int) string) {
	const q = `query($g: ID!, $q: String!) { graph(id: $g) { node(qualifiedName: $q) { callers(depth: 3) { id } } } }`
	var mu sync.Mutex
	var lat []time.Duration
	total := 0
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < clients; w++ {
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
				err := c.GraphQL(ctx, q, map[string]any{"g": graph, "q": qn(i)}, &out)
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
	for i := 0; i < queries; i++ {
		work <- r.IntN(nodes)
	}
	close(work)
	wg.Wait()
	el := time.Since(start)
	slices.Sort(lat)
	fmt.Printf("%-24s callers(depth: 3): %d queries, %d clients, %.0f q/s, p50 %v, p99 %v, %.0f callers per answer\n",
		label, len(lat), clients, float64(len(lat))/el.Seconds(),
		lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), float64(total)/float64(len(lat)))
}

// compareGraphs fails unless graph answers the same stats and the same
// callers(depth: 3) (as sets of qualified names) of n random functions
// on a and b.
func compareGraphs(ctx context.Context, a, b *client.Client, graph string, n, nodes int, qn func(int) string) error {
	const stats = `query($g: ID!) { graph(id: $g) { stats { files nodes edges byKind { kind count } byRelation { relation count } } } }`
	const callers = `query($g: ID!, $q: String!) { graph(id: $g) { node(qualifiedName: $q) { callers(depth: 3) { qualifiedName } } } }`
	ask := func(c *client.Client, q string, vars map[string]any) (string, error) {
		var out json.RawMessage
		if err := c.GraphQL(ctx, q, vars, &out); err != nil {
			return "", err
		}
		return string(out), nil
	}
	sa, err := ask(a, stats, map[string]any{"g": graph})
	if err != nil {
		return err
	}
	sb, err := ask(b, stats, map[string]any{"g": graph})
	if err != nil {
		return err
	}
	if sa != sb {
		return fmt.Errorf("stats differ:\n  %s\n  %s", sa, sb)
	}
	if !strings.Contains(sa, `"nodes":`) || strings.Contains(sa, `"graph":null`) {
		return fmt.Errorf("no graph %s: %s", graph, sa)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < n; i++ {
		vars := map[string]any{"g": graph, "q": qn(r.IntN(nodes))}
		var names [2][]string
		for j, c := range []*client.Client{a, b} {
			var out struct {
				Graph struct {
					Node *struct {
						Callers []struct{ QualifiedName string }
					}
				}
			}
			if err := c.GraphQL(ctx, callers, vars, &out); err != nil {
				return err
			}
			if out.Graph.Node == nil {
				return fmt.Errorf("%s: no node %s", []string{"original", "restored"}[j], vars["q"])
			}
			for _, n := range out.Graph.Node.Callers {
				names[j] = append(names[j], n.QualifiedName)
			}
			slices.Sort(names[j])
		}
		if !slices.Equal(names[0], names[1]) {
			return fmt.Errorf("callers of %s differ: %d against %d", vars["q"], len(names[0]), len(names[1]))
		}
	}
	return nil
}

// runMeasured runs args with stdout to out and prints the wall time, the
// size written and the child's peak resident set (rusage ru_maxrss, KiB on
// Linux).
func runMeasured(args []string, out, label string) error {
	if len(args) == 0 || out == "" {
		return fmt.Errorf("-exec needs -out FILE and a command after the flags")
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	el := time.Since(start)
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return fmt.Errorf("no rusage on this system")
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	fmt.Printf("%-24s %v, wrote %.1f MiB, peak RSS %.1f MiB\n", label, el.Round(time.Millisecond),
		float64(st.Size())/(1<<20), float64(ru.Maxrss)/1024)
	return nil
}
