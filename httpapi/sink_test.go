package httpapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSinkRoomWaits: remote-ingest writes past the byte budget wait for
// room instead of failing; a body larger than the budget runs alone; a
// caller that gives up while waiting gets its context's error.
func TestSinkRoomWaits(t *testing.T) {
	coord, _ := newCoordinator(t, 1)
	a := New(Config{Store: coord, SinkBytes: 10}).(*api)
	room := func(ctx context.Context, n int) (func(), error) {
		return a.sinkRoom(httptest.NewRequestWithContext(ctx, "POST", "/v1/graphs/g/files", strings.NewReader(strings.Repeat("x", n))))
	}
	first, err := room(context.Background(), 6)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		rel, err := room(context.Background(), 6)
		if err != nil {
			t.Error(err)
		}
		got <- rel
	}()
	select {
	case <-got:
		t.Fatal("a second 6-byte body got room in a 10-byte budget while the first held 6")
	case <-time.After(50 * time.Millisecond):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := room(ctx, 1<<20); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a waiter whose context ended: err %v, want context.DeadlineExceeded", err)
	}
	first()
	second := <-got // the first's room went to the waiting one
	second()
	big, err := room(context.Background(), 1<<20) // larger than the budget: runs alone
	if err != nil {
		t.Fatal(err)
	}
	big()
}
