package web_test

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/grafo/grafo/graph"
	"github.com/grafo/grafo/graph/model"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	_ "github.com/grafo/grafo/ingest/golang" // the Go frontend
	"github.com/grafo/grafo/kv/kvtest"
	"github.com/grafo/grafo/web"
)

const putQN = "github.com/grafo/grafo/kv/replica.Coordinator.Put"

var updateSelfScreenshot = flag.Bool("update-self-screenshot", false,
	"ingest all of Grafo (slow) and write Coordinator.Put's node view to ../docs/explorer-self.png, the README's picture")

// newSelfServer serves the explorer, GraphiQL and GraphQL over a store
// holding Grafo's own kv/replica package, ingested by the real Go
// frontend, as graph "grafo" (what the README's tour shows).
func newSelfServer(t *testing.T) string {
	t.Helper()
	kvs := kvtest.NewStore(t)
	st := store.New(kvs, store.Options{Bus: store.NewBus(store.BusOptions{})})
	tree := "../kv/replica"
	if *updateSelfScreenshot {
		tree = ".." // the README's picture shows callers from all of Grafo
	}
	if _, err := ingest.Run(context.Background(), tree, "grafo", st, ingest.Options{}); err != nil {
		t.Fatalf("ingest %s: %v", tree, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/graphql", graph.NewHandler(&graph.Resolver{Store: st, KV: kvs, ClusterInfo: soloCluster{}}, graph.HandlerOptions{}))
	mux.Handle("GET /playground", web.Playground("/graphql"))
	mux.Handle("/", web.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// soloCluster is a single node configured for N=3, W=R=2: what the
// README's first command starts.
type soloCluster struct{}

func (soloCluster) Cluster(context.Context) (*model.Cluster, error) {
	leader := "n1"
	return &model.Cluster{Replicas: 3, WriteQuorum: 2, ReadQuorum: 2, Leader: &leader,
		Nodes: []*model.ClusterNode{{ID: "n1", HTTP: "127.0.0.1:7070", Cluster: "127.0.0.1:7071", Weight: 1, State: "up", Vnodes: 128}}}, nil
}

// TestExplorerOnGrafo: on Grafo's own graph, searching Coordinator.Put
// finds it first; its busy two-hop picture is capped and can be expanded;
// the export dialog closes on navigation; the query console completes
// field names and runs a query with no network beyond this server; and
// GraphiQL without its CDN says so instead of "Loading…" forever. The
// browser resolves no host name but loopback, so nothing can come from
// the internet.
func TestExplorerOnGrafo(t *testing.T) {
	url := newSelfServer(t)
	b := newBrowser(t)

	t.Run("search", func(t *testing.T) {
		b.t = t
		selfSearch(t, b, url)
	})

	t.Run("export closes on navigation", func(t *testing.T) {
		b.t = t
		selfExportClosesOnNavigation(t, b)
	})

	t.Run("busy neighbourhood", func(t *testing.T) {
		b.t = t
		selfBusyNeighbourhood(t, b)
	})

	t.Run("console offline", func(t *testing.T) {
		b.t = t
		selfConsoleOffline(t, b, url)
	})

	t.Run("effective settings", func(t *testing.T) {
		b.t = t
		b.do("cluster", chromedp.Navigate(url+"/#/cluster"), chromedp.WaitVisible(chromedp.CSS(`#cluster-facts`)))
		if got := b.eval(`(document.querySelector('#cluster-effective') || {}).textContent || ''`); got != " — effective N=1 W=1 R=1 with 1 node in the ring" {
			t.Errorf("a single node configured for N=3 shows %q", got)
		}
	})

	// The bad query's answer is a 422: expected. Later pages are not ours.
	b.checkConsoleExcept("status of 422")

	t.Run("graphiql offline", func(t *testing.T) {
		b.t = t
		b.do("playground", chromedp.Navigate(url+"/playground"),
			chromedp.WaitVisible(chromedp.CSS(`#graphiql-offline a[href="/#/console"]`)))
	})
}

// selfSearch searches Coordinator.Put from the graphs page, finds it\n// first and opens it (and, with -update-self-screenshot, writes the\n// screenshot of its picture).
func selfSearch(t *testing.T, b *browser, url string) {
	b.do("search Coordinator.Put",
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#graph-list [data-graph="grafo"]`)))
	// A page with nothing to follow live says so, not "offline".
	if got := b.eval(`document.querySelector('#live').textContent`); got != "not live" {
		t.Errorf("live badge on the graphs page = %q, want \"not live\"", got)
	}
	b.do("search",
		chromedp.SendKeys(chromedp.CSS("#search"), "Coordinator.Put"),
		chromedp.WaitVisible(chromedp.CSS(`#search-results [role=option]`)))
	if got := b.eval(`document.querySelector('#search-results [role=option]').dataset.qn`); got != putQN {
		t.Fatalf("first result for Coordinator.Put = %q, want %s", got, putQN)
	}
	b.do("open it", chromedp.SendKeys(chromedp.CSS("#search"), kb.Enter), chromedp.WaitVisible(chromedp.CSS(`#node-qn`)))
	if got := b.eval(`document.querySelector('#node-qn').textContent`); got != putQN {
		t.Fatalf("node view shows %q", got)
	}
	if *updateSelfScreenshot {
		b.waitTrue("the picture to fit", `(document.querySelector('#graph-svg .viewport').getAttribute('transform') || '').includes('scale')`)
		b.do("leave the search box", chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))
		png, err := b.screenshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "explorer-self.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// selfExportClosesOnNavigation opens the export dialog of the node and\n// leaves for Browse nodes: the dialog closes; the list leads with the\n// name inside the package.
func selfExportClosesOnNavigation(t *testing.T, b *browser) {
	b.do("export",
		chromedp.Click(chromedp.CSS(`#export-btn`)),
		chromedp.WaitVisible(chromedp.CSS(`#export-text`)))
	// The dialog is modal: the user leaves with Back or a new address.
	b.do("navigate", chromedp.Evaluate[chromedp.Void](`window.location.hash = '#/graph/grafo'`),
		chromedp.WaitVisible(chromedp.CSS(`#node-list li`)))
	if open := b.eval(`String(document.querySelector('#export-dialog').open)`); open != "false" {
		t.Fatalf("export dialog still open after navigation")
	}
	// Browse nodes leads with the name inside the package, which tells
	// long names apart, and shows the package after it.
	got := b.eval(`(() => { const a = document.querySelector('#node-list a');
		return a.querySelector('.pkg').textContent + '.' + a.querySelector('.short').textContent + ' ' + a.dataset.qn; })()`)
	if parts := strings.Fields(got); len(parts) != 2 || parts[0] != parts[1] || !strings.HasPrefix(parts[0], "github.com/grafo/grafo/kv/replica.") {
		t.Errorf("browse nodes: package + name vs qualified name = %q", got)
	}
}

// selfBusyNeighbourhood goes back to the node at depth 2: the picture is\n// capped at 40 nodes, counts what it leaves out, and can draw all.
func selfBusyNeighbourhood(t *testing.T, b *browser) {
	b.do("depth 2", chromedp.Evaluate[chromedp.Void](`history.back()`), chromedp.WaitVisible(chromedp.CSS(`#node-qn`)),
		chromedp.Click(chromedp.CSS(`input[name=depth][value="2"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#hood-omitted`)))
	if drawn := b.count(`#graph-svg g.gnode`); drawn != 40 {
		t.Errorf("depth 2 draws %d nodes, want the cap of 40", drawn)
	}
	note := b.eval(`document.querySelector('#hood-omitted').textContent`)
	if !regexp.MustCompile(`^Not drawn: \d+ [a-z ]+(, \d+ [a-z ]+)*\. Draw all$`).MatchString(note) {
		t.Errorf("omitted note %q does not count by relation", note)
	}
	b.do("draw all", chromedp.Click(chromedp.CSS(`#hood-all`)),
		chromedp.WaitReady(chromedp.CSS(`#graph-svg`)))
	b.waitTrue("more nodes", `document.querySelectorAll('#graph-svg g.gnode').length > 40`)
}

// selfConsoleOffline opens the query console: it completes field names\n// from the schema, runs a query, shows a syntax error with its position,\n// and loads nothing from elsewhere.
func selfConsoleOffline(t *testing.T, b *browser, url string) {
	b.do("graphs page", chromedp.Navigate(url+"/"), chromedp.WaitVisible(chromedp.CSS(`#graph-list`)))
	if got := b.eval(`String(document.querySelectorAll('.examples a[href^="#/console?query="]').length)`); got == "0" {
		t.Errorf("example queries do not open the console")
	}
	b.do("console",
		chromedp.Click(chromedp.CSS(`a[data-nav=console]`)),
		chromedp.WaitVisible(chromedp.CSS(`#console-query`)),
		chromedp.WaitVisible(chromedp.CSS(`#console-schema[data-ready]`)))
	// Completion from the schema: inside graph(id: …) { … } the
	// fields of Graph are offered.
	b.do("type", chromedp.Evaluate[chromedp.Void](`(() => { const e = document.querySelector('#console-query'); e.value = ''; e.focus(); })()`),
		chromedp.SendKeys(chromedp.CSS(`#console-query`), `{ graph(id: "grafo") { no`),
		chromedp.WaitVisible(chromedp.CSS(`#console-complete [data-name=node]`)))
	offered := b.eval(`Array.from(document.querySelectorAll('#console-complete li')).map((li) => li.dataset.name).join(' ')`)
	if offered != "node nodeAt nodes" {
		t.Errorf("completion inside Graph for %q offers %q, want node nodeAt nodes", "no", offered)
	}
	b.do("accept", chromedp.SendKeys(chromedp.CSS(`#console-query`), kb.ArrowDown+kb.ArrowDown+"\t"))
	if got := b.eval(`document.querySelector('#console-query').value`); got != `{ graph(id: "grafo") { nodes {  }` {
		t.Errorf("after accepting: %q", got)
	}
	b.do("run", chromedp.Evaluate[chromedp.Void](`(() => {
		document.querySelector('#console-query').value = 'query ($q: String!) { search(query: $q, first: 1) { qualifiedName } }';
		document.querySelector('#console-vars').value = '{"q": "(*Coordinator).Put"}'; })()`),
		chromedp.Click(chromedp.CSS(`#console-run`)))
	b.waitTrue("the result", `document.querySelector('#console-result').textContent.includes('`+putQN+`')`)
	if got := b.eval(`document.querySelector('#console-status').textContent`); !strings.HasPrefix(got, "OK in ") {
		t.Errorf("status after run: %q", got)
	}
	// A syntax error shows the server's message with its position.
	b.do("bad query", chromedp.Evaluate[chromedp.Void](`document.querySelector('#console-query').value = '{ graphs { id }'; document.querySelector('#console-vars').value = ''`),
		chromedp.Click(chromedp.CSS(`#console-run`)))
	b.waitTrue("the error", `document.querySelector('#console-result.error') !== null && document.querySelector('#console-result').textContent.includes('Expected')`)
	foreign := b.eval(`performance.getEntriesByType('resource').map((e) => e.name).filter((u) => !u.startsWith(location.origin)).join(' ')`)
	if foreign != "" {
		t.Errorf("the console loaded from elsewhere: %s", foreign)
	}
}

// count is the number of elements matching sel.
func (b *browser) count(sel string) int {
	b.t.Helper()
	n, err := strconv.Atoi(b.eval(`String(document.querySelectorAll(` + strconv.Quote(sel) + `).length)`))
	if err != nil {
		b.t.Fatal(err)
	}
	return n
}

// checkConsoleExcept is checkConsole ignoring messages containing
// allowed; it forgets what it checked.
func (b *browser) checkConsoleExcept(allowed string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errs {
		if !strings.Contains(e, allowed) {
			b.t.Errorf("browser console: %s", e)
		}
	}
	b.errs = nil
}
