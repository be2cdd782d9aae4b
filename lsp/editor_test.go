package lsp_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafo/grafo/internal/testutil"
)

// The editor test: Neovim's built-in LSP client, headless, talks to a real
// `grafo lsp` that answers from a real `grafo serve` on loopback, which
// ingested the workspace with `grafo ingest`. Nothing is mocked.

const shopGo = `package shop

// Pricer prices an item.
type Pricer interface {
	Price(item string) int
}

type Flat struct{ Amount int }

func (f Flat) Price(item string) int { return f.Amount }

type Sale struct {
	Flat
	Percent int
}

func (s *Sale) Price(item string) int { return s.Amount * (100 - s.Percent) / 100 }

var Total int

func Checkout(p Pricer, items []string) int {
	for _, it := range items {
		Total += p.Price(it)
	}
	return Total
}

func Größe() int { return len("größe") }

func Emoji() int {
	n := len("😀日本") + Größe() + Checkout(Flat{Amount: 1}, nil)
	return n
}
`

// buildGrafo builds the grafo binary into dir.
func buildGrafo(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "grafo")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/grafo")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building grafo: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string { return testutil.FreeAddr(t) }

// startNode runs `grafo serve` on loopback until the test ends and returns
// its URL once it is ready.
func startNode(t *testing.T, bin string) string {
	t.Helper()
	httpAddr := freeAddr(t)
	cmd := exec.Command(bin, "serve", "--node-id", "n1", "--data", filepath.Join(t.TempDir(), "data"),
		"--http", httpAddr, "--cluster", freeAddr(t))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	url := "http://" + httpAddr
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url
			}
		}
		select {
		case <-done:
			t.Fatalf("grafo serve exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("grafo serve not ready after 60s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lspRange is an LSP range, as JSON decodes it.
type lspRange struct {
	Start, End struct{ Line, Character int }
}

func (r lspRange) String() string {
	return fmt.Sprintf("%d:%d-%d:%d", r.Start.Line, r.Start.Character, r.End.Line, r.End.Character)
}

type location struct {
	URI   string
	Range lspRange
}

func (l location) String() string { return filepath.Base(l.URI) + ":" + l.Range.String() }

type item struct {
	Name, Detail, URI string
	Range             lspRange
	SelectionRange    lspRange
}

type answer struct {
	Result json.RawMessage
	Error  string
}

func TestNeovim(t *testing.T) {
	nvim, err := exec.LookPath("nvim")
	if err != nil {
		t.Fatal("neovim missing: run make deps")
	}
	tmp := t.TempDir()
	bin := buildGrafo(t, tmp)
	url := startNode(t, bin)

	// The workspace folder's name is the graph's.
	root := filepath.Join(tmp, "shop")
	writeFile(t, filepath.Join(root, "go.mod"), "module example.com/shop\n\ngo 1.22\n")
	writeFile(t, filepath.Join(root, "shop.go"), shopGo)
	if out, err := exec.Command(bin, "ingest", root, "--server", url, "--quiet").CombinedOutput(); err != nil {
		t.Fatalf("grafo ingest: %v\n%s", err, out)
	}

	res := runNeovim(t, nvim, tmp, root, []string{bin, "lsp", "--server", url, "--ingest-on-save"})
	checkNavigation(t, res)
	checkHoverAndSymbols(t, res)
}

// nvimRequest is one request the Lua script sends (testdata/requests.lua).
type nvimRequest struct {
	Name       string `json:"name"`
	Method     string `json:"method"`
	Line       int    `json:"line,omitempty"`
	Needle     string `json:"needle,omitempty"`
	Nth        int    `json:"nth,omitempty"`
	Query      string `json:"query,omitempty"`
	ThenMethod string `json:"then_method,omitempty"`
	Edit       bool   `json:"edit,omitempty"`
	Save       string `json:"save,omitempty"`
}

// nvimRequests are the requests of the editor session, in order.
var nvimRequests = []nvimRequest{
	{Name: "definition_unicode", Method: "textDocument/definition", Line: 30, Needle: "Größe"},
	{Name: "definition_type", Method: "textDocument/definition", Line: 30, Needle: "Flat"},
	{Name: "references", Method: "textDocument/references", Line: 18, Needle: "Total"},
	{Name: "implementation", Method: "textDocument/implementation", Line: 4, Needle: "Price"},
	{Name: "incoming", Method: "textDocument/prepareCallHierarchy", Line: 20, Needle: "Checkout", ThenMethod: "callHierarchy/incomingCalls"},
	{Name: "outgoing", Method: "textDocument/prepareCallHierarchy", Line: 20, Needle: "Checkout", ThenMethod: "callHierarchy/outgoingCalls"},
	{Name: "supertypes", Method: "textDocument/prepareTypeHierarchy", Line: 11, Needle: "Sale", ThenMethod: "typeHierarchy/supertypes"},
	{Name: "subtypes", Method: "textDocument/prepareTypeHierarchy", Line: 3, Needle: "Pricer", ThenMethod: "typeHierarchy/subtypes"},
	{Name: "hover", Method: "textDocument/hover", Line: 30, Needle: "Checkout"},
	{Name: "hover_stale", Method: "textDocument/hover", Line: 30, Needle: "Checkout", Edit: true},
	{Name: "workspace_symbol", Method: "workspace/symbol", Query: "Price"},
	{Name: "document_symbol", Method: "textDocument/documentSymbol"},
	{Name: "nothing_here", Method: "textDocument/definition", Line: 30, Needle: "len"},
	// Last: it changes the file. Line 31 becomes a call of a new
	// function appended at line 34.
	{Name: "after_save", Method: "textDocument/definition", Line: 31, Needle: "Extra", Save: "\treturn n + Extra()"},
}

// runNeovim runs the requests through Neovim's LSP client against cmd
// and returns its answers by request name.
func runNeovim(t *testing.T, nvim, tmp, root string, lspCmd []string) nvimResults {
	t.Helper()
	spec, _ := json.Marshal(map[string]any{
		"root": root, "file": "shop.go", "requests": nvimRequests, "cmd": lspCmd,
	})
	reqFile, resFile := filepath.Join(tmp, "requests.json"), filepath.Join(tmp, "results.json")
	writeFile(t, reqFile, string(spec))
	script, err := filepath.Abs("testdata/requests.lua")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nvim, "--headless", "--clean", "-n", "-i", "NONE", "-c", "luafile "+script)
	cmd.Env = append(os.Environ(), "GRAFO_REQUESTS="+reqFile, "GRAFO_RESULTS="+resFile, "HOME="+tmp, "XDG_STATE_HOME="+tmp, "XDG_DATA_HOME="+tmp)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nvim: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(resFile)
	if err != nil {
		t.Fatalf("no results from nvim: %v", err)
	}
	var res map[string]json.RawMessage
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("results: %v\n%s", err, raw)
	}
	if e, ok := res["error"]; ok {
		t.Fatalf("the Lua script failed: %s", e)
	}
	var enc string
	json.Unmarshal(res["offset_encoding"], &enc)
	if enc != "utf-16" {
		t.Errorf("offset encoding %q, want utf-16 (Neovim 0.7 offers no other)", enc)
	}
	return nvimResults{t, res}
}

