package server

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/graph"
	"github.com/grafo/grafo/graph/model"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv/cluster"
	"github.com/grafo/grafo/mcp"
	"github.com/grafo/grafo/web"
)

// hintCounter is what status needs of the hint store.
type hintCounter interface{ Pending() int64 }

// rebalanceMembership adapts kv/cluster to replica.Mover.
type rebalanceMembership struct{ c *cluster.Cluster }

func (m rebalanceMembership) SelfState() string { return string(m.c.Self().State) }

func (m rebalanceMembership) MoveSelf(ctx context.Context, from, to string) error {
	err := m.c.Transition(ctx, m.c.Self().ID, cluster.NodeState(from), cluster.NodeState(to))
	if errors.Is(err, cluster.ErrBadTransition) && m.SelfState() != from {
		return nil // moved meanwhile (see replica.Mover)
	}
	return err
}

const methodGraphEvent = "graph.event"

// peers broadcasts graph changes to every other member over the cluster
// transport, so subscribers on any node see changes made through any node.
// Each peer has its own queue and sender: a peer receives events in the
// order they were published, and a slow or unreachable peer delays no
// other (its queue, when full, drops events, which subscribers there can
// recover with since).
type peers struct {
	n      *Node
	ctx    context.Context // ends the senders when the node stops
	mu     sync.Mutex
	queues map[string]chan []byte // by the peer's cluster address
}

// peerQueue is how many events wait for one peer.
const peerQueue = 1024

func newPeers(ctx context.Context, n *Node) *peers {
	return &peers{n: n, ctx: ctx, queues: map[string]chan []byte{}}
}

func (p *peers) Broadcast(_ context.Context, ev []byte) {
	st := p.n.cluster.State()
	for _, nd := range st.Nodes {
		if nd.ID == p.n.cfg.NodeID || nd.State == cluster.Down {
			continue
		}
		q := p.queue(nd.ID, nd.Cluster)
		if q == nil {
			return
		}
		select {
		case q <- ev:
		default:
			p.n.log.Warn("graph event dropped: peer queue full", "peer", nd.ID)
		}
	}
}

// queue returns the peer's queue, starting its sender on first use.
func (p *peers) queue(id, addr string) chan []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	q, ok := p.queues[addr]
	if !ok && p.ctx.Err() == nil { // no new sender once the node stops
		q = make(chan []byte, peerQueue)
		p.queues[addr] = q
		p.n.wg.Add(1)
		go func() { defer p.n.wg.Done(); p.send(id, addr, q) }()
	}
	return q
}

// send delivers one peer's events one at a time, in queue order.
func (p *peers) send(id, addr string, q chan []byte) {
	for {
		select {
		case <-p.ctx.Done():
			return
		case ev := <-q:
			ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
			if _, err := p.n.tr.Call(ctx, addr, methodGraphEvent, ev); err != nil {
				p.n.log.Debug("graph event not delivered", "peer", id, "err", err)
			}
			cancel()
		}
	}
}

// startGraph starts the graph store and the GraphQL API and returns the
// handlers to mount.
func (n *Node) startGraph(ctx context.Context) (map[string]http.Handler, error) {
	n.bus = store.NewBus(store.BusOptions{Origin: n.cfg.NodeID, Logger: n.log})
	n.bus.SetPeers(newPeers(ctx, n))
	n.extra = append(n.extra, func(context.Context) error { n.bus.Close(); return nil })
	n.tr.Handle(methodGraphEvent, func(ctx context.Context, from string, req []byte) ([]byte, error) {
		return nil, n.bus.Deliver(req)
	})
	n.graphs = store.New(n.coord, store.Options{Bus: n.bus, Logger: n.log})
	gql := graph.NewHandler(&graph.Resolver{Store: n.graphs, KV: n.coord, ClusterInfo: graphCluster{n}, Bus: n.bus, Logger: n.log}, graph.HandlerOptions{Authenticate: n.authenticate()})
	return map[string]http.Handler{
		"/graphql":        gql,
		"/mcp":            mcp.NewHTTPHandler(gql, mcp.Options{}),
		"GET /playground": playgroundHandler(),
		"/":               web.Handler(),
	}, nil
}

func (n *Node) sink() ingest.Sink { return n.graphs }

func (n *Node) dump(ctx context.Context, graph string, emit func(any) error) error {
	return n.graphs.Dump(ctx, graph, func(r *store.DumpRecord) error { return emit(r) })
}

// authenticate checks websocket tokens when tokens are on.
func (n *Node) authenticate() func(string) (auth.Principal, error) {
	if !n.tokens.Enabled() {
		return nil
	}
	return n.tokens.Check
}

// graphCluster serves the GraphQL cluster field from the same status as
// GET /v1/cluster.
type graphCluster struct{ n *Node }

func (g graphCluster) Cluster(ctx context.Context) (*model.Cluster, error) {
	st, err := clusterAPI{g.n}.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := &model.Cluster{Replicas: st.Replicas, WriteQuorum: st.WriteQuorum, ReadQuorum: st.ReadQuorum,
		HintsPending: int(st.HintsPending), Rebalancing: st.Rebalancing}
	if st.Leader != "" {
		out.Leader = &st.Leader
	}
	for _, nd := range st.Nodes {
		cn := &model.ClusterNode{ID: nd.ID, HTTP: nd.HTTP, Cluster: nd.Cluster, Weight: nd.Weight,
			State: nd.State, Vnodes: nd.VNodes, Keys: int(nd.Keys)}
		if !nd.LastContact.IsZero() {
			lc := nd.LastContact
			cn.LastContact = &lc
		}
		out.Nodes = append(out.Nodes, cn)
	}
	return out, nil
}
