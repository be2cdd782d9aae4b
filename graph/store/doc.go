// Package store keeps Grafo's code graphs in the key-value store: graphs,
// files, nodes and edges become rows of a few partitions (the Cassandra
// wide-row model of kv), so that every read the GraphQL API needs is one
// GetMany or a handful of partition scans.
//
// Layout (partition → rows):
//
//	graphs                 {graph} → created time (the list of graphs)
//	g/{graph}              created, updated, lang, source, owner/{oid}, stats/{oid}, b/{bucket}
//	g/{graph}/files        {path} → file record (checksums, language, diagnostics)
//	g/{graph}/n/{node}     meta; out/{REL}/{to}/{oid}; in/{REL}/{from}/{oid};
//	                       r/{oid}/{chunk} → path, then the node's occurrences in that file
//	g/{graph}/o/{oid}      n/{node} → kind, name, span; x/{from}/{chunk} → "REL/to" lines (a
//	                       file's edges, grouped by source); e/{from}/{REL}/{to} (an API
//	                       mutation's edges, one row each); d/{i} spilled diagnostics;
//	                       k/{line/64}/{chunk} → the file's occurrences by line; t/{chunk} →
//	                       the nodes its r/ rows went to; p/{path}\x00{node} (API owner
//	                       only) → span of an upserted node with a path, for nodeAt
//	g/{graph}/name/{bkt}   {lower(name)}\x01{node} → kind (exact and prefix search)
//
// Node ids are a short hash of graph + qualified name, so they are stable
// across re-ingest and any node can compute them without a lookup.
//
// Every node and edge belongs to an owner: the file it came from, the
// synthetic owner of API mutations, or the shared owner of external nodes.
// An owner's index partition (oid = short hash of the owner) lists its
// facts, so replacing or removing a file touches exactly its own rows,
// including the in-rows its edges created on nodes of other files. Edge rows
// carry the owner id in their key, so two owners stating the same relation
// never delete each other's rows.
//
// Occurrences (identifiers naming nodes) are stored twice so that the
// identifier under a cursor is one row-prefix scan of the file's owner
// partition and a node's references one scan of the node's partition (see
// occurrences.go); they are replaced and removed with the file's facts.
//
// Stats are exact and cheap: each file's counts are stored in a
// stats/{oid} row written with its facts; the API and external owners,
// which change a few rows at a time, are counted from their index rows when
// asked.
//
// Lists that can be large read in pages that resume after a row (files,
// a node's edges): a position is a row, so pages neither skip nor repeat
// rows while others are written. The source row says where a graph's
// tree came from (root, git commit and branch; see ingest.Source).
//
// Every change is published on a Bus (see bus.go), which also carries
// changes between the nodes of a cluster.
//
// Caveats: writes are batched and not atomic across keys; the file record
// is written last so an interrupted ingest re-does the file. Edges whose
// other end no longer exists are skipped when read.
package store
