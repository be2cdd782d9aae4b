package transport

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
)

func memPair(t *testing.T) (*Network, Transport, Transport, Transport) {
	n := NewNetwork()
	a, b, c := n.Node("a"), n.Node("b"), n.Node("c")
	for _, x := range []Transport{a, b, c} {
		x.Handle("echo", echo)
	}
	return n, a, b, c
}

func TestMemRoundTripAndErrors(t *testing.T) {
	t.Parallel()
	_, a, b, _ := memPair(t)
	ctx := context.Background()
	got, err := a.Call(ctx, "b", "echo", []byte("x"))
	if err != nil || string(got) != "a|x" {
		t.Fatalf("got %q, %v", got, err)
	}
	b.Handle("nf", func(context.Context, string, []byte) ([]byte, error) { return nil, kv.ErrNotFound })
	if _, err := a.Call(ctx, "b", "nf", nil); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	if _, err := a.Call(ctx, "b", "nope", nil); !errors.Is(err, ErrUnknownMethod) {
		t.Fatalf("err = %v", err)
	}
	if _, err := a.Call(ctx, "zz", "echo", nil); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v", err)
	}
	b.Close()
	if _, err := a.Call(ctx, "b", "echo", nil); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("closed peer: err = %v", err)
	}
	if _, err := b.Call(ctx, "a", "echo", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed self: err = %v", err)
	}
}

func TestMemPartitionAndDisconnect(t *testing.T) {
	t.Parallel()
	n, a, b, c := memPair(t)
	ctx := context.Background()
	n.Partition([]string{"a", "b"}, []string{"c"})
	if _, err := a.Call(ctx, "b", "echo", nil); err != nil {
		t.Fatalf("same side: %v", err)
	}
	if _, err := a.Call(ctx, "c", "echo", nil); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("across: %v", err)
	}
	if _, err := c.Call(ctx, "b", "echo", nil); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("across back: %v", err)
	}
	n.Heal()
	if _, err := a.Call(ctx, "c", "echo", nil); err != nil {
		t.Fatalf("healed: %v", err)
	}
	n.Disconnect("b")
	if _, err := a.Call(ctx, "b", "echo", nil); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("to disconnected: %v", err)
	}
	if _, err := b.Call(ctx, "c", "echo", nil); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("from disconnected: %v", err)
	}
	n.Reconnect("b")
	if _, err := b.Call(ctx, "c", "echo", nil); err != nil {
		t.Fatalf("reconnected: %v", err)
	}
}

func TestMemDrop(t *testing.T) {
	t.Parallel()
	n, a, _, _ := memPair(t)
	ctx := context.Background()
	n.SetDrop("a", "b", 0.5)
	failed := 0
	for range 1000 {
		if _, err := a.Call(ctx, "b", "echo", nil); err != nil {
			if !errors.Is(err, ErrUnreachable) {
				t.Fatal(err)
			}
			failed++
		}
	}
	if failed < 400 || failed > 600 {
		t.Fatalf("%d of 1000 dropped at p=0.5", failed)
	}
	// Dropped replies: the handler ran, the caller still sees a failure.
	n.SetDrop("a", "b", 0)
	n.SetDrop("b", "a", 1)
	ran := false
	n.Node("d").Handle("mark", func(context.Context, string, []byte) ([]byte, error) { ran = true; return nil, nil })
	n.SetDrop("d", "a", 1)
	if _, err := a.Call(ctx, "d", "mark", nil); !errors.Is(err, ErrUnreachable) || !ran {
		t.Fatalf("lost reply: err = %v, ran = %v", err, ran)
	}
	if _, err := a.Call(ctx, "b", "echo", nil); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("p=1: %v", err)
	}
}

func TestMemDelay(t *testing.T) {
	n, a, _, _ := memPair(t)
	n.SetDelay("a", "b", 30*time.Millisecond)
	n.SetDelay("b", "a", 20*time.Millisecond)
	start := time.Now()
	if _, err := a.Call(context.Background(), "b", "echo", nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("round trip took %v, want >= 50ms", d)
	}
	n.SetDelay("a", "b", time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := a.Call(ctx, "b", "echo", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}
