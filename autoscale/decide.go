package autoscale

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Load is one node's reading over its last sampling interval, carried
// by its heartbeats.
type Load struct {
	Reads    float64 `json:"reads"`  // coordinated reads per second
	Writes   float64 `json:"writes"` // coordinated writes per second
	P99      float64 `json:"p99"`    // seconds, reads and writes together
	CPU      float64 `json:"cpu"`    // cores the process used
	Bytes    int64   `json:"bytes"`  // stored on this node
	Capacity int64   `json:"capacity,omitempty"`
	Hints    int64   `json:"hints"` // hints held for other nodes
}

// Member is one node of the ring as the decision sees it.
type Member struct {
	ID    string
	State string // up, down, unhealthy, joining, leaving
	Load  *Load  // nil until the node has reported
}

// Snapshot is the cluster at one instant.
type Snapshot struct {
	At          time.Time
	Self        string // the node running the decision: never picked for scale-in
	Replicas    int    // N
	Members     []Member
	Rebalancing bool
	// Starting is when the machine this autoscaler last started was asked
	// for, while it has not joined yet (zero otherwise): no second scale-out
	// until it has, or its join timed out.
	Starting time.Time
}

// Action is what a Decision asks for.
type Action string

const (
	Hold Action = "hold"
	Up   Action = "up"
	Down Action = "down"
)

// Decision is the outcome of one look at the cluster, with its reason in
// words an operator reads in the log and /v1/cluster.
type Decision struct {
	At     time.Time `json:"at"`
	Action Action    `json:"action"`
	Node   string    `json:"node,omitempty"`
	Reason string    `json:"reason"`
}

// Reading is one signal's cluster figure against its target.
type Reading struct {
	Signal string  `json:"signal"`
	Value  float64 `json:"value"`
	Target float64 `json:"target"`
	Ratio  float64 `json:"ratio"` // value / target
}

// Decider turns a sequence of snapshots into decisions. It is not safe
// for concurrent use; the runner owns it.
type Decider struct {
	spec      Spec
	hotSince  time.Time // zero: no signal above its target now
	coldSince time.Time // zero: not every signal below Low now
	next      time.Time // end of the cooldown
	readings  []Reading
}

// NewDecider starts with no history: a window must pass before it acts.
func NewDecider(spec Spec) *Decider { return &Decider{spec: spec} }

// Readings are the figures of the last Decide.
func (d *Decider) Readings() []Reading { return slices.Clone(d.readings) }

// NextAllowed is when the cooldown ends.
func (d *Decider) NextAllowed() time.Time { return d.next }

// Decide looks at s. prefer lists nodes this autoscaler added, newest
// first: scale-in takes those back before any other.
func (d *Decider) Decide(s Snapshot, prefer []string) Decision {
	hold := func(format string, args ...any) Decision {
		return Decision{At: s.At, Action: Hold, Reason: fmt.Sprintf(format, args...)}
	}
	d.readings = d.read(s)
	if len(d.readings) == 0 {
		d.hotSince, d.coldSince = time.Time{}, time.Time{}
		return hold("no signal with a target has a reading yet")
	}
	hottest, coldest := d.readings[0], d.readings[0]
	for _, r := range d.readings {
		if r.Ratio > hottest.Ratio {
			hottest = r
		}
		if r.Ratio > coldest.Ratio { // the least idle signal decides scale-in
			coldest = r
		}
	}
	hot, cold := hottest.Ratio > 1, coldest.Ratio < d.spec.Low
	d.hotSince = streak(d.hotSince, hot, s.At)
	d.coldSince = streak(d.coldSince, cold, s.At)

	n := len(s.Members)
	switch {
	case s.At.Before(d.next):
		return hold("cooldown until %s", d.next.UTC().Format(time.RFC3339))
	case hot:
		if held := s.At.Sub(d.hotSince); held < d.spec.Window {
			return hold("%s for %s of the %s window", describe(hottest), round(held), d.spec.Window)
		}
		if n >= d.spec.Max {
			return hold("%s, but the cluster is at max=%d", describe(hottest), d.spec.Max)
		}
		if why := moving(s); why != "" {
			return hold("%s, but %s", describe(hottest), why)
		}
		if !s.Starting.IsZero() {
			return hold("%s, but the machine started at %s has not joined yet", describe(hottest), s.Starting.UTC().Format(time.RFC3339))
		}
		return d.act(s, Up, "", fmt.Sprintf("%s for %s", describe(hottest), d.spec.Window))
	case cold:
		if held := s.At.Sub(d.coldSince); held < d.spec.Window {
			return hold("every signal below %.0f%% of target for %s of the %s window", d.spec.Low*100, round(held), d.spec.Window)
		}
		floor := max(d.spec.Min, s.Replicas)
		if n <= floor {
			return hold("load is low, but %d nodes is the floor (min=%d, N=%d)", n, d.spec.Min, s.Replicas)
		}
		if why := blocked(s); why != "" {
			return hold("load is low, but %s", why)
		}
		if after := coldest.Ratio * float64(n) / float64(n-1); after >= d.spec.Settle {
			return hold("load is low, but one node fewer would run %s at %.0f%% of target (settle=%.0f%%)", coldest.Signal, after*100, d.spec.Settle*100)
		}
		node := pick(s, prefer)
		if node == "" {
			return hold("load is low, but no node other than this one can leave")
		}
		return d.act(s, Down, node, fmt.Sprintf("every signal below %.0f%% of target for %s (%s)", d.spec.Low*100, d.spec.Window, describe(coldest)))
	}
	return hold("within targets (%s)", describe(hottest))
}

