package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

const mcpShop = `package shop

import "fmt"

// Store is what handlers need.
type Store interface {
	Get(k string) (string, error)
	Put(k, v string) error
}

type Mem struct{ m map[string]string }

func (s *Mem) Get(k string) (string, error) {
	v, ok := s.m[k]
	if !ok {
		return "", fmt.Errorf("no %s", k)
	}
	return v, nil
}

func (s *Mem) Put(k, v string) error { s.m[k] = v; return nil }

var Default Store = &Mem{m: map[string]string{}}

var hits int

func Lookup(k string) string {
	hits++
	v, _ := Default.Get(k)
	return v
}

func Handler(k string) string { return Lookup(k) }

func Serve() { Handler("x"); Handler("y") }

func Warm() { _ = Lookup("a") }
`

// bearer adds a token to every request of the MCP HTTP client.
type bearer struct{ tok string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return http.DefaultTransport.RoundTrip(r)
}

// mcpText calls a tool and returns its text and whether it is an error.
func mcpText(t *testing.T, cs *sdk.ClientSession, tool string, args map[string]any) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), res.IsError
}

func TestMCP(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	tokens := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(tokens, []byte("admin-tok admin\nshop-tok write shop\n"), 0o600)
	p := newProc(t, "mcp", "--tokens", tokens)

	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/shop\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(src, "shop.go"), []byte(mcpShop), 0o644)
	secret := t.TempDir()
	os.WriteFile(filepath.Join(secret, "go.mod"), []byte("module example.com/secret\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(secret, "s.go"), []byte("package secret\n\nfunc Hidden() {}\n\nfunc Lookup() { Hidden() }\n"), 0o644)
	cmd := exec.Command(grafoBin, "ingest", secret, "--graph", "secret", "--server", p.url(), "--quiet")
	cmd.Env = append(os.Environ(), "GRAFO_TOKEN=admin-tok")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ingest secret: %v\n%s", err, out)
	}

	ctx := context.Background()
	client := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil)

	// stdio: grafo mcp as a subprocess, scoped to shop. Its ingest tool
	// builds the shop graph.
	stdio := exec.Command(grafoBin, "mcp", "--server", p.url())
	stdio.Env = append(os.Environ(), "GRAFO_TOKEN=shop-tok")
	cs, err := client.Connect(ctx, &sdk.CommandTransport{Command: stdio}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if out, isErr := mcpText(t, cs, "ingest", map[string]any{"path": src, "graph": "shop"}); isErr || !strings.Contains(out, "graph shop: 2 files") {
		t.Fatalf("ingest tool: %v %s", isErr, out)
	}

	// HTTP: the node's /mcp, same token.
	hs, err := client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: p.url() + "/mcp",
		HTTPClient: &http.Client{Transport: bearer{"shop-tok"}}, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()

	want := []string{"callees", "callers", "describe", "graph_stats", "impact", "implementations", "list_graphs",
		"neighbourhood", "references", "relations", "search_symbols", "symbol_at"}
	for name, s := range map[string]*sdk.ClientSession{"stdio": cs, "http": hs} {
		var names []string
		for tool, err := range s.Tools(ctx, nil) {
			if err != nil {
				t.Fatal(err)
			}
			if tool.InputSchema == nil {
				t.Errorf("%s: tool %s has no input schema", name, tool.Name)
			}
			names = append(names, tool.Name)
		}
		sort.Strings(names)
		exp := want
		if name == "stdio" {
			exp = append(append([]string{}, want...), "ingest")
			sort.Strings(exp)
		}
		if strings.Join(names, " ") != strings.Join(exp, " ") {
			t.Errorf("%s tools = %v, want %v", name, names, exp)
		}
	}

	for name, s := range map[string]*sdk.ClientSession{"stdio": cs, "http": hs} {
		checkMCPTools(t, name, s, mcpChecks())
		checkMCPImpactAndScope(t, ctx, name, s)
	}

	// No token on HTTP: 401 before any tool runs.
	resp, err := http.Post(p.url()+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /mcp without a token: %d, want 401", resp.StatusCode)
	}
}

// mcpPkg is the fixture's package prefix.
const mcpPkg = "example.com/shop."

