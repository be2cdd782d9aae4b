package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/autoscale"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/httpapi"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/cluster"
	"github.com/grafo/grafo/kv/engine"
	"github.com/grafo/grafo/kv/hints"
	"github.com/grafo/grafo/kv/replica"
	"github.com/grafo/grafo/kv/transport"
	"github.com/grafo/grafo/leanhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Node is one running Grafo node.
type Node struct {
	cfg      Config
	log      *slog.Logger
	engine   *engine.Engine
	tr       *transport.TCP
	cluster  *cluster.Cluster
	members  *members
	coord    *replica.Coordinator
	reb      *replica.Rebalancer
	httpSrv  *leanhttp.Server
	httpLn   net.Listener
	registry *prometheus.Registry
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closeMu  sync.Mutex
	closed   bool
	extra    []func(context.Context) error // closers of optional parts, run in reverse
	hints    hintCounter
	hintDB   *hints.Store
	ae       *replica.AntiEntropy
	health   health
	tokens   *auth.Tokens
	httpAdv  string // public address announced to the cluster
	bus      *store.Bus
	graphs   *store.Store
	sampler  atomic.Pointer[autoscale.Sampler]
	scaler   *autoscale.Runner // nil without --autoscale
	gate     *gate
	failed   chan error // the engine watcher gave up (see Failed)
	owned    ownedKeys
	joined   atomic.Bool // cluster, members and rebalancer are set
	hadState atomic.Bool // raft state on disk at start: a member restarting
}

// Start opens every part of the node and returns once it serves HTTP and
// is a member of its cluster: local storage and listeners, then the
// cluster, replication, metrics, and last the public API.
func Start(ctx context.Context, cfg Config) (n *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg = cfg.withDefaults()
	runCtx, cancel := context.WithCancel(context.Background())
	n = &Node{cfg: cfg, log: cfg.Logger, cancel: cancel, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			n.Close(context.Background())
		}
	}()
	if err := n.openLocal(); err != nil {
		return n, err
	}
	if err := n.joinCluster(ctx); err != nil {
		return n, err
	}
	if err := n.startReplication(ctx, runCtx); err != nil {
		return n, err
	}
	n.registerMetrics()
	if err := n.startLoad(runCtx); err != nil {
		return n, fmt.Errorf("autoscale: %w", err)
	}
	if err := n.serve(runCtx); err != nil {
		return n, err
	}
	n.startIngest(runCtx)
	return n, nil
}

