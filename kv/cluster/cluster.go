package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/grafo/grafo/kv/ring"
	"github.com/grafo/grafo/kv/transport"
)

// RPC methods served on the Transport.
const (
	methodJoin  = "cluster.join"
	methodState = "cluster.state"
	methodPing  = "cluster.ping"
	// methodHealth and methodRebuild forward SetHealth and Rebuild.
	methodHealth  = "cluster.health"
	methodRebuild = "cluster.rebuild"
)

// opTimeout bounds one raft operation when the caller's ctx has no deadline.
const opTimeout = 10 * time.Second

// Cluster is this node's view of the membership, kept by raft.
type Cluster struct {
	cfg   Config
	log   *slog.Logger
	fsm   *fsm
	store *boltStore
	raft  atomic.Pointer[raft.Raft] // set after NewRaft; the FSM may fire before
	hb    *heartbeats

	leaderMu sync.Mutex // serialises membership changes on the leader

	ringMu  sync.Mutex // serialises changed
	rings   atomic.Pointer[rings]
	mu      sync.Mutex
	subs    map[int]chan State
	nextSub int

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	closed atomic.Bool
	wg     sync.WaitGroup
}

// Open starts this node's raft and returns once the node is a member
// (bootstrapped, restarted or joined) and has applied the current log.
func Open(ctx context.Context, cfg Config) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("node", cfg.NodeID)
	dir := filepath.Join(cfg.Dir, "raft")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	store, err := openBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		return nil, err
	}
	hlog := raftLogger(cfg.Logger)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hlog)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("cluster: snapshot store: %w", err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{
		cfg: cfg, log: log, fsm: newFSM(), store: store,
		subs: make(map[int]chan State),
		ctx:  cctx, cancel: cancel,
	}
	c.hb = newHeartbeats(c)
	c.fsm.onChange = c.changed
	c.registerHandlers()

	trans := cfg.RaftTransport
	if trans == nil {
		trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: cfg.Raft, MaxPool: 3, Timeout: 5 * time.Second, Logger: hlog,
		})
	}
	existing, err := raft.HasExistingState(store, store, snaps)
	if err != nil {
		c.abort(nil, trans)
		return nil, fmt.Errorf("cluster: read raft state: %w", err)
	}
	r, err := raft.NewRaft(raftConfig(cfg, hlog), c.fsm, store, store, snaps, trans)
	if err != nil {
		c.abort(nil, trans)
		return nil, fmt.Errorf("cluster: start raft: %w", err)
	}
	c.raft.Store(r)

	bootstrap := !existing && len(cfg.Join) == 0
	if cfg.Replace && (existing || len(cfg.Join) == 0) {
		c.abort(r, nil)
		return nil, fmt.Errorf("%w: a replacement needs --join and no raft state of its own", ErrInvalidConfig)
	}
	if bootstrap {
		err = c.bootstrap(ctx, r, trans.LocalAddr())
	}
	if err == nil {
		err = c.awaitMember(ctx, existing)
	}
	if self, ok := c.fsm.node(cfg.NodeID); err == nil && existing && cfg.Fresh && ok && self.State == Up {
		// Raft state survived but the data did not: rebuild before
		// counting as a replica again.
		err = c.Rebuild(ctx, cfg.NodeID)
	}
	if err != nil {
		c.abort(r, nil)
		return nil, err
	}
	c.changed() // fill rings even when nothing was applied since start
	c.wg.Add(1)
	go c.hb.run()
	log.Info("cluster member", "bootstrap", bootstrap, "restart", existing, "leader", c.Leader())
	return c, nil
}

// abort undoes a failed Open.
func (c *Cluster) abort(r *raft.Raft, trans raft.Transport) {
	c.closed.Store(true)
	c.cancel()
	if r != nil {
		r.Shutdown().Error()
	} else if wc, ok := trans.(raft.WithClose); ok {
		wc.Close()
	}
	c.store.Close()
}