// mcpCheck is one tool call and what its answer must hold.
type mcpCheck struct {
	tool string
	args map[string]any
	want []string // substrings, in order
	err  bool
}

// mcpSym are the arguments naming a symbol of the shop graph, plus more
// key, value pairs.
func mcpSym(s string, more ...any) map[string]any {
	m := map[string]any{"graph": "shop", "symbol": s}
	for i := 0; i+1 < len(more); i += 2 {
		m[more[i].(string)] = more[i+1]
	}
	return m
}

// mcpChecks are the answers every tool gives on the shop fixture.
func mcpChecks() []mcpCheck {
	const pkg = mcpPkg
	sym := mcpSym
	return []mcpCheck{
		{"list_graphs", nil, []string{"1 graphs", "shop: 2 files"}, false},
		{"search_symbols", map[string]any{"query": "Mem.Get"}, []string{"shop: FUNCTION " + pkg + "Mem.Get  shop.go:13"}, false},
		{"search_symbols", map[string]any{"query": "Hidden"}, []string{"no symbol matches"}, false},
		{"search_symbols", map[string]any{"query": "Lookup", "limit": 5}, []string{"shop: FUNCTION " + pkg + "Lookup  shop.go:"}, false},
		{"symbol_at", map[string]any{"graph": "shop", "path": "shop.go", "line": 33, "column": 42}, []string{"FUNCTION " + pkg + "Lookup  shop.go:27", "(call at shop.go:33:40-46)", "enclosing: FUNCTION " + pkg + "Handler  shop.go:33"}, false},
		{"symbol_at", map[string]any{"graph": "shop", "path": "shop.go", "line": 28}, []string{"enclosing: FUNCTION " + pkg + "Lookup  shop.go:27"}, false},
		{"describe", sym("(*Mem).Get"), []string{"FUNCTION " + pkg + "Mem.Get  shop.go:13", "lines 13-19 of shop.go (md5 ", "incoming (other → this): CALLS 1"}, false},
		{"describe", sym("Mem.Gett"), []string{"no symbol \"Mem.Gett\" in graph shop; closest names:", pkg + "Mem.Get"}, true},
		{"describe", map[string]any{"graph": "secret", "symbol": "example.com/secret.Hidden"}, []string{"not scoped to graph"}, true},
		{"describe", map[string]any{"graph": "nope", "symbol": "x"}, []string{"not scoped to graph"}, true},
		{"callers", sym("Lookup", "depth", 2), []string{"3 callers of " + pkg + "Lookup within depth 2", pkg + "Handler", pkg + "Warm", pkg + "Serve"}, false},
		{"callees", sym("Lookup"), []string{"2 callees of " + pkg + "Lookup", pkg + "Store.Get", pkg + "Mem.Get"}, false},
		{"references", sym("hits"), []string{"2 references to " + pkg + "hits", "shop.go:25:5-9  definition", "shop.go:28:2-6  write"}, false},
		{"references", sym("fmt.Errorf"), []string{"1 references to fmt.Errorf", "shop.go:16:18-24  call"}, false},
		{"implementations", sym("Store"), []string{"1 implementations of " + pkg + "Store", "CLASS " + pkg + "Mem  shop.go:11"}, false},
		{"implementations", sym("Store.Put"), []string{"FUNCTION " + pkg + "Mem.Put  shop.go:21"}, false},
		{"relations", sym("Lookup", "direction", "OUT", "relation", "READS"), []string{"OUT READS  VARIABLE " + pkg + "Default"}, false},
		{"relations", sym("Lookup", "direction", "sideways"), []string{"direction \"sideways\""}, true},
		{"neighbourhood", sym("Lookup", "format", "dot"), []string{"digraph", "Lookup"}, false},
		{"neighbourhood", sym("Store", "format", "mermaid-class"), []string{"classDiagram", `["Store"]`, `["Mem"]`, "<|.. ", ": realization"}, false},
		{"graph_stats", map[string]any{"graph": "shop"}, []string{"graph shop: 2 files", "FUNCTION ", "CALLS "}, false},
	}
}

