// Package httpapi is the public HTTP face of a Grafo node: the raw
// key-value routes (/v1/kv/{key}), cluster status and membership
// (/v1/cluster), remote ingest (/v1/graphs/{graph}/files), health
// (/healthz, /readyz) and Prometheus metrics (/metrics). The GraphQL API,
// the playground and the web explorer are handlers of their own packages
// that the server mounts next to these.
//
// In front of every route (browser.go, auth.go): the Host check that
// stops DNS rebinding when tokens are off, the refusal of cross-site
// writes and websockets, authentication, and budgets — requests in flight,
// and websockets apart (pending until their connection_init authenticates,
// then established), so long-lived connections cannot starve requests.
// The raw KV routes see the store's user keyspace (kv.UserSpace) only.
//
// Errors are mapped from kv's sentinels onto JSON
// {"error":{"code","message"}} with a fitting status in exactly one place
// (errors.go).
package httpapi
