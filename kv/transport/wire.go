package transport

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// Protocol bytes: the first byte of every TCP connection.
const (
	protoRPC  byte = 'M'
	protoRaft byte = 'R'
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

func mac(secret string, role string, cn, sn []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(role))
	m.Write(cn)
	m.Write(sn)
	return m.Sum(nil)
}

// clientHandshake runs the dialler's side on a fresh connection:
//
//	C→S proto, nonceC
//	S→C nonceS, HMAC(secret, "grafo-s"|nonceC|nonceS)
//	C→S HMAC(secret, "grafo-c"|nonceC|nonceS), len16, from   (from only for RPC)
//	S→C 1 = accepted, 0 = refused
//
// The server proves itself first so a client never reveals a proof to a
// server that cannot prove its own. The caller sets the conn deadline.
func clientHandshake(conn net.Conn, proto byte, secret, from string) error {
	buf := make([]byte, 1+nonceSize)
	buf[0] = proto
	cn := buf[1:]
	if _, err := rand.Read(cn); err != nil {
		return err
	}
	if _, err := conn.Write(buf); err != nil {
		return err
	}
	in := make([]byte, nonceSize+macSize)
	if _, err := io.ReadFull(conn, in); err != nil {
		return err
	}
	sn := in[:nonceSize]
	if !hmac.Equal(in[nonceSize:], mac(secret, "grafo-s", cn, sn)) {
		return fmt.Errorf("%w: peer %s proved a different secret", ErrAuth, conn.RemoteAddr())
	}
	out := mac(secret, "grafo-c", cn, sn)
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
// the caller's advertised address.
func serverHandshake(conn net.Conn, secret string) (proto byte, from string, err error) {
	in := make([]byte, 1+nonceSize)
	if _, err := io.ReadFull(conn, in); err != nil {
		return 0, "", err
	}
	proto, cn := in[0], in[1:]
	if proto != protoRPC && proto != protoRaft {
		return 0, "", fmt.Errorf("%w: unknown protocol byte %#x", ErrProtocol, proto)
	}
	out := make([]byte, nonceSize, nonceSize+macSize)
	sn := out
	if _, err := rand.Read(sn); err != nil {
		return 0, "", err
	}
	out = append(out, mac(secret, "grafo-s", cn, sn)...)
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
	if !hmac.Equal(proof[:macSize], mac(secret, "grafo-c", cn, sn)) {
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
	ms := uint32(0)
	if timeout > 0 {
		ms = uint32(min(timeout.Milliseconds()+1, 1<<32-1)) // round up: never hand the handler a zero deadline
	}
	b := make([]byte, reqHeader, reqHeader+len(method)+len(req))
	b[0] = byte(len(method))
	binary.BigEndian.PutUint32(b[1:], uint32(len(req)))
	binary.BigEndian.PutUint32(b[5:], ms)
	b = append(b, method...)
	return append(b, req...)
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
