package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
)

func openForTest(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e, err := Open(filepath.Join(t.TempDir(), "data.db"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func (e *Engine) queuedOps() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.queue)
}

func entry(key string) kv.Entry {
	return kv.Entry{Key: []byte(key), Cell: kv.Cell{Value: []byte("v"), Version: kv.Version{TS: 1, Node: "n"}}}
}

// After a batch of several ops the committer waits up to BusyBatchDelay
// for as many more before it commits.
func TestBusyBatchDelayWaitsForConcurrentWriters(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	var held atomic.Bool
	e := openForTest(t, Config{NoSync: true, BusyBatchDelay: time.Second, TestingBeforeCommit: func() error {
		if held.CompareAndSwap(false, true) {
			<-hold // the first commit waits until two more ops queue
		}
		return nil
	}})
	apply := func(key string) chan error {
		done := make(chan error, 1)
		go func() { _, err := e.Apply(context.Background(), entry(key)); done <- err }()
		return done
	}
	wait := func(chs ...chan error) {
		t.Helper()
		for _, ch := range chs {
			if err := <-ch; err != nil {
				t.Fatal(err)
			}
		}
	}
	a := apply("a")
	for !held.Load() {
		time.Sleep(time.Millisecond)
	}
	b, c := apply("b"), apply("c")
	for e.queuedOps() < 2 {
		time.Sleep(time.Millisecond)
	}
	close(hold)
	wait(a, b, c)
	if got := e.Stats().Commits; got != 2 {
		t.Fatalf("%d commits, want 2: {a} and {b c}", got)
	}
	// The last batch held two ops: d waits for a second one.
	d := apply("d")
	select {
	case err := <-d:
		t.Fatalf("d committed alone (err %v) right after a batch of two", err)
	case <-time.After(100 * time.Millisecond):
	}
	wait(apply("e"), d)
	if got := e.Stats().Commits; got != 3 {
		t.Fatalf("%d commits, want 3: d and e together", got)
	}
}

// A lone writer's batches hold one op each: it never waits.
func TestBusyBatchDelaySparesALoneWriter(t *testing.T) {
	t.Parallel()
	e := openForTest(t, Config{NoSync: true, BusyBatchDelay: time.Second})
	done := make(chan error, 1)
	go func() {
		for i := range 20 {
			if _, err := e.Apply(context.Background(), entry(fmt.Sprint("k", i))); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("20 lone writes did not finish in 10 s: the committer waited for writers that were not there")
	}
	if got := e.Stats().Commits; got != 20 {
		t.Fatalf("%d commits, want 20", got)
	}
}
