package autoscale

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The coordinator's metrics the sampler differentiates (kv/replica).
const (
	requestsMetric = "grafo_kv_requests_total"
	latencyMetric  = "grafo_kv_request_seconds"
)

// Sampler turns this node's cumulative counters into the rates of a
// Load: each Sample covers the time since the previous one.
type Sampler struct {
	g        prometheus.Gatherer
	bytes    func() int64
	hints    func() int64
	capacity int64

	mu   sync.Mutex
	prev counters
	last Load
}

type counters struct {
	at      time.Time
	reads   float64
	writes  float64
	buckets []bucket // cumulative, read and write latency together
	cpu     time.Duration
}

type bucket struct {
	le    float64
	count float64
}

// NewSampler reads g (the node's registry); bytes and hints report what
// the node stores and holds for others; capacity is --capacity (0 = none).
func NewSampler(g prometheus.Gatherer, bytes, hints func() int64, capacity int64) *Sampler {
	s := &Sampler{g: g, bytes: bytes, hints: hints, capacity: capacity}
	s.prev = s.read(time.Now())
	return s
}

// Run samples every interval until ctx ends; Last is then at most one
// interval old (what heartbeats report).
func (s *Sampler) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.Sample(now)
		}
	}
}

// Sample takes a reading now and returns the load since the last one.
func (s *Sampler) Sample(now time.Time) Load {
	cur := s.read(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.prev
	s.prev = cur
	secs := cur.at.Sub(prev.at).Seconds()
	l := Load{Capacity: s.capacity}
	if s.bytes != nil {
		l.Bytes = s.bytes()
	}
	if s.hints != nil {
		l.Hints = s.hints()
	}
	if secs > 0 {
		l.Reads = nonNegative(cur.reads-prev.reads) / secs
		l.Writes = nonNegative(cur.writes-prev.writes) / secs
		l.CPU = nonNegative(float64(cur.cpu-prev.cpu)) / float64(time.Second) / secs
		l.P99 = quantile(0.99, prev.buckets, cur.buckets)
	}
	s.last = l
	return l
}

// Last is the most recent Sample's load.
func (s *Sampler) Last() Load {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func (s *Sampler) read(now time.Time) counters {
	c := counters{at: now, cpu: processCPU()}
	mfs, err := s.g.Gather()
	if err != nil && len(mfs) == 0 {
		return c
	}
	les := map[float64]float64{}
	for _, mf := range mfs {
		switch mf.GetName() {
		case requestsMetric:
			for _, m := range mf.GetMetric() {
				switch label(m, "op") {
				case "read":
					c.reads += m.GetCounter().GetValue()
				case "write":
					c.writes += m.GetCounter().GetValue()
				}
			}
		case latencyMetric:
			for _, m := range mf.GetMetric() {
				if op := label(m, "op"); op != "read" && op != "write" {
					continue
				}
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					les[b.GetUpperBound()] += float64(b.GetCumulativeCount())
				}
				les[math.Inf(1)] += float64(h.GetSampleCount())
			}
		}
	}
	for le, n := range les {
		c.buckets = append(c.buckets, bucket{le, n})
	}
	slices.SortFunc(c.buckets, func(a, b bucket) int { return cmp.Compare(a.le, b.le) })
	return c
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// quantile estimates the q-quantile of the observations between two
// cumulative histograms, interpolating inside the bucket it falls in
// (the answer for the open top bucket is its lower bound).
func quantile(q float64, prev, cur []bucket) float64 {
	if len(cur) == 0 {
		return 0
	}
	delta := make([]float64, len(cur))
	for i, b := range cur {
		delta[i] = b.count
		for _, p := range prev {
			if p.le == b.le {
				delta[i] -= p.count
			}
		}
	}
	total := delta[len(delta)-1]
	if total <= 0 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, b := range cur {
		if delta[i] >= rank {
			if math.IsInf(b.le, 1) {
				return lower
			}
			in := delta[i] - below
			if in <= 0 {
				return b.le
			}
			return lower + (b.le-lower)*(rank-below)/in
		}
		lower, below = b.le, delta[i]
	}
	return lower
}

func nonNegative(f float64) float64 { return math.Max(f, 0) }

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
