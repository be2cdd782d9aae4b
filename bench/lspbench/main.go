// Command lspbench measures `grafo lsp` the way an editor uses it: it
// starts the server on a pipe, picks -n call sites at random in a Go tree
// that a node has ingested (the standard library in bench/lsp.sh), and
// times definition, references, incomingCalls and hover at each, one
// request at a time, printing p50 and p99 per request. It offers no
// partial results, so references and incoming calls are the first page
// (grafo lsp's --max-results, 100 by default). For comparison it also
// times GraphQL's references(first: 100) directly.
package main

import (
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
	flag.Parse()
	if *root == "" {
		fmt.Fprintln(os.Stderr, "lspbench: -root is required")
		os.Exit(2)
	}
	if err := run(*bin, *server, *root, *graph, *exclude, *n); err != nil {
		fmt.Fprintln(os.Stderr, "lspbench:", err)
		os.Exit(1)
	}
}

func run(bin, server, root, graph, exclude string, n int) error {
	ctx := context.Background()
	sites, err := pickSites(root, exclude, n)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "lsp", "--server", server, "--graph", graph)
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Process.Kill()
	conn := jsonrpc2.NewConn(jsonrpc2.NewStream(pipe{out, in}))
	conn.Go(ctx, jsonrpc2.MethodNotFoundHandler)
	var initRes json.RawMessage
	if _, err := conn.Call(ctx, "initialize", map[string]any{"rootUri": uri.File(root),
		"capabilities": map[string]any{"general": map[string]any{"positionEncodings": []string{"utf-16"}}}}, &initRes); err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	conn.Notify(ctx, "initialized", map[string]any{})

	lat := map[string][]time.Duration{}
	found := map[string]int{}
	refs := 0
	gql := client.New(server, client.WithToken(os.Getenv("GRAFO_TOKEN")))
	timed := func(op, method string, params any) (json.RawMessage, error) {
		var res json.RawMessage
		t0 := time.Now()
		_, err := conn.Call(ctx, method, params, &res)
		lat[op] = append(lat[op], time.Since(t0))
		if err == nil && len(res) > 0 && string(res) != "null" && string(res) != "[]" {
			found[op]++
		}
		return res, err
	}
	for _, s := range sites {
		pos := map[string]any{"textDocument": map[string]any{"uri": uri.File(s.file)},
			"position": map[string]any{"line": s.line, "character": s.col}}
		if _, err := timed("definition", "textDocument/definition", pos); err != nil {
			return err
		}
		refPos := map[string]any{"textDocument": pos["textDocument"], "position": pos["position"], "context": map[string]any{"includeDeclaration": true}}
		res, err := timed("references", "textDocument/references", refPos)
		if err != nil {
			return err
		}
		var locs []any
		json.Unmarshal(res, &locs)
		refs += len(locs)
		if _, err := timed("hover", "textDocument/hover", pos); err != nil {
			return err
		}
		var items []json.RawMessage
		if _, err := conn.Call(ctx, "textDocument/prepareCallHierarchy", pos, &items); err != nil {
			return err
		}
		if len(items) > 0 {
			if _, err := timed("incomingCalls", "callHierarchy/incomingCalls", map[string]any{"item": items[0]}); err != nil {
				return err
			}
		}
		t0 := time.Now()
		var r any
		err = gql.GraphQL(ctx, `query($g: ID!, $p: String!, $l: Int!, $c: Int!) { graph(id: $g) { symbolAt(path: $p, line: $l, column: $c) {
			references(first: 100) { totalCount nodes { file { path } line column endColumn role } } } } }`,
			map[string]any{"g": graph, "p": s.rel, "l": s.gLine, "c": s.gCh}, &r)
		if err != nil {
			return err
		}
		lat["graphql symbolAt+references(first:100)"] = append(lat["graphql symbolAt+references(first:100)"], time.Since(t0))
	}
	conn.Call(ctx, "shutdown", nil, nil)
	conn.Notify(ctx, "exit", nil)

	fmt.Printf("# %d call sites in %s (graph %s), one request at a time through grafo lsp\n", len(sites), root, graph)
	for _, op := range []string{"definition", "references", "incomingCalls", "hover", "graphql symbolAt+references(first:100)"} {
		ds := lat[op]
		if len(ds) == 0 {
			continue
		}
		slices.Sort(ds)
		note := ""
		if f, ok := found[op]; ok {
			note = fmt.Sprintf("  (%d answered non-empty)", f)
		}
		if op == "references" {
			note += fmt.Sprintf("  (%.0f locations on average)", float64(refs)/float64(len(sites)))
		}
		fmt.Printf("%-40s n=%4d  p50 %8s  p99 %8s%s\n", op, len(ds), pct(ds, 50), pct(ds, 99), note)
	}
	return nil
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
