// Package client is the Go client of Grafo's public HTTP API: the raw
// key-value routes under /v1/kv, cluster status and membership under
// /v1/cluster, and GraphQL on /graphql. The ingest pipeline, the CLI and
// end-to-end tests all talk to a node through it.
//
// The JSON shapes and error codes are kv/wire's, which the server uses
// too. Wire errors ({"error":{"code","message"}}) come back as *Error, whose
// Unwrap maps codes onto the kv sentinels (kv.ErrNotFound, kv.ErrTooLarge,
// kv.ErrUnavailable, ...) and this package's own (ErrUnauthorized, ...), so
// callers test them with errors.Is exactly as they would against a local
// kv.Store.
//
// Keys are arbitrary bytes. Each is sent as one escaped path segment
// (url.PathEscape, which escapes '/'; a key of "." or ".." has its dots
// escaped too so that no router cleans it away). The server does not route
// keys through a mux pattern: it takes the escaped path after /v1/kv/ and
// unescapes it itself, so any byte survives.
package client
