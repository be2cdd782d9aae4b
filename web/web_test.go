package web_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"hash/adler32"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/grafo/grafo/graph"
	"github.com/grafo/grafo/graph/model"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv/kvtest"
	"github.com/grafo/grafo/web"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the node view's screenshot to testdata/explorer.png")

const pkg = "example.com/shapes/app"

// fixture is a server with the explorer at / and the real GraphQL handler
// at /graphql over a single-node store, holding graph "demo".
type fixture struct {
	url string
	ids map[string]string // qualified name → node id
}

type clusterInfo struct{}

func (clusterInfo) Cluster(context.Context) (*model.Cluster, error) {
	leader := "n1"
	return &model.Cluster{
		Replicas: 3, WriteQuorum: 2, ReadQuorum: 2, Leader: &leader, HintsPending: 4, Rebalancing: true,
		Nodes: []*model.ClusterNode{
			{ID: "n1", HTTP: "10.0.0.1:7070", Cluster: "10.0.0.1:7071", Weight: 1, State: "up", Vnodes: 128, Keys: 1200},
			{ID: "n2", HTTP: "10.0.0.2:7070", Cluster: "10.0.0.2:7071", Weight: 2, State: "up", Vnodes: 256, Keys: 2400},
			{ID: "n3", HTTP: "10.0.0.3:7070", Cluster: "10.0.0.3:7071", Weight: 1, State: "down", Vnodes: 128, Keys: 1100},
		},
	}, nil
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	kvs := kvtest.NewStore(t)
	st := store.New(kvs, store.Options{Bus: store.NewBus(store.BusOptions{})})
	mux := http.NewServeMux()
	mux.Handle("/graphql", graph.NewHandler(&graph.Resolver{Store: st, KV: kvs, ClusterInfo: clusterInfo{}}, graph.HandlerOptions{}))
	mux.Handle("/", web.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f := &fixture{url: srv.URL, ids: map[string]string{}}

	f.gql(t, `mutation { createGraph(id: "demo") { id } }`, nil)
	ctx := context.Background()
	src := map[string]string{
		"app/main.go":   "package app\n\nfunc main() { run() }\n",
		"app/render.go": "package app\n\nfunc render() {}\n",
		"app/shapes.go": "package app\n\ntype Shape interface{ Area() float64 }\n",
	}
	var facts []ingest.FileFacts
	for path, body := range src {
		sum := md5.Sum([]byte(body))
		facts = append(facts, ingest.FileFacts{File: ingest.File{
			Path: path, Name: filepath.Base(path), MD5: hex.EncodeToString(sum[:]),
			Adler32: fmt.Sprintf("%08x", adler32.Checksum([]byte(body))), Size: int64(len(body)), Language: "go",
		}})
	}
	if err := st.PutFiles(ctx, "demo", facts); err != nil {
		t.Fatalf("put files: %v", err)
	}
	if err := st.SetLanguages(ctx, "demo", []ingest.Language{{Name: "go", Version: "1.26"}}); err != nil {
		t.Fatalf("set languages: %v", err)
	}
	if err := st.SetSource(ctx, "demo", ingest.Source{Root: "/src/demo", Branch: "main", Commit: "0123456789abcdef0123456789abcdef01234567"}); err != nil {
		t.Fatalf("set source: %v", err)
	}

	type n struct {
		kind, name, path string
		line             int
	}
	nodes := []n{
		{"FUNCTION", "main", "app/main.go", 3},
		{"FUNCTION", "run", "app/main.go", 9},
		{"FUNCTION", "serve", "app/main.go", 20},
		{"FUNCTION", "parseFlags", "app/main.go", 31},
		{"FUNCTION", "render", "app/render.go", 3},
		{"VARIABLE", "verbose", "app/main.go", 1},
		{"CLASS", "Shape", "app/shapes.go", 3},
		{"CLASS", "Base", "app/shapes.go", 8},
		{"CLASS", "Circle", "app/shapes.go", 12},
		{"CLASS", "Point", "app/shapes.go", 20},
		{"CLASS", "Canvas", "app/shapes.go", 25},
		{"FUNCTION", "Circle.Area", "app/shapes.go", 16},
	}
	var in []map[string]any
	for _, x := range nodes {
		in = append(in, map[string]any{"kind": x.kind, "name": x.name[strings.LastIndex(x.name, ".")+1:],
			"qualifiedName": pkg + "." + x.name, "path": x.path, "line": x.line, "endLine": x.line + 4})
	}
	f.upsertNodes(t, in)
	pathOf := map[string]string{}
	for _, x := range nodes {
		pathOf[x.name] = x.path
	}
	e := func(from, rel, to string, line int) map[string]any {
		return map[string]any{"from": pkg + "." + from, "to": pkg + "." + to, "relation": rel, "path": pathOf[from], "line": line}
	}
	f.gql(t, `mutation($e: [EdgeInput!]!) { upsertEdges(graphId: "demo", edges: $e) }`, map[string]any{"e": []map[string]any{
		e("main", "CALLS", "run", 4),
		e("run", "CALLS", "parseFlags", 10),
		e("run", "CALLS", "render", 11),
		e("serve", "CALLS", "render", 21),
		e("render", "CALLS", "Circle.Area", 5),
		e("parseFlags", "WRITES", "verbose", 32),
		e("render", "READS", "verbose", 6),
		e("Circle", "INHERITANCE", "Base", 12),
		e("Circle", "REALIZATION", "Shape", 12),
		e("Circle", "COMPOSITION", "Point", 13),
		e("Canvas", "AGGREGATION", "Circle", 26),
		e("Canvas", "ASSOCIATION", "Shape", 27),
		e("Canvas", "DEPENDENCY", "Point", 28),
	}})
	return f
}

func (f *fixture) upsertNodes(t *testing.T, nodes []map[string]any) {
	t.Helper()
	var out struct {
		UpsertNodes []struct{ ID, QualifiedName string }
	}
	f.gqlInto(t, `mutation($n: [NodeInput!]!) { upsertNodes(graphId: "demo", nodes: $n) { id qualifiedName } }`,
		map[string]any{"n": nodes}, &out)
	for _, n := range out.UpsertNodes {
		f.ids[n.QualifiedName] = n.ID
	}
}

func (f *fixture) gql(t *testing.T, query string, vars map[string]any) {
	t.Helper()
	f.gqlInto(t, query, vars, nil)
}

func (f *fixture) gqlInto(t *testing.T, query string, vars map[string]any, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	res, err := http.Post(f.url+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("graphql: %v", err)
	}
	defer res.Body.Close()
	var r struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatalf("graphql: decoding answer (%s): %v", res.Status, err)
	}
	if len(r.Errors) > 0 {
		t.Fatalf("graphql %q: %v", query, r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatalf("graphql: %v", err)
		}
	}
}

