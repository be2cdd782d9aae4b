// Package remote implements ingest.Sink over a node's public HTTP API
// (/v1/graphs/{graph}/files…), so `grafo ingest` works against any node of
// a remote cluster: parsing happens where the source is, the graph store
// runs on the node.
package remote
