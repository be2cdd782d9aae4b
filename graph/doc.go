// Package graph serves Grafo's code graphs over GraphQL with gqlgen.
//
// schema.graphqls at the repository root is the source of truth;
// generated.go and model/models_gen.go are generated from it (go generate
// ./graph/... from the root), *.resolvers.go hold the resolvers, and
// resolver.go the wiring root (Resolver). NewHandler builds the HTTP and
// websocket handler with the limits a public endpoint needs (limits.go): a
// document guard that runs before gqlgen parses and validates (size,
// tokens, selection-set width, fields with fragments expanded, depth,
// __schema count; fragments summarised once, so fan-out is linear), query
// complexity with introspection counted (first: and depth: multiply), a
// byte-bounded query cache, request body size, per-connection and per-node
// subscription budgets, a recover func, and one error presenter
// (errors.go) that maps kv and store sentinels onto extensions.code and
// never echoes a request in full.
//
// Authorization (auth.go) is one field middleware on the root fields of
// queries, mutations and subscriptions: it reads the coerced arguments, so
// a graph id is checked in the form the resolver gets it.
//
// Reads go through per-operation dataloaders (loaders.go), so the edges
// or nodes of many parents are one batched store call; transitive
// callers/callees walk breadth-first with one batch per level, through
// loaders that wait less (a level asks for its whole frontier at once).
// Graph.files and Node.edges page with per-item cursors (pages.go).
// Subscriptions read the store's Bus, which also carries changes made
// through the other nodes of a cluster.
//
// Node.export (export.go) is Grafo's one exporter of a neighbourhood as
// Mermaid (flowchart, class diagram) or Graphviz DOT; the CLI, the MCP
// neighbourhood tool and the web explorer all ask it. Class diagrams draw
// Whole *-- Part, Whole o-- Part, Parent <|-- Child and Interface <|..
// Impl; the golden files under testdata/export show every relation in
// every format.
package graph
