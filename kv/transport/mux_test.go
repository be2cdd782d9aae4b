package transport

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// blackhole forwards TCP connections to target until swallow is set; then
// it drops every byte both ways without closing anything, as a partition
// or a paused machine would.
type blackhole struct {
	ln      net.Listener
	swallow atomic.Bool
}

func newBlackhole(t *testing.T, target string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			t.Cleanup(func() { in.Close(); out.Close() })
			go b.pipe(out, in)
			go b.pipe(in, out)
		}
	}()
	return b
}

func (b *blackhole) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if !b.swallow.Load() {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

// A peer that goes silent without a reset is dropped after three
// keepalive intervals: the waiting call fails as unreachable instead of
// hanging until its deadline, and once the path is back a call redials.
func TestSilentPeerIsDropped(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.KeepAlive = 50 * time.Millisecond
	a, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b := listen(t, "")
	b.Handle("echo", echo)
	hole := newBlackhole(t, b.Addr())
	addr := hole.ln.Addr().String()
	if _, err := a.Call(context.Background(), addr, "echo", []byte("1")); err != nil {
		t.Fatal(err)
	}
	hole.swallow.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = a.Call(ctx, addr, "echo", []byte("2"))
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("call into the silence: %v, want ErrUnreachable", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("dropped after %v, want about 4 keepalive intervals", took)
	}
	hole.swallow.Store(false)
	got, err := a.Call(context.Background(), addr, "echo", []byte("3"))
	if err != nil || string(got) != a.Addr()+"|3" {
		t.Fatalf("after the silence: %q, %v", got, err)
	}
}
