package replica

import (
	"errors"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the coordinator's Prometheus collectors.
type Metrics struct {
	ops             *prometheus.CounterVec
	latency         *prometheus.HistogramVec
	unavailable     *prometheus.CounterVec
	repairs         prometheus.Counter
	writeBacks      prometheus.Counter
	refusals        prometheus.Counter
	writeRetries    prometheus.Counter
	superseded      prometheus.Counter
	versionsRefused prometheus.Counter
	peerCalls       prometheus.Counter
	peerWrites      prometheus.Counter
	aeRounds        *prometheus.CounterVec
	aeLeaves        prometheus.Counter
	aeCells         *prometheus.CounterVec
	aePurged        prometheus.Counter
	aeSeconds       prometheus.Histogram
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
		peerCalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grafo_kv_replica_apply_calls_total", Help: "Coalesced apply calls sent to peers.",
		}),
		peerWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grafo_kv_replica_apply_writes_total", Help: "Writes carried by coalesced apply calls to peers.",
		}),
		repairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grafo_kv_read_repairs_total", Help: "Cells written to stale replicas by read repair.",
		}),
		writeBacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grafo_kv_read_writebacks_total", Help: "Quorum reads whose replicas disagreed and that waited for the newest version to be written back (one extra round trip each).",
		}),
		refusals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grafo_kv_write_refusals_total", Help: "Entries of quorum writes that a replica refused because it held a newer version.",
		}),
		writeRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grafo_kv_write_retries_total", Help: "Quorum write entries refused by every replica and sent again with a newer version (one extra round trip each).",
		}),
		superseded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grafo_kv_writes_superseded_total", Help: "Quorum write entries acknowledged as overwritten by a concurrent newer write (no extra round trip).",
		}),
		versionsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grafo_kv_versions_ahead_total", Help: "Entries from peers refused because their version was further ahead of this node's clock than the allowed skew.",
		}),
		aeRounds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grafo_antientropy_rounds_total", Help: "Anti-entropy rounds by result (ok: every live peer compared).",
		}, []string{"result"}),
		aeLeaves: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grafo_antientropy_leaves_differing_total", Help: "Merkle leaves that differed from a peer's.",
		}),
		aeCells: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grafo_antientropy_cells_total", Help: "Cells exchanged by anti-entropy (pulled from or pushed to peers).",
		}, []string{"direction"}),
		aePurged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grafo_antientropy_tombstones_purged_total", Help: "Tombstones purged once every replica held them.",
		}),
		aeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "grafo_antientropy_round_seconds", Help: "Duration of anti-entropy rounds.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
	}
}

// Collectors returns every collector, for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.ops, m.latency, m.unavailable, m.repairs, m.writeBacks, m.refusals, m.writeRetries, m.superseded, m.versionsRefused, m.peerCalls, m.peerWrites, m.aeRounds, m.aeLeaves, m.aeCells, m.aePurged, m.aeSeconds}
}

func (m *Metrics) aeRound(st RoundStats, err error) {
	res := "ok"
	if err != nil || st.Failed > 0 {
		res = "error"
	}
	m.aeRounds.WithLabelValues(res).Inc()
	m.aeLeaves.Add(float64(st.Differ))
	m.aeCells.WithLabelValues("pulled").Add(float64(st.Pulled))
	m.aeCells.WithLabelValues("pushed").Add(float64(st.Pushed))
	m.aePurged.Add(float64(st.Purged))
	m.aeSeconds.Observe(st.Duration.Seconds())
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
