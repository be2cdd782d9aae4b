package server

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/grafo/grafo/autoscale"
	"github.com/grafo/grafo/kv/cluster"
	"github.com/prometheus/client_golang/prometheus"
)

// loadReport is what this node says about itself in heartbeat answers:
// its load over the last interval (nil until the first sample).
func (n *Node) loadReport() []byte {
	s := n.sampler.Load()
	if s == nil {
		return nil
	}
	b, _ := json.Marshal(s.Last())
	return b
}

// startLoad samples the load every heartbeat on every node, and runs the
// autoscaler when --autoscale is set: on every node, so that whichever
// becomes raft leader carries on; only the leader decides.
func (n *Node) startLoad(ctx context.Context) error {
	// The sampler differentiates the coordinator's request counters only:
	// a registry of just those, so that each heartbeat does not also
	// gather the Go runtime, the process, the engine and the hints.
	coordMetrics := prometheus.NewRegistry()
	coordMetrics.MustRegister(n.coord.Metrics().Collectors()...)
	s := autoscale.NewSampler(coordMetrics, func() int64 { return n.engine.Stats().BytesOnDisk }, func() int64 {
		if n.hints == nil {
			return 0
		}
		return n.hints.Pending()
	}, n.cfg.Capacity)
	n.sampler.Store(s)
	n.registry.MustRegister(autoscale.NewLoadCollector(s))
	n.wg.Add(1)
	go func() { defer n.wg.Done(); s.Run(ctx, n.cfg.Heartbeat) }()
	if n.cfg.Autoscale == "" {
		return nil
	}
	spec, err := autoscale.ParseSpec(n.cfg.Autoscale)
	if err != nil {
		return err
	}
	act, err := autoscale.NewExec(n.cfg.AutoscaleExec)
	if err != nil {
		return err
	}
	// The decision looks once a second at most: heartbeats of 50 ms in
	// tests would otherwise make windows of hundreds of samples.
	n.scaler = autoscale.NewRunner(spec, autoscaleCluster{n}, act, max(n.cfg.Heartbeat, time.Second), n.log)
	n.registry.MustRegister(n.scaler.Collectors()...)
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.scaler.Run(ctx) }()
	n.log.Info("autoscaler on", "spec", spec.String(), "exec", n.cfg.AutoscaleExec)
	return nil
}

// autoscaleStatus is this node's autoscaler state when it leads, for
// /v1/cluster (any node answers it with the leader's).
func (n *Node) autoscaleStatus() *autoscale.Status {
	if n.scaler == nil {
		return nil
	}
	st := n.scaler.Status()
	return &st
}

// autoscaleCluster is the node as the autoscaler sees it.
type autoscaleCluster struct{ n *Node }

func (a autoscaleCluster) Snapshot(ctx context.Context) (autoscale.Snapshot, error) {
	c := a.n.cluster
	st := c.State()
	reports := c.Reports()
	read, write := c.Rings()
	s := autoscale.Snapshot{At: time.Now(), Self: a.n.cfg.NodeID, Replicas: st.Replicas, Rebalancing: read != write}
	for _, nd := range st.Nodes {
		m := autoscale.Member{ID: nd.ID, State: string(nd.State)}
		if b := reports[nd.ID]; len(b) > 0 {
			var l autoscale.Load
			if err := json.Unmarshal(b, &l); err == nil {
				m.Load = &l
			}
		}
		if nd.ID == a.n.cfg.NodeID && a.n.health.err() != nil {
			m.State = "unhealthy"
		}
		s.Members = append(s.Members, m)
	}
	if len(s.Members) == 0 {
		return s, errors.New("no members")
	}
	return s, nil
}

func (a autoscaleCluster) Leader() bool { return a.n.cluster.IsLeader() }

func (a autoscaleCluster) Leave(ctx context.Context, node string) error {
	return a.n.cluster.Leave(ctx, node)
}

func (a autoscaleCluster) Member(node string) (string, bool) {
	for _, nd := range a.n.cluster.State().Nodes {
		if nd.ID == node && nd.State != cluster.Left {
			return string(nd.State), true
		}
	}
	return "", false
}
