package cluster

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafo/grafo/internal/testutil"
)

// Heartbeat answers carry each node's report, and a stopped node's
// report is dropped once it is seen as down.
func TestHeartbeatReports(t *testing.T) {
	base := t.TempDir()
	var gen atomic.Int64
	report := func(id string) func(*Config) {
		return func(c *Config) {
			c.Report = func() []byte { return fmt.Appendf(nil, "%s:%d", id, gen.Load()) }
		}
	}
	n1 := start(t, "n1", filepath.Join(base, "n1"), "", nil, report("n1"))
	n2 := start(t, "n2", filepath.Join(base, "n2"), "", []string{n1.addr}, report("n2"))
	n3 := start(t, "n3", filepath.Join(base, "n3"), "", []string{n1.addr}, report("n3"))
	testutil.WaitFor(t, 15*time.Second, "agreement", converged(n1, n2, n3))
	gen.Store(7)
	testutil.WaitFor(t, 15*time.Second, "every report on n1", func() bool {
		r := n1.c.Reports()
		return string(r["n1"]) == "n1:7" && string(r["n2"]) == "n2:7" && string(r["n3"]) == "n3:7"
	})
	n3.stop()
	testutil.WaitFor(t, 15*time.Second, "n3's report dropped", func() bool {
		_, ok := n1.c.Reports()["n3"]
		return !ok
	})
	if string(n2.c.Reports()["n1"]) != "n1:7" {
		t.Fatalf("n2 sees n1's report as %q", n2.c.Reports()["n1"])
	}
}
