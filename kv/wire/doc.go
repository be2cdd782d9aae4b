// Package wire is the vocabulary of Grafo's public HTTP API that the server
// (httpapi) and the Go client (kv/client) share, so that the two cannot
// drift apart: the error codes and the JSON error body, the kv sentinel
// each code stands for, and the JSON shapes of the raw key listing and of
// the cluster status. It holds types and constants only, no I/O.
package wire
