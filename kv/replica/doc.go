// Package replica is the coordinator of Grafo's Dynamo-style store: any
// node coordinates any request. A write goes in parallel to the N replicas
// of its key's partition (the first N distinct nodes clockwise on the
// ring) and is acknowledged after W of them made it durable; a read asks
// R replicas — the value from one, versions only (digests) from the
// others, a spare only when one fails or is late — answers with the
// newest version, and repairs the stale replicas it saw (digest.go).
// Per-request consistency (one, quorum, all, linearizable, or explicit
// W/R) comes in kv.Options.
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
// Membership moves stream from live replicas only (rebalance.go): a
// joining node pulls each arc from the member giving it up, or from every
// live owner when that one is dead; a rebuilding node (a replacement, or
// a lost disk: Membership.Alive is false for it until it is up) and the
// repair after a removal pull from every live owner. Anti-entropy keeps
// running meanwhile over the union of current and future owners.
//
// Failures: writes for replicas that are down or fail are handed to
// Config.Hints (kv/hints delivers them later; with kv.Options.Sloppy they
// count toward W). AntiEntropy compares Merkle trees of shared ranges with
// every peer and exchanges what differs (see antientropy.go). Linearizable
// writes first read a quorum's versions so that their version follows
// every completed write (ABD); linearizable reads write the newest value
// back to a quorum before answering.
//
// # Quorum: linearizable without ABD's second round trip
//
// The quorum level (and the default level when the configured W and R are
// majorities) is linearizable per key without paying a round trip more
// than a plain quorum in the common case. Versions are totally ordered
// (hybrid clock timestamp in microseconds, then node id) and unique per
// write attempt; a replica's version of a key only grows. Say a version v
// is complete when a majority holds v or newer: that stays true. A
// linearization orders writes by version and puts each read after the
// write whose value it returns; it respects real time if
//
//	(1) every acknowledged write and every answered read left its version
//	    complete when it returned, and
//	(2) a read returns a version at least as new as every version
//	    complete when it began, and
//	(3) a write's version is newer than every version complete when it
//	    began.
//
// Reads. A read takes R (a majority) answers and returns the newest, which
// gives (2): its answers intersect every majority. When the answers
// disagree it writes the newest back to the stale replicas it read and
// waits for them before answering (one extra round trip, counted by
// grafo_kv_read_writebacks_total), which gives (1): without it, a later
// reader could meet only replicas that still hold the older value. A
// replica that refuses the write-back holds something newer, which serves
// (1) as well. Answers that agree cost nothing more.
//
// Writes. A replica applies a write only if its version is newer than the
// one it holds; otherwise it keeps its cell and answers with its version
// (applyResult). A write is acknowledged once W owners hold its version.
// That gives (3) without reading first: W acceptors intersect the majority
// holding any version complete at the write's start, and that replica took
// the write only because it was newer. It gives (1) too.
//
// When refusals keep a write from W acceptors, its fate depends on where
// its version landed:
//
//   - Nowhere (every replica answered and refused): no reader can have
//     seen it, so the coordinator moves its clock past the newest refused
//     version and sends the write again with a new version (one extra
//     round trip, grafo_kv_write_retries_total). This is the clock-skew
//     case: a write that completed before this one began had a larger
//     timestamp, and without the retry the later, acknowledged write lost
//     (the bug this rule fixes).
//   - Somewhere, or perhaps (a replica failed or did not answer in time):
//     it is acknowledged as is, superseded by the concurrent
//     newer write that W acceptors lacked (grafo_kv_writes_superseded_total);
//     a majority holds it or newer, so (1) holds. It must not be retried:
//     a reader may already have returned it (a reader that met the one
//     replica holding it writes it back), and re-sending the same value
//     above the newer write would let readers see value X, then the newer
//     Y, then X again — no order of two writes explains that. Versions stay
//     unique per attempt, so the first attempt and a retry never mix.
//
// Skipping the retry in the second case is safe for (3) only when the
// newer version that won was not complete before this write began: true
// whenever clocks agree to within a write's round trip (a write that
// completed earlier has an older timestamp), and on one host always. With
// clocks skewed further, a write whose version lands only on a replica
// that missed the earlier write can still be ordered before it: the
// conflict rule catches skew when the earlier write reached every replica
// (the usual case), not always. Concurrent writes are ordered by version,
// as before. Tombstones are writes like any other, so deletes follow the
// same rules.
//
// Down replicas get a hint of a quorum write's final version only, after
// the attempt (a hint never delivers an attempt that was retried). Sloppy
// writes (kv.Options.Sloppy) count hints toward W, so their quorums need
// not intersect: they promise nothing beyond convergence. One, all and
// explicit W/R requests behave as plain Dynamo requests: refusals count as
// acks and reads answer before repairing.
//
// Versions from peers (apply calls, read answers, anti-entropy and
// rebalancing pulls) more than Config.MaxClockSkew ahead of this node's
// clock are refused (ErrVersionAhead): no honest node can have made them,
// and one at 2^64-1 would pin its cell forever. The clock itself
// saturates rather than wraps.
//
// # Files
//
// fanout.go is the one quorum fan-out (a goroutine per live replica,
// counted for Wait, the request's context honoured, late answers handed
// back for hints or repair) and errQuorum, the one "quorum not reached"
// error; write.go, read.go and scan.go (one partition) and scanring.go
// (the whole ring) are the requests built on it; rpc.go and wire.go are
// the replica side and its encoding; batch.go coalesces writes to a peer;
// antientropy.go, rebalance.go and cleanup.go move data in the
// background.
package replica