// nvimResults are the answers of one editor session.
type nvimResults struct {
	t   *testing.T
	res map[string]json.RawMessage
}

// get decodes the result of the request name into out.
func (r nvimResults) get(name string, out any) {
	t, res := r.t, r.res
	t.Helper()
	var a answer
	if err := json.Unmarshal(res[name], &a); err != nil {
		t.Fatalf("%s: %v in %s", name, err, res[name])
	}
	if a.Error != "" {
		t.Fatalf("%s: error %s", name, a.Error)
	}
	if err := json.Unmarshal(a.Result, out); err != nil {
		t.Fatalf("%s: %v in %s", name, err, a.Result)
	}
}

// locs is the sorted locations a request answered.
func (r nvimResults) locs(name string) string {
	var ls []location
	r.get(name, &ls)
	var out []string
	for _, l := range ls {
		out = append(out, l.String())
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// items is the sorted hierarchy items a request answered.
func (r nvimResults) items(name string) string {
	var its []item
	r.get(name, &its)
	var out []string
	for _, it := range its {
		out = append(out, it.Detail+"@"+filepath.Base(it.URI)+":"+it.SelectionRange.String())
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func checkEqual(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// checkNavigation: definitions, references, implementations and the call
// and type hierarchies, in UTF-16 positions.
func checkNavigation(t *testing.T, r nvimResults) {
	t.Helper()
	get, locs, items := r.get, r.locs, r.items
	check := func(what, got, want string) { t.Helper(); checkEqual(t, what, got, want) }
	// Line 30 is `	n := len("😀日本") + Größe() + Checkout(…)`: the emoji is
	// two UTF-16 units, so Größe starts at unit 20 (character 19).
	check("definition of Größe (non-ASCII line)", locs("definition_unicode"), "shop.go:27:5-27:10")
	check("definition of Flat", locs("definition_type"), "shop.go:7:5-7:9")
	check("references of Total", locs("references"), "shop.go:18:4-18:9 shop.go:22:2-22:7 shop.go:24:8-24:13")
	check("implementations of Pricer.Price", locs("implementation"), "shop.go:16:15-16:20 shop.go:9:14-9:19")

	var in []struct {
		From       item
		FromRanges []lspRange
	}
	get("incoming", &in)
	if len(in) != 1 || in[0].From.Detail != "example.com/shop.Emoji" || len(in[0].FromRanges) != 1 || in[0].FromRanges[0].Start.Line != 30 || in[0].FromRanges[0].Start.Character != 30 {
		t.Errorf("incoming calls of Checkout = %+v, want Emoji calling at 30:30 (UTF-16)", in)
	}
	var outc []struct {
		To         item
		FromRanges []lspRange
	}
	get("outgoing", &outc)
	var callees []string
	for _, o := range outc {
		callees = append(callees, o.To.Detail)
		if len(o.FromRanges) != 1 || o.FromRanges[0].Start.Line != 22 || o.FromRanges[0].Start.Character != 11 {
			t.Errorf("outgoing call to %s from %v, want 22:11", o.To.Detail, o.FromRanges)
		}
	}
	sort.Strings(callees)
	check("outgoing calls of Checkout", strings.Join(callees, " "), "example.com/shop.Flat.Price example.com/shop.Pricer.Price example.com/shop.Sale.Price")

	check("supertypes of Sale", items("supertypes"), "example.com/shop.Flat@shop.go:7:5-7:9 example.com/shop.Pricer@shop.go:3:5-3:11")
	check("subtypes of Pricer", items("subtypes"), "example.com/shop.Flat@shop.go:7:5-7:9 example.com/shop.Sale@shop.go:11:5-11:9")
}

// checkHoverAndSymbols: hover (fresh and on an unsaved edit), workspace
// and document symbols, a builtin, and a definition added by a save.
func checkHoverAndSymbols(t *testing.T, r nvimResults) {
	t.Helper()
	get, locs := r.get, r.locs
	check := func(what, got, want string) { t.Helper(); checkEqual(t, what, got, want) }
	sum := md5.Sum([]byte(shopGo))
	md5hex := hex.EncodeToString(sum[:])
	var hover struct {
		Contents struct{ Kind, Value string }
		Range    lspRange
	}
	get("hover", &hover)
	for _, want := range []string{"example.com/shop.Checkout", "callers: 1", "callees: 3", md5hex, "here: call"} {
		if !strings.Contains(hover.Contents.Value, want) {
			t.Errorf("hover %q lacks %q", hover.Contents.Value, want)
		}
	}
	if strings.Contains(hover.Contents.Value, "differs") {
		t.Errorf("hover of an unchanged buffer says it differs: %q", hover.Contents.Value)
	}
	check("hover range", hover.Range.String(), "30:30-30:38")
	get("hover_stale", &hover)
	if !strings.Contains(hover.Contents.Value, "buffer differs from the ingested file") {
		t.Errorf("hover after an unsaved edit does not say the buffer differs: %q", hover.Contents.Value)
	}

	var syms []struct {
		Name, ContainerName string
		Location            location
	}
	get("workspace_symbol", &syms)
	var names []string
	for _, s := range syms {
		names = append(names, s.ContainerName+"."+s.Name+"@"+s.Location.String())
	}
	for _, want := range []string{"example.com/shop.Pricer@shop.go:3:5-3:11", "example.com/shop.Flat.Price@shop.go:9:14-9:19",
		"example.com/shop.Sale.Price@shop.go:16:15-16:20", "example.com/shop.Pricer.Price@shop.go:4:1-4:6"} {
		if !slices.Contains(names, want) {
			t.Errorf("workspace symbols for Price = %v, missing %s", names, want)
		}
	}

	var doc []struct {
		Name     string
		Children []struct{ Name string }
	}
	get("document_symbol", &doc)
	var outline []string
	for _, d := range doc {
		var kids []string
		for _, c := range d.Children {
			kids = append(kids, c.Name)
		}
		outline = append(outline, d.Name+"("+strings.Join(kids, ",")+")")
	}
	check("document symbols", strings.Join(outline, " "),
		"Pricer(Price) Flat(Amount,Price) Sale(Flat,Percent,Price) Total() Checkout() Größe() Emoji()")

	var none any
	get("nothing_here", &none)
	if none != nil {
		t.Errorf("definition of the builtin len = %v, want null", none)
	}
	check("definition of a function added by a save (--ingest-on-save)", locs("after_save"), "shop.go:34:5-34:10")
}
