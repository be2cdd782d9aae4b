package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/grafo/grafo/internal/testutil"
	"github.com/grafo/grafo/kv/transport"
)

// TestInmemRaft runs the RaftTransport path the layers above use for fast
// tests: raft's in-memory transport plus transport.Network for RPCs, and
// Network.Disconnect showing up as Down through heartbeats.
func TestInmemRaft(t *testing.T) {
	t.Parallel()
	net := transport.NewNetwork()
	base := t.TempDir()
	var rafts []*raft.InmemTransport
	var cs []*Cluster
	for i := 1; i <= 3; i++ {
		addr := fmt.Sprint("mem", i)
		_, rt := raft.NewInmemTransport(raft.ServerAddress(addr))
		for _, other := range rafts {
			rt.Connect(other.LocalAddr(), other)
			other.Connect(rt.LocalAddr(), rt)
		}
		rafts = append(rafts, rt)
		cfg := DefaultConfig()
		cfg.NodeID, cfg.Dir = fmt.Sprint("n", i), filepath.Join(base, addr)
		cfg.Transport, cfg.RaftTransport = net.Node(addr), rt
		cfg.Heartbeat = 50 * time.Millisecond
		if i > 1 {
			cfg.Join = []string{"mem1"}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		c, err := Open(ctx, cfg)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cs = append(cs, c)
	}
	if err := cs[2].SetState(ctxT(t), "n2", Up); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "all see n2 up", func() bool {
		for _, c := range cs {
			if !slices.Equal(ids(c.State()), []string{"n1:up", "n2:up", "n3:joining"}) {
				return false
			}
		}
		return true
	})
	net.Disconnect("mem3")
	testutil.WaitFor(t, 15*time.Second, "n3 down", func() bool { return !cs[0].Alive("n3") })
	net.Reconnect("mem3")
	testutil.WaitFor(t, 15*time.Second, "n3 back", func() bool { return cs[0].Alive("n3") })
}
