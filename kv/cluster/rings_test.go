package cluster

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestChangedInstallsTheNewestRings: a change applied while another call
// of changed has read the state but not yet installed its rings (New's
// call after awaitMember, racing raft's applies) must not be undone by
// that call: the rings end as the state is. Before changed was
// serialised, a restarted member kept, until the next change, a read ring
// without itself from the moment its log still said it was joining.
func TestChangedInstallsTheNewestRings(t *testing.T) {
	c := &Cluster{fsm: newFSM(), subs: map[int]chan State{}}
	c.fsm.d.Nodes["n1"] = storedNode{ID: "n1", Weight: 1, State: Up}
	c.fsm.d.Nodes["n3"] = storedNode{ID: "n3", Weight: 1, State: Joining}
	c.changed()

	viewed, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	ringViewHook = func() {
		if !first.Swap(true) {
			close(viewed)
			<-release
		}
	}
	defer func() { ringViewHook = nil }()

	var wg sync.WaitGroup
	wg.Go(c.changed) // reads the state with n3 joining, then waits
	<-viewed
	c.fsm.mu.Lock()
	c.fsm.d.Nodes["n3"] = storedNode{ID: "n3", Weight: 1, State: Up}
	c.fsm.mu.Unlock()
	wg.Go(c.changed) // the apply's call
	// Give the second call time to install its rings first, as it could
	// before changed was serialised.
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()

	read, write := c.Rings()
	if !read.Has("n3") || !write.Has("n3") {
		t.Fatalf("n3 is up in the state, but the read ring has it: %v, the write ring: %v", read.Has("n3"), write.Has("n3"))
	}
}
