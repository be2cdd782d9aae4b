package transport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// relay is the attacker of the red-team report: a TCP server on loopback
// that a member is made to dial (`grafo cluster join ATTACKER`), which
// dials a member's listener in turn — the dialler's own (reflection) or
// another member's (relay) — and passes bytes both ways during the
// handshake. It does not know the secret. When the dialler is done, it
// stops relaying and speaks RPC itself on the connection it holds to the
// target: on the old protocol that connection was authenticated.
type relay struct {
	ln     net.Listener
	target string
	got    chan relayed
}

type relayed struct {
	victim, target net.Conn
	stop           func() // stops both copy loops and returns once they have
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target, got: make(chan relayed, 1)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		victim, err := ln.Accept()
		if err != nil {
			return
		}
		target, err := net.Dial("tcp", r.target)
		if err != nil {
			victim.Close()
			return
		}
		var wg sync.WaitGroup
		pipe := func(dst, src net.Conn) {
			defer wg.Done()
			io.Copy(dst, src) // ends on EOF, an error, or stop's deadline
		}
		wg.Add(2)
		go pipe(target, victim)
		go pipe(victim, target)
		r.got <- relayed{victim: victim, target: target, stop: func() {
			past := time.Unix(1, 0)
			victim.SetReadDeadline(past)
			target.SetReadDeadline(past)
			wg.Wait()
			target.SetReadDeadline(time.Time{})
			victim.Close()
		}}
	}()
	return r
}

func (r *relay) Addr() string { return r.ln.Addr().String() }

// hijack stops relaying and calls method on the target over the
// connection the victim's handshake opened, as the victim would (one
// request frame). It returns the reply, or why there
// was none.
func (r *relay) hijack(t *testing.T, method string) ([]byte, error) {
	t.Helper()
	var c relayed
	select {
	case c = <-r.got:
	case <-time.After(10 * time.Second):
		t.Fatal("the victim never reached the relay")
	}
	c.stop()
	defer c.target.Close()
	c.target.SetDeadline(time.Now().Add(5 * time.Second))
	w := newBatchConn(c.target)
	defer w.Close()
	if err := writeMuxRequest(w, 1, method, time.Second, nil); err != nil {
		return nil, err
	}
	_, rep, err := readMuxResponse(bufio.NewReader(c.target))
	if err != nil {
		return nil, err
	}
	status, body := rep.status, rep.body
	if status != statusOK {
		return nil, errors.New(string(body))
	}
	return body, nil
}

// TestRelayAndReflectionRefused: a member dials an attacker that relays
// the handshake to the member's own listener (reflection) or to another
// member (relay), then tries to use the authenticated connection it holds.
// Both attacks read a member's data on the old home-made handshake (plain
// TCP, proofs bound to nothing but the nonces); with the secret they now
// meet mutual TLS keyed by it, so the relay holds only a connection whose
// every byte it can neither read nor forge, and the reflected handshake
// is refused outright (the member meets its own nonce).
func TestRelayAndReflectionRefused(t *testing.T) {
	t.Parallel()
	const secret = "the-cluster-secret"
	victim, other := listen(t, secret), listen(t, secret)
	for _, tr := range []*TCP{victim, other} {
		tr.Handle("graph.rows", func(context.Context, string, []byte) ([]byte, error) {
			return []byte("every graph's rows"), nil
		})
	}
	for _, tc := range []struct {
		name   string
		target *TCP
	}{{"reflection", victim}, {"relay", other}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRelay(t, tc.target.ln.Addr().String())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn, dialErr := victim.dialConn(ctx, r.Addr(), protoRPC, 5*time.Second)
			if dialErr == nil {
				conn.Close()
			}
			t.Logf("the victim's dial through the relay: %v", dialErr)
			if tc.name == "reflection" && !errors.Is(dialErr, ErrAuth) {
				t.Errorf("reflected dial: %v, want ErrAuth (our own nonce came back)", dialErr)
			}
			got, err := r.hijack(t, "graph.rows")
			if err == nil {
				t.Fatalf("the relay read %q through the victim's handshake", got)
			}
			t.Logf("the relay's own call: %v", err)
		})
	}
	// The members still talk to each other.
	if got, err := victim.Call(context.Background(), other.Addr(), "graph.rows", nil); err != nil || string(got) != "every graph's rows" {
		t.Fatalf("member to member: %q, %v", got, err)
	}
}
