// Package hints is Grafo's durable hinted-handoff store. When a write is
// meant for a replica that is down or unreachable, the coordinator keeps
// the entries here, in a bbolt file of their own (hints.db next to the
// data), and a background worker delivers them once heartbeats say the
// target is alive again.
//
// Records are keyed by a global sequence number, so the file is ordered
// oldest first: expiry (records older than the window, default 3h) and the
// size bound (the oldest records go first when the store holds more than
// MaxEntries entries) both cut from the front. Delivery is rate limited
// (entries per second) so a returning node is not flooded. A hint is
// deleted only after the target acknowledged it; entries carry their own
// versions, so a hint delivered twice, or after a newer write, changes
// nothing (the newest version wins on the replica).
//
// Hints are a best-effort shortcut: what expires or is dropped is still
// repaired by anti-entropy (kv/replica) and read repair.
package hints
