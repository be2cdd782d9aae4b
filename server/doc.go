// Package server runs one Grafo node: it opens the bbolt engine in the data
// directory, listens on the cluster address (node-to-node RPC and raft on
// one port), joins or bootstraps the raft-managed membership, starts the
// coordinator and the rebalancer, and serves the public HTTP API (KV,
// GraphQL, web explorer, health, metrics). cmd/grafo only parses flags and
// calls Start.
package server