// openLocal opens what the node keeps on its own: tokens, the bbolt
// engine and hint store, and the cluster and HTTP listeners.
func (n *Node) openLocal() (err error) {
	cfg := n.cfg
	if cfg.TokensFile != "" {
		if n.tokens, err = auth.Load(cfg.TokensFile); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	ecfg := engine.DefaultConfig()
	ecfg.Logger = cfg.Logger
	switch {
	case cfg.CacheBytes < 0:
		ecfg.CacheCells = -1
	case cfg.CacheBytes > 0:
		// The cell bound must not bind first: 128 bytes is about the
		// smallest a cell of a short key and value takes in the cache.
		ecfg.CacheBytes = int(cfg.CacheBytes)
		ecfg.CacheCells = max(engine.DefaultCacheCells, int(cfg.CacheBytes/128))
	}
	switch {
	case cfg.CommitWait < 0:
		ecfg.BusyBatchDelay = 0
	case cfg.CommitWait > 0:
		ecfg.BusyBatchDelay = cfg.CommitWait
	}
	if n.engine, err = engine.Open(filepath.Join(cfg.DataDir, "data.db"), ecfg); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if n.tokens.Enabled() && !cfg.clusterAuthenticated() {
		// Loopback only (Validate refuses more without --insecure), but
		// local processes still bypass the tokens through it.
		n.log.Warn("cluster port has no --cluster-secret: whoever reaches it reads and writes every graph, whatever --tokens says", "cluster", cfg.ClusterAddr)
	}
	tcfg := transport.Config{Addr: cfg.ClusterAddr, Advertise: cfg.Advertise, Secret: cfg.ClusterSecret, Logger: cfg.Logger}
	if cfg.TLSCert != "" {
		if tcfg.TLS, err = transport.LoadTLS(cfg.TLSCert, cfg.TLSKey, cfg.TLSCA); err != nil {
			return err
		}
	}
	n.tr, err = transport.Listen(tcfg)
	if err != nil {
		return fmt.Errorf("cluster listener: %w", err)
	}
	// The HTTP listener opens before joining so that the bound address is
	// known (":0" in tests) and announced to the other members.
	if n.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	httpAdv := cfg.AdvertiseHTTP
	if httpAdv == "" {
		httpAdv = n.httpLn.Addr().String()
	}
	n.httpAdv = httpAdv
	n.gate = newGate("starting")
	n.serveHTTP()
	if n.hintDB, err = hints.Open(filepath.Join(cfg.DataDir, "hints.db"), hints.Config{Window: cfg.HintWindow, Logger: cfg.Logger}); err != nil {
		return err
	}
	n.hints = n.hintDB
	return nil
}

// joinCluster opens raft membership: it bootstraps a cluster, or joins
// one through --join.
func (n *Node) joinCluster(ctx context.Context) (err error) {
	cfg := n.cfg
	// A node waiting to join answers who it is, so that an admin can
	// admit it with `grafo cluster join ADDR`.
	n.tr.Handle(methodNodeInfo, n.nodeInfo)
	self := ownAddrs(cfg.Advertise, cfg.AdvertiseHTTP, cfg.ClusterAddr, cfg.HTTPAddr, n.tr.Addr(), n.httpAdv)
	var join []string
	for _, a := range cfg.Join {
		// A node ignores its own address, so that every member of a
		// StatefulSet or compose file can be given the same --join: the
		// one it names bootstraps.
		if a = strings.TrimSpace(a); a != "" && !self(a) {
			join = append(join, a)
		}
	}
	raftDir := filepath.Join(cfg.DataDir, "raft")
	had, err := cluster.HasState(raftDir)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	n.hadState.Store(had)
	var peers []string
	for _, p := range cfg.Peers {
		for _, a := range strings.Split(p, ",") {
			if a = strings.TrimSpace(a); a != "" {
				peers = append(peers, a)
			}
		}
	}
	if len(join) == 0 && !had && len(peers) > 0 {
		if join, err = n.discoverMembers(ctx, peers, self); err != nil {
			return err
		}
	}
	if len(join) > 0 {
		n.gate.joinFailed(join)(errors.New("no answer yet"))
	}
	n.cluster, err = cluster.Open(ctx, cluster.Config{
		NodeID: cfg.NodeID, Dir: raftDir,
		HTTPAddr: n.httpAdv, ClusterAddr: n.tr.Addr(),
		Weight: cfg.Weight, VNodes: cfg.VNodes, Replicas: cfg.Replicas,
		WriteQuorum: cfg.WriteQuorum, ReadQuorum: cfg.ReadQuorum,
		Join: join, Transport: n.tr, Raft: n.tr.RaftLayer(),
		ResolveJoin: func(ctx context.Context) []string { return resolveJoin(ctx, join, cfg.Logger) },
		Heartbeat:   cfg.Heartbeat, Logger: cfg.Logger, Report: n.loadReport,
		JoinFailed: n.gate.joinFailed(join),
		// A new data file: a new node, a wiped disk, or a replacement. A
		// member the ring knows then rebuilds before it counts as a replica.
		Fresh: n.engine.Created(), Replace: cfg.Replace != "",
	})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	n.members = newMembers(n.cluster)
	return nil
}

// startReplication starts the coordinator and its background work (hint
// hand-off, rebalancing, anti-entropy) and the engine and membership
// watchers, which run until runCtx ends.
func (n *Node) startReplication(ctx, runCtx context.Context) (err error) {
	cfg := n.cfg
	if n.coord, err = replica.New(replica.Config{
		NodeID: cfg.NodeID, Local: n.engine, Transport: n.tr, Members: n.members, Logger: cfg.Logger, Hints: n.hintDB,
		MaxClockSkew: cfg.MaxClockSkew,
	}); err != nil {
		return err
	}
	n.hintDB.Run(n.coord)
	n.reb = replica.NewRebalancer(n.coord, n.engine, rebalanceMembership{n.cluster}, cfg.Logger)
	n.joined.Store(true) // after reb: nodeInfo reads the parts set up to here
	n.ae = replica.NewAntiEntropy(n.coord, replica.AntiEntropyConfig{Interval: cfg.AntiEntropy, Logger: cfg.Logger})
	n.failed = make(chan error, 1)
	n.health.fault = cfg.Knobs.probeFault()
	n.health.probe(ctx, n.engine)
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.watchEngine(runCtx) }()
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.watchCluster(runCtx) }()
	return nil
}

// registerMetrics adds every part's collectors to the node's registry.
func (n *Node) registerMetrics() {
	n.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.registry.MustRegister(n.coord.Metrics().Collectors()...)
	n.registry.MustRegister(n.reb.Collectors()...)
	n.registry.MustRegister(newEngineCollector(n.engine))
	n.registry.MustRegister(n.hintDB.Collectors()...)
}

// serve starts the graph store and serves the public API on the HTTP
// listener, the RESP front end and pprof when configured.
func (n *Node) serve(runCtx context.Context) error {
	cfg := n.cfg
	mounts, err := n.startGraph(runCtx)
	if err != nil {
		return err
	}
	n.tr.Serving() // every cluster method has its handler from here on
	handler := httpapi.New(httpapi.Config{
		Store: n.coord, Cluster: clusterAPI{n}, Sink: n.sink(), Dump: n.dump, Ready: n.ready,
		Registry: n.registry, Mounts: mounts, Logger: cfg.Logger, Tokens: n.tokens,
		Hosts: n.hostNames(),
	})
	n.gate.open(handler)
	if err := n.startRESP(); err != nil {
		return err
	}
	n.log.Info("node started", "id", cfg.NodeID, "http", n.httpLn.Addr().String(), "cluster", n.tr.Addr(), "data", cfg.DataDir)
	if err := n.startPprof(); err != nil {
		return fmt.Errorf("pprof: %w", err)
	}
	return nil
}

