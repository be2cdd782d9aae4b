package autoscale

import "github.com/prometheus/client_golang/prometheus"

// loadCollector exports the node's last Load as gauges, so a Kubernetes
// HorizontalPodAutoscaler (through a Prometheus adapter) watches the
// same signals the built-in decision does.
type loadCollector struct {
	s     *Sampler
	descs []loadGauge
}

type loadGauge struct {
	desc *prometheus.Desc
	get  func(Load) float64
}

// NewLoadCollector exports s's readings.
func NewLoadCollector(s *Sampler) prometheus.Collector {
	g := func(name, help string, get func(Load) float64) loadGauge {
		return loadGauge{prometheus.NewDesc(name, help, nil, nil), get}
	}
	return &loadCollector{s: s, descs: []loadGauge{
		g("grafo_load_reads_per_second", "Coordinated reads per second over the last heartbeat interval.", func(l Load) float64 { return l.Reads }),
		g("grafo_load_writes_per_second", "Coordinated writes per second over the last heartbeat interval.", func(l Load) float64 { return l.Writes }),
		g("grafo_load_request_p99_seconds", "p99 latency of coordinated reads and writes over the last heartbeat interval.", func(l Load) float64 { return l.P99 }),
		g("grafo_load_cpu_cores", "CPU (user + system) the process used over the last heartbeat interval, in cores.", func(l Load) float64 { return l.CPU }),
		g("grafo_load_capacity_bytes", "--capacity of this node (0: not set).", func(l Load) float64 { return float64(l.Capacity) }),
		g("grafo_load_disk_ratio", "Bytes stored divided by --capacity (0 when no capacity is set).", func(l Load) float64 {
			if l.Capacity == 0 {
				return 0
			}
			return float64(l.Bytes) / float64(l.Capacity)
		}),
	}}
}

func (c *loadCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d.desc
	}
}

func (c *loadCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.s.Last()
	for _, d := range c.descs {
		ch <- prometheus.MustNewConstMetric(d.desc, prometheus.GaugeValue, d.get(l))
	}
}
