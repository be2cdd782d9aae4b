package autoscale

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// trace is a recorded load history: one snapshot a second.
type trace struct {
	name    string
	nodes   int
	writes  func(sec int) float64 // per-node writes/s at second sec
	state   func(sec int, id string) string
	seconds int
	want    []string // the non-hold decisions, in order, as "up@sec" / "down:ID@sec"
}

func spec(t *testing.T) Spec {
	t.Helper()
	sp, err := ParseSpec("min=3,max=5,writes=100,window=10s,cooldown=30s")
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// replay feeds a trace to a Decider, letting an "up" add a node and a
// "down" remove one, as the runner would once the actuator has acted.
func replay(t *testing.T, tr trace) []string {
	d := NewDecider(spec(t))
	ids := []string{}
	for i := 1; i <= tr.nodes; i++ {
		ids = append(ids, fmt.Sprintf("n%d", i))
	}
	var added, got []string
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for sec := 0; sec < tr.seconds; sec++ {
		// Total load is what the clients send; it spreads over the nodes.
		total := tr.writes(sec) * float64(tr.nodes)
		s := Snapshot{At: start.Add(time.Duration(sec) * time.Second), Self: "n1", Replicas: 3}
		for _, id := range ids {
			st := "up"
			if tr.state != nil {
				st = tr.state(sec, id)
			}
			s.Members = append(s.Members, Member{ID: id, State: st, Load: &Load{Writes: total / float64(len(ids))}})
		}
		dec := d.Decide(s, added)
		if dec.Reason == "" {
			t.Fatalf("%s: decision at %d has no reason", tr.name, sec)
		}
		switch dec.Action {
		case Up:
			id := fmt.Sprintf("a%d", sec)
			ids = append(ids, id)
			added = append([]string{id}, added...)
			got = append(got, fmt.Sprintf("up@%d", sec))
		case Down:
			for i, id := range ids {
				if id == dec.Node {
					ids = append(ids[:i], ids[i+1:]...)
				}
			}
			got = append(got, fmt.Sprintf("down:%s@%d", dec.Node, sec))
		}
	}
	return got
}

func TestDecideTraces(t *testing.T) {
	for _, tr := range []trace{
		{name: "steady within target", nodes: 3, seconds: 120,
			writes: func(int) float64 { return 60 }},
		{name: "rising", nodes: 3, seconds: 60,
			// 60/s per node, climbing to 200/s by second 40.
			writes: func(s int) float64 { return 60 + float64(min(s, 40))*3.5 },
			// Above 100 from second 12; held for the 10 s window; then a
			// 30 s cooldown, and 4 nodes still run hot (150/s) → a 5th.
			want: []string{"up@22", "up@52"}},
		{name: "rising stops at max", nodes: 3, seconds: 200,
			writes: func(int) float64 { return 400 },
			want:   []string{"up@10", "up@40"}},
		{name: "falling takes back what it added first", nodes: 5, seconds: 100,
			writes: func(s int) float64 { return 10 },
			// 10/s of 100 is below low=30%; one fewer node stays under
			// settle; down to the floor of 3 and no further.
			want: []string{"down:n5@10", "down:n4@40"}},
		{name: "spiky never flaps", nodes: 3, seconds: 300,
			// 5 s bursts at 3× target every 20 s: never a whole window.
			writes: func(s int) float64 {
				if s%20 < 5 {
					return 300
				}
				return 50
			}},
		{name: "a node down blocks scale-in", nodes: 4, seconds: 100,
			writes: func(int) float64 { return 5 },
			state: func(s int, id string) string {
				if id == "n2" {
					return "down"
				}
				return "up"
			}},
		{name: "scale-out while a node is down is allowed", nodes: 3, seconds: 30,
			writes: func(int) float64 { return 300 },
			state: func(s int, id string) string {
				if id == "n3" {
					return "down"
				}
				return "up"
			},
			want: []string{"up@10"}},
	} {
		t.Run(tr.name, func(t *testing.T) {
			got := replay(t, tr)
			if strings.Join(got, " ") != strings.Join(tr.want, " ") {
				t.Fatalf("decisions %v, want %v", got, tr.want)
			}
		})
	}
}

func TestDecideScaleInHoldsForRebalancingHintsAndSettle(t *testing.T) {
	sp := spec(t)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	snap := func(sec int, writes float64, hints int64, rebalancing bool) Snapshot {
		s := Snapshot{At: at.Add(time.Duration(sec) * time.Second), Self: "n1", Replicas: 3, Rebalancing: rebalancing}
		for i := 1; i <= 4; i++ {
			s.Members = append(s.Members, Member{ID: fmt.Sprintf("n%d", i), State: "up", Load: &Load{Writes: writes, Hints: hints}})
		}
		return s
	}
	for _, c := range []struct {
		name        string
		writes      float64
		hints       int64
		rebalancing bool
		reason      string
	}{
		{"hints", 5, 2, false, "8 hints are pending"},
		{"rebalancing", 5, 0, true, "ranges are moving"},
		// 29/s is below low (30%) but on 3 nodes it would be 38.7/s:
		// still under settle (70%) — acts. 28/s on 4 with settle 0.3? use
		// a tighter settle below.
	} {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecider(sp)
			var dec Decision
			for sec := 0; sec <= 20; sec++ {
				dec = d.Decide(snap(sec, c.writes, c.hints, c.rebalancing), nil)
			}
			if dec.Action != Hold || !strings.Contains(dec.Reason, c.reason) {
				t.Fatalf("got %s %q, want hold because %q", dec.Action, dec.Reason, c.reason)
			}
		})
	}
	t.Run("settle", func(t *testing.T) {
		sp := sp
		sp.Low, sp.Settle = 0.3, 0.35
		d := NewDecider(sp)
		var dec Decision
		for sec := 0; sec <= 20; sec++ {
			dec = d.Decide(snap(sec, 29, 0, false), nil) // 3 nodes would run 38.7%
		}
		if dec.Action != Hold || !strings.Contains(dec.Reason, "one node fewer") {
			t.Fatalf("got %s %q, want a hold naming the settle margin", dec.Action, dec.Reason)
		}
	})
}

