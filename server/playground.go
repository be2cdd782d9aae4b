package server

import (
	"net/http"

	"github.com/grafo/grafo/web"
)

// playgroundHandler serves GraphiQL for /graphql. It loads GraphiQL's scripts
// from a CDN, so it needs internet access (without it the page says so and
// points to the explorer's own console, which does not).
func playgroundHandler() http.Handler { return web.Playground("/graphql") }
