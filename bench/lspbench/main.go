// Command lspbench measures `grafo lsp` the way an editor uses it: it
// starts the server on a pipe, picks -n call sites at random in a Go tree
// that a node has ingested (the standard library in bench/lsp.sh), and
// times definition, references, hover, implementation, incomingCalls and
// outgoingCalls at each, one request at a time, printing p50 and p99 per
// request. It offers no partial results, so references and call sites are
// the first page (grafo lsp's --max-results, 100 by default). For
// comparison it also times GraphQL's references(first: 100) directly.
// With -cpu-of it prints the CPU time the node spent per request of each
// kind and in all, which a loaded machine inflates far less than latency.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/uri"

	"github.com/grafo/grafo/kv/client"
)

type site struct {
	file       string // absolute
	rel        string
	line, col  int // LSP: 0-based line, UTF-16 column
	gLine, gCh int // Grafo: 1-based line, character column
}

func main() {
	bin := flag.String("grafo", "grafo", "grafo binary")
	server := flag.String("server", "http://127.0.0.1:7070", "node URL")
	root := flag.String("root", "", "the ingested tree (required)")
	graph := flag.String("graph", "std", "graph name")
	n := flag.Int("n", 200, "call sites")
	exclude := flag.String("exclude", "cmd", "top-level directory of root to leave out (as ingest --exclude)")
	cpuOf := flag.Int("cpu-of", 0, "pid of the node: print the CPU time it spent per request (Linux /proc)")
	flag.Parse()
	if *root == "" {
		fmt.Fprintln(os.Stderr, "lspbench: -root is required")
		os.Exit(2)
	}
	if err := run(*bin, *server, *root, *graph, *exclude, *n, *cpuOf); err != nil {
		fmt.Fprintln(os.Stderr, "lspbench:", err)
		os.Exit(1)
	}
}

// ops are the timed requests, in the order printed.
var ops = []string{"definition", "references", "hover", "incomingCalls", hubCalls, "outgoingCalls", "implementation", "graphql symbolAt+references(first:100)"}

// hubCalls are the incomingCalls of functions with at least hubCallers
// callers listed: the tail of incomingCalls, apart.
const (
	hubCalls   = "incomingCalls, 50+ callers"
	hubCallers = 50
)

// bench is one run: the connection to grafo lsp and what it measured.
type bench struct {
	conn     jsonrpc2.Conn
	gql      *client.Client
	graph    string
	lat      map[string][]time.Duration
	found    map[string]int
	refs     int
	requests int // to the node, through grafo lsp or directly
	pid      int // the node's, for cpu; 0: not measured
	// cpu sums the node's CPU seconds over each op's requests: /proc
	// counts in ticks, but over hundreds of requests the sum is fair.
	cpu     map[string]float64
	lastCPU float64 // of the last request
}

func run(bin, server, root, graph, exclude string, n, cpuOf int) error {
	ctx := context.Background()
	sites, err := pickSites(root, exclude, n)
	if err != nil {
		return err
	}
	conn, stop, err := startLSP(ctx, bin, server, root, graph)
	if err != nil {
		return err
	}
	defer stop()
	b := &bench{conn: conn, gql: client.New(server, client.WithToken(os.Getenv("GRAFO_TOKEN"))), graph: graph,
		lat: map[string][]time.Duration{}, found: map[string]int{}, pid: cpuOf, cpu: map[string]float64{}}
	cpu0 := cpuSeconds(cpuOf)
	for _, s := range sites {
		if err := b.site(ctx, s); err != nil {
			return err
		}
	}
	cpu := cpuSeconds(cpuOf) - cpu0
	conn.Call(ctx, "shutdown", nil, nil)
	conn.Notify(ctx, "exit", nil)
	b.print(root, len(sites))
	if cpuOf > 0 {
		fmt.Printf("node CPU %.3f ms per request (%d requests, %.2f s)\n", cpu*1000/float64(b.requests), b.requests, cpu)
	}
	return nil
}

