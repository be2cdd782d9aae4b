package graph_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/graph"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/httpapi"
	"github.com/grafo/grafo/kv/kvtest"
)

// secureEnv is a GraphQL endpoint behind the real HTTP API with tokens on.
type secureEnv struct {
	url   string
	store *store.Store
}

const testTokens = `admin-token-1 admin
scoped-write-a write teamA
scoped-read-a read teamA
`

func newSecureEnv(t *testing.T) *secureEnv {
	t.Helper()
	raw := kvtest.NewStore(t)
	bus := store.NewBus(store.BusOptions{})
	t.Cleanup(bus.Close)
	s := store.New(raw, store.Options{Bus: bus})
	tokens, err := auth.Parse(strings.NewReader(testTokens))
	if err != nil {
		t.Fatal(err)
	}
	gql := graph.NewHandler(&graph.Resolver{Store: s, KV: raw}, graph.HandlerOptions{Authenticate: tokens.Check})
	h := httptest.NewServer(httpapi.New(httpapi.Config{Store: raw, Tokens: tokens, Mounts: map[string]http.Handler{"/graphql": gql}}))
	t.Cleanup(h.Close)
	return &secureEnv{url: h.URL, store: s}
}

type gqlResult struct {
	Data   map[string]json.RawMessage
	Errors []struct {
		Message    string
		Extensions map[string]any
	}
}

// do posts a document with token and returns the decoded answer.
func (e *secureEnv) do(t *testing.T, token, q string, vars map[string]any) gqlResult {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r gqlResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return r
}

func (r gqlResult) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// A token scoped to teamA names other graphs with ID literals of any
// form: int literals and JSON-number variables are coerced to the string
// ids the resolvers use, so the check must see them too. Before the
// coerced arguments were checked, each of these reached graph 4242.
func TestScopeHoldsForNumericGraphIDs(t *testing.T) {
	e := newSecureEnv(t)
	for _, g := range []string{"teamA", "4242"} {
		if r := e.do(t, "admin-token-1", `mutation($g: ID!) { createGraph(id: $g) { id } }`, map[string]any{"g": g}); len(r.Errors) > 0 {
			t.Fatalf("admin createGraph %s: %+v", g, r.Errors)
		}
	}
	node := `[{kind: FUNCTION, name: "x", qualifiedName: "p.x"}]`
	docs := []struct {
		q    string
		vars map[string]any
	}{
		{`mutation { createGraph(id: 9999) { id } }`, nil},
		{`{ graph(id: 4242) { id } }`, nil},
		{`mutation { upsertNodes(graphId: 4242, nodes: ` + node + `) { id } }`, nil},
		{`mutation { upsertEdges(graphId: 4242, edges: []) }`, nil},
		{`mutation { deleteNodes(graphId: 4242, ids: ["a"]) }`, nil},
		{`mutation { deleteGraph(id: 4242) }`, nil},
		{`mutation($g: ID!) { createGraph(id: $g) { id } }`, map[string]any{"g": 9999}},
		{`query($g: ID!) { graph(id: $g) { id } }`, map[string]any{"g": 4242}},
		{`mutation($g: ID!) { upsertNodes(graphId: $g, nodes: ` + node + `) { id } }`, map[string]any{"g": 4242}},
		{`mutation($g: ID!) { deleteGraph(id: $g) }`, map[string]any{"g": 4242.0}},
		{`mutation { a: createGraph(id: "teamA") { id } b: deleteGraph(id: 4242) }`, nil},
	}
	for _, d := range docs {
		r := e.do(t, "scoped-write-a", d.q, d.vars)
		if r.code() != graph.CodeForbidden {
			t.Errorf("%s %v: want FORBIDDEN, got %+v data %s", d.q, d.vars, r.Errors, r.Data)
		}
		if g, ok := r.Data["graph"]; ok && string(g) != "null" {
			t.Errorf("%s: scoped token read graph 4242: %s", d.q, g)
		}
	}
	ms, err := e.store.Graphs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "4242,teamA" {
		t.Fatalf("graphs after the attempts: %v (want 4242 untouched, no 9999)", ids)
	}
	st, err := e.store.Stats(t.Context(), "4242")
	if err != nil || st.Nodes != 0 {
		t.Fatalf("graph 4242 was written: %+v %v", st, err)
	}
	// The scoped token still works on its own graph, also with a numeric
	// spelling of nothing in particular.
	if r := e.do(t, "scoped-write-a", `{ graph(id: "teamA") { id } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("own graph: %+v", r.Errors)
	}
}

// Every root field argument of type ID must either name a graph (and be
// listed for the scope check) or be known not to: a new field cannot slip
// past authorization unnoticed.
func TestEveryGraphArgumentIsAuthorized(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()
	notGraphs := map[string]bool{"Mutation.deleteNodes.ids": true}
	for _, root := range []string{"Query", "Mutation", "Subscription"} {
		for _, f := range schema.Types[root].Fields {
			for _, a := range f.Arguments {
				if a.Type.Name() != "ID" || notGraphs[root+"."+f.Name+"."+a.Name] {
					continue
				}
				if got := graph.GraphArgument(root, f.Name); got != a.Name {
					t.Errorf("%s.%s(%s: ID): the scope check reads argument %q", root, f.Name, a.Name, got)
				}
			}
		}
	}
	// Only root fields are checked: an argument naming graphs anywhere
	// else would bypass the scope.
	for name, typ := range schema.Types {
		if name == "Query" || name == "Mutation" || name == "Subscription" || strings.HasPrefix(name, "__") {
			continue
		}
		for _, f := range typ.Fields {
			for _, a := range f.Arguments {
				if a.Type.Name() == "ID" && strings.Contains(strings.ToLower(a.Name), "graph") {
					t.Errorf("%s.%s(%s): a graph argument below the root is not scope-checked", name, f.Name, a.Name)
				}
			}
		}
	}
}

// A read token scoped to teamA may not subscribe to another graph's
// changes; before subscriptions went through the field check it could.
func TestSubscriptionScope(t *testing.T) {
	e := newSecureEnv(t)
	for _, g := range []string{"teamA", "teamB"} {
		if r := e.do(t, "admin-token-1", `mutation($g: ID!) { createGraph(id: $g) { id } }`, map[string]any{"g": g}); len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
	}
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(e.url, "http")+"/graphql", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	type msg struct {
		ID      string          `json:"id,omitempty"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload,omitempty"`
	}
	conn.WriteJSON(msg{Type: "connection_init", Payload: json.RawMessage(`{"Authorization": "Bearer scoped-read-a"}`)})
	var m msg
	if err := conn.ReadJSON(&m); err != nil || m.Type != "connection_ack" {
		t.Fatalf("init: %v %+v", err, m)
	}
	for i, q := range []string{
		`subscription { graphChanged(graphId: "teamB", since: "2000-01-01T00:00:00Z") { graphId kind } }`,
		`subscription { graphChanged(graphId: 7, since: "2000-01-01T00:00:00Z") { graphId kind } }`,
	} {
		id := string(rune('a' + i))
		p, _ := json.Marshal(map[string]any{"query": q})
		conn.WriteJSON(msg{ID: id, Type: "subscribe", Payload: p})
		for {
			if err := conn.ReadJSON(&m); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if m.Type == "ping" || m.Type == "pong" || m.ID != id {
				continue
			}
			if m.Type == "next" && !strings.Contains(string(m.Payload), graph.CodeForbidden) {
				t.Fatalf("%s: got %s %s, want FORBIDDEN", q, m.Type, m.Payload)
			}
			if m.Type == "error" && !strings.Contains(string(m.Payload), "not scoped") {
				t.Fatalf("%s: got %s %s, want FORBIDDEN", q, m.Type, m.Payload)
			}
			break
		}
	}
}

