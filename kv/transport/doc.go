// Package transport is Grafo's node-to-node RPC: a caller names a peer's
// cluster address, a method and an opaque payload (encoded by the layer
// above), and gets the handler's reply or an error.
//
// Design:
//
//   - One TCP port per node serves two protocols. The first byte of every new
//     connection says which: 'P' for RPC, 'R' for hashicorp/raft's
//     NetworkTransport (see (*TCP).RaftLayer). Containers then need one
//     internal port, and the secret check below covers both protocols.
//
//   - RPC is pipelined on one long-lived TCP connection per peer (mux.go):
//     a call is a request frame tagged with an id and a response frame
//     with the same id, answered in any order; the caller's reader
//     goroutine hands each response to its waiting call. The peer runs each
//     request in its own goroutine, so a slow handler does not hold up
//     fast ones (a very large reply does hold up the bytes behind it on
//     the wire; replies are pages of bounded size). A keepalive frame on a
//     quiet connection drops a peer that vanished without a reset after
//     three intervals of silence. The connection is redialled on demand
//     after it breaks.
//
//     This replaced a hashicorp/yamux stream per call: opening, windowing
//     and closing a stream took six frames, an open timer and a goroutine
//     on each side for every call (with the replica layer's goroutine and
//     channel per call, about a quarter of a coordinating node's CPU under
//     load; see README.md, "Against Redis and etcd"). On loopback a call
//     now takes 11 allocations instead of 53. The protocol byte changed from 'M' to 'P'
//     with it, so a node of an older version is refused with a clear
//     protocol error rather than misread (no mixed-version clusters).
//
//   - Frames of concurrent calls would each cost a syscall; a coalescing
//     writer under both sides (batchConn) lets them share one write.
//     Measured on loopback, 2 cores, 64 goroutines, 64-byte calls, when it
//     was added under yamux: 59 µs/op → 21 µs/op; a single caller: 121 µs
//     → 47 µs.
//
//   - Framing is fixed-width and small: the id, method length, payload
//     length and the caller's remaining deadline, then the bytes; the reply
//     is the id, a status, an error code, a length and the bytes.
//
//   - Errors cross the wire as a code plus message. The code carries the kv
//     sentinels (kv.ErrNotFound, kv.ErrTooLarge, …), so errors.Is works on the
//     caller's side exactly as it would locally (see RemoteError).
//
//   - With a non-empty Config.Secret every connection is mutual TLS 1.3
//     keyed by the secret (SecretTLS): each member derives the same Ed25519
//     key from the secret (PBKDF2, slow on purpose) and a self-signed
//     certificate of it, and accepts a peer only if the peer's certificate
//     holds that key. Inside it, a challenge–response runs before any raft
//     or RPC byte: both sides send a random nonce and prove the secret with
//     HMAC-SHA256 over a role label, the protocol byte, both nonces, the
//     TLS session's exported keying material and (client) its address.
//     With --tls-* certificates instead, the same handshake runs inside
//     that TLS. The secret never crosses the wire.
//
//     Why TLS rather than the handshake alone: the handshake used to run on
//     plain TCP, and then nothing tied the connection after it to the
//     proofs in it. A node made to dial an attacker (`grafo cluster join
//     ATTACKER`) answered the attacker's relay of a member's challenge —
//     the member's own listener (reflection) or another member's — and
//     the attacker kept the authenticated connection: every graph's rows,
//     fake writes, fake peer events. Binding the proofs to more (roles,
//     nonces, identities) cannot fix that while the stream itself is not
//     authenticated; TLS authenticates every byte with keys only the two
//     real ends hold, so a relay can only pass ciphertext along, and the
//     exported keying material makes a proof worthless in any other TLS
//     session (a relay terminating TLS on both sides with a CA certificate
//     but no secret). The handshake also refuses a peer that sends back
//     one of this node's own nonces in flight (reflection), and Go's TLS
//     has no external pre-shared keys, hence keys derived from the secret
//     rather than TLS-PSK. It also means traffic between nodes is
//     encrypted whenever a secret is set. Nodes of versions before this
//     change cannot talk to these (no mixed-version rolling upgrade of a
//     cluster with a secret).
//
//   - A node without a secret or certificates speaks the handshake on plain
//     TCP with the empty secret: anyone can join it, which is why grafo
//     serve refuses a non-loopback cluster address without a secret unless
//     --insecure. A TLS peer meeting a plain one, either way, gets ErrAuth.
//
// Network is the in-memory twin: the same Transport interface with fault
// hooks (partition, disconnect, drop, delay) for fast, deterministic tests
// of the layers above. Handler errors pass through the same code mapping as
// on the wire, so layers behave identically on both.
package transport