// browser is one headless Chromium tab that records console errors and
// uncaught exceptions, and saves a screenshot if the test fails.
type browser struct {
	t    *testing.T
	ctx  context.Context
	mu   sync.Mutex
	errs []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("no chromium on PATH: run make deps (it installs Debian's chromium) or apt-get install -y chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1360, 900),
		// No host name resolves but loopback: the explorer must work with
		// no network beyond its own server.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	err = chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type != runtime.ConsoleAPICalledTypeError {
				return
			}
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			msg = "console.error: " + strings.Join(parts, " ")
		case *log.EventEntryAdded:
			if e.Entry.Level != log.EntryLevelError {
				return
			}
			msg = fmt.Sprintf("log %s: %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL)
		default:
			return
		}
		b.mu.Lock()
		b.errs = append(b.errs, msg)
		b.mu.Unlock()
	})
	if err != nil {
		t.Fatalf("listening to the console: %v", err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		dir := os.Getenv("GRAFO_ARTIFACTS")
		if dir == "" {
			dir = t.TempDir()
		}
		_ = os.MkdirAll(dir, 0o755)
		png, err := b.screenshot()
		if err != nil {
			t.Logf("no failure screenshot: %v", err)
			return
		}
		name := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".png")
		if err := os.WriteFile(name, png, 0o644); err == nil {
			t.Logf("failure screenshot: %s", name)
		}
	})
	return b
}

