// Package model holds the Go types of Grafo's GraphQL schema: the ones
// gqlgen generates (models_gen.go) and the hand-written ones (models.go)
// that carry what their field resolvers need to load lazily (graph id,
// file path, the filter of a connection).
package model
