// Package autoscale owns the decision to grow or shrink a cluster: the
// load signals each node reports (Sampler), the rule that turns a window
// of readings into "add a node", "remove this node" or "hold" (Decider),
// and the actuators that ask a real orchestrator for the machine (Exec,
// Docker). It knows nothing of raft or rings: the server hands it a
// Snapshot of the membership and carries out the safe part of a
// scale-in (the leave and its hand-off) before the actuator is called.
//
// The rule, in one paragraph: every signal with a target is compared to
// it as a ratio of the cluster's per-node average. Scale out when some
// ratio stays above 1 for a whole window; scale in when every ratio stays
// below Low for a whole window and the load spread over one node fewer
// would still sit below Settle of its target. Any action starts a
// cooldown. Never below max(min, N), never above max, never while a node
// is down or unhealthy, ranges are moving, or hints are pending.
package autoscale
