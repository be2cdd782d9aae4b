package replica

import (
	"slices"
	"sync"
	"time"
)

// A read asks R replicas, not N, and asks one more only when an answer
// is late: later than nearly all recent replica reads took (Cassandra's
// speculative retry at the 99th percentile).

const (
	latencyWindow    = 512                   // recent replica reads kept
	latencyEvery     = 64                    // recompute the percentile after this many
	speculateFloor   = 2 * time.Millisecond  // never sooner: loopback jitter is not lateness
	speculateDefault = 20 * time.Millisecond // before enough reads were seen
)

// latencies keeps the durations of recent remote replica reads.
type latencies struct {
	mu    sync.Mutex
	ring  [latencyWindow]time.Duration
	n     int // observations so far
	after time.Duration
}

func (l *latencies) observe(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.n%latencyWindow] = d
	l.n++
	if l.n%latencyEvery == 0 && l.n >= latencyWindow/4 {
		w := slices.Clone(l.ring[:min(l.n, latencyWindow)])
		slices.Sort(w)
		l.after = max(w[len(w)*99/100], speculateFloor)
	}
}

// speculateAfter is how long a read waits for its replicas before it
// asks a spare.
func (l *latencies) speculateAfter() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.after == 0 {
		return speculateDefault
	}
	return l.after
}

// selfFirst orders a key's owners with this node first, when it is one:
// its answer costs no round trip.
func (c *Coordinator) selfFirst(owners []string) []string {
	i := slices.Index(owners, c.self)
	if i <= 0 {
		return owners
	}
	out := make([]string, 0, len(owners))
	out = append(out, c.self)
	out = append(out, owners[:i]...)
	return append(out, owners[i+1:]...)
}
