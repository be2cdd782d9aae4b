// Package resp is Grafo's Redis protocol (RESP2) front end: redis-cli,
// redis-benchmark and Redis client libraries talk to a node's key-value
// store as if it were a Redis server.
//
// Commands: PING, ECHO, GET, SET key value (no options), MGET, MSET, DEL
// (returns how many of the keys existed), EXISTS, SCAN cursor [MATCH
// pattern] [COUNT n] [TYPE type], AUTH [user] token, HELLO
// [2 [AUTH user token] [SETNAME name]] (HELLO 3 answers -NOPROTO, so
// RESP3 clients fall back to RESP2), SELECT 0, INFO (server, clients,
// stats, replication with N/W/R and the cluster's nodes, keyspace),
// COMMAND [COUNT|LIST|INFO|DOCS], CONFIG GET, CLIENT
// SETNAME|GETNAME|SETINFO|ID, QUIT, and GRAFO.CONSISTENCY
// one|quorum|all|linearizable|default, which sets the consistency of the
// connection's later reads and writes (default: the cluster's W and R).
// Anything else answers -ERR unknown command, and KEYS answers an error
// pointing at SCAN (one reply holding every key of the cluster is not
// something a node should build). Pipelined commands run in order and
// their answers are flushed together. Each command is a row of one table
// (commands.go): name, arity, role and handler.
//
// SCAN lists the keys of the whole cluster, not only this node's, in key
// order (kv.RingScanner), at the connection's consistency; MATCH takes
// Redis globs (*, ?, [a-z], [^x], \x) and its literal prefix narrows the
// walk; COUNT (default 10) is cut to 1000. Clients parse the cursor as a
// number, so it is a keyed hash of the last key returned, which the
// server keeps (the latest 65536, 16 MiB of keys at most): the same
// position always has the same cursor, any connection to the node can
// resume it, and an unknown or evicted cursor is refused rather than
// restarted.
//
// Store errors map onto RESP errors in one place (errorReply): a pair over
// kv.MaxPairSize → "-ERR value too large: key + value exceed 10240 bytes",
// too few replicas → "-UNAVAILABLE quorum not reached: …" with the
// coordinator's message. With Config.Tokens set, every command but AUTH,
// HELLO, PING and QUIT answers -NOAUTH until AUTH; the read role may GET,
// MGET, EXISTS and SCAN, SET, MSET and DEL need write, and tokens limited to
// graphs may not use the raw store at all (-NOPERM).
//
// Unauthenticated connections (with Config.Tokens) are held to little:
// PreAuthLimits (1 KiB per argument, 8 arguments, 2 KiB per request), a
// deadline to authenticate (Config.AuthTimeout, 10 s), and a budget of
// their own (Config.MaxUnauthConns, 256) inside MaxConns, so a flood of
// idle or oversized connections cannot hold memory or slots. A command
// named POST or Host: closes the connection without an answer, as in
// Redis: it is an HTTP request, typically a web page making the browser
// post text/plain to a RESP port to smuggle commands in its body.
//
// The parser is our own (parser.go, ~300 lines, fuzzed by FuzzRESP) rather
// than github.com/tidwall/redcon: redcon buffers whatever length a header
// announces before the handler sees the command and has no limits on
// argument size or count, while this server must bound what one client can
// make it hold. Here every length is checked against Limits (MaxBulk,
// MaxArgs, MaxRequest) when its header is read, before any payload is
// buffered, and an over-limit request answers "-ERR Protocol error: …" and
// closes the connection, as Redis does. Buffers grow with the bytes that
// arrive (a chunk at a time), never by the length a header announces. The
// parser also needs nothing
// beyond bufio, reuses one buffer per connection (no allocation per
// argument), and the flush-when-the-input-is-drained rule that makes
// pipelining cheap is four lines in conn.serve.
package resp
