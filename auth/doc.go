// Package auth owns API tokens: the --tokens file (one `TOKEN ROLE
// [GRAPH,GRAPH…]` a line), roles (read < write < admin), per-graph scoping,
// and the principal a request carries in its context. Tokens are compared
// in constant time and never logged; only a short fingerprint is.
package auth
