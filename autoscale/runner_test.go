package autoscale

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is an actuator that only records what it was asked: the
// machine it "starts" never joins.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) Up(context.Context) error { r.record("up"); return nil }
func (r *recorder) Down(_ context.Context, node string) error {
	r.record("down " + node)
	return nil
}
func (r *recorder) record(s string) { r.mu.Lock(); r.calls = append(r.calls, s); r.mu.Unlock() }

// scripted is a membership that stays as the test sets it.
type scripted struct {
	members []Member
	left    map[string]bool
}

func (s *scripted) Snapshot(context.Context) (Snapshot, error) {
	var ms []Member
	for _, m := range s.members {
		if !s.left[m.ID] {
			ms = append(ms, m)
		}
	}
	return Snapshot{At: time.Now(), Self: "n1", Replicas: 3, Members: ms}, nil
}
func (s *scripted) Leader() bool { return true }
func (s *scripted) Leave(_ context.Context, node string) error {
	s.left[node] = true
	return nil
}
func (s *scripted) Member(node string) (string, bool) {
	for _, m := range s.members {
		if m.ID == node && !s.left[node] {
			return m.State, true
		}
	}
	return "", false
}

// A machine that never joins is not followed by another: the runner
// waits for it (JoinTimeout) whatever the cooldown says.
func TestRunnerWaitsForTheStartedMachineToJoin(t *testing.T) {
	hot := &Load{Writes: 500}
	cl := &scripted{left: map[string]bool{}}
	for i := 1; i <= 3; i++ {
		cl.members = append(cl.members, Member{ID: fmt.Sprintf("n%d", i), State: "up", Load: hot})
	}
	act := &recorder{}
	sp, _ := ParseSpec("min=3,max=6,writes=100,window=1ms,cooldown=1ms")
	r := NewRunner(sp, cl, act, time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i := 0; i < 50; i++ {
		r.Step(context.Background())
		time.Sleep(time.Millisecond)
	}
	if strings.Join(act.calls, ",") != "up" {
		t.Fatalf("actuator calls %v, want a single up while its machine has not joined", act.calls)
	}
	if st := r.Status(); st.Current == nil || !strings.Contains(st.Current.Reason, "has not joined yet") {
		t.Fatalf("status %+v", st.Current)
	}
	// Once it joins, the next hot window may start another.
	cl.members = append(cl.members, Member{ID: "a1", State: "up", Load: hot})
	for i := 0; i < 50 && len(act.calls) < 2; i++ {
		r.Step(context.Background())
		time.Sleep(time.Millisecond)
	}
	if strings.Join(act.calls, ",") != "up,up" {
		t.Fatalf("actuator calls %v, want a second up after the first machine joined", act.calls)
	}
	// Scale-in takes back the newest machine it started, after its leave.
	cold := &Load{Writes: 1}
	for i := range cl.members {
		cl.members[i].Load = cold
	}
	cl.members = append(cl.members, Member{ID: "a2", State: "up", Load: cold})
	for i := 0; i < 50 && len(act.calls) < 3; i++ {
		r.Step(context.Background())
		time.Sleep(time.Millisecond)
	}
	if got := act.calls[len(act.calls)-1]; got != "down a2" || !cl.left["a2"] {
		t.Fatalf("actuator calls %v (left %v), want down a2 after a2 left", act.calls, cl.left)
	}
}
