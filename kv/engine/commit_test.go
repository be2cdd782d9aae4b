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

// ApplyAsync hands Apply's outcome to its callback once the batch is
// committed: the write is readable by then, a stale version is reported
// as not applied, a failed commit as its error, and a closed engine
// refuses at once.
func TestApplyAsync(t *testing.T) {
	t.Parallel()
	var failNext atomic.Bool
	e := openForTest(t, Config{NoSync: true, TestingBeforeCommit: func() error {
		if failNext.CompareAndSwap(true, false) {
			return fmt.Errorf("disk on fire")
		}
		return nil
	}})
	type outcome struct {
		applied []bool
		err     error
		visible bool // the first entry was readable when done ran
	}
	apply := func(es ...kv.Entry) outcome {
		t.Helper()
		ch := make(chan outcome, 1)
		err := e.ApplyAsync(context.Background(), func(applied []bool, err error) {
			c, gerr := e.Get(context.Background(), es[0].Key)
			ch <- outcome{applied, err, gerr == nil && c.Version == es[0].Cell.Version}
		}, es...)
		if err != nil {
			t.Fatal(err)
		}
		return <-ch
	}
	newer := entry("k")
	newer.Cell.Version.TS = 2
	if o := apply(newer, entry("j")); o.err != nil || len(o.applied) != 2 || !o.applied[0] || !o.applied[1] || !o.visible {
		t.Fatalf("first write: %+v, want both applied and visible", o)
	}
	if o := apply(entry("k")); o.err != nil || len(o.applied) != 1 || o.applied[0] {
		t.Fatalf("an older version: %+v, want not applied", o)
	}
	failNext.Store(true)
	if o := apply(entry("f")); o.err == nil || o.visible {
		t.Fatalf("a failed commit: %+v, want its error and nothing stored", o)
	}
	if err := e.ApplyAsync(context.Background(), func([]bool, error) { t.Error("done called for a refused call") }, kv.Entry{Key: []byte("z")}); err == nil {
		t.Fatal("an entry without a version was queued")
	}
	e.Close()
	if err := e.ApplyAsync(context.Background(), func([]bool, error) { t.Error("done called after Close") }, entry("late")); err != kv.ErrClosed {
		t.Fatalf("ApplyAsync after Close: %v, want kv.ErrClosed", err)
	}
}
