// Package server runs one Grafo node: it opens the bbolt engine in the data
// directory, listens on the cluster address (node-to-node RPC and raft on
// one port), joins or bootstraps the raft-managed membership, starts the
// coordinator and the rebalancer, and serves the public HTTP API (KV,
// GraphQL, web explorer, health, metrics). cmd/grafo only parses flags and
// calls Start.
//
// The public listener serves from the start, behind a gate (gate.go):
// while the node waits to join, and after it has left or been removed,
// every route answers 503 with the reason ("waiting to join ADDR: …", "no
// longer a member of the cluster"), so nothing hangs and health checks say
// why.
//
// It also watches its engine (watcher.go): after repeated failed probes
// the node flags itself unhealthy in the membership, reopens the engine,
// and reports on Node.Failed when that does not help, for the process to
// exit and be restarted. A node started without data.db tells the
// membership it is fresh, so a known id rebuilds before serving.
package server
