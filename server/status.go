package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/grafo/grafo/autoscale"
	"github.com/grafo/grafo/httpapi"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
	"github.com/grafo/grafo/kv/cluster"
	"github.com/grafo/grafo/kv/engine"
	"github.com/grafo/grafo/kv/replica"
	"github.com/grafo/grafo/kv/ring"
	"github.com/prometheus/client_golang/prometheus"
)

const methodNodeInfo = "node.info"

// nodeInfo is what a node tells others about itself for /v1/cluster.
type nodeInfo struct {
	ID           string `json:"id"`
	HTTP         string `json:"http"`
	Weight       int    `json:"weight"`
	Keys         int64  `json:"keys"`
	HintsPending int64  `json:"hintsPending"`
	Healthy      bool   `json:"healthy"`
	// Member: this node is, or restarts as, a member of a cluster (not a
	// fresh node waiting to join or to bootstrap); see discoverMembers.
	Member bool `json:"member,omitempty"`
	// Autoscale is set by the node whose autoscaler leads.
	Autoscale *autoscale.Status `json:"autoscale,omitempty"`
	// Progress is the node's current or last stream of ranges; nil if it
	// never streamed.
	Progress *replica.Progress `json:"progress,omitempty"`
}

func (n *Node) localInfo(ctx context.Context) nodeInfo {
	info := nodeInfo{ID: n.cfg.NodeID, HTTP: n.httpAdv, Weight: n.cfg.Weight, Keys: n.engine.Keys(), Healthy: n.health.err() == nil,
		Member: n.hadState.Load() || n.joined.Load()}
	if !n.joined.Load() {
		return info // still waiting to join: an admin asks who it is
	}
	info.Keys = n.owned.count(ctx, n)
	if p := n.reb.Progress(); p.Kind != "" {
		info.Progress = &p
	}
	if n.hints != nil {
		info.HintsPending = n.hints.Pending()
	}
	if as := n.autoscaleStatus(); as != nil && as.Leader {
		info.Autoscale = as
	}
	return info
}

func (n *Node) nodeInfo(ctx context.Context, from string, req []byte) ([]byte, error) {
	return json.Marshal(n.localInfo(ctx))
}

// clusterAPI serves /v1/cluster and membership changes for httpapi.
type clusterAPI struct{ n *Node }

func (c clusterAPI) Status(ctx context.Context) (client.ClusterStatus, error) {
	n := c.n
	st := n.cluster.State()
	read, write := n.cluster.Rings()
	out := client.ClusterStatus{
		Replicas: st.Replicas, WriteQuorum: st.WriteQuorum, ReadQuorum: st.ReadQuorum,
		Leader: st.Leader, Rebalancing: read != write,
	}
	infos := make([]nodeInfo, len(st.Nodes))
	var wg sync.WaitGroup
	for i, nd := range st.Nodes {
		if nd.ID == n.cfg.NodeID {
			infos[i] = n.localInfo(ctx)
			continue
		}
		if nd.State == cluster.Down {
			infos[i].Keys = -1
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			resp, err := n.tr.Call(cctx, nd.Cluster, methodNodeInfo, nil)
			if err == nil {
				err = json.Unmarshal(resp, &infos[i])
			}
			if err != nil {
				infos[i].Keys = -1 // unknown: the node did not answer
			}
		}()
	}
	wg.Wait()
	for i, nd := range st.Nodes {
		state := string(nd.State)
		if nd.State == cluster.Up && !infos[i].Healthy && infos[i].Keys >= 0 {
			state = "unhealthy"
		}
		vn := 0
		if r := read; r != nil && r.Has(nd.ID) {
			vn = r.VNodes(nd.ID)
		} else if write != nil {
			vn = write.VNodes(nd.ID)
		}
		out.Nodes = append(out.Nodes, client.NodeStatus{
			ID: nd.ID, HTTP: nd.HTTP, Cluster: nd.Cluster, Weight: nd.Weight, State: state,
			VNodes: vn, Keys: infos[i].Keys, LastContact: nd.LastContact,
			Progress: clientProgress(infos[i].Progress),
		})
		if infos[i].Autoscale != nil {
			out.Autoscale = infos[i].Autoscale
		}
		if infos[i].HintsPending > 0 {
			out.HintsPending += infos[i].HintsPending
		}
		if nd.State == cluster.Joining || nd.State == cluster.Leaving {
			out.Rebalancing = true
		}
	}
	if out.Autoscale == nil {
		// No leader's status reached us (none leads yet, or it did not
		// answer): this node's own says so.
		out.Autoscale = n.autoscaleStatus()
	}
	return out, nil
}

func clientProgress(p *replica.Progress) *client.Progress {
	if p == nil {
		return nil
	}
	return &client.Progress{Kind: p.Kind, RangesDone: p.RangesDone, RangesTotal: p.RangesTotal,
		BytesStreamed: p.Bytes, Finished: p.Finished, Unavailable: p.Unavailable}
}

// ownedKeys caches the count of live keys this node replicates under the
// current ring (what /v1/cluster reports as keys): copies of ranges it
// lost stay on disk until cleanup, but are not its data.
type ownedKeys struct {
	mu     sync.Mutex
	ring   *ring.Ring
	writes int64
	at     time.Time
	took   time.Duration
	n      int64
}

