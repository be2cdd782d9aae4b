package web

import (
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/99designs/gqlgen/graphql/playground"
)

// playgroundFallback runs before GraphiQL's scripts, which come from a
// CDN: if they have not loaded when the page has (or after 8 s, for a
// network that swallows requests), it replaces GraphiQL's endless
// "Loading…" with what happened and where the offline console is.
const playgroundFallback = `<script>
(function () {
  function check(final) {
    if (window.GraphiQL && window.React) return;
    var el = document.getElementById('graphiql');
    if (!el || (!final && document.readyState !== 'complete')) return;
    el.innerHTML = '<div id="graphiql-offline" style="max-width:40rem;margin:4rem auto;font:16px/1.5 system-ui,sans-serif;padding:0 1rem">' +
      '<h1>GraphiQL could not load</h1><p>Its scripts come from a CDN (unpkg.com, jsdelivr.net) that this browser cannot reach: no internet access, or blocked.</p>' +
      '<p>The explorer has its own query console that needs nothing but this node: <a href="/#/console">open the query console</a>.</p></div>';
  }
  window.addEventListener('load', function () { check(false); });
  setTimeout(function () { check(true); }, 8000);
})();
</script>`

// Playground serves GraphiQL for endpoint (gqlgen's page, which loads its
// scripts from a CDN) with a clear message instead of "Loading…" when
// those scripts cannot load.
func Playground(endpoint string) http.Handler {
	page := playground.Handler("Grafo GraphQL playground", endpoint)
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	html := rec.Body.String()
	if i := strings.Index(html, "<body>"); i >= 0 {
		html = html[:i+len("<body>")] + playgroundFallback + html[i+len("<body>"):]
	}
	body := []byte(html)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(body)
	})
}
