package mcp

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/kv/client"
)

// Querier runs a GraphQL document and decodes its data into out.
// *kv/client.Client is one.
type Querier interface {
	GraphQL(ctx context.Context, query string, vars map[string]any, out any) error
}

// Options configure a server.
type Options struct {
	// Version is reported to clients; "" means "dev".
	Version string
	// Ingest, when set, adds the ingest tool (stdio only: it reads the
	// local file system). It returns the ingest's summary.
	Ingest func(ctx context.Context, path, graph string) (string, error)
}

// schemas is shared by every server: the HTTP route builds one per request.
var schemas = sdk.NewSchemaCache()

// New returns an MCP server answering from q.
func New(q Querier, o Options) *sdk.Server {
	if o.Version == "" {
		o.Version = "dev"
	}
	s := sdk.NewServer(&sdk.Implementation{Name: "grafo", Title: "Grafo code graph", Version: o.Version}, &sdk.ServerOptions{
		Instructions: "Grafo answers questions about code bases ingested as graphs: who calls a function, " +
			"what implements an interface, who reads or writes a variable, what a change would break. " +
			"Start with list_graphs, find symbols with search_symbols, then ask about a symbol by its " +
			"qualified name (as search_symbols prints it).",
		SchemaCache: schemas,
	})
	t := &tools{q: q}
	t.register(s, o)
	s.AddResourceTemplate(&sdk.ResourceTemplate{
		Name:        "files",
		Title:       "Files of a graph",
		URITemplate: "grafo://{graph}/files",
		Description: "Every file of a graph: path, language, MD5 and Adler-32 of its bytes.",
		MIMEType:    "text/plain",
	}, t.readFiles)
	s.AddReceivingMiddleware(t.listResources)
	return s
}

// NewHTTPHandler serves MCP over streamable HTTP (stateless: each request
// is a session of its own) on a node. Queries run in process on gql, the
// node's GraphQL handler, as the principal the HTTP layer authenticated
// for the request — the same checks as a POST to /graphql.
func NewHTTPHandler(gql http.Handler, o Options) http.Handler {
	o.Ingest = nil // never on HTTP: it would read the node's disk
	// One server per principal, built once: a server is bound to whom it
	// answers for, and building one per request cost more than most tools.
	var mu sync.Mutex
	servers := map[string]*sdk.Server{}
	return sdk.NewStreamableHTTPHandler(func(r *http.Request) *sdk.Server {
		p := auth.From(r.Context())
		key := principalKey(p)
		mu.Lock()
		defer mu.Unlock()
		if s, ok := servers[key]; ok {
			return s
		}
		if len(servers) >= maxServers {
			clear(servers)
		}
		hc := &http.Client{Transport: inProcess{h: gql, p: p}}
		s := New(client.New("http://in-process", client.WithHTTPClient(hc)), o)
		servers[key] = s
		return s
	}, &sdk.StreamableHTTPOptions{Stateless: true, JSONResponse: true, MaxRequestBodyBytes: 1 << 20,
		// The node's HTTP layer already checks Host and Origin for every
		// route; requests reach here with the node's own names.
		DisableLocalhostProtection: true})
}

// maxServers bounds the per-principal servers kept (one per token in use).
const maxServers = 1024

// principalKey names what a principal may do: its token, role and graphs.
func principalKey(p auth.Principal) string {
	gs := make([]string, 0, len(p.Graphs))
	for g := range p.Graphs {
		gs = append(gs, g)
	}
	sort.Strings(gs)
	return fmt.Sprintf("%s|%d|%v|%s", p.ID, p.Role, p.Graphs == nil, strings.Join(gs, "\x00"))
}

// inProcess is an http.RoundTripper that serves requests with h directly,
// carrying the principal p in the request's context.
type inProcess struct {
	h http.Handler
	p auth.Principal
}

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req.WithContext(auth.With(req.Context(), t.p)))
	return rec.Result(), nil
}

// listResources answers resources/list with one resource per visible
// graph: the list changes as graphs come and go, which a static list
// registered at start could not follow.
func (t *tools) listResources(next sdk.MethodHandler) sdk.MethodHandler {
	return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
		if method != "resources/list" {
			return next(ctx, method, req)
		}
		var d struct{ Graphs []struct{ ID string } }
		if err := t.q.GraphQL(ctx, `{ graphs { id } }`, nil, &d); err != nil {
			return nil, err
		}
		res := &sdk.ListResourcesResult{Resources: []*sdk.Resource{}}
		for _, g := range d.Graphs {
			res.Resources = append(res.Resources, &sdk.Resource{URI: "grafo://" + g.ID + "/files", Name: g.ID + " files",
				Title: "Files of graph " + g.ID, MIMEType: "text/plain"})
		}
		return res, nil
	}
}

// readFiles serves grafo://{graph}/files.
func (t *tools) readFiles(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
	uri := req.Params.URI
	g, ok := strings.CutSuffix(strings.TrimPrefix(uri, "grafo://"), "/files")
	if !ok || g == "" || strings.Contains(g, "/") {
		return nil, sdk.ResourceNotFoundError(uri)
	}
	var d struct {
		Graph *struct {
			Files []struct{ Path, Language, Md5, Adler32 string }
		}
	}
	if err := t.q.GraphQL(ctx, `query($g: ID!) { graph(id: $g) { files { path language md5 adler32 } } }`, map[string]any{"g": g}, &d); err != nil {
		return nil, err
	}
	if d.Graph == nil {
		return nil, sdk.ResourceNotFoundError(uri)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d files of graph %s (path, language, md5, adler32)\n", len(d.Graph.Files), g)
	for _, f := range d.Graph.Files {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", f.Path, f.Language, f.Md5, f.Adler32)
	}
	return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: uri, MIMEType: "text/plain", Text: b.String()}}}, nil
}
