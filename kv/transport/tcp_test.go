package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/grafo/grafo/kv"
)

func listen(t testing.TB, secret string) *TCP {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Secret = secret
	tr, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func echo(_ context.Context, from string, req []byte) ([]byte, error) {
	return append([]byte(from+"|"), req...), nil
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	a, b := listen(t, ""), listen(t, "")
	b.Handle("echo", echo)
	ctx := context.Background()
	for _, payload := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte{7}, 1<<20)} {
		got, err := a.Call(ctx, b.Addr(), "echo", payload)
		if err != nil {
			t.Fatal(err)
		}
		want := append([]byte(a.Addr()+"|"), payload...)
		if !bytes.Equal(got, want) {
			t.Fatalf("reply of %d bytes differs from the %d expected", len(got), len(want))
		}
	}
}

func TestConcurrentCallsShareOneConnection(t *testing.T) {
	t.Parallel()
	a, b := listen(t, ""), listen(t, "")
	b.Handle("echo", echo)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := []byte(fmt.Sprint("m", i))
			got, err := a.Call(context.Background(), b.Addr(), "echo", msg)
			if err != nil {
				errs <- err
				return
			}
			if want := a.Addr() + "|" + string(msg); string(got) != want {
				errs <- fmt.Errorf("got %q want %q", got, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	b.mu.Lock()
	n := len(b.inbound)
	b.mu.Unlock()
	if n != 1 {
		t.Fatalf("b has %d inbound sessions, want 1", n)
	}
}

func TestUnknownMethod(t *testing.T) {
	t.Parallel()
	a, b := listen(t, ""), listen(t, "")
	// A node that has not registered all its handlers is starting: the
	// caller must see a retriable unavailable, not a version mismatch.
	_, err := a.Call(context.Background(), b.Addr(), "nope", nil)
	if !errors.Is(err, kv.ErrUnavailable) || errors.Is(err, ErrUnknownMethod) {
		t.Fatalf("before Serving: err = %v, want kv.ErrUnavailable", err)
	}
	b.Serving()
	_, err = a.Call(context.Background(), b.Addr(), "nope", nil)
	if !errors.Is(err, ErrUnknownMethod) {
		t.Fatalf("err = %v, want ErrUnknownMethod", err)
	}
	var re *RemoteError
	if !errors.As(err, &re) || re.Method != "nope" {
		t.Fatalf("err = %#v, want a RemoteError for nope", err)
	}
}

func TestSentinelsCrossTheWire(t *testing.T) {
	t.Parallel()
	a, b := listen(t, ""), listen(t, "")
	sentinels := []error{kv.ErrNotFound, kv.ErrTooLarge, kv.ErrUnavailable, kv.ErrInvalidConsistency, kv.ErrEmptyKey, kv.ErrClosed, kv.ErrInvalidKey}
	for i, s := range sentinels {
		b.Handle(fmt.Sprint("f", i), func(context.Context, string, []byte) ([]byte, error) {
			return nil, fmt.Errorf("replica n2: %w", s)
		})
	}
	b.Handle("plain", func(context.Context, string, []byte) ([]byte, error) { return nil, errors.New("disk on fire") })
	for i, s := range sentinels {
		_, err := a.Call(context.Background(), b.Addr(), fmt.Sprint("f", i), nil)
		if !errors.Is(err, s) {
			t.Errorf("f%d: err = %v, want it to wrap %v", i, err, s)
		}
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("replica n2")) {
			t.Errorf("f%d: err = %v, want the handler's message", i, err)
		}
	}
	_, err := a.Call(context.Background(), b.Addr(), "plain", nil)
	var re *RemoteError
	if !errors.As(err, &re) || re.Message != "disk on fire" || re.Unwrap() != nil {
		t.Fatalf("plain: err = %v", err)
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			t.Fatalf("plain error wraps %v", s)
		}
	}
}

func TestUnreachableIsQuick(t *testing.T) {
	a := listen(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	start := time.Now()
	_, err = a.Call(context.Background(), dead, "echo", nil)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v to report a refused connection", d)
	}
}

