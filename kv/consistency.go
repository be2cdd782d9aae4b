package kv

import (
	"fmt"
	"strings"
)

// Level is a named consistency level.
type Level int

const (
	// Default uses the cluster's configured W and R.
	Default Level = iota
	// One needs one replica.
	One
	// Quorum needs N/2+1 replicas.
	Quorum
	// All needs every replica of the key.
	All
	// Linearizable is a quorum read that writes the newest version back to a
	// quorum before answering (ABD); writes are quorum writes.
	Linearizable
)

func (l Level) String() string {
	switch l {
	case One:
		return "one"
	case Quorum:
		return "quorum"
	case All:
		return "all"
	case Linearizable:
		return "linearizable"
	}
	return "default"
}

// ParseLevel parses one|quorum|all|linearizable (any case); "" is Default.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(s) {
	case "":
		return Default, nil
	case "one":
		return One, nil
	case "quorum":
		return Quorum, nil
	case "all":
		return All, nil
	case "linearizable":
		return Linearizable, nil
	}
	return Default, fmt.Errorf("%w: unknown level %q (want one, quorum, all or linearizable)", ErrInvalidConsistency, s)
}

// Options are per-request knobs. The zero value means the cluster's
// defaults.
type Options struct {
	Level Level
	// W and R, when non-zero, override Level with an explicit number of
	// acks (writes) or answers (reads); valid values are 1..N.
	W, R int
	// Sloppy lets hinted writes to stand-in nodes count toward W.
	Sloppy bool
}

// Need returns how many replicas must answer a write (write=true) or a
// read. n is the number of replicas the key really has (N capped by the
// number of nodes), maxN the configured N that explicit W/R are validated
// against, defW/defR the cluster defaults (0 means n/2+1). A need larger
// than n is not an error here: the coordinator answers ErrUnavailable.
func (o Options) Need(write bool, n, maxN, defW, defR int) (int, error) {
	explicit, def, what := o.R, defR, "r"
	if write {
		explicit, def, what = o.W, defW, "w"
	}
	if maxN < n {
		maxN = n
	}
	if explicit != 0 {
		if explicit < 1 || explicit > maxN {
			return 0, fmt.Errorf("%w: %s=%d is outside 1..%d", ErrInvalidConsistency, what, explicit, maxN)
		}
		return explicit, nil
	}
	switch o.Level {
	case One:
		return 1, nil
	case Quorum, Linearizable:
		return n/2 + 1, nil
	case All:
		return n, nil
	}
	if def < 1 || def > n {
		// The configured default cannot exceed the replicas that exist: a
		// cluster smaller than N still answers with its defaults.
		if def < 1 {
			def = n/2 + 1
		} else {
			def = n
		}
	}
	return def, nil
}
