// Package nemesis records histories of concurrent key-value operations
// run against a cluster under fault injection, and checks them with
// porcupine (github.com/anishathalye/porcupine) against a register model
// partitioned by key. Only tests import it.
//
// What is checked, per consistency level (see the README's "Consistency
// and failures"):
//
//   - Linearizable (the quorum and linearizable levels): the whole history
//     must be linearizable.
//   - Regular: every read, taken alone with all the writes of its key,
//     must be linearizable: it returns the value of the latest write that
//     completed before it began, or of a write concurrent with it. Reads
//     are not ordered against each other. It is the weaker check for a
//     store that promises less (quorum promised only this before its reads
//     wrote disagreements back and replicas refused older writes).
//
// A write that failed or timed out may have taken effect on some
// replicas: it is treated as concurrent with everything after its call
// (its return is the end of time), as porcupine allows. Failed reads have
// no effect and are dropped.
package nemesis