func (b *browser) screenshot() ([]byte, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.CaptureScreenshot())
}

// snap saves a screenshot named name.png in $GRAFO_ARTIFACTS, if set.
func (b *browser) snap(name string) {
	dir := os.Getenv("GRAFO_ARTIFACTS")
	if dir == "" {
		return
	}
	if png, err := b.screenshot(); err == nil {
		_ = os.MkdirAll(dir, 0o755)
		_ = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
}

// do runs steps, failing the test after 15 s.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) eval(js string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// waitTrue polls the page until js is true.
func (b *browser) waitTrue(what, js string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js)); err != nil {
		b.t.Fatalf("waiting for %s (%s): %v", what, js, err)
	}
}

func (b *browser) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errs {
		b.t.Errorf("browser console: %s", e)
	}
}

func qn(name string) string { return pkg + "." + name }

// TestExplorer walks the explorer on the demo graph, page by page.
func TestExplorer(t *testing.T) {
	f := newFixture(t)
	b := newBrowser(t)
	explorerGraphsPage(t, b, f)
	explorerSearch(t, b)
	explorerCallers(t, b)
	explorerExport(t, b)
	explorerLive(t, b, f)
	explorerClassDiagram(t, b, f)
	explorerCluster(t, b)
	b.checkConsole()
}

