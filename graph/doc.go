// Package graph serves Grafo's code graphs over GraphQL with gqlgen.
//
// schema.graphqls at the repository root is the source of truth;
// generated.go and model/models_gen.go are generated from it (go generate
// ./graph/... from the root), *.resolvers.go hold the resolvers, and
// resolver.go the wiring root (Resolver). NewHandler builds the HTTP and
// websocket handler with the limits a public endpoint needs: query
// complexity (first: and depth: count and are capped), selection depth,
// request body size, a recover func, and one error presenter (errors.go)
// that maps kv and store sentinels onto extensions.code.
//
// Reads go through per-operation dataloaders (loaders.go), so the edges
// or nodes of many parents are one batched store call; transitive
// callers/callees walk breadth-first with one batch per level.
// Subscriptions read the store's Bus, which also carries changes made
// through the other nodes of a cluster.
package graph
