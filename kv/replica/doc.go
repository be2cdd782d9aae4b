// Package replica is the coordinator of Grafo's Dynamo-style store: any
// node coordinates any request. A write goes in parallel to the N replicas
// of its key's partition (the first N distinct nodes clockwise on the
// ring) and is acknowledged after W of them made it durable; a read asks
// the replicas, answers with the newest version once R answered, and
// repairs the stale replicas it saw. Per-request consistency (one, quorum,
// all, linearizable, or explicit W/R) comes in kv.Options.
//
// Replicas that have not answered when the coordinator returns still
// complete in the background: a write that failed to reach W (503) may
// have been applied by some replicas, which keep it. Versions make every
// write idempotent, so retries and repairs converge.
//
// While the ring changes (a node joining or leaving) writes go to the
// union of the current and the future owners, and quorums are counted
// among the current owners, so no acknowledged write is lost across the
// move. The package also serves the replica side of the RPCs (apply, get,
// scan, range streaming, anti-entropy trees and leaves) on the
// node-to-node transport.
//
// Failures: writes for replicas that are down or fail are handed to
// Config.Hints (kv/hints delivers them later; with kv.Options.Sloppy they
// count toward W). AntiEntropy compares Merkle trees of shared ranges with
// every peer and exchanges what differs (see antientropy.go). Linearizable
// writes first read a quorum's versions so that their version follows
// every completed write (ABD); linearizable reads write the newest value
// back to a quorum before answering.
package replica
