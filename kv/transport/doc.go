// Package transport is Grafo's node-to-node RPC: a caller names a peer's
// cluster address, a method and an opaque payload (encoded by the layer
// above), and gets the handler's reply or an error.
//
// Design:
//
//   - One TCP port per node serves two protocols. The first byte of every new
//     connection says which: 'M' for RPC, 'R' for hashicorp/raft's
//     NetworkTransport (see (*TCP).RaftLayer). Containers then need one
//     internal port, and the secret check below covers both protocols.
//   - RPC runs over github.com/hashicorp/yamux: one long-lived TCP connection
//     per peer, one yamux stream per call. yamux gives per-stream flow
//     control, keep-alives and a clean session-closed signal, so a slow large
//     reply cannot stall small calls behind it (head-of-line blocking at the
//     call level), and we do not have to maintain our own request-id table
//     and reader goroutine. A stream costs one frame to open, no round trip.
//     The session is redialled on demand after it breaks.
//   - yamux writes each frame header and body with its own syscall; a
//     coalescing writer under it (batchConn) lets frames of concurrent calls
//     share one write. Measured on loopback, 2 cores, 64 goroutines, 64-byte
//     calls: 59 µs/op → 21 µs/op; a single caller: 121 µs → 47 µs.
//   - Framing on a stream is fixed-width and small: method length, payload
//     length and the caller's remaining deadline, then the bytes; the reply is
//     a status, an error code, a length and the bytes.
//   - Errors cross the wire as a code plus message. The code carries the kv
//     sentinels (kv.ErrNotFound, kv.ErrTooLarge, …), so errors.Is works on the
//     caller's side exactly as it would locally (see RemoteError).
//   - With a non-empty Config.Secret every connection starts with a mutual
//     challenge–response: both sides send a random nonce and prove knowledge
//     of the secret with HMAC-SHA256 over both nonces before any raft or RPC
//     byte flows. The secret itself never crosses the wire. It authenticates;
//     it does not encrypt.
//
// Network is the in-memory twin: the same Transport interface with fault
// hooks (partition, disconnect, drop, delay) for fast, deterministic tests
// of the layers above. Handler errors pass through the same code mapping as
// on the wire, so layers behave identically on both.
package transport
