package transport

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzFrames feeds arbitrary bytes to the frame readers and to the
// server side of the handshake: garbage must produce an error, never a
// panic, a hang, or an accepted peer.
func FuzzFrames(f *testing.F) {
	f.Add(encodeRequest("kv.get", time.Second, []byte("payload")))
	f.Add(encodeResponse(1, 0, []byte("body")))
	f.Add([]byte{protoRPC})
	f.Add(append([]byte{protoRaft}, make([]byte, 64)...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, _, req, err := readRequest(bytes.NewReader(b)); err == nil {
			if len(m)+len(req)+reqHeader > len(b) {
				t.Fatalf("request longer than its input")
			}
		}
		readResponse(bytes.NewReader(b))

		server, client := net.Pipe()
		defer server.Close()
		done := make(chan error, 1)
		go func() {
			server.SetDeadline(time.Now().Add(2 * time.Second))
			_, _, err := serverHandshake(server, "the-secret", nil)
			done <- err
		}()
		go func() {
			client.Write(b)
			client.Close()
		}()
		go io.Copy(io.Discard, client)
		err := <-done
		if err == nil {
			t.Fatalf("handshake accepted random bytes %x", b)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("handshake hung on %x", b)
		}
	})
}

// FuzzHandshake attacks both sides of the secret handshake without the
// secret: fuzzed bytes as the peer of a server and of a client, and a
// fuzzed relay (it XORs what it passes on with mask; a zero mask relays
// faithfully) between a node's own client and server (reflection) and
// between two members (relay). No fuzzed peer may ever be accepted; the
// reflected handshake is refused whatever the relay does; a relay between
// members cannot change who the server believes called.
//
//	go test -run '^$' -fuzz FuzzHandshake -fuzztime 1m ./kv/transport
func FuzzHandshake(f *testing.F) {
	const secret = "the-secret"
	// Seeds: the first bytes of a real exchange, so mutations start near
	// valid messages.
	hello := append([]byte{protoRPC}, bytes.Repeat([]byte{1}, nonceSize)...)
	f.Add(hello, []byte{})
	f.Add(append(hello, bytes.Repeat([]byte{2}, macSize+2)...), []byte{0})
	f.Add(bytes.Repeat([]byte{0}, nonceSize+macSize+1), []byte{0, 0, 0, 1})
	f.Add([]byte{tlsRecordHandshake, 3, 1}, []byte{0xff})
	f.Add(append([]byte{protoRaft}, make([]byte, 200)...), append(make([]byte, 33), 1))
	f.Fuzz(func(t *testing.T, peer, mask []byte) {
		// A fuzzed client.
		err := runPipe(t, peer, func(c net.Conn) error {
			_, _, err := serverHandshake(c, secret, newNonceSet())
			return err
		})
		if err == nil {
			t.Fatalf("server accepted fuzzed bytes %x", peer)
		}
		// A fuzzed server.
		err = runPipe(t, peer, func(c net.Conn) error {
			return clientHandshake(c, protoRPC, secret, "a:1", newNonceSet())
		})
		if err == nil {
			t.Fatalf("client accepted fuzzed bytes %x", peer)
		}
		// Reflection: our client, through the relay, to our own server.
		own := newNonceSet()
		_, serr := relayHandshake(t, mask, own, own)
		if serr == nil {
			t.Fatalf("server accepted its own client's reflected handshake (mask %x)", mask)
		}
		// Relay between two members: whatever it changes, an accepted
		// handshake names the real caller.
		from, serr := relayHandshake(t, mask, newNonceSet(), newNonceSet())
		if serr == nil && from != "a:1" {
			t.Fatalf("relay made the server believe the caller is %q", from)
		}
		if len(bytes.Trim(mask, "\x00")) == 0 && serr != nil {
			t.Fatalf("a faithful relay between members broke the handshake: %v", serr)
		}
	})
}

// runPipe runs side on one end of a pipe whose other end writes peer,
// then closes, and discards what side writes.
func runPipe(t *testing.T, peer []byte, side func(net.Conn) error) error {
	a, b := net.Pipe()
	defer a.Close()
	a.SetDeadline(time.Now().Add(2 * time.Second))
	go func() {
		b.Write(peer)
		b.Close()
	}()
	go io.Copy(io.Discard, b)
	err := side(a)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("handshake hung on %x", peer)
	}
	return err
}

// relayHandshake runs a client (nonces cs) and a server (nonces ss)
// through a relay that XORs every byte it passes with mask, cyclically;
// it returns what the server accepted as the caller, and the server's
// error.
func relayHandshake(t *testing.T, mask []byte, cs, ss *nonceSet) (string, error) {
	c, rc := net.Pipe()
	rs, s := net.Pipe()
	dl := time.Now().Add(2 * time.Second)
	for _, p := range []net.Conn{c, rc, rs, s} {
		p.SetDeadline(dl)
		defer p.Close()
	}
	pass := func(dst, src net.Conn) {
		buf := make([]byte, 512)
		off := 0
		for {
			n, err := src.Read(buf)
			for i := range n {
				if len(mask) > 0 {
					buf[i] ^= mask[(off+i)%len(mask)]
				}
			}
			off += n
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					err = werr
				}
			}
			if err != nil {
				dst.Close()
				src.Close()
				return
			}
		}
	}
	go pass(rs, rc)
	go pass(rc, rs)
	cerr := make(chan error, 1)
	go func() {
		err := clientHandshake(c, protoRPC, "the-secret", "a:1", cs)
		c.Close() // as dialConn does on failure: the server sees EOF, not silence
		cerr <- err
	}()
	_, from, err := serverHandshake(s, "the-secret", ss)
	s.Close() // unblocks a client still waiting
	<-cerr
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("relayed handshake hung (mask %x)", mask)
	}
	return from, err
}