func raftConfig(cfg Config, hlog hclog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	// A LAN: fail over in about a second rather than raft's WAN-ish defaults.
	rc.HeartbeatTimeout = 500 * time.Millisecond
	rc.ElectionTimeout = 500 * time.Millisecond
	rc.LeaderLeaseTimeout = 250 * time.Millisecond
	// CommitTimeout is how often an idle leader sends every follower an
	// empty AppendEntries, which is also how followers learn that the
	// last entry committed. At 5 ms an idle three-node cluster spent
	// 0.1–0.2 CPU s a second on it; apply sends a barrier after each
	// command instead, so followers apply a join or a leave at once.
	rc.CommitTimeout = 50 * time.Millisecond
	// Membership changes are rare; snapshot often enough that a restart
	// replays little, rarely enough that it costs nothing.
	rc.SnapshotThreshold = 512
	rc.TrailingLogs = 1024
	rc.Logger = hlog
	return rc
}

// raftLogger routes raft's hclog output into slog at warn and above;
// raft's info chatter (elections, heartbeats) stays out.
func raftLogger(l *slog.Logger) hclog.Logger {
	if l == nil {
		return hclog.NewNullLogger()
	}
	return hclog.New(&hclog.LoggerOptions{
		Name: "raft", Level: hclog.Warn, Output: slogWriter{l}, DisableTime: true,
	})
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	switch {
	case routine(msg):
		w.l.Info(strings.TrimSpace(strings.TrimPrefix(msg, "[WARN]")))
	case strings.Contains(msg, "[ERROR]") && !peerClosed(msg):
		w.l.Error(msg)
	default:
		w.l.Warn(msg)
	}
	return len(p), nil
}

// routine reports raft warnings and errors that every healthy start, join
// or shutdown prints: the first election of a node that never knew a
// leader, a new follower being caught up from an empty log, connections
// ending because this node closes its transport. A warning on every start
// teaches operators to ignore warnings.
func routine(msg string) bool {
	return strings.Contains(msg, "starting election") && strings.Contains(msg, "last-leader-id= ") ||
		strings.HasSuffix(msg, "last-leader-id=") ||
		strings.Contains(msg, "failed to get previous log") && strings.Contains(msg, "last-index=0") ||
		strings.Contains(msg, "transport shutdown") // this node is closing
}