func TestContextCancelAndDeadline(t *testing.T) {
	a, b := listen(t, ""), listen(t, "")
	handlerDeadline := make(chan bool, 1)
	b.Handle("slow", func(ctx context.Context, _ string, _ []byte) ([]byte, error) {
		_, ok := ctx.Deadline()
		handlerDeadline <- ok
		<-ctx.Done()
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := a.Call(ctx, b.Addr(), "slow", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("deadline honoured after %v", d)
	}
	if !<-handlerDeadline {
		t.Fatal("handler's context had no deadline")
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := a.Call(ctx2, b.Addr(), "slow", nil)
		done <- err
	}()
	<-handlerDeadline // the call reached the handler
	cancel2()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancel not honoured")
	}
	// The connection survives a cancelled call.
	b.Handle("echo", echo)
	if _, err := a.Call(context.Background(), b.Addr(), "echo", nil); err != nil {
		t.Fatal(err)
	}
}

func TestPeerRestartRedials(t *testing.T) {
	t.Parallel()
	a, b := listen(t, ""), listen(t, "")
	b.Handle("echo", echo)
	addr := b.Addr()
	if _, err := a.Call(context.Background(), addr, "echo", []byte("1")); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := a.Call(context.Background(), addr, "echo", nil); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err while down = %v, want ErrUnreachable", err)
	}
	cfg := DefaultConfig()
	cfg.Addr = addr
	b2, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	b2.Handle("echo", echo)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := a.Call(context.Background(), addr, "echo", []byte("2"))
		if err == nil {
			if string(got) != a.Addr()+"|2" {
				t.Fatalf("got %q", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no redial after restart: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not a wait for an event
	}
}

func TestSecret(t *testing.T) {
	t.Parallel()
	a, b := listen(t, "s3cret"), listen(t, "s3cret")
	b.Handle("echo", echo)
	if _, err := a.Call(context.Background(), b.Addr(), "echo", nil); err != nil {
		t.Fatalf("same secret: %v", err)
	}
	for _, other := range []string{"other", ""} {
		c := listen(t, other)
		_, err := c.Call(context.Background(), b.Addr(), "echo", nil)
		if !errors.Is(err, ErrAuth) || !errors.Is(err, ErrUnreachable) {
			t.Fatalf("secret %q: err = %v, want ErrAuth and ErrUnreachable", other, err)
		}
		b.Handle("echo", echo)
		_, err = b.Call(context.Background(), c.Addr(), "echo", nil)
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("reverse, secret %q: err = %v, want ErrAuth", other, err)
		}
	}
	// Raft connections are checked too.
	c := listen(t, "other")
	if _, err := c.RaftLayer().Dial(raft.ServerAddress(b.Addr()), time.Second); !errors.Is(err, ErrAuth) {
		t.Fatalf("raft dial with wrong secret: %v", err)
	}
}

func TestRaftLayerSharesThePort(t *testing.T) {
	t.Parallel()
	a, b := listen(t, "k"), listen(t, "k")
	b.Handle("echo", echo)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := b.RaftLayer().Accept()
		if err == nil {
			accepted <- c
		}
	}()
	conn, err := a.RaftLayer().Dial(raft.ServerAddress(b.Addr()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	var srv net.Conn
	select {
	case srv = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("raft conn not accepted")
	}
	defer srv.Close()
	buf := make([]byte, 4)
	if _, err := srv.Read(buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if b.RaftLayer().Addr().String() != b.Addr() {
		t.Fatalf("raft addr %s != %s", b.RaftLayer().Addr(), b.Addr())
	}
	if _, err := a.Call(context.Background(), b.Addr(), "echo", nil); err != nil {
		t.Fatalf("rpc on the same port: %v", err)
	}
	old := b.RaftLayer()
	old.Close()
	if _, err := old.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept after close: %v", err)
	}
	// A restarted raft gets a fresh layer on the same port.
	fresh := b.RaftLayer()
	if fresh == old {
		t.Fatal("closed raft layer handed out again")
	}
	go func() {
		c, err := fresh.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	conn2, err := a.RaftLayer().Dial(raft.ServerAddress(b.Addr()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("fresh raft layer accepted nothing")
	}
}

func TestCallAfterClose(t *testing.T) {
	t.Parallel()
	a, b := listen(t, ""), listen(t, "")
	a.Close()
	if _, err := a.Call(context.Background(), b.Addr(), "echo", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	if err := (Config{}).Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("empty config validated: %v", err)
	}
}

func BenchmarkCall64(b *testing.B) {
	for _, size := range []int{64, 1024, 10240} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			x, y := listen(b, "k"), listen(b, "k")
			y.Handle("echo", func(_ context.Context, _ string, req []byte) ([]byte, error) { return req, nil })
			payload := bytes.Repeat([]byte{1}, size)
			if _, err := x.Call(context.Background(), y.Addr(), "echo", payload); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.SetParallelism(32) // 2 cores × 32 = 64 goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := x.Call(context.Background(), y.Addr(), "echo", payload); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkCallSerial(b *testing.B) {
	x, y := listen(b, "k"), listen(b, "k")
	y.Handle("echo", func(_ context.Context, _ string, req []byte) ([]byte, error) { return req, nil })
	payload := bytes.Repeat([]byte{1}, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.Call(context.Background(), y.Addr(), "echo", payload); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBatchConnLargeConcurrent pushes more than maxBatch through the
// coalescing writer from many streams at once: every byte must arrive in
// order per stream.
func TestBatchConnLargeConcurrent(t *testing.T) {
	t.Parallel()
	a, b := listen(t, ""), listen(t, "")
	b.Handle("echo", func(_ context.Context, _ string, req []byte) ([]byte, error) { return req, nil })
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := bytes.Repeat([]byte{byte(i)}, 300<<10)
			for range 4 {
				got, err := a.Call(context.Background(), b.Addr(), "echo", payload)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, payload) {
					errs <- fmt.Errorf("stream %d: reply corrupted", i)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
