// Package testutil holds the few helpers tests of every layer share and
// that depend on nothing of Grafo's: waiting for a condition (never a
// fixed sleep) and loopback addresses for processes that must be told
// their ports.
package testutil
