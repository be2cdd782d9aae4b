package transport

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// Protocol bytes: the first byte of every TCP connection.
const (
	protoRPC  byte = 'P' // pipelined frames (mux.go); 'M' was a yamux session
	protoRaft byte = 'R'
	// tlsRecordHandshake starts a TLS ClientHello: the peer encrypts,
	// this node does not (or the other way round).
	tlsRecordHandshake byte = 0x16
)

const (
	nonceSize   = 32
	macSize     = sha256.Size
	maxAddrLen  = 1024
	maxMethod   = 255
	maxPayload  = 64 << 20 // guards against garbage lengths, far above any real payload
	reqHeader   = 1 + 4 + 4
	respHeader  = 1 + 1 + 4
	statusOK    = 0
	statusError = 1
)

// mac is the HMAC of a handshake step: a role label, then each part with
// its length, so no two different sequences of parts collide.
func mac(secret, role string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(role))
	for _, p := range parts {
		m.Write(binary.BigEndian.AppendUint16(nil, uint16(len(p))))
		m.Write(p)
	}
	return m.Sum(nil)
}

// tlsBinding is the channel binding of conn: keying material exported from
// its TLS session (RFC 9266 style), or nil on plain TCP. Proofs made over
// one TLS session are worthless on any other, so a relay that terminates
// TLS on both sides cannot pass them on.
func tlsBinding(conn net.Conn) []byte {
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return nil
	}
	cs := tc.ConnectionState()
	b, err := cs.ExportKeyingMaterial("EXPORTER-grafo-cluster-handshake", nil, 32)
	if err != nil {
		return nil
	}
	return b
}

// clientHandshake runs the dialler's side on a fresh connection:
//
//	C→S proto, nonceC
//	S→C nonceS, HMAC(secret, "grafo-s", proto, nonceC, nonceS, binding)
//	C→S HMAC(secret, "grafo-c", proto, nonceC, nonceS, binding, from), len16, from
//	S→C 1 = accepted, 0 = refused
//
// The roles differ, so neither proof is ever valid as the other; the
// server proves itself first, so a client never reveals a proof to a
// server that cannot prove its own; from (the caller's address, empty for
// raft) is under the client's proof. own holds this node's nonces in
// flight: a server nonce that is one of ours means the "server" is a relay
// reflecting our own listener's answer, and is refused (nil: no check).
// The caller sets the conn deadline.
func clientHandshake(conn net.Conn, proto byte, secret, from string, own *nonceSet) error {
	buf := make([]byte, 1+nonceSize)
	buf[0] = proto
	cn := buf[1:]
	if _, err := rand.Read(cn); err != nil {
		return err
	}
	defer own.add(cn)()
	if _, err := conn.Write(buf); err != nil {
		return err
	}
	in := make([]byte, nonceSize+macSize)
	if _, err := io.ReadFull(conn, in); err != nil {
		return err
	}
	sn := in[:nonceSize]
	if own.has(sn) || hmac.Equal(sn, cn) {
		return fmt.Errorf("%w: %s: %w", ErrAuth, conn.RemoteAddr(), errReflected)
	}
	bind := tlsBinding(conn)
	if !hmac.Equal(in[nonceSize:], mac(secret, "grafo-s", []byte{proto}, cn, sn, bind)) {
		return fmt.Errorf("%w: peer %s proved a different secret", ErrAuth, conn.RemoteAddr())
	}
	out := mac(secret, "grafo-c", []byte{proto}, cn, sn, bind, []byte(from))
	out = binary.BigEndian.AppendUint16(out, uint16(len(from)))
	out = append(out, from...)
	if _, err := conn.Write(out); err != nil {
		return err
	}
	var ok [1]byte
	if _, err := io.ReadFull(conn, ok[:]); err != nil {
		return err
	}
	if ok[0] != 1 {
		return fmt.Errorf("%w: refused by peer %s", ErrAuth, conn.RemoteAddr())
	}
	return nil
}