// The node's subscriptions are bounded as a whole, not only per
// connection: 64 per socket times 1,024 sockets was 5.8 GB of buffers.
func TestNodeSubscriptionBudget(t *testing.T) {
	raw := kvtest.NewStore(t)
	bus := store.NewBus(store.BusOptions{})
	t.Cleanup(bus.Close)
	s := store.New(raw, store.Options{Bus: bus})
	if _, err := s.CreateGraph(t.Context(), "live"); err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(graph.NewHandler(&graph.Resolver{Store: s, KV: raw}, graph.HandlerOptions{MaxSubscriptions: 3}))
	t.Cleanup(h.Close)
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
	type msg struct {
		ID      string          `json:"id,omitempty"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload,omitempty"`
	}
	refused := make(chan string, 4)
	for c := 0; c < 2; c++ {
		conn, _, err := d.Dial("ws"+strings.TrimPrefix(h.URL, "http"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		conn.WriteJSON(msg{Type: "connection_init", Payload: json.RawMessage(`{}`)})
		var m msg
		if err := conn.ReadJSON(&m); err != nil || m.Type != "connection_ack" {
			t.Fatalf("init: %v %+v", err, m)
		}
		for i := 0; i < 2; i++ {
			p, _ := json.Marshal(map[string]any{"query": `subscription { graphChanged(graphId: "live") { kind } }`})
			conn.WriteJSON(msg{ID: string(rune('a' + i)), Type: "subscribe", Payload: p})
		}
		// Four subscriptions on two sockets, budget three: one of them,
		// whichever starts last, is refused.
		go func() {
			for {
				var m msg
				if err := conn.ReadJSON(&m); err != nil {
					return
				}
				if strings.Contains(string(m.Payload), "maximum of 3 subscriptions") {
					refused <- m.ID
				}
			}
		}()
	}
	select {
	case <-refused:
	case <-time.After(10 * time.Second):
		t.Fatal("no subscription refused past the node's budget of 3")
	}
}

// Names holding control characters are refused: a name with 0x01 used to
// be counted in totalCount but never listed or found by search.
func TestNodeNamesWithControlCharacters(t *testing.T) {
	e := newEnv(t)
	e.createGraph(t, "g")
	for _, name := range []string{"a\x01b", "a\x00b", "tab\there"} {
		msg, code := e.errorOf(t, `mutation($n: [NodeInput!]!) { upsertNodes(graphId: "g", nodes: $n) { id } }`,
			map[string]any{"n": []map[string]any{{"kind": "FUNCTION", "name": name, "qualifiedName": "p." + name}}})
		if code != graph.CodeBadRequest || !strings.Contains(msg, "control character") {
			t.Errorf("name %q: %q %q", name, msg, code)
		}
	}
	var r struct {
		Graph struct {
			Nodes struct {
				TotalCount int
				Nodes      []struct{ Name string }
			}
		}
	}
	e.post(t, `{ graph(id: "g") { nodes(name: "a") { totalCount nodes { name } } } }`, &r)
	if r.Graph.Nodes.TotalCount != len(r.Graph.Nodes.Nodes) {
		t.Fatalf("totalCount %d, listed %d", r.Graph.Nodes.TotalCount, len(r.Graph.Nodes.Nodes))
	}
}
