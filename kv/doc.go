// Package kv holds what every layer of Grafo's key-value store shares: the
// key codec (partition + row), versions (hybrid logical clock + node id),
// cells (a value or a tombstone under a version), per-request consistency,
// and the sentinel errors that front ends map onto HTTP, GraphQL and RESP
// (each through one Codes table or one switch).
//
// The store itself lives in subpackages, one concept each:
//
//	kv/engine     one node's durable storage on bbolt
//	kv/ring       consistent hashing with weighted virtual nodes
//	kv/cluster    membership and ring metadata through hashicorp/raft
//	kv/transport  node-to-node RPC (and its in-memory twin for tests)
//	kv/replica    the coordinator: quorum writes and reads, repair
//	kv/client     Go client of the public HTTP API
//	kv/wire       the public HTTP API's shared vocabulary (codes, JSON shapes)
//	kv/hints      hinted handoff for replicas that were down
//	kv/kvtest     real stores and clusters for tests
//
// A key is partition + 0x00 + row. Only the partition is hashed onto the
// ring, so every row of a partition lives on the same replicas and sorts
// next to its siblings on disk: a partition is read with one scan. A key
// with no 0x00 is a partition with an empty row, which is how raw
// put/get keys from users are stored.
package kv
