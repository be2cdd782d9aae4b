package hints

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
)

type fakeTarget struct {
	mu    sync.Mutex
	alive map[string]bool
	fail  bool
	got   map[string][]kv.Entry
}

func (f *fakeTarget) Alive(n string) bool { f.mu.Lock(); defer f.mu.Unlock(); return f.alive[n] }
func (f *fakeTarget) ApplyTo(ctx context.Context, n string, es []kv.Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("unreachable")
	}
	f.got[n] = append(f.got[n], es...)
	return nil
}

func entry(i int) kv.Entry {
	return kv.Entry{Key: []byte(fmt.Sprintf("k%d", i)), Cell: kv.Cell{Value: []byte(fmt.Sprintf("v%d", i)), Version: kv.Version{TS: uint64(i + 1), Node: "n1"}}}
}

func open(t *testing.T, path string, cfg Config) *Store {
	t.Helper()
	cfg.NoSync = true
	s, err := Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAddDeliverReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hints.db")
	ctx := context.Background()
	s := open(t, path, Config{})
	for i := 0; i < 10; i++ {
		if err := s.Add(ctx, "n2", []kv.Entry{entry(i)}); err != nil {
			t.Fatal(err)
		}
	}
	s.Add(ctx, "n3", []kv.Entry{entry(100), {Key: []byte("t"), Cell: kv.Cell{Tombstone: true, Version: kv.Version{TS: 7, Node: "x"}}}})
	if s.Pending() != 12 {
		t.Fatalf("pending %d, want 12", s.Pending())
	}
	s.Close()
	s = open(t, path, Config{})
	defer s.Close()
	if s.Pending() != 12 {
		t.Fatalf("pending after reopen %d, want 12", s.Pending())
	}
	ft := &fakeTarget{alive: map[string]bool{"n2": true}, got: map[string][]kv.Entry{}}
	ft.fail = true
	if err := s.DeliverOnce(ctx, ft); err != nil || s.Pending() != 12 {
		t.Fatalf("failed delivery must keep hints: %v, pending %d", err, s.Pending())
	}
	ft.fail = false
	if err := s.DeliverOnce(ctx, ft); err != nil {
		t.Fatal(err)
	}
	if s.Pending() != 2 || len(ft.got["n2"]) != 10 || string(ft.got["n2"][3].Cell.Value) != "v3" {
		t.Fatalf("after delivery to n2: pending %d, got %d", s.Pending(), len(ft.got["n2"]))
	}
	ft.alive["n3"] = true
	s.DeliverOnce(ctx, ft)
	if s.Pending() != 0 || len(ft.got["n3"]) != 2 || !ft.got["n3"][1].Cell.Tombstone {
		t.Fatalf("after delivery to n3: pending %d, got %+v", s.Pending(), ft.got["n3"])
	}
}

func TestBoundsAndExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hints.db"), Config{MaxEntries: 5, Window: time.Hour})
	defer s.Close()
	for i := 0; i < 8; i++ {
		s.Add(ctx, "n2", []kv.Entry{entry(i)})
	}
	if s.Pending() != 5 {
		t.Fatalf("pending %d, want the bound 5", s.Pending())
	}
	ft := &fakeTarget{alive: map[string]bool{"n2": true}, got: map[string][]kv.Entry{}}
	// Oldest were dropped: k3..k7 remain. Then age everything past the window.
	s.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	s.DeliverOnce(ctx, ft)
	if s.Pending() != 0 || len(ft.got["n2"]) != 0 {
		t.Fatalf("expired hints delivered or kept: pending %d, got %d", s.Pending(), len(ft.got["n2"]))
	}
	s.now = time.Now
	for i := 0; i < 8; i++ {
		s.Add(ctx, "n2", []kv.Entry{entry(i)})
	}
	s.DeliverOnce(ctx, ft)
	if len(ft.got["n2"]) != 5 || string(ft.got["n2"][0].Key) != "k3" {
		t.Fatalf("want k3..k7 delivered, got %d first %q", len(ft.got["n2"]), ft.got["n2"][0].Key)
	}
}

func TestWorkerDelivers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hints.db"), Config{Interval: 10 * time.Millisecond})
	defer s.Close()
	ft := &fakeTarget{alive: map[string]bool{}, got: map[string][]kv.Entry{}}
	s.Run(ft)
	s.Add(ctx, "n2", []kv.Entry{entry(1), entry(2)})
	ft.mu.Lock()
	ft.alive["n2"] = true
	ft.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for s.Pending() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("worker did not deliver")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