// explorerGraphsPage checks the graphs page and its search across every
// graph.
func explorerGraphsPage(t *testing.T, b *browser, f *fixture) {
	// Graphs page.
	b.do("graphs page",
		chromedp.Navigate(f.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#graph-list [data-graph="demo"]`)))
	b.snap("graphs")
	if got := b.eval(`document.querySelector('[data-graph="demo"]').textContent`); !strings.Contains(got, "go 1.26") {
		t.Errorf("graph card misses the language: %q", got)
	}
	if got := b.eval(`document.querySelector('[data-graph="demo"] .source').textContent`); got != "/src/demo @ main 0123456789ab" {
		t.Errorf("graph card's source: %q", got)
	}

	// From the graphs page the search spans every graph and takes a Go
	// method spelling; the method comes first, its graph named beside it.
	b.do("search all graphs",
		chromedp.SendKeys(chromedp.CSS("#search"), "(*Circle).Area"),
		chromedp.WaitVisible(chromedp.CSS(`#search-results [role=option][data-qn="`+qn("Circle.Area")+`"]`)))
	if got := b.eval(`document.querySelector('#search-results [role=option]').dataset.qn + ' ' + document.querySelector('#search-results [role=option] .loc').textContent`); got != qn("Circle.Area")+" demo · app/shapes.go:16" {
		t.Errorf("first result of (*Circle).Area = %q", got)
	}
	b.do("clear search", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#search'); s.value = ''; s.dispatchEvent(new Event('input')); })()`))
}

// explorerSearch opens the demo graph and picks render from the
// type-ahead search with the keyboard.
func explorerSearch(t *testing.T, b *browser) {
	// Type-ahead search, picked with the keyboard.
	b.do("search",
		chromedp.Click(chromedp.CSS(`#graph-list [data-graph="demo"] h2 a`)),
		chromedp.WaitVisible(chromedp.CSS(`#node-list li`)),
		chromedp.SendKeys(chromedp.CSS("#search"), "rend"),
		chromedp.WaitVisible(chromedp.CSS(`#search-results [role=option][data-qn="`+qn("render")+`"]`)))
	b.snap("search")
	b.do("pick with the keyboard",
		chromedp.SendKeys(chromedp.CSS("#search"), kb.ArrowDown),
		chromedp.WaitVisible(chromedp.CSS(`#search-results [aria-selected=true][data-qn="`+qn("render")+`"]`)),
		chromedp.SendKeys(chromedp.CSS("#search"), kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`#node-qn`)))
	if got := b.eval(`document.querySelector('#node-qn').textContent`); got != qn("render") {
		t.Fatalf("node view shows %q, want render", got)
	}
}

// explorerCallers checks render's callers, listed and drawn, then
// clicks through to run.
func explorerCallers(t *testing.T, b *browser) {
	// Its callers, listed and drawn.
	for _, caller := range []string{"run", "serve"} {
		b.do("caller "+caller,
			chromedp.WaitVisible(chromedp.CSS(`section[data-rel=CALLS][data-dir=IN] a[data-qn="`+qn(caller)+`"]`)),
			chromedp.WaitReady(chromedp.CSS(`#graph-svg g.gnode[data-qn="`+qn(caller)+`"]`)),
			chromedp.WaitReady(chromedp.CSS(`#graph-svg path.gedge.CALLS[data-from="`+qn(caller)+`"][data-to="`+qn("render")+`"]`)))
	}
	if got := b.eval(`document.querySelector('#file-md5').textContent`); len(got) != 32 {
		t.Errorf("file md5 = %q", got)
	}

	// Click through to a caller.
	b.do("open run",
		chromedp.Click(chromedp.CSS(`section[data-rel=CALLS][data-dir=IN] a[data-qn="`+qn("run")+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`section[data-rel=CALLS][data-dir=IN] a[data-qn="`+qn("main")+`"]`)),
		chromedp.WaitReady(chromedp.CSS(`#graph-svg g.gnode.center[data-qn="`+qn("run")+`"]`)))
}

// explorerExport exports run's neighbourhood as Mermaid, then as dot.
func explorerExport(t *testing.T, b *browser) {
	// Mermaid export of run's neighbourhood.
	b.do("export",
		chromedp.Click(chromedp.CSS(`#export-btn`)),
		chromedp.WaitVisible(chromedp.CSS(`#export-text`)))
	text := b.eval(`document.querySelector('#export-text').value`)
	for _, want := range []string{"flowchart LR", "app_main --> app_run", "app_run --> app_parseFlags", "app_run --> app_render"} {
		if !strings.Contains(text, want) {
			t.Errorf("mermaid export lacks %q:\n%s", want, text)
		}
	}
	b.do("dot export", chromedp.Click(chromedp.CSS(`#export-dialog input[value=dot]`)))
	if dot := b.eval(`document.querySelector('#export-text').value`); !strings.Contains(dot, `"`+qn("main")+`" -> "`+qn("run")+`"`) {
		t.Errorf("dot export lacks main -> run:\n%s", dot)
	}
	b.do("close export",
		chromedp.Click(chromedp.CSS(`#export-close`)),
		chromedp.WaitNotVisible(chromedp.CSS(`#export-text`)))
}

// explorerLive adds a caller of run while its page is open: it shows
// up, with a toast.
func explorerLive(t *testing.T, b *browser, f *fixture) {
	// Live: a new caller of run arrives while the page is open.
	b.do("live indicator", chromedp.WaitVisible(chromedp.CSS(`#live.on`)))
	b.eval(`document.querySelector('#toast').textContent = ''`)
	f.upsertNodes(t, []map[string]any{{"kind": "FUNCTION", "name": "cli", "qualifiedName": qn("cli"), "path": "app/main.go", "line": 40}})
	f.gql(t, `mutation($e: [EdgeInput!]!) { upsertEdges(graphId: "demo", edges: $e) }`, map[string]any{"e": []map[string]any{
		{"from": qn("cli"), "to": qn("run"), "relation": "CALLS", "path": "app/main.go", "line": 41},
	}})
	b.do("live update",
		chromedp.WaitVisible(chromedp.CSS(`section[data-rel=CALLS][data-dir=IN] a[data-qn="`+qn("cli")+`"]`)),
		chromedp.WaitReady(chromedp.CSS(`#graph-svg g.gnode[data-qn="`+qn("cli")+`"]`)))
	b.waitTrue("toast", `document.querySelector('#toast').textContent.includes('changed')`)
	b.snap("live")
}

// explorerClassDiagram exports a class's neighbourhood as a class
// diagram.
func explorerClassDiagram(t *testing.T, b *browser, f *fixture) {
	// Class relations: a class's neighbourhood exports as a class diagram.
	b.do("class view",
		chromedp.Navigate(f.url+"/#/node/demo/"+f.ids[qn("Circle")]),
		chromedp.WaitVisible(chromedp.CSS(`section[data-rel=INHERITANCE][data-dir=OUT] a[data-qn="`+qn("Base")+`"]`)),
		chromedp.WaitReady(chromedp.CSS(`#graph-svg path.gedge.INHERITANCE[marker-end="url(#triangle)"]`)),
		chromedp.WaitReady(chromedp.CSS(`#graph-svg path.gedge.COMPOSITION[marker-start="url(#diamond-filled)"]`)),
		chromedp.Click(chromedp.CSS(`#export-btn`)),
		chromedp.WaitVisible(chromedp.CSS(`#export-text`)))
	text := b.eval(`document.querySelector('#export-text').value`)
	for _, want := range []string{"classDiagram", "app_Base <|-- app_Circle", "app_Shape <|.. app_Circle", "app_Circle *-- app_Point", "app_Canvas o-- app_Circle"} {
		if !strings.Contains(text, want) {
			t.Errorf("class diagram lacks %q:\n%s", want, text)
		}
	}
	b.do("close export", chromedp.SendKeys(chromedp.CSS(`#export-text`), kb.Escape), chromedp.WaitNotVisible(chromedp.CSS(`#export-text`)))
}

// explorerCluster checks the cluster page.
func explorerCluster(t *testing.T, b *browser) {
	// Cluster page.
	b.do("cluster",
		chromedp.Click(chromedp.CSS(`a[data-nav=cluster]`)),
		chromedp.WaitVisible(chromedp.CSS(`#cluster-nodes tr[data-node=n3]`)))
	b.snap("cluster")
	if got := b.eval(`document.querySelector('#cluster-facts').textContent`); !strings.Contains(got, "Hints pending4") || !strings.Contains(got, "yes") {
		t.Errorf("cluster facts: %q", got)
	}
	if got := b.eval(`document.querySelector('a[href^="#/console?query="]') ? 'yes' : 'no'`); got != "yes" {
		t.Errorf("no example query links to the console")
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	for path, want := range map[string]string{"/": "text/html", "/app.js": "javascript", "/style.css": "text/css"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), want) {
			t.Errorf("GET %s: %s %q", path, res.Status, res.Header.Get("Content-Type"))
		}
	}
	res, err := http.Get(srv.URL + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("GET /nope: %s", res.Status)
	}
}

// TestScreenshot renders the node view of a class at two hops; with
// -update-screenshot it writes testdata/explorer.png for the README.
func TestScreenshot(t *testing.T) {
	f := newFixture(t)
	b := newBrowser(t)
	b.do("node view",
		chromedp.EmulateViewport(1360, 860),
		chromedp.Navigate(f.url+"/#/node/demo/"+f.ids[qn("Circle")]+"?depth=2"),
		chromedp.WaitReady(chromedp.CSS(`#graph-svg g.gnode[data-qn="`+qn("Canvas")+`"]`)),
		chromedp.WaitReady(chromedp.CSS(`#graph-svg g.gnode[data-qn="`+qn("Shape")+`"]`)))
	b.waitTrue("the picture to fit", `(document.querySelector('#graph-svg .viewport').getAttribute('transform') || '').includes('scale')`)
	if *updateScreenshot {
		png, err := b.screenshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "explorer.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Dark mode follows prefers-color-scheme.
	b.do("dark mode", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}))
	b.waitTrue("a dark background", `getComputedStyle(document.body).backgroundColor === 'rgb(18, 21, 27)'`)
	b.snap("explorer-dark")
	b.checkConsole()
}