// peerClosed reports raft errors that only say a peer closed its
// connection (it shut down or restarted): worth a warning, not an error.
func peerClosed(msg string) bool {
	for _, s := range []string{"connection reset by peer", "EOF", "use of closed network connection", "broken pipe"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// bootstrap makes this node a one-voter cluster and records the settings.
func (c *Cluster) bootstrap(ctx context.Context, r *raft.Raft, addr raft.ServerAddress) error {
	conf := raft.Configuration{Servers: []raft.Server{{ID: raft.ServerID(c.cfg.NodeID), Address: addr, Suffrage: raft.Voter}}}
	if err := r.BootstrapCluster(conf).Error(); err != nil {
		return fmt.Errorf("cluster: bootstrap: %w", err)
	}
	self := c.selfStored(Up)
	self.Voter = true
	cmd := command{Op: opInit, Node: &self, Settings: &settings{
		Replicas: c.cfg.Replicas, WriteQuorum: c.cfg.WriteQuorum, ReadQuorum: c.cfg.ReadQuorum, VNodes: c.cfg.VNodes,
	}}
	return c.retry(ctx, func(ctx context.Context) error {
		if r.State() != raft.Leader {
			return ErrNotLeader
		}
		return c.apply(ctx, cmd)
	})
}

func (c *Cluster) selfStored(s NodeState) storedNode {
	return storedNode{ID: c.cfg.NodeID, HTTP: c.cfg.HTTPAddr, Cluster: c.cfg.ClusterAddr, Weight: c.cfg.Weight, State: s}
}

// joinLogEvery is how often a join failing for the same cause is logged
// again.
const joinLogEvery = 30 * time.Second

// awaitMember waits until this node is in the applied state and has
// caught up with the commit index, asking the Join addresses to add it
// meanwhile. A restarted node gives its old configuration a moment before
// asking (asking is harmless: joins are idempotent).
func (c *Cluster) awaitMember(ctx context.Context, restarted bool) error {
	r := c.raft.Load()
	start := time.Now()
	backoff := 20 * time.Millisecond
	nextJoin := start
	if restarted {
		nextJoin = start.Add(2 * time.Second)
	}
	var lastErr error
	var logged string
	var loggedAt, aliveSince time.Time
	fresh := (c.cfg.Fresh || c.cfg.Replace) && !restarted && len(c.cfg.Join) > 0
	for {
		self, isMember := c.fsm.node(c.cfg.NodeID)
		// A fresh node the cluster knew as Up has caught up only once it
		// sees itself rebuilding (its join turns it so): until then the
		// log it applies still shows the replica it was.
		settled := !fresh || self.State != Up
		// Initialised too: a join served while the bootstrapper is still
		// recording the settings must not leave this node with none.
		if isMember && settled && c.fsm.initialised() && c.Leader() != "" && r.AppliedIndex() >= r.CommitIndex() {
			return nil
		}
		if len(c.cfg.Join) > 0 && !isMember && !time.Now().Before(nextJoin) {
			if err := c.askToJoin(ctx); err != nil {
				if c.cfg.Replace && errors.Is(err, ErrUnknownNode) {
					return err // waiting will not make the replacement right
				}
				if c.cfg.Replace && errors.Is(err, ErrNodeAlive) {
					// The leader's heartbeats may not have missed the dead
					// node enough times yet (each member counts its own):
					// give them a few windows, then believe it.
					if aliveSince.IsZero() {
						aliveSince = time.Now()
					}
					if time.Since(aliveSince) > 3*missesDown*c.cfg.Heartbeat {
						return err
					}
				}
				lastErr = err
				if errors.Is(err, transport.ErrAuth) {
					// A wrong secret or certificate does not fix itself: say so.
					c.log.Warn("join refused: authentication failed (cluster secret or TLS certificate)", "err", err)
				} else if msg := err.Error(); msg != logged || time.Since(loggedAt) >= joinLogEvery {
					// A waiting node must say why it waits: at info, once
					// per cause and then every joinLogEvery, not per retry.
					c.log.Info("join attempt failed; retrying", "join", c.cfg.Join, "err", err)
					logged, loggedAt = msg, time.Now()
				}
				if c.cfg.JoinFailed != nil {
					c.cfg.JoinFailed(err)
				}
				nextJoin = time.Now().Add(backoff)
				backoff = min(2*backoff, time.Second)
			} else {
				nextJoin = time.Now().Add(time.Second) // accepted; wait for the log to arrive
			}
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("cluster: join %v: %w (last: %w)", c.cfg.Join, ctx.Err(), lastErr)
			}
			return fmt.Errorf("cluster: waiting for membership: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond): // poll interval
		}
	}
}

// askToJoin sends our node to each Join address until one accepts.
func (c *Cluster) askToJoin(ctx context.Context) error {
	req, _ := json.Marshal(rpcRequest{Node: c.selfStored(Joining), Fresh: c.cfg.Fresh || c.cfg.Replace, Replace: c.cfg.Replace})
	var errs []error
	addrs := c.cfg.Join
	if c.cfg.ResolveJoin != nil {
		if r := c.cfg.ResolveJoin(ctx); len(r) > 0 {
			addrs = r
		}
	}
	for _, addr := range addrs {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := c.cfg.Transport.Call(actx, addr, methodJoin, req)
		cancel()
		if err == nil {
			err = decodeReply(resp)
		}
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	return errors.Join(errs...)
}

// apply proposes one command on the leader and returns its FSM result.
func (c *Cluster) apply(ctx context.Context, cmd command) error {
	b, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	f := c.raft.Load().Apply(b, timeoutOf(ctx))
	if err := f.Error(); err != nil {
		return fmt.Errorf("cluster: apply %s: %w", cmd.Op, err)
	}
	if err, ok := f.Response().(error); ok {
		return err
	}
	c.nudge(ctx)
	return nil
}

// nudge tells the followers at once that everything up to now committed:
// a barrier is a log entry, and the AppendEntries that carries it carries
// the leader's commit index, so followers apply the command just committed
// (a ring change) within a round trip instead of at the next heartbeat,
// CommitTimeout later, when two nodes' rings would differ. The command
// has committed whatever the barrier does: its error only costs speed.
func (c *Cluster) nudge(ctx context.Context) {
	if err := c.raft.Load().Barrier(timeoutOf(ctx)).Error(); err != nil {
		c.log.Debug("barrier after a command", "err", err)
	}
}

func timeoutOf(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return opTimeout
}

// retryable reports errors that go away when a leader settles.
func retryable(err error) bool {
	return errors.Is(err, ErrNotLeader) || errors.Is(err, raft.ErrNotLeader) ||
		errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrLeadershipTransferInProgress) ||
		errors.Is(err, raft.ErrEnqueueTimeout) || errors.Is(err, errNoLeader) ||
		errors.Is(err, errUnreachable)
}

var (
	errNoLeader    = errors.New("cluster: no leader yet")
	errUnreachable = errors.New("cluster: leader unreachable")
)

// retry runs fn until it succeeds, fails for good, or ctx ends.
func (c *Cluster) retry(ctx context.Context, fn func(context.Context) error) error {
	backoff := 10 * time.Millisecond
	for {
		if c.closed.Load() {
			return ErrClosed
		}
		err := fn(ctx)
		if err == nil || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-c.ctx.Done():
			return ErrClosed
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// onLeader runs local on the leader, or forwards req to it (hops counts
// forwards: a forwarded request is never forwarded again, so a leadership
// change cannot bounce it around; the forwarder retries instead).
func (c *Cluster) onLeader(ctx context.Context, method string, req rpcRequest, local func(context.Context) error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if ctx.Done() == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opTimeout)
		defer cancel()
	}
	return c.retry(ctx, func(ctx context.Context) error {
		if c.IsLeader() {
			return local(ctx)
		}
		if req.Hops > 0 {
			return ErrNotLeader
		}
		addr := c.leaderAddr()
		if addr == "" {
			return errNoLeader
		}
		fwd := req
		fwd.Hops++
		b, _ := json.Marshal(fwd)
		resp, err := c.cfg.Transport.Call(ctx, addr, method, b)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			return fmt.Errorf("%w: %w", errUnreachable, err)
		}
		return decodeReply(resp)
	})
}

// leaderAddr is the leader's transport address: from the membership when
// known (raft's address may belong to an in-memory raft transport).
func (c *Cluster) leaderAddr() string {
	addr, id := c.raft.Load().LeaderWithID()
	if n, ok := c.fsm.node(string(id)); ok && n.Cluster != "" {
		return n.Cluster
	}
	return string(addr)
}

// Join adds n as Joining: raft voter while there are fewer than MaxVoters,
// non-voter after. Idempotent.
func (c *Cluster) Join(ctx context.Context, n Node) error {
	sn := storedNode{ID: n.ID, HTTP: n.HTTP, Cluster: n.Cluster, Weight: n.Weight}
	return c.join(ctx, rpcRequest{Node: sn})
}

func (c *Cluster) join(ctx context.Context, req rpcRequest) error {
	n := req.Node
	if n.ID == "" || n.Cluster == "" {
		return fmt.Errorf("%w: id %q, cluster address %q", ErrInvalidNode, n.ID, n.Cluster)
	}
	if n.Weight < 1 {
		n.Weight = 1
	}
	return c.onLeader(ctx, methodJoin, req, func(ctx context.Context) error { return c.joinLocal(ctx, n, req.Fresh, req.Replace) })
}

// joinLocal adds or updates n. fresh: n lost its data (a known member
// then rebuilds); replace: n takes over a dead member of its id at a new
// address.
func (c *Cluster) joinLocal(ctx context.Context, n storedNode, fresh, replace bool) error {
	c.leaderMu.Lock()
	defer c.leaderMu.Unlock()
	r := c.raft.Load()
	cf := r.GetConfiguration()
	if err := cf.Error(); err != nil {
		return fmt.Errorf("cluster: read configuration: %w", err)
	}
	var inRaft *raft.Server
	voters := 0
	for _, s := range cf.Configuration().Servers {
		if string(s.ID) == n.ID {
			s := s
			inRaft = &s
			continue
		}
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	voter := voters < c.cfg.MaxVoters
	if inRaft != nil {
		voter = inRaft.Suffrage == raft.Voter
	}
	old, known := c.fsm.node(n.ID)
	if replace {
		if !known {
			return fmt.Errorf("%w: %s: nothing to replace", ErrUnknownNode, n.ID)
		}
		if c.Alive(n.ID) && n.ID != c.cfg.NodeID {
			return fmt.Errorf("%w: %s answers heartbeats at %s; stop it before replacing it", ErrNodeAlive, n.ID, old.Cluster)
		}
	}
	n.State = Joining
	switch {
	case known && fresh && (old.State == Up || old.State == Joining):
		// Its tokens stay where they are (nothing else moves); it streams
		// them back and serves nothing meanwhile.
		n.Rebuild = true
	case known:
		// A re-join (e.g. new address) keeps its progress.
		n.State, n.Rebuild, n.Unhealthy = old.State, old.Rebuild, old.Unhealthy
	}
	n.Voter = voter
	if !known || old != n {
		if err := c.apply(ctx, command{Op: opAdd, Node: &n}); err != nil {
			return err
		}
	}
	if inRaft != nil && string(inRaft.Address) == n.Cluster {
		return nil
	}
	var f raft.IndexFuture
	if voter {
		f = r.AddVoter(raft.ServerID(n.ID), raft.ServerAddress(n.Cluster), 0, timeoutOf(ctx))
	} else {
		f = r.AddNonvoter(raft.ServerID(n.ID), raft.ServerAddress(n.Cluster), 0, timeoutOf(ctx))
	}
	if err := f.Error(); err != nil {
		return fmt.Errorf("cluster: add %s to raft: %w", n.ID, err)
	}
	c.log.Info("node joined", "id", n.ID, "addr", n.Cluster, "voter", voter)
	return nil
}

// SetState moves a member through Joining→Up, Up→Leaving, Leaving→Left
// (also Joining→Leaving/Left and Leaving→Up). Left removes the node from
// the state and the raft configuration. Setting the current state is a
// no-op; so is Left for a node already gone.
func (c *Cluster) SetState(ctx context.Context, id string, s NodeState) error {
	return c.setState(ctx, rpcRequest{ID: id, State: s})
}

// Transition moves id to s only while it is still in from, atomically in
// the replicated state: the data layer's Joining→Up must not undo a leave
// an admin ordered while the node was still joining (Leaving→Up is
// otherwise a legal move: a cancelled leave). It fails with
// ErrBadTransition when id is no longer in from.
func (c *Cluster) Transition(ctx context.Context, id string, from, s NodeState) error {
	return c.setState(ctx, rpcRequest{ID: id, State: s, From: from})
}

func (c *Cluster) setState(ctx context.Context, req rpcRequest) error {
	switch req.State {
	case Joining, Up, Leaving, Left:
	default:
		return fmt.Errorf("%w: cannot store %q", ErrBadTransition, req.State)
	}
	return c.onLeader(ctx, methodState, req, func(ctx context.Context) error {
		return c.setStateLocal(ctx, req)
	})
}

// Remove takes id out of the ring and the raft configuration at once,
// whatever its state: for a node that is gone for good and so can never
// hand its ranges off. Every remaining owner then pulls the ranges it
// gains from the surviving replicas (kv/replica.Rebalancer). Refusing a
// node that is still alive is the caller's business (it sees heartbeats).
func (c *Cluster) Remove(ctx context.Context, id string) error {
	if _, ok := c.fsm.node(id); !ok {
		return fmt.Errorf("%w: %s", ErrUnknownNode, id)
	}
	return c.setState(ctx, rpcRequest{ID: id, State: Left, Force: true})
}

func (c *Cluster) setStateLocal(ctx context.Context, req rpcRequest) error {
	id, s, force := req.ID, req.State, req.Force
	c.leaderMu.Lock()
	defer c.leaderMu.Unlock()
	n, ok := c.fsm.node(id)
	if !ok {
		if s == Left {
			return c.removeFromRaft(ctx, id) // finish an interrupted removal
		}
		return fmt.Errorf("%w: %s", ErrUnknownNode, id)
	}
	if req.From != "" && n.State != req.From {
		return fmt.Errorf("%w: %s is %s, not %s", ErrBadTransition, id, n.State, req.From)
	}
	if n.State == s {
		return nil
	}
	if !transitionOK(n.State, s) && !(force && s == Left) {
		return fmt.Errorf("%w: %s %s -> %s", ErrBadTransition, id, n.State, s)
	}
	if s == Left && n.Voter {
		// Promote a replacement first: afterwards this node may be gone
		// (or, if it is the leader, no longer able to).
		if err := c.promoteOne(ctx, id); err != nil {
			return err
		}
	}
	cmd := command{Op: opState, ID: id, State: s, From: req.From}
	if force && s == Left && !transitionOK(n.State, s) {
		cmd = command{Op: opRemove, ID: id}
	}
	if err := c.apply(ctx, cmd); err != nil {
		return err
	}
	if s == Left {
		return c.removeFromRaft(ctx, id)
	}
	return nil
}

func (c *Cluster) removeFromRaft(ctx context.Context, id string) error {
	if err := c.raft.Load().RemoveServer(raft.ServerID(id), 0, timeoutOf(ctx)).Error(); err != nil {
		return fmt.Errorf("cluster: remove %s from raft: %w", id, err)
	}
	c.log.Info("node left", "id", id)
	return nil
}

// promoteOne turns the first non-voter (by id) into a voter, if any,
// keeping the voter count at MaxVoters when a voter leaves.
func (c *Cluster) promoteOne(ctx context.Context, leaving string) error {
	nodes, _, _ := c.fsm.view()
	for _, n := range nodes {
		if n.Voter || n.ID == leaving || n.State == Leaving {
			continue
		}
		if err := c.raft.Load().AddVoter(raft.ServerID(n.ID), raft.ServerAddress(n.Cluster), 0, timeoutOf(ctx)).Error(); err != nil {
			return fmt.Errorf("cluster: promote %s: %w", n.ID, err)
		}
		return c.apply(ctx, command{Op: opVoter, ID: n.ID, Voter: true})
	}
	return nil
}

// Rebuild makes id (Up or Joining) a rebuilding Joining member: it keeps
// its tokens but serves nothing until its data is back and it is Up.
func (c *Cluster) Rebuild(ctx context.Context, id string) error {
	return c.rebuild(ctx, rpcRequest{ID: id})
}

func (c *Cluster) rebuild(ctx context.Context, req rpcRequest) error {
	return c.onLeader(ctx, methodRebuild, req, func(ctx context.Context) error {
		c.leaderMu.Lock()
		defer c.leaderMu.Unlock()
		return c.apply(ctx, command{Op: opRebuild, ID: req.ID})
	})
}

// SetHealth records whether id's engine works; coordinators send nothing
// to an unhealthy member (Serving).
func (c *Cluster) SetHealth(ctx context.Context, id string, healthy bool) error {
	return c.setHealth(ctx, rpcRequest{ID: id, Unhealthy: !healthy})
}

func (c *Cluster) setHealth(ctx context.Context, req rpcRequest) error {
	return c.onLeader(ctx, methodHealth, req, func(ctx context.Context) error {
		if n, ok := c.fsm.node(req.ID); ok && n.Unhealthy == req.Unhealthy {
			return nil
		}
		return c.apply(ctx, command{Op: opHealth, ID: req.ID, Unhealthy: req.Unhealthy})
	})
}

// Leave marks id Leaving; the data layer hands its ranges off and then
// calls SetState(id, Left).
func (c *Cluster) Leave(ctx context.Context, id string) error {
	return c.SetState(ctx, id, Leaving)
}

// IsLeader reports whether this node leads raft now.
func (c *Cluster) IsLeader() bool { return c.raft.Load().State() == raft.Leader }

// Leader returns the leader's node id, or "" while there is none.
func (c *Cluster) Leader() string {
	r := c.raft.Load()
	if r == nil {
		return ""
	}
	_, id := r.LeaderWithID()
	return string(id)
}

// Self returns this node's entry (from the applied state once present).
func (c *Cluster) Self() Node {
	if n, ok := c.fsm.node(c.cfg.NodeID); ok {
		out := n.node()
		out.LastContact = time.Now()
		return out
	}
	return c.selfStored(Joining).node()
}

// Reports are the members' latest heartbeat reports (Config.Report) by
// node id, this node's included; a member that stopped answering has none.
func (c *Cluster) Reports() map[string][]byte { return c.hb.reports() }

// Alive reports the heartbeat view of id: false after 5 missed heartbeats
// in a row (and for unknown ids); this node is always alive.
func (c *Cluster) Alive(id string) bool {
	if id == c.cfg.NodeID {
		return true
	}
	if _, ok := c.fsm.node(id); !ok {
		return false
	}
	return c.hb.alive(id)
}

// Serving reports whether id should take requests as a replica: alive
// by heartbeats, not flagged unhealthy, and not rebuilding lost data.
func (c *Cluster) Serving(id string) bool {
	n, ok := c.fsm.node(id)
	return ok && !n.Unhealthy && !n.Rebuild && c.Alive(id)
}

// State returns a copy of the membership with heartbeat-derived Down and
// LastContact filled in.
func (c *Cluster) State() State {
	nodes, set, idx := c.fsm.view()
	st := State{
		Nodes: make([]Node, 0, len(nodes)), Replicas: set.Replicas, WriteQuorum: set.WriteQuorum,
		ReadQuorum: set.ReadQuorum, VNodes: set.VNodes, Leader: c.Leader(), Index: idx,
	}
	now := time.Now()
	for _, sn := range nodes {
		n := sn.node()
		if n.ID == c.cfg.NodeID {
			n.LastContact = now
		} else {
			alive, last := c.hb.view(n.ID)
			n.LastContact = last
			if !alive {
				n.State = Down
			}
		}
		if n.Unhealthy && n.State == Up {
			n.State = Unhealthy
		}
		st.Nodes = append(st.Nodes, n)
	}
	return st
}

// Rings returns the read ring (Up and Leaving members: the current owners)
// and the write ring (Up and Joining: the future owners). Both are
// immutable and cached; when no node is moving they are the same pointer.
func (c *Cluster) Rings() (read, write *ring.Ring) {
	r := c.rings.Load()
	if r == nil {
		return nil, nil
	}
	return r.read, r.write
}

// rings is the pair Rings returns, swapped whole by changed: every
// request reads it, so it is an atomic pointer, not a field under a lock
// the requests would share.
type rings struct {
	read, write       *ring.Ring
	readSig, writeSig string
}

// ringViewHook, when set (by tests), runs in changed between reading the
// state and installing its rings.
var ringViewHook func()

// changed runs after every applied change (and heartbeat state flips):
// rebuild what moved, notify subscribers. Calls are serialised (ringMu)
// from reading the state to installing the rings: New's call after
// awaitMember races raft's applies, and a call that read the state before
// an apply must not install its rings after the apply's call did — the
// stale rings would stay until the next change (a restarted member kept a
// read ring without itself, from the moment it was still joining).
func (c *Cluster) changed() {
	c.ringMu.Lock()
	defer c.notify()
	defer c.ringMu.Unlock()
	nodes, set, _ := c.fsm.view()
	if ringViewHook != nil {
		ringViewHook()
	}
	read, write := ringMembers(nodes)
	rs, ws := ringSig(read, set.VNodes), ringSig(write, set.VNodes)
	old := c.rings.Load()
	next := &rings{readSig: rs, writeSig: ws}
	if old != nil && old.readSig == rs {
		next.read = old.read
	} else {
		next.read = ring.New(read, set.VNodes)
	}
	switch {
	case ws == rs:
		next.write = next.read
	case old != nil && old.writeSig == ws:
		next.write = old.write
	default:
		next.write = ring.New(write, set.VNodes)
	}
	c.rings.Store(next)
}

// ringMembers are the members of the read ring (Up and Leaving, and a
// Joining member that rebuilds) and of the write ring (Up and Joining).
func ringMembers(nodes []storedNode) (read, write []ring.Member) {
	for _, n := range nodes {
		m := ring.Member{ID: n.ID, Weight: n.Weight}
		switch n.State {
		case Up:
			read, write = append(read, m), append(write, m)
		case Leaving:
			read = append(read, m)
		case Joining:
			if n.Rebuild {
				// Holds its place in both rings; Serving keeps requests
				// away from it until it is Up.
				read = append(read, m)
			}
			write = append(write, m)
		}
	}
	return read, write
}

func ringSig(ms []ring.Member, vnodes int) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(vnodes))
	for _, m := range ms {
		b.WriteByte('|')
		b.WriteString(m.ID)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(m.Weight))
	}
	return b.String()
}

