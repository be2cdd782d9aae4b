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
	speculative     prometheus.Counter
	refusals        prometheus.Counter
	writeRetries    prometheus.Counter
	superseded      prometheus.Counter
	versionsRefused prometheus.Counter
	peerCalls       prometheus.Counter
	peerWrites      prometheus.Counter
	readCalls       prometheus.Counter
	readKeys        prometheus.Counter
	digestCalls     prometheus.Counter
	digestKeys      prometheus.Counter
	digestFetches   prometheus.Counter
	aeRounds        *prometheus.CounterVec
	aeLeaves        prometheus.Counter
	aeCells         *prometheus.CounterVec
	aePurged        prometheus.Counter
	aeSeconds       prometheus.Histogram
	byOp            map[string]*opMetrics // of coordinatedOps; never modified
}

func newMetrics() *Metrics {
	m := &Metrics{
		ops: counterVec("grafo_kv_requests_total", "Coordinated key-value requests by operation and result.", "op", "result"),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "grafo_kv_request_seconds", Help: "Latency of coordinated key-value requests.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"op"}),
		unavailable:     counterVec("grafo_kv_unavailable_total", "Requests refused because too few replicas answered.", "op"),
		peerCalls:       counter("grafo_kv_replica_apply_calls_total", "Coalesced apply calls sent to peers."),
		peerWrites:      counter("grafo_kv_replica_apply_writes_total", "Writes carried by coalesced apply calls to peers."),
		readCalls:       counter("grafo_kv_replica_get_calls_total", "Coalesced read calls sent to peers."),
		readKeys:        counter("grafo_kv_replica_get_reads_total", "Replica reads carried by coalesced read calls to peers."),
		digestCalls:     counter("grafo_kv_replica_digest_calls_total", "Coalesced digest calls (versions only) sent to peers."),
		digestKeys:      counter("grafo_kv_replica_digest_reads_total", "Replica reads answered with a version only, carried by digest calls to peers."),
		digestFetches:   counter("grafo_kv_read_digest_fetches_total", "Keys whose newest version only a digest reported, read whole from that replica (one extra round trip per read that needs any)."),
		repairs:         counter("grafo_kv_read_repairs_total", "Cells written to stale replicas by read repair."),
		writeBacks:      counter("grafo_kv_read_writebacks_total", "Quorum reads whose replicas disagreed and that waited for the newest version to be written back (one extra round trip each)."),
		speculative:     counter("grafo_kv_read_speculative_total", "Extra replicas asked by reads because an answer was late (a read asks R replicas, and a spare only when one is late or fails)."),
		refusals:        counter("grafo_kv_write_refusals_total", "Entries of quorum writes that a replica refused because it held a newer version."),
		writeRetries:    counter("grafo_kv_write_retries_total", "Quorum write entries refused by every replica and sent again with a newer version (one extra round trip each)."),
		superseded:      counter("grafo_kv_writes_superseded_total", "Quorum write entries acknowledged as overwritten by a concurrent newer write (no extra round trip)."),
		versionsRefused: counter("grafo_kv_versions_ahead_total", "Entries from peers refused because their version was further ahead of this node's clock than the allowed skew."),
		aeRounds:        counterVec("grafo_antientropy_rounds_total", "Anti-entropy rounds by result (ok: every live peer compared).", "result"),
		aeLeaves:        counter("grafo_antientropy_leaves_differing_total", "Merkle leaves that differed from a peer's."),
		aeCells:         counterVec("grafo_antientropy_cells_total", "Cells exchanged by anti-entropy (pulled from or pushed to peers).", "direction"),
		aePurged:        counter("grafo_antientropy_tombstones_purged_total", "Tombstones purged once every replica held them."),
		aeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "grafo_antientropy_round_seconds", Help: "Duration of anti-entropy rounds.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
	}
	m.byOp = map[string]*opMetrics{}
	for _, op := range coordinatedOps {
		m.byOp[op] = m.opMetrics(op)
	}
	return m
}

func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// Collectors returns every collector, for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.ops, m.latency, m.unavailable, m.repairs, m.writeBacks, m.speculative, m.refusals, m.writeRetries, m.superseded, m.versionsRefused, m.peerCalls, m.peerWrites, m.readCalls, m.readKeys, m.digestCalls, m.digestKeys, m.digestFetches, m.aeRounds, m.aeLeaves, m.aeCells, m.aePurged, m.aeSeconds}
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
	o := m.byOp[op]
	if o == nil {
		o = m.opMetrics(op)
	}
	switch {
	case err == nil:
		o.ok.Inc()
	case errors.Is(err, kv.ErrUnavailable):
		o.unavailable.Inc()
		fallthrough
	default:
		o.failed.Inc()
	}
	o.latency.Observe(time.Since(start).Seconds())
}

// opMetrics are one operation's series, resolved once: a label lookup
// hashes the labels and takes a lock, a cost every request paid twice.
type opMetrics struct {
	ok, failed, unavailable prometheus.Counter
	latency                 prometheus.Observer
}

// coordinatedOps are the operations observe is called with.
var coordinatedOps = []string{"read", "write", "scan"}

func (m *Metrics) opMetrics(op string) *opMetrics {
	return &opMetrics{
		ok:          m.ops.WithLabelValues(op, "ok"),
		failed:      m.ops.WithLabelValues(op, "error"),
		unavailable: m.unavailable.WithLabelValues(op),
		latency:     m.latency.WithLabelValues(op),
	}
}
