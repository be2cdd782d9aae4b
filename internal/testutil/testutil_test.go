package testutil

import (
	"net"
	"testing"
	"time"
)

func TestWaitFor(t *testing.T) {
	t.Parallel()
	n := 0
	start := time.Now()
	WaitFor(t, 5*time.Second, "three polls", func() bool { n++; return n == 3 })
	if n != 3 || time.Since(start) > time.Second {
		t.Fatalf("polled %d times in %v", n, time.Since(start))
	}
}

// FreeAddr hands out distinct ports that can be bound, skipping one that
// is taken.
func TestFreeAddr(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for range 20 {
		a := FreeAddr(t)
		if seen[a] {
			t.Fatalf("%s handed out twice", a)
		}
		seen[a] = true
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("FreeAddr gave %s, which does not bind: %v", a, err)
		}
		held = append(held, l) // taken from now on: later calls must skip it
	}
}
