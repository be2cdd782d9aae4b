package autoscale

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Cluster is what the runner needs of the node it runs on.
type Cluster interface {
	// Snapshot is the membership with every member's last reported load.
	Snapshot(ctx context.Context) (Snapshot, error)
	// Leader reports whether this node is the raft leader now.
	Leader() bool
	// Leave starts a member's departure; its ranges move to new owners.
	Leave(ctx context.Context, node string) error
	// Member reports a member's state; ok is false once it has left.
	Member(node string) (state string, ok bool)
}

// Status is the autoscaler's state for /v1/cluster.
type Status struct {
	Spec        string    `json:"spec"`
	Leader      bool      `json:"leader"` // false: decisions run on the raft leader
	Readings    []Reading `json:"readings"`
	Current     *Decision `json:"current,omitempty"` // the latest look, often a hold
	Last        *Decision `json:"lastDecision,omitempty"`
	NextAllowed time.Time `json:"nextAllowed,omitzero"`
	Acting      string    `json:"acting,omitempty"`
	Error       string    `json:"error,omitempty"` // the last actuator failure
}

// Runner is the loop the leader runs: snapshot, decide, act.
type Runner struct {
	spec     Spec
	cl       Cluster
	act      Actuator
	log      *slog.Logger
	interval time.Duration
	// LeaveTimeout bounds the wait for a leaving node's hand-off.
	LeaveTimeout time.Duration
	// JoinTimeout bounds the wait for a started machine to join: until
	// it does (or this passes), no other is started, so a machine that
	// cannot join never turns into a stream of them.
	JoinTimeout time.Duration

	decisions *prometheus.CounterVec
	ratios    *prometheus.GaugeVec

	mu      sync.Mutex
	d       *Decider
	status  Status
	added   []string        // nodes this runner brought up, newest first
	before  map[string]bool // members when the last Up was asked for
	upAt    time.Time       // when the last Up was asked for; zero once its node joined
	leading bool
}

// NewRunner looks at the cluster every interval.
func NewRunner(spec Spec, cl Cluster, act Actuator, interval time.Duration, log *slog.Logger) *Runner {
	return &Runner{
		spec: spec, cl: cl, act: act, log: log, interval: interval, LeaveTimeout: 10 * time.Minute, JoinTimeout: 10 * time.Minute,
		d:      NewDecider(spec),
		status: Status{Spec: spec.String()},
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grafo_autoscale_decisions_total", Help: "Autoscaler decisions that acted (up, down) or failed to.",
		}, []string{"action", "result"}),
		ratios: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "grafo_autoscale_reading_ratio", Help: "Each autoscaling signal's cluster reading divided by its target (on the leader).",
		}, []string{"signal"}),
	}
}

// Collectors are the runner's metrics.
func (r *Runner) Collectors() []prometheus.Collector {
	return []prometheus.Collector{r.decisions, r.ratios}
}

// Status is a copy of the current state.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.status
	s.Readings = slices.Clone(s.Readings)
	return s
}

// Run loops until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.Step(ctx)
	}
}

// Step is one look: a follower only notes that it is not leading; a new
// leader starts with an empty window, so it never acts on half a
// history it did not see.
func (r *Runner) Step(ctx context.Context) {
	leader := r.cl.Leader()
	r.mu.Lock()
	if leader && !r.leading {
		r.d = NewDecider(r.spec)
	}
	r.leading, r.status.Leader = leader, leader
	r.mu.Unlock()
	if !leader {
		return
	}
	snap, err := r.cl.Snapshot(ctx)
	if err != nil {
		r.log.Warn("autoscale: no snapshot", "err", err)
		return
	}
	r.mu.Lock()
	r.noteAdded(snap)
	if !r.upAt.IsZero() && snap.At.Sub(r.upAt) < r.JoinTimeout {
		snap.Starting = r.upAt
	}
	dec := r.d.Decide(snap, r.added)
	r.status.Readings, r.status.Current, r.status.NextAllowed = r.d.Readings(), &dec, r.d.NextAllowed()
	for _, rd := range r.status.Readings {
		r.ratios.WithLabelValues(rd.Signal).Set(rd.Ratio)
	}
	if dec.Action != Hold {
		r.status.Last = &dec
	}
	r.mu.Unlock()
	switch dec.Action {
	case Up:
		r.log.Info("autoscale: scaling out", "reason", dec.Reason)
		r.do(ctx, dec, func() error {
			r.mu.Lock()
			r.before = map[string]bool{}
			for _, m := range snap.Members {
				r.before[m.ID] = true
			}
			r.upAt = snap.At
			r.status.Acting = "starting a machine"
			r.mu.Unlock()
			return r.act.Up(ctx)
		})
	case Down:
		r.log.Info("autoscale: scaling in", "node", dec.Node, "reason", dec.Reason)
		r.do(ctx, dec, func() error { return r.scaleIn(ctx, dec.Node) })
	default:
		r.log.Debug("autoscale: hold", "reason", dec.Reason)
	}
}

func (r *Runner) do(ctx context.Context, dec Decision, f func() error) {
	err := f()
	result := "ok"
	r.mu.Lock()
	r.status.Acting, r.status.Error = "", ""
	if err != nil {
		result, r.status.Error = "error", err.Error()
	}
	r.mu.Unlock()
	r.decisions.WithLabelValues(string(dec.Action), result).Inc()
	if err != nil {
		r.log.Error("autoscale: action failed", "action", dec.Action, "node", dec.Node, "err", err)
	}
}

// scaleIn hands the node's ranges over first; the machine goes only
// once the ring no longer needs it.
func (r *Runner) scaleIn(ctx context.Context, node string) error {
	r.setActing(fmt.Sprintf("%s is leaving the ring", node))
	if err := r.cl.Leave(ctx, node); err != nil {
		return fmt.Errorf("leave %s: %w", node, err)
	}
	deadline := time.Now().Add(r.LeaveTimeout)
	for {
		state, ok := r.cl.Member(node)
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still %s after %s: its machine is kept", node, state, r.LeaveTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.interval):
		}
	}
	r.setActing(fmt.Sprintf("%s has left; removing its machine", node))
	if err := r.act.Down(ctx, node); err != nil {
		return err
	}
	r.mu.Lock()
	r.added = slices.DeleteFunc(r.added, func(id string) bool { return id == node })
	r.mu.Unlock()
	return nil
}

func (r *Runner) setActing(s string) {
	r.mu.Lock()
	r.status.Acting = s
	r.mu.Unlock()
}

// noteAdded remembers members that appeared after an Up, so scale-in
// takes back the machines the autoscaler started before any other.
func (r *Runner) noteAdded(s Snapshot) {
	if r.before == nil {
		return
	}
	for _, m := range s.Members {
		if !r.before[m.ID] && !slices.Contains(r.added, m.ID) {
			r.added = append([]string{m.ID}, r.added...)
			r.before[m.ID] = true
			r.upAt = time.Time{}
		}
	}
}