func (d *Decider) act(s Snapshot, a Action, node, reason string) Decision {
	d.next = s.At.Add(d.spec.Cooldown)
	d.hotSince, d.coldSince = time.Time{}, time.Time{}
	return Decision{At: s.At, Action: a, Node: node, Reason: reason}
}

// read averages each signal with a target over the up members that
// reported; disk is the fullest node, since one full disk stops writes.
func (d *Decider) read(s Snapshot) []Reading {
	var loads []Load
	for _, m := range s.Members {
		if m.State == "up" && m.Load != nil {
			loads = append(loads, *m.Load)
		}
	}
	if len(loads) == 0 {
		return nil
	}
	avg := func(f func(Load) float64) float64 {
		sum := 0.0
		for _, l := range loads {
			sum += f(l)
		}
		return sum / float64(len(loads))
	}
	var out []Reading
	add := func(name string, value, target float64) {
		if target > 0 {
			out = append(out, Reading{Signal: name, Value: value, Target: target, Ratio: value / target})
		}
	}
	add("writes", avg(func(l Load) float64 { return l.Writes }), d.spec.Writes)
	add("reads", avg(func(l Load) float64 { return l.Reads }), d.spec.Reads)
	add("p99", avg(func(l Load) float64 { return l.P99 }), d.spec.P99.Seconds())
	add("cpu", avg(func(l Load) float64 { return l.CPU }), d.spec.CPU)
	fullest, capped := 0.0, false
	for _, l := range loads {
		if l.Capacity > 0 {
			fullest, capped = math.Max(fullest, float64(l.Bytes)/float64(l.Capacity)), true
		}
	}
	if capped {
		add("disk", fullest, d.spec.Disk)
	}
	return out
}

func streak(since time.Time, on bool, now time.Time) time.Time {
	switch {
	case !on:
		return time.Time{}
	case since.IsZero():
		return now
	}
	return since
}

// moving says why a membership change must wait: ranges still move.
func moving(s Snapshot) string {
	if s.Rebalancing {
		return "ranges are moving"
	}
	for _, m := range s.Members {
		if m.State == "joining" || m.State == "leaving" {
			return fmt.Sprintf("%s is %s", m.ID, m.State)
		}
	}
	return ""
}

// blocked says why a scale-in would risk a replica.
func blocked(s Snapshot) string {
	if why := moving(s); why != "" {
		return why
	}
	var hints int64
	for _, m := range s.Members {
		if m.State != "up" {
			return fmt.Sprintf("%s is %s", m.ID, m.State)
		}
		if m.Load == nil {
			return fmt.Sprintf("%s has not reported its load", m.ID)
		}
		hints += m.Load.Hints
	}
	if hints > 0 {
		return fmt.Sprintf("%d hints are pending", hints)
	}
	return ""
}

// pick chooses the node to take out: the newest this autoscaler added,
// else the last by ID; never the node running the decision.
func pick(s Snapshot, prefer []string) string {
	ids := map[string]bool{}
	for _, m := range s.Members {
		if m.ID != s.Self {
			ids[m.ID] = true
		}
	}
	for _, p := range prefer {
		if ids[p] {
			return p
		}
	}
	all := make([]string, 0, len(ids))
	for id := range ids {
		all = append(all, id)
	}
	sort.Strings(all)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}

func describe(r Reading) string {
	unit := map[string]string{"writes": "/s", "reads": "/s", "p99": "s", "cpu": " cores"}[r.Signal]
	if r.Signal == "disk" {
		return fmt.Sprintf("disk %.0f%% full against a %.0f%% target", r.Value*100, r.Target*100)
	}
	return fmt.Sprintf("%s %s%s per node against a target of %s%s (%.0f%%)", r.Signal, num(r.Value), unit, num(r.Target), unit, r.Ratio*100)
}

func num(f float64) string {
	s := fmt.Sprintf("%.3g", f)
	if strings.Contains(s, "e") {
		s = fmt.Sprintf("%.0f", f)
	}
	return s
}

func round(d time.Duration) time.Duration { return d.Round(time.Second) }
