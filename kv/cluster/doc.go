// Package cluster owns the membership of a Grafo cluster: which nodes
// exist, their addresses, weights and ring states, and the replication
// settings (N, W, R, virtual nodes). It keeps them in a replicated log with
// github.com/hashicorp/raft, so every node applies the same changes in the
// same order and builds the same rings. Data never goes through raft.
//
// Design:
//
//   - Raft behind one small type. The FSM is unexported and holds only
//     metadata; commands are JSON (rare, human-readable in a dump). Its
//     snapshot is the whole state. Log and stable store are a bbolt file of
//     our own (boltstore.go; raft-boltdb pins an incompatible go-metrics),
//     snapshots are raft's file store, both under Dir/raft.
//   - Raft rides on the node's single cluster port (transport.TCP's
//     RaftLayer); join/state forwarding and heartbeats are transport RPCs.
//     hashicorp/raft does not forward writes, so a follower forwards a
//     change to the leader once; a forwarded change is never forwarded
//     again (a stale leader answers ErrNotLeader and the sender retries).
//   - Life cycle: Joining (write ring only: new writes reach the future
//     owner while its data streams in) → Up (both rings) → Leaving (read
//     ring only, while it hands ranges off) → Left (deleted, and removed
//     from raft). The data layer drives Joining→Up and Leaving→Left.
//   - A member that lost its data (Config.Fresh: a wiped disk, or a
//     replacement started with Config.Replace at a new address) is
//     Joining with Rebuild set: it keeps its tokens in both rings, so
//     nothing else moves, while Serving reports it false until it is Up.
//     A member may flag itself Unhealthy (SetHealth); Serving is false
//     for it too, and State reports it as "unhealthy".
//   - Up to MaxVoters voters; later nodes are non-voters, promoted when a
//     voter leaves. Raft is tuned for a LAN (≈0.5–1 s failover).
//   - Down is not a stored state: each node pings every member each
//     Heartbeat and reports Down after 5 misses in a row. Stored state and
//     heartbeats are kept apart so a flapping link never costs a raft
//     write, and the read ring stays stable while a node is briefly away.
//
// Open returns once this node is a member and caught up: it bootstraps
// when Join is empty and Dir has no raft state, restarts from Dir when it
// has (no flags needed), or asks the Join addresses (any member) to add it,
// retrying until its ctx ends.
package cluster
