// Package ring owns Grafo's consistent-hash ring: which nodes hold the
// replicas of a partition.
//
// Every member gets vnodesPerWeight×Weight tokens on a 64-bit circle. A
// member's tokens are derived only from its id (Hash(id, i)), never from the
// rest of the membership, so every node builds the same ring from the same
// member list and a member keeps its tokens across rebuilds: adding or
// removing a node moves only the ranges that node gains or loses.
//
// A token t owns the range (previous token, t]. The preference list of a
// hash h is the first n distinct members met walking clockwise from the
// first token >= h; the first entry is the primary, the rest its replicas.
// Only a key's partition (kv.Partition) is hashed, so all rows of a
// partition share replicas.
//
// A Ring is immutable and safe for concurrent use; membership changes build
// a new Ring (New, With, Without).
package ring