func (o *ownedKeys) count(ctx context.Context, n *Node) int64 {
	read, write := n.cluster.Rings()
	r := read
	if !r.Has(n.cfg.NodeID) {
		r = write // joining: count what it will own
	}
	writes := n.engine.Stats().Writes
	o.mu.Lock()
	defer o.mu.Unlock()
	// A changing engine is walked again at most once per ten times the
	// last walk took: exact on small stores, cheap on big ones.
	if o.ring == r && (o.writes == writes || time.Since(o.at) < 10*o.took) {
		return o.n
	}
	began := time.Now()
	reps, _, _ := n.members.Settings()
	var c int64
	err := n.engine.ForEach(ctx, func(e kv.Entry) bool {
		if e.Cell.Live() && slices.Contains(r.Preference(kv.Partition(e.Key), reps), n.cfg.NodeID) {
			c++
		}
		return true
	})
	if err != nil {
		return n.engine.Keys() // all it holds: better than nothing
	}
	o.ring, o.writes, o.at, o.took, o.n = r, writes, time.Now(), time.Since(began), c
	return c
}

func (c clusterAPI) Join(ctx context.Context, addr string) error {
	// addr is the cluster address of a node waiting to be admitted: ask
	// it who it is, then add it.
	resp, err := c.n.tr.Call(ctx, addr, methodNodeInfo, nil)
	if err != nil {
		return fmt.Errorf("%w: asking %s who it is: %v", kv.ErrUnavailable, addr, err)
	}
	var info nodeInfo
	if err := json.Unmarshal(resp, &info); err != nil {
		return err
	}
	if info.Weight < 1 {
		info.Weight = 1
	}
	return c.n.cluster.Join(ctx, cluster.Node{ID: info.ID, HTTP: info.HTTP, Cluster: addr, Weight: info.Weight})
}

func (c clusterAPI) Leave(ctx context.Context, node string) error {
	return notMember(c.n.cluster.Leave(ctx, node), node)
}

// notMember makes the cluster's unknown-node error the API's 404.
func notMember(err error, node string) error {
	if errors.Is(err, cluster.ErrUnknownNode) {
		return fmt.Errorf("%w: no member %q", kv.ErrNotFound, node)
	}
	return err
}

// Cleanup deletes this node's copies of partitions it no longer owns.
func (c clusterAPI) Cleanup(ctx context.Context) (any, error) {
	st, err := c.n.coord.Cleanup(ctx, c.n.engine)
	if errors.Is(err, replica.ErrRingMoving) {
		return nil, fmt.Errorf("%w: %v", httpapi.ErrConflict, err)
	}
	return map[string]any{"node": c.n.cfg.NodeID, "checked": st.Checked, "purged": st.Purged, "kept": st.Kept}, err
}

// Remove takes a dead node out of the ring; one that heartbeats see as up
// is refused unless force (it could still be serving writes).
func (c clusterAPI) Remove(ctx context.Context, node string, force bool) error {
	if node == c.n.cfg.NodeID {
		return fmt.Errorf("%w: a node cannot remove itself; use leave, or remove it from another node", httpapi.ErrConflict)
	}
	if c.n.cluster.Alive(node) && !force {
		return fmt.Errorf("%w: %s answers heartbeats (it is up); stop it first, use leave to hand its ranges off, or --force", httpapi.ErrConflict, node)
	}
	// An unknown node is not alive, so it gets here and is refused as
	// unknown by the cluster.
	return notMember(c.n.cluster.Remove(ctx, node), node)
}

// engineCollector exports the engine's counters.
type engineCollector struct {
	e     *engine.Engine
	descs map[string]*prometheus.Desc
}

var engineMetrics = []struct {
	name, help string
	counter    bool
	get        func(engine.Stats) float64
}{
	{"grafo_engine_keys", "Live keys stored on this node.", false, func(s engine.Stats) float64 { return float64(s.Keys) }},
	{"grafo_engine_tombstones", "Tombstones stored on this node.", false, func(s engine.Stats) float64 { return float64(s.Tombstones) }},
	{"grafo_engine_bytes", "Size of the bbolt data file.", false, func(s engine.Stats) float64 { return float64(s.BytesOnDisk) }},
	{"grafo_engine_log_entries", "Writes in the write-ahead log's state, not checkpointed into bbolt yet: a backlog after a burst of writes.", false, func(s engine.Stats) float64 { return float64(s.LogEntries) }},
	{"grafo_engine_cache_hits_total", "Reads answered by the hot-cell cache.", true, func(s engine.Stats) float64 { return float64(s.CacheHits) }},
	{"grafo_engine_cache_misses_total", "Reads that went to bbolt.", true, func(s engine.Stats) float64 { return float64(s.CacheMisses) }},
	{"grafo_engine_commits_total", "Group commits (one fsync each).", true, func(s engine.Stats) float64 { return float64(s.Commits) }},
	{"grafo_engine_commit_failures_total", "Group commits rolled back.", true, func(s engine.Stats) float64 { return float64(s.Failures) }},
	{"grafo_engine_writes_total", "Entries committed.", true, func(s engine.Stats) float64 { return float64(s.Writes) }},
}

func newEngineCollector(e *engine.Engine) prometheus.Collector {
	c := &engineCollector{e: e, descs: map[string]*prometheus.Desc{}}
	for _, m := range engineMetrics {
		c.descs[m.name] = prometheus.NewDesc(m.name, m.help, nil, nil)
	}
	return c
}

func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.e.Stats()
	for _, m := range engineMetrics {
		t := prometheus.GaugeValue
		if m.counter {
			t = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(c.descs[m.name], t, m.get(st))
	}
}