// startLSP runs grafo lsp on a pipe and initializes it at root.
func startLSP(ctx context.Context, bin, server, root, graph string) (jsonrpc2.Conn, func(), error) {
	cmd := exec.Command(bin, "lsp", "--server", server, "--graph", graph)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	conn := jsonrpc2.NewConn(jsonrpc2.NewStream(pipe{out, in}))
	conn.Go(ctx, jsonrpc2.MethodNotFoundHandler)
	var initRes json.RawMessage
	if _, err := conn.Call(ctx, "initialize", map[string]any{"rootUri": uri.File(root),
		"capabilities": map[string]any{"general": map[string]any{"positionEncodings": []string{"utf-16"}}}}, &initRes); err != nil {
		stop()
		return nil, nil, fmt.Errorf("initialize: %w", err)
	}
	conn.Notify(ctx, "initialized", map[string]any{})
	return conn, stop, nil
}

// call sends one request, timed under op when op is not "".
func (b *bench) call(ctx context.Context, op, method string, params any) (json.RawMessage, error) {
	var res json.RawMessage
	c0, t0 := cpuSeconds(b.pid), time.Now()
	_, err := b.conn.Call(ctx, method, params, &res)
	b.requests++
	if op == "" {
		return res, err
	}
	b.lat[op] = append(b.lat[op], time.Since(t0))
	b.lastCPU = cpuSeconds(b.pid) - c0
	b.cpu[op] += b.lastCPU
	if err == nil && len(res) > 0 && string(res) != "null" && string(res) != "[]" {
		b.found[op]++
	}
	return res, err
}

// site times every request at one call site.
func (b *bench) site(ctx context.Context, s site) error {
	doc := map[string]any{"uri": uri.File(s.file)}
	at := map[string]any{"line": s.line, "character": s.col}
	pos := map[string]any{"textDocument": doc, "position": at}
	for _, r := range []struct {
		op, method string
		params     any
	}{
		{"definition", "textDocument/definition", pos},
		{"references", "textDocument/references", map[string]any{"textDocument": doc, "position": at, "context": map[string]any{"includeDeclaration": true}}},
		{"hover", "textDocument/hover", pos},
		{"implementation", "textDocument/implementation", pos},
	} {
		res, err := b.call(ctx, r.op, r.method, r.params)
		if err != nil {
			return err
		}
		if r.op == "references" {
			var locs []any
			json.Unmarshal(res, &locs)
			b.refs += len(locs)
		}
	}
	if err := b.hierarchy(ctx, pos); err != nil {
		return err
	}
	return b.graphqlReferences(ctx, s)
}

// hierarchy times incoming and outgoing calls of the function at pos.
func (b *bench) hierarchy(ctx context.Context, pos any) error {
	res, err := b.call(ctx, "", "textDocument/prepareCallHierarchy", pos)
	if err != nil {
		return err
	}
	var items []json.RawMessage
	json.Unmarshal(res, &items)
	if len(items) == 0 {
		return nil
	}
	for _, op := range []string{"incomingCalls", "outgoingCalls"} {
		res, err := b.call(ctx, op, "callHierarchy/"+op, map[string]any{"item": items[0]})
		if err != nil {
			return err
		}
		var calls []json.RawMessage
		if json.Unmarshal(res, &calls); op == "incomingCalls" && len(calls) >= hubCallers {
			b.lat[hubCalls] = append(b.lat[hubCalls], b.lat[op][len(b.lat[op])-1])
			b.cpu[hubCalls] += b.lastCPU
		}
	}
	return nil
}

// graphqlReferences times GraphQL's symbolAt + references(first: 100) at
// the site, for scale.
func (b *bench) graphqlReferences(ctx context.Context, s site) error {
	c0, t0 := cpuSeconds(b.pid), time.Now()
	var r any
	err := b.gql.GraphQL(ctx, `query($g: ID!, $p: String!, $l: Int!, $c: Int!) { graph(id: $g) { symbolAt(path: $p, line: $l, column: $c) {
		references(first: 100) { totalCount nodes { file { path } line column endColumn role } } } } }`,
		map[string]any{"g": b.graph, "p": s.rel, "l": s.gLine, "c": s.gCh}, &r)
	b.requests++
	op := ops[len(ops)-1]
	b.lat[op] = append(b.lat[op], time.Since(t0))
	b.cpu[op] += cpuSeconds(b.pid) - c0
	return err
}