func TestDecideNoSignalNoAction(t *testing.T) {
	sp := spec(t)
	d := NewDecider(sp)
	at := time.Now()
	s := Snapshot{At: at, Replicas: 3, Members: []Member{{ID: "n1", State: "up"}, {ID: "n2", State: "up"}}}
	if dec := d.Decide(s, nil); dec.Action != Hold || !strings.Contains(dec.Reason, "no signal") {
		t.Fatalf("got %+v", dec)
	}
}

func TestParseSpec(t *testing.T) {
	sp, err := ParseSpec("min=3, max=8,writes=2000,reads=5000,p99=20ms,cpu=1.5,disk=75%,window=1m,cooldown=5m")
	if err != nil {
		t.Fatal(err)
	}
	if sp.Min != 3 || sp.Max != 8 || sp.Writes != 2000 || sp.Reads != 5000 || sp.P99 != 20*time.Millisecond ||
		sp.CPU != 1.5 || sp.Disk != 0.75 || sp.Window != time.Minute || sp.Cooldown != 5*time.Minute {
		t.Fatalf("parsed %+v", sp)
	}
	again, err := ParseSpec(sp.String())
	if err != nil || again != sp {
		t.Fatalf("round trip %q: %+v, %v", sp.String(), again, err)
	}
	for in, want := range map[string]string{
		"max=3":               "min and max are required",
		"min=3,max=2":         "below min",
		"min=0,max=2":         "at least 1",
		"min=3,max=4,foo=1":   "unknown key",
		"min=3,max=4,min=5":   "given twice",
		"min=3,max=4,p99=x":   "p99=x",
		"min=3,max=4,disk=2":  "fraction",
		"min=3,max":           "not key=value",
		"min=3,max=4,low=0.9": "low < settle",
	} {
		if _, err := ParseSpec(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSpec(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"20GiB": 20 << 30, "512 MiB": 512 << 20, "10GB": 10e9, "1048576": 1 << 20, "1.5KiB": 1536} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1GiB", "x", "1e30TiB"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) accepted", in)
		}
	}
}

// While a started machine has not joined, a hot window holds without
// acting: no cooldown starts and the window is not reset, so the moment
// the machine counts (or its join timed out) a still-hot cluster scales
// out at once.
func TestDecideHoldsWhileAMachineIsStarting(t *testing.T) {
	d := NewDecider(spec(t)) // window 10s, cooldown 30s
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	started := at.Add(-time.Minute)
	hot := func(sec int, starting time.Time) Decision {
		s := Snapshot{At: at.Add(time.Duration(sec) * time.Second), Self: "n1", Replicas: 3, Starting: starting}
		for i := 1; i <= 3; i++ {
			s.Members = append(s.Members, Member{ID: fmt.Sprintf("n%d", i), State: "up", Load: &Load{Writes: 500}})
		}
		return d.Decide(s, nil)
	}
	for sec := 0; sec <= 20; sec++ {
		if dec := hot(sec, started); dec.Action != Hold || (sec >= 10 && !strings.Contains(dec.Reason, "has not joined yet")) {
			t.Fatalf("second %d: %s %q, want a hold for the starting machine", sec, dec.Action, dec.Reason)
		}
	}
	if !d.NextAllowed().IsZero() {
		t.Fatalf("a hold started a cooldown until %v", d.NextAllowed())
	}
	if dec := hot(21, time.Time{}); dec.Action != Up {
		t.Fatalf("once nothing is starting: %s %q, want up at once", dec.Action, dec.Reason)
	}
}
