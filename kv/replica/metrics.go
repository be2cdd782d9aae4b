package replica

import (
	"errors"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the coordinator's Prometheus collectors.
type Metrics struct {
	ops         *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	unavailable *prometheus.CounterVec
	repairs     prometheus.Counter
}

func newMetrics() *Metrics {
	return &Metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grafo_kv_requests_total", Help: "Coordinated key-value requests by operation and result.",
		}, []string{"op", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "grafo_kv_request_seconds", Help: "Latency of coordinated key-value requests.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"op"}),
		unavailable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grafo_kv_unavailable_total", Help: "Requests refused because too few replicas answered.",
		}, []string{"op"}),
		repairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grafo_kv_read_repairs_total", Help: "Cells written to stale replicas by read repair.",
		}),
	}
}

// Collectors returns every collector, for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.ops, m.latency, m.unavailable, m.repairs}
}

func (m *Metrics) observe(op string, start time.Time, err error) {
	res := "ok"
	if err != nil {
		res = "error"
		if errors.Is(err, kv.ErrUnavailable) {
			m.unavailable.WithLabelValues(op).Inc()
		}
	}
	m.ops.WithLabelValues(op, res).Inc()
	m.latency.WithLabelValues(op).Observe(time.Since(start).Seconds())
}