func (b *bench) print(root string, sites int) {
	fmt.Printf("# %d call sites in %s (graph %s), one request at a time through grafo lsp\n", sites, root, b.graph)
	for _, op := range ops {
		ds := b.lat[op]
		if len(ds) == 0 {
			continue
		}
		slices.Sort(ds)
		note := ""
		if f, ok := b.found[op]; ok {
			note = fmt.Sprintf("  (%d answered non-empty)", f)
		}
		if op == "references" {
			note += fmt.Sprintf("  (%.0f locations on average)", float64(b.refs)/float64(sites))
		}
		if b.pid > 0 {
			note = fmt.Sprintf("  node CPU %5.2f ms", b.cpu[op]*1000/float64(len(ds))) + note
		}
		fmt.Printf("%-40s n=%4d  p50 %8s  p99 %8s%s\n", op, len(ds), pct(ds, 50), pct(ds, 99), note)
	}
}

// cpuSeconds is the CPU time (user + system) process pid has used; 0
// when pid is 0 or unknown.
func cpuSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces), from the state:
	// utime and stime are the 12th and 13th, in clock ticks (100 a second
	// on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return float64(u+st) / 100
}

func pct(ds []time.Duration, p int) time.Duration {
	i := min(len(ds)-1, len(ds)*p/100)
	return ds[i].Round(10 * time.Microsecond)
}

// pickSites parses random files of the tree (no tests, no testdata) and
// returns n callee identifiers of call expressions.
func pickSites(root, exclude string, n int) ([]site, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			if d.Name() == "testdata" || d.Name() == "vendor" || (exclude != "" && rel == exclude) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var out []site
	for tries := 0; len(out) < n && tries < 20*n; tries++ {
		f := files[rng.IntN(len(files))]
		src, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// Files behind build constraints may not be analysed on this
		// platform; sites there would time only "no answer".
		if strings.Contains(string(src), "//go:build") {
			continue
		}
		fset := token.NewFileSet()
		af, err := parser.ParseFile(fset, f, src, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		var ids []*ast.Ident
		ast.Inspect(af, func(x ast.Node) bool {
			if c, ok := x.(*ast.CallExpr); ok {
				switch fn := c.Fun.(type) {
				case *ast.Ident:
					if !builtins[fn.Name] {
						ids = append(ids, fn)
					}
				case *ast.SelectorExpr:
					ids = append(ids, fn.Sel)
				}
			}
			return true
		})
		if len(ids) == 0 {
			continue
		}
		id := ids[rng.IntN(len(ids))]
		p := fset.Position(id.Pos())
		lineStart := p.Offset - (p.Column - 1)
		prefix := []rune(string(src[lineStart:p.Offset]))
		rel, _ := filepath.Rel(root, f)
		out = append(out, site{file: f, rel: filepath.ToSlash(rel), line: p.Line - 1, col: len(utf16.Encode(prefix)),
			gLine: p.Line, gCh: len(prefix) + 1})
	}
	return out, nil
}

// builtins are skipped: they name no node (nor do conversions and calls
// of local function values, which remain among the sites).
var builtins = map[string]bool{"append": true, "cap": true, "clear": true, "close": true, "complex": true, "copy": true,
	"delete": true, "imag": true, "len": true, "make": true, "max": true, "min": true, "new": true, "panic": true,
	"print": true, "println": true, "real": true, "recover": true, "string": true, "int": true, "byte": true,
	"rune": true, "uint32": true, "uint64": true, "int64": true, "uintptr": true, "float64": true, "error": true}

// pipe joins the server's stdout (read) and stdin (write).
type pipe struct {
	io.ReadCloser
	w io.WriteCloser
}

func (p pipe) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p pipe) Close() error {
	p.w.Close()
	return p.ReadCloser.Close()
}
