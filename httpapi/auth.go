package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/grafo/grafo/auth"
)

// authorize is the HTTP side of authorization: it authenticates the bearer
// token (when tokens are on), puts the principal in the request's context
// and checks the role the route needs. GraphQL operations are checked
// further, per field, by the graph package. It reports whether the request
// may go on; if not, it has answered 401 or 403.
func (a *api) authorize(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	if !a.cfg.Tokens.Enabled() || a.public(r) {
		return r, true
	}
	tok := auth.BearerToken(r.Header.Get("Authorization"))
	if tok == "" && r.URL.Path == "/graphql" && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		// Browsers cannot set headers on a websocket: the token comes in
		// connection_init and the graph package checks it there.
		return r, true
	}
	p, err := a.cfg.Tokens.Check(tok)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="grafo"`)
		WriteError(w, err)
		return r, false
	}
	if err := p.Require(routeRole(r), routeGraph(r)); err != nil {
		WriteError(w, err)
		return r, false
	}
	if p.Graphs != nil && (strings.HasPrefix(r.URL.Path, kvPrefix) || r.URL.Path == "/v1/kv") {
		WriteError(w, fmt.Errorf("%w: the raw key-value API needs a token not scoped to graphs", auth.ErrForbidden))
		return r, false
	}
	return r.WithContext(auth.With(r.Context(), p)), true
}

// public reports whether r needs no token: liveness and readiness (probes
// carry no secrets and reveal none) and the static pages of the explorer
// and playground, which hold no data — their API calls carry the token.
func (a *api) public(r *http.Request) bool {
	p := r.URL.Path
	switch p {
	case "/healthz", "/readyz":
		return true
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if p == "/" || p == "/playground" {
		return true
	}
	if strings.HasPrefix(p, "/v1/") || p == "/graphql" || p == "/metrics" {
		return false
	}
	for _, ext := range []string{".html", ".js", ".css", ".svg", ".png", ".ico", ".woff2", ".map"} {
		if strings.HasSuffix(p, ext) {
			return true
		}
	}
	return false
}

func routeRole(r *http.Request) auth.Role {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/v1/cluster/"):
		return auth.Admin
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return auth.Read
	case p == "/graphql" || p == "/mcp":
		// Reads and writes share POST; the graph package checks mutations
		// (the MCP tools on HTTP only read).
		return auth.Read
	}
	return auth.Write
}

// routeGraph names the graph a /v1/graphs/{graph}/… route touches.
func routeGraph(r *http.Request) string {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/graphs/")
	if !ok {
		return ""
	}
	g, _, _ := strings.Cut(rest, "/")
	return g
}