// checkMCPTools runs each check through session s.
func checkMCPTools(t *testing.T, name string, s *sdk.ClientSession, checks []mcpCheck) {
	t.Helper()
	for _, c := range checks {
		out, isErr := mcpText(t, s, c.tool, c.args)
		if isErr != c.err {
			t.Errorf("%s %s %v: error=%v, want %v:\n%s", name, c.tool, c.args, isErr, c.err, out)
			continue
		}
		rest := out
		for _, w := range c.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%s %s %v: want %q in\n%s", name, c.tool, c.args, w, out)
				break
			}
			rest = rest[i+len(w):]
		}
	}
}

// checkMCPImpactAndScope checks impact against the fixture, that no tool
// reaches a graph outside the token's scope, and the resources.
func checkMCPImpactAndScope(t *testing.T, ctx context.Context, name string, s *sdk.ClientSession) {
	t.Helper()
	const pkg = mcpPkg
	sym := mcpSym
	// impact equals the set derived by hand from the fixture: Mem.Get
	// is called (through Store.Get) by Lookup; Lookup by Handler and
	// Warm; Handler by Serve.
	out, isErr := mcpText(t, s, "impact", sym("example.com/shop.(*Mem).Get"))
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(\d) (\w+)  FUNCTION (\S+)`).FindAllStringSubmatch(out, -1) {
		got[m[3]] = m[1] + " " + m[2]
	}
	wantImpact := map[string]string{pkg + "Lookup": "1 CALLS", pkg + "Handler": "2 CALLS", pkg + "Warm": "2 CALLS", pkg + "Serve": "3 CALLS"}
	if isErr || len(got) != len(wantImpact) || !strings.HasPrefix(out, "4 symbols may be affected") {
		t.Errorf("%s impact of Mem.Get = %v\n%s", name, got, out)
	}
	for k, v := range wantImpact {
		if got[k] != v {
			t.Errorf("%s impact: %s = %q, want %q", name, k, got[k], v)
		}
	}
	out, _ = mcpText(t, s, "impact", sym("hits", "depth", 1))
	if !strings.Contains(out, "1 WRITES  FUNCTION "+pkg+"Lookup") || strings.Contains(out, "Handler") {
		t.Errorf("%s impact of hits, depth 1:\n%s", name, out)
	}

	// No tool reaches the graph outside the token's scope.
	for _, tool := range []string{"describe", "callers", "callees", "references", "implementations", "relations", "impact", "neighbourhood", "graph_stats", "symbol_at"} {
		args := map[string]any{"graph": "secret", "symbol": "example.com/secret.Hidden"}
		switch tool {
		case "graph_stats":
			delete(args, "symbol")
		case "symbol_at":
			delete(args, "symbol")
			args["path"], args["line"] = "s.go", 3
		}
		out, isErr := mcpText(t, s, tool, args)
		if !isErr || !strings.Contains(out, `not scoped to graph "secret"`) || strings.Contains(out, "Hidden") {
			t.Errorf("%s %s on graph secret with a shop token: error=%v\n%s", name, tool, isErr, out)
		}
	}
	if out, _ := mcpText(t, s, "search_symbols", map[string]any{"graph": "secret", "query": "Hidden"}); !strings.Contains(out, "not scoped") {
		t.Errorf("%s search_symbols in secret: %s", name, out)
	}

	// Resources: only the graphs the token sees.
	var uris []string
	for r, err := range s.Resources(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		uris = append(uris, r.URI)
	}
	if strings.Join(uris, " ") != "grafo://shop/files" {
		t.Errorf("%s resources = %v", name, uris)
	}
	rr, err := s.ReadResource(ctx, &sdk.ReadResourceParams{URI: "grafo://shop/files"})
	if err != nil || len(rr.Contents) != 1 || !regexp.MustCompile(`shop\.go\tgo\t[0-9a-f]{32}\t[0-9a-f]{8}`).MatchString(rr.Contents[0].Text) {
		t.Errorf("%s read grafo://shop/files: %v %+v", name, err, rr)
	}
	if _, err := s.ReadResource(ctx, &sdk.ReadResourceParams{URI: "grafo://secret/files"}); err == nil {
		t.Errorf("%s: a shop token read grafo://secret/files", name)
	}
}
