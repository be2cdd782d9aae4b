package autoscale

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestSamplerRatesAndP99(t *testing.T) {
	reg := prometheus.NewRegistry()
	ops := prometheus.NewCounterVec(prometheus.CounterOpts{Name: requestsMetric, Help: "h"}, []string{"op", "result"})
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: latencyMetric, Help: "h",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}, []string{"op"})
	reg.MustRegister(ops, lat)
	// History before the sampler starts must not count.
	ops.WithLabelValues("write", "ok").Add(1e6)
	lat.WithLabelValues("write").Observe(5)

	s := NewSampler(reg, func() int64 { return 7 << 20 }, func() int64 { return 3 }, 10<<20)
	start := s.prev.at
	for i := 0; i < 990; i++ {
		ops.WithLabelValues("write", "ok").Inc()
		lat.WithLabelValues("write").Observe(0.001)
	}
	for i := 0; i < 10; i++ {
		ops.WithLabelValues("read", "error").Inc()
		lat.WithLabelValues("read").Observe(0.1)
	}
	ops.WithLabelValues("scan", "ok").Add(500) // not a read or a write
	l := s.Sample(start.Add(2 * time.Second))
	if math.Abs(l.Writes-495) > 1e-9 || math.Abs(l.Reads-5) > 1e-9 {
		t.Fatalf("rates writes=%v reads=%v, want 495 and 5", l.Writes, l.Reads)
	}
	// 99% of the 1,000 requests took 1 ms: p99 is inside 1 ms's bucket
	// (0.8–1.6 ms), far from the 100 ms tail and the 5 s history.
	if l.P99 < 0.0008 || l.P99 > 0.0016 {
		t.Fatalf("p99 = %v s, want about 1 ms", l.P99)
	}
	if l.Bytes != 7<<20 || l.Capacity != 10<<20 || l.Hints != 3 {
		t.Fatalf("load %+v", l)
	}
	if l.CPU < 0 {
		t.Fatalf("cpu %v", l.CPU)
	}
	// A quiet interval reads as zero, not as the previous rate.
	if q := s.Sample(start.Add(4 * time.Second)); q.Writes != 0 || q.Reads != 0 || q.P99 != 0 {
		t.Fatalf("quiet interval %+v", q)
	}
	if s.Last().Writes != 0 {
		t.Fatal("Last is not the latest sample")
	}
}
