package server

import (
	"net/http"

	"github.com/99designs/gqlgen/graphql/playground"
)

// playgroundHandler serves GraphiQL for /graphql. It loads GraphiQL's scripts
// from a CDN, so it needs internet access; the explorer at / does not.
func playgroundHandler() http.Handler {
	return playground.Handler("Grafo GraphQL playground", "/graphql")
}