func (c *Cluster) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.subs) == 0 {
		return
	}
	st := c.State()
	for _, ch := range c.subs {
		// Coalesce: a reader that has not caught up gets the newest state.
		select {
		case <-ch:
		default:
		}
		select {
		case ch <- st:
		default:
		}
	}
}

// Subscribe returns a channel that receives the State after every applied
// change and heartbeat up/down flip (coalesced: only the newest is kept),
// and a func that ends the subscription. The channel is closed by cancel
// or Close.
func (c *Cluster) Subscribe() (<-chan State, func()) {
	ch := make(chan State, 1)
	c.mu.Lock()
	id := c.nextSub
	c.nextSub++
	if c.closed.Load() {
		close(ch)
	} else {
		c.subs[id] = ch
	}
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		if s, ok := c.subs[id]; ok {
			delete(c.subs, id)
			close(s)
		}
		c.mu.Unlock()
	}
}

// Close stops heartbeats and shuts raft down (this node stays a member:
// restarting with the same Dir brings it back). It does not close the
// Transport, which the caller owns.
func (c *Cluster) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.cancel()
	c.wg.Wait()
	err := c.raft.Load().Shutdown().Error()
	if cerr := c.store.Close(); err == nil {
		err = cerr
	}
	c.mu.Lock()
	for id, ch := range c.subs {
		delete(c.subs, id)
		close(ch)
	}
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("cluster: close: %w", err)
	}
	return nil
}

// HasState reports whether dir, a Config.Dir, holds raft state: whether a
// node starting on it restarts as a member rather than bootstrapping or
// joining. It must be called before Open, which holds the files.
func HasState(dir string) (bool, error) {
	dir = filepath.Join(dir, "raft")
	if _, err := os.Stat(filepath.Join(dir, "raft.db")); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	store, err := openBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		return false, err
	}
	defer store.Close()
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, raftLogger(nil))
	if err != nil {
		return false, fmt.Errorf("cluster: snapshot store: %w", err)
	}
	return raft.HasExistingState(store, store, snaps)
}