// serverHandshake is the listener's side; it returns the protocol byte and
// the caller's advertised address. A client nonce that is one of own's
// (this node dialling itself through a relay) is refused before any proof
// is made for it.
func serverHandshake(conn net.Conn, secret string, own *nonceSet) (proto byte, from string, err error) {
	in := make([]byte, 1+nonceSize)
	if _, err := io.ReadFull(conn, in); err != nil {
		return 0, "", err
	}
	proto, cn := in[0], in[1:]
	if proto == tlsRecordHandshake {
		return 0, "", fmt.Errorf("%w: peer speaks TLS: it has a cluster secret or --tls-* certificates and this node has neither", ErrAuth)
	}
	if proto != protoRPC && proto != protoRaft {
		return 0, "", fmt.Errorf("%w: unknown protocol byte %#x", ErrProtocol, proto)
	}
	if own.has(cn) {
		// No proof for it; random bytes fail the dialler's check, so it
		// reports ErrAuth rather than a bare EOF.
		junk := make([]byte, nonceSize+macSize)
		rand.Read(junk)
		conn.Write(junk)
		return 0, "", fmt.Errorf("%w: %s: %w", ErrAuth, conn.RemoteAddr(), errReflected)
	}
	out := make([]byte, nonceSize, nonceSize+macSize)
	sn := out
	if _, err := rand.Read(sn); err != nil {
		return 0, "", err
	}
	defer own.add(sn)()
	bind := tlsBinding(conn)
	out = append(out, mac(secret, "grafo-s", []byte{proto}, cn, sn, bind)...)
	if _, err := conn.Write(out); err != nil {
		return 0, "", err
	}
	proof := make([]byte, macSize+2)
	if _, err := io.ReadFull(conn, proof); err != nil {
		return 0, "", err
	}
	n := int(binary.BigEndian.Uint16(proof[macSize:]))
	if n > maxAddrLen {
		return 0, "", fmt.Errorf("%w: address of %d bytes", ErrProtocol, n)
	}
	addr := make([]byte, n)
	if _, err := io.ReadFull(conn, addr); err != nil {
		return 0, "", err
	}
	if !hmac.Equal(proof[:macSize], mac(secret, "grafo-c", []byte{proto}, cn, sn, bind, addr)) {
		_, _ = conn.Write([]byte{0})
		return 0, "", fmt.Errorf("%w: peer %s proved a different secret", ErrAuth, conn.RemoteAddr())
	}
	if _, err := conn.Write([]byte{1}); err != nil {
		return 0, "", err
	}
	return proto, string(addr), nil
}

// encodeRequest lays out a request as one buffer so it leaves in one frame.
func encodeRequest(method string, timeout time.Duration, req []byte) []byte {
	b := make([]byte, reqHeader+len(method), reqHeader+len(method)+len(req))
	putRequestHeader(b, method, timeout, len(req))
	return append(b, req...)
}

// putRequestHeader writes a request's header and method into b (room for
// reqHeader+len(method) bytes) and returns how many bytes it wrote.
func putRequestHeader(b []byte, method string, timeout time.Duration, n int) int {
	ms := uint32(0)
	if timeout > 0 {
		ms = uint32(min(timeout.Milliseconds()+1, 1<<32-1)) // round up: never hand the handler a zero deadline
	}
	b[0] = byte(len(method))
	binary.BigEndian.PutUint32(b[1:], uint32(n))
	binary.BigEndian.PutUint32(b[5:], ms)
	return reqHeader + copy(b[reqHeader:], method)
}

func readRequest(r io.Reader) (method string, timeout time.Duration, req []byte, err error) {
	var h [reqHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return "", 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > maxPayload {
		return "", 0, nil, fmt.Errorf("%w: payload of %d bytes", ErrProtocol, n)
	}
	timeout = time.Duration(binary.BigEndian.Uint32(h[5:])) * time.Millisecond
	body := make([]byte, int(h[0])+int(n))
	if _, err := io.ReadFull(r, body); err != nil {
		return "", 0, nil, err
	}
	return string(body[:h[0]]), timeout, body[h[0]:], nil
}

func encodeResponse(status, code byte, body []byte) []byte {
	b := make([]byte, respHeader, respHeader+len(body))
	b[0], b[1] = status, code
	binary.BigEndian.PutUint32(b[2:], uint32(len(body)))
	return append(b, body...)
}

func readResponse(r io.Reader) (status, code byte, body []byte, err error) {
	var h [respHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[2:])
	if n > maxPayload {
		return 0, 0, nil, fmt.Errorf("%w: reply of %d bytes", ErrProtocol, n)
	}
	body = make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, 0, nil, err
	}
	return h[0], h[1], body, nil
}
