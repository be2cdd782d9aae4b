// Package leanhttp serves the simple, hot HTTP/1.1 requests of a listener
// itself and hands every other connection to a net/http Server, on the same
// port and behind the same handler.
//
// Why: on a node answering many small key-value requests, net/http's
// per-connection machinery costs more CPU than the request's own work — a
// goroutine per request watching for the client to go away (with an extra
// read(2) and two wake-ups), header maps parsed through textproto and the
// handler's header map cloned (see the README's benchmarks). A request the
// node can parse in a few hundred nanoseconds goes through none of that
// here: one read, the handler, one write.
//
// What it takes: a request whose head is complete within one buffer
// (4 KiB), in strict HTTP/1.1 form — CRLF line ends, a request line
// "METHOD SP target SP HTTP/1.1" with a method among GET, HEAD, PUT and
// DELETE and a target in printable ASCII that Server.Take accepts, header
// names that are tokens and values of printable ASCII, exactly one Host,
// at most one Content-Length of digits only and at most MaxBody, no
// Transfer-Encoding, Expect, Upgrade, Pragma or Trailer, and a
// Connection header (if any) of "close" or "keep-alive". Everything else —
// and the request that first breaks a rule, with all the bytes read of it —
// goes to net/http on that connection for good, which then parses it from
// its first byte as if it had accepted the connection itself. Declining is
// always safe; taking is only done where net/http would read the same
// request with the same bounds (parse_test.go checks this against
// http.ReadRequest, which is what keeps request smuggling out).
//
// The handler sees an *http.Request built as net/http builds it (Host
// moved out of Header, RemoteAddr, a context cancelled when the handler
// returns) and a ResponseWriter that frames the answer as net/http does
// (Content-Length when the whole body is known, chunked otherwise, Date,
// Content-Type sniffing, no body for HEAD, 204 and 304). It does not
// implement Hijacker, Flusher or trailers, and the request's context is
// not cancelled when the client goes away mid-request (watching for that
// is the per-request cost this path avoids): routes that need any of it
// must not be taken. The Server's ReadHeaderTimeout, ReadTimeout,
// WriteTimeout and IdleTimeout apply to both paths.
package leanhttp