// hostNames are the names this node answers to without tokens (see
// httpapi.Config.Hosts): its id, the machine's name, the names in its
// listen and advertised addresses, and --allowed-hosts.
func (n *Node) hostNames() []string {
	names := httpapi.HostNames(n.cfg.NodeID, n.cfg.HTTPAddr, n.httpAdv)
	if h, err := os.Hostname(); err == nil {
		names = append(names, httpapi.HostNames(h)...)
	}
	return append(names, n.cfg.AllowedHosts...)
}

// HTTPAddr returns the address the public API listens on.
func (n *Node) HTTPAddr() string { return n.httpLn.Addr().String() }

// ClusterAddr returns the node-to-node address.
func (n *Node) ClusterAddr() string { return n.tr.Addr() }

// Store returns the node's coordinator.
func (n *Node) Store() kv.Store { return n.coord }

// Close shuts the node down: HTTP stops taking requests and lets in-flight
// ones finish (until ctx ends), background work stops, raft leaves the
// log consistent, and bbolt is closed.
func (n *Node) Close(ctx context.Context) error {
	n.closeMu.Lock()
	defer n.closeMu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	var errs []error
	if n.httpSrv != nil {
		errs = append(errs, n.httpSrv.Shutdown(ctx))
	} else if n.httpLn != nil {
		n.httpLn.Close()
	}
	n.cancel()
	for i := len(n.extra) - 1; i >= 0; i-- {
		errs = append(errs, n.extra[i](ctx))
	}
	if n.reb != nil {
		n.reb.Stop()
	}
	if n.ae != nil {
		n.ae.Stop()
	}
	if n.coord != nil {
		n.coord.Wait()
	}
	if n.hintDB != nil {
		errs = append(errs, n.hintDB.Close())
	}
	if n.cluster != nil {
		errs = append(errs, n.cluster.Close())
	}
	if n.tr != nil {
		errs = append(errs, n.tr.Close())
	}
	n.wg.Wait()
	if n.engine != nil {
		errs = append(errs, n.engine.Close())
	}
	return errors.Join(errs...)
}

func (n *Node) ready(ctx context.Context) error {
	if err := n.health.err(); err != nil {
		return fmt.Errorf("engine probe failed: %w", err)
	}
	if !n.membership(n.cluster.State()) {
		return errNotMember
	}
	read, _ := n.cluster.Rings()
	if read == nil || !read.Has(n.cfg.NodeID) && n.cluster.Self().State != cluster.Joining {
		return errors.New("not a member of the ring yet")
	}
	if self := n.cluster.Self(); self.Rebuilding {
		return errors.New("rebuilding its ranges from the other replicas")
	}
	return nil
}

func (n *Node) watchCluster(ctx context.Context) {
	warnQuorums(n.cluster.State(), n.log)
	ch, cancel := n.cluster.Subscribe()
	defer cancel()
	n.reb.Changed(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case st := <-ch:
			n.members.refresh(st)
			n.membership(st)
			n.reb.Changed(ctx)
			n.hintDB.Wake()
		}
	}
}

// resolveJoin turns --join addresses into cluster addresses: an address
// that answers GET /v1/cluster is a public one, and its members' cluster
// addresses are used; anything else (a cluster port, or a member not up
// yet) is tried as given. The cluster package calls it before every join
// attempt, so a public address that was not answering yet is resolved
// once its node is up.
func resolveJoin(ctx context.Context, addrs []string, log *slog.Logger) []string {
	var out []string
	hc := &http.Client{Timeout: time.Second}
	for _, a := range addrs {
		bare := strings.TrimPrefix(strings.TrimPrefix(a, "http://"), "https://")
		base := a
		if !strings.Contains(base, "://") {
			base = "http://" + base
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/v1/cluster", nil)
		if err != nil {
			out = append(out, bare)
			continue
		}
		resp, err := hc.Do(req)
		if err != nil {
			out = append(out, bare)
			continue
		}
		var st struct {
			Nodes []struct {
				Cluster string `json:"cluster"`
			} `json:"nodes"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st)
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			log.Warn("--join names a public address that needs a token; give a member's cluster address (e.g. host:7071) instead", "join", a)
		}
		if err != nil || resp.StatusCode != http.StatusOK || len(st.Nodes) == 0 {
			out = append(out, bare)
			continue
		}
		for _, nd := range st.Nodes {
			out = append(out, nd.Cluster)
		}
	}
	return out
}
