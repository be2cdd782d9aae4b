package testutil

import (
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// WaitFor polls cond until it holds, failing t after timeout with what
// was awaited. Tests wait on conditions, not on sleeps: under load a
// condition takes longer, and a sleep long enough for the worst case
// slows every run.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pause) // poll interval, growing to 50ms
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// Ports for FreeAddr: each test process takes its own block below the
// kernel's ephemeral range (32768 and up on Linux), so that neither the
// kernel (binding ":0" for someone else) nor another test process running
// in parallel hands out the same port between our probe and the child
// process's bind.
const (
	portBase   = 20000
	portBlock  = 200
	portBlocks = 60 // 20000..31999
)

var nextPort atomic.Int64

// FreeAddr returns a loopback address with a port of this process's block
// that nobody listens on right now, for a process the test starts and
// must tell its address (when the test listens itself, it should use
// "127.0.0.1:0" and hand the listener over instead). A port of the block
// that is taken is skipped.
func FreeAddr(t testing.TB) string {
	t.Helper()
	base := portBase + os.Getpid()%portBlocks*portBlock
	for range portBlock {
		port := base + int(nextPort.Add(1)-1)%portBlock
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken (by a process outside the scheme): the next one
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	t.Fatalf("testutil: no free port in 127.0.0.1:%d-%d", base, base+portBlock-1)
	return ""
}
