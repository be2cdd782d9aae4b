package cluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/grafo/grafo/internal/testutil"
	"github.com/grafo/grafo/kv/ring"
	"github.com/grafo/grafo/kv/transport"
)

type testNode struct {
	id, dir, addr string
	tr            *transport.TCP
	c             *Cluster
}

// start opens a node on real TCP (addr "" = a free port) and registers
// cleanup. join empty and no state in dir = bootstrap.
func start(t *testing.T, id, dir, addr string, join []string, mut func(*Config)) *testNode {
	t.Helper()
	tcfg := transport.DefaultConfig()
	if addr != "" {
		tcfg.Addr = addr
	}
	tcfg.Secret = "test-secret"
	tr, err := transport.Listen(tcfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.NodeID, cfg.Dir, cfg.HTTPAddr = id, dir, "http-"+id
	cfg.VNodes = 16
	cfg.Join = join
	cfg.Transport, cfg.Raft = tr, tr.RaftLayer()
	cfg.Heartbeat = 50 * time.Millisecond
	if mut != nil {
		mut(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Open(ctx, cfg)
	if err != nil {
		tr.Close()
		t.Fatalf("open %s: %v", id, err)
	}
	n := &testNode{id: id, dir: dir, addr: tr.Addr(), tr: tr, c: c}
	t.Cleanup(n.stop)
	return n
}

func (n *testNode) stop() {
	n.c.Close()
	n.tr.Close()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// stored strips the node-local parts (heartbeat view) of a State.
func stored(s State) string {
	nodes := make([]string, len(s.Nodes))
	for i, n := range s.Nodes {
		nodes[i] = fmt.Sprintf("%s/%s/%s/%d/%s/%v", n.ID, n.HTTP, n.Cluster, n.Weight, n.State, n.Voter)
	}
	return fmt.Sprintf("%v N=%d W=%d R=%d V=%d leader=%s idx=%d", nodes, s.Replicas, s.WriteQuorum, s.ReadQuorum, s.VNodes, s.Leader, s.Index)
}

func ids(s State) []string {
	var out []string
	for _, n := range s.Nodes {
		out = append(out, n.ID+":"+string(n.State))
	}
	return out
}

func sameRing(a, b *ring.Ring) bool {
	for i := range 200 {
		p := []byte(fmt.Sprint("partition-", i))
		if !slices.Equal(a.Preference(p, 3), b.Preference(p, 3)) {
			return false
		}
	}
	return true
}

func converged(nodes ...*testNode) func() bool {
	return func() bool {
		want := stored(nodes[0].c.State())
		for _, n := range nodes[1:] {
			if stored(n.c.State()) != want {
				return false
			}
		}
		for _, n := range nodes {
			if !ringsCurrent(n.c) {
				return false
			}
		}
		return true
	}
}

// ringsCurrent reports whether c's rings are those of its applied state:
// a node installs them just after the apply, so a test that saw the state
// change waits for them too.
func ringsCurrent(c *Cluster) bool {
	nodes, set, _ := c.fsm.view()
	read, write := ringMembers(nodes)
	r := c.rings.Load()
	return r != nil && r.readSig == ringSig(read, set.VNodes) && r.writeSig == ringSig(write, set.VNodes)
}

func raftServers(t *testing.T, c *Cluster) map[string]raft.ServerSuffrage {
	f := c.raft.Load().GetConfiguration()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	out := map[string]raft.ServerSuffrage{}
	for _, s := range f.Configuration().Servers {
		out[string(s.ID)] = s.Suffrage
	}
	return out
}

// A node bootstraps, two join (through a follower too), come up, survive a
// stop and restarts (through a snapshot), and one leaves.
func TestThreeNodesLifecycle(t *testing.T) {
	n1, n2, n3 := lifecycleJoin(t, t.TempDir())
	lifecycleUp(t, n1, n2, n3)
	lifecycleBadTransitions(t, n1, n2)
	n2, n3 = lifecycleRestarts(t, n1, n2, n3)
	lifecycleLeave(t, n1, n2, n3)
}

// lifecycleJoin bootstraps n1 and joins n2 and n3, which stay joining.
func lifecycleJoin(t *testing.T, base string) (n1, n2, n3 *testNode) {
	n1 = start(t, "n1", filepath.Join(base, "n1"), "", nil, nil)
	st := n1.c.State()
	if len(st.Nodes) != 1 || st.Nodes[0].State != Up || !st.Nodes[0].Voter || st.Leader != "n1" ||
		st.Replicas != 3 || st.WriteQuorum != 2 || st.ReadQuorum != 2 || st.VNodes != 16 {
		t.Fatalf("bootstrap state: %+v", st)
	}
	n2 = start(t, "n2", filepath.Join(base, "n2"), "", []string{n1.addr}, nil)
	// n3 asks a follower, which forwards to the leader.
	n3 = start(t, "n3", filepath.Join(base, "n3"), "", []string{n2.addr}, nil)
	all := []*testNode{n1, n2, n3}
	testutil.WaitFor(t, 15*time.Second, "three nodes to agree", converged(all...))
	st = n3.c.State()
	if got := ids(st); !slices.Equal(got, []string{"n1:up", "n2:joining", "n3:joining"}) {
		t.Fatalf("state after joins: %v", got)
	}
	if s := raftServers(t, n1.c); len(s) != 3 || s["n2"] != raft.Voter || s["n3"] != raft.Voter {
		t.Fatalf("raft configuration: %v", s)
	}
	if st.Nodes[2].Cluster != n3.addr || st.Nodes[2].HTTP != "http-n3" {
		t.Fatalf("n3 entry: %+v", st.Nodes[2])
	}
	// Joining nodes are future owners only.
	read, write := n2.c.Rings()
	if read == write || !read.Has("n1") || read.Has("n2") || !write.Has("n3") {
		t.Fatalf("rings while joining: read n2=%v, write n3=%v", read.Has("n2"), write.Has("n3"))
	}
	return n1, n2, n3
}

// lifecycleUp brings n2 and n3 up, seen by a subscriber and in every ring.
func lifecycleUp(t *testing.T, n1, n2, n3 *testNode) {
	all := []*testNode{n1, n2, n3}
	sub, cancelSub := n3.c.Subscribe()
	defer cancelSub()
	// Joining→Up, once from a follower (forwarded), once on a third node.
	if err := n3.c.SetState(ctxT(t), "n2", Up); err != nil {
		t.Fatal(err)
	}
	if err := n2.c.SetState(ctxT(t), "n3", Up); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "subscriber to see n2 and n3 up", func() bool {
		select {
		case s := <-sub:
			return slices.Equal(ids(s), []string{"n1:up", "n2:up", "n3:up"})
		default:
			return false
		}
	})
	testutil.WaitFor(t, 15*time.Second, "agreement after Up", converged(all...))
	for _, n := range all {
		r, w := n.c.Rings()
		if r != w {
			t.Fatalf("%s: read and write rings differ with nothing moving", n.id)
		}
		r2, _ := n.c.Rings()
		if r2 != r {
			t.Fatalf("%s: ring rebuilt with no change", n.id)
		}
		r1, _ := n1.c.Rings()
		if !sameRing(r, r1) || !r.Has("n3") {
			t.Fatalf("%s: ring differs from n1's", n.id)
		}
	}
}

// lifecycleBadTransitions: joins are idempotent, wrong transitions refused.
func lifecycleBadTransitions(t *testing.T, n1, n2 *testNode) {
	// Idempotent join and bad transitions.
	if err := n1.c.Join(ctxT(t), n2.c.Self()); err != nil {
		t.Fatalf("re-join: %v", err)
	}
	if err := n2.c.SetState(ctxT(t), "n3", Joining); !errors.Is(err, ErrBadTransition) {
		t.Fatalf("up→joining from a follower: %v", err)
	}
	if err := n1.c.SetState(ctxT(t), "nx", Up); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("unknown node: %v", err)
	}
	if err := n1.c.SetState(ctxT(t), "n2", Down); !errors.Is(err, ErrBadTransition) {
		t.Fatalf("storing Down: %v", err)
	}
}

// lifecycleRestarts stops n3 (heartbeats see it down) and restarts it and
// n2 from their directories; it returns the restarted nodes.
func lifecycleRestarts(t *testing.T, n1, n2, n3 *testNode) (*testNode, *testNode) {
	// Heartbeats: a closed node is Down within ~5 intervals, Up once back.
	if !n1.c.Alive("n3") || !n1.c.Alive("n1") {
		t.Fatal("live nodes reported dead")
	}
	testutil.WaitFor(t, 15*time.Second, "a heartbeat answer from n3", func() bool { return !n1.c.State().Nodes[2].LastContact.IsZero() })
	n3.stop()
	stopped := time.Now()
	testutil.WaitFor(t, 15*time.Second, "n3 down", func() bool { return !n1.c.Alive("n3") && !n2.c.Alive("n3") })
	if d := time.Since(stopped); d > 2*time.Second {
		t.Fatalf("down detected after %v", d)
	}
	if st := n1.c.State(); st.Nodes[2].State != Down || st.Nodes[2].LastContact.IsZero() {
		t.Fatalf("n3 as reported: %+v", st.Nodes[2])
	}
	if r, _ := n1.c.Rings(); !r.Has("n3") {
		t.Fatal("read ring dropped a node that is only down")
	}

	// Restart with the same Dir and address, no Join: it comes back. Take
	// a snapshot first so the restart goes through Restore too.
	if err := n2.c.raft.Load().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	n3 = start(t, "n3", n3.dir, n3.addr, nil, nil)
	all := []*testNode{n1, n2, n3}
	testutil.WaitFor(t, 15*time.Second, "n3 up again", func() bool { return n1.c.Alive("n3") && n2.c.Alive("n3") })
	testutil.WaitFor(t, 15*time.Second, "agreement after restart", converged(all...))
	n2.stop()
	n2 = start(t, "n2", n2.dir, n2.addr, []string{n1.addr}, nil) // Join given anyway: harmless
	all = []*testNode{n1, n2, n3}
	testutil.WaitFor(t, 15*time.Second, "agreement after snapshot restart", converged(all...))
	if got := ids(n2.c.State()); !slices.Equal(got, []string{"n1:up", "n2:up", "n3:up"}) {
		t.Fatalf("n2 after restart: %v", got)
	}
	return n2, n3
}

// lifecycleLeave: n3 leaves, then is Left: out of the rings, the state
// and raft.
func lifecycleLeave(t *testing.T, n1, n2, n3 *testNode) {
	all := []*testNode{n1, n2, n3}
	// Leave, then Left: out of the rings, the state and raft.
	if err := n2.c.Leave(ctxT(t), "n3"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "n3 leaving everywhere", converged(all...))
	read, write := n1.c.Rings()
	if !read.Has("n3") || write.Has("n3") {
		t.Fatalf("rings while leaving: read=%v write=%v", read.Has("n3"), write.Has("n3"))
	}
	if err := n3.c.SetState(ctxT(t), "n3", Left); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "n3 gone", func() bool {
		for _, n := range []*testNode{n1, n2} {
			if got := ids(n.c.State()); !slices.Equal(got, []string{"n1:up", "n2:up"}) || !ringsCurrent(n.c) {
				return false
			}
		}
		return true
	})
	if _, ok := raftServers(t, n1.c)["n3"]; ok {
		t.Fatal("n3 still in the raft configuration")
	}
	if r, w := n2.c.Rings(); r.Has("n3") || w.Has("n3") || r != w {
		t.Fatal("n3 still in n2's rings")
	}
	if err := n1.c.SetState(ctxT(t), "n3", Left); err != nil {
		t.Fatalf("Left twice: %v", err)
	}
}

func TestLeaderFailover(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	n1 := start(t, "n1", filepath.Join(base, "n1"), "", nil, nil)
	n2 := start(t, "n2", filepath.Join(base, "n2"), "", []string{n1.addr}, nil)
	n3 := start(t, "n3", filepath.Join(base, "n3"), "", []string{n1.addr}, nil)
	testutil.WaitFor(t, 15*time.Second, "agreement", converged(n1, n2, n3))
	if !n1.c.IsLeader() {
		t.Fatalf("leader is %q, want n1", n1.c.Leader())
	}
	n1.stop()
	testutil.WaitFor(t, 15*time.Second, "new leader", func() bool {
		l := n2.c.Leader()
		return (l == "n2" || l == "n3") && n3.c.Leader() == l
	})
	if n2.c.IsLeader() == n3.c.IsLeader() {
		t.Fatal("exactly one of n2, n3 must lead")
	}
	// Membership still changes: a join through either survivor and a state move.
	n4 := start(t, "n4", filepath.Join(base, "n4"), "", []string{n1.addr, n3.addr}, nil)
	if err := n2.c.SetState(ctxT(t), "n4", Up); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "survivors agree", converged(n2, n3, n4))
	if got := ids(n4.c.State()); !slices.Equal(got, []string{"n1:down", "n2:joining", "n3:joining", "n4:up"}) &&
		!slices.Equal(got, []string{"n1:up", "n2:joining", "n3:joining", "n4:up"}) {
		t.Fatalf("state after failover: %v", got)
	}
}

func TestSixNodesFiveVoters(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	n1 := start(t, "n1", filepath.Join(base, "n1"), "", nil, nil)
	nodes := []*testNode{n1}
	for i := 2; i <= 6; i++ {
		id := fmt.Sprint("n", i)
		nodes = append(nodes, start(t, id, filepath.Join(base, id), "", []string{nodes[len(nodes)-1].addr}, nil))
	}
	testutil.WaitFor(t, 15*time.Second, "six agree", converged(nodes...))
	// The raft configuration follows the membership change a moment later
	// on a loaded machine: wait for it rather than sample it once.
	var servers map[string]raft.ServerSuffrage
	testutil.WaitFor(t, 15*time.Second, "five voters and n6 a non-voter", func() bool {
		servers = raftServers(t, n1.c)
		voters := 0
		for _, s := range servers {
			if s == raft.Voter {
				voters++
			}
		}
		return len(servers) == 6 && voters == 5 && servers["n6"] == raft.Nonvoter
	})
	for _, n := range nodes[0].c.State().Nodes {
		if n.Voter != (n.ID != "n6") {
			t.Fatalf("%s voter=%v", n.ID, n.Voter)
		}
	}
	// A voter leaving promotes the non-voter.
	if err := n1.c.Leave(ctxT(t), "n5"); err != nil {
		t.Fatal(err)
	}
	if err := n1.c.SetState(ctxT(t), "n5", Left); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "n5 out of raft and n6 a voter", func() bool {
		servers = raftServers(t, n1.c)
		_, ok := servers["n5"]
		return !ok && servers["n6"] == raft.Voter
	})
	testutil.WaitFor(t, 15*time.Second, "n6 voter everywhere", func() bool {
		n, ok := nodes[5].c.fsm.node("n6")
		return ok && n.Voter
	})

	// The leader itself leaves: the others elect a new one without it.
	if err := n1.c.Leave(ctxT(t), "n1"); err != nil {
		t.Fatal(err)
	}
	if err := n1.c.SetState(ctxT(t), "n1", Left); err != nil {
		t.Fatal(err)
	}
	n2 := nodes[1]
	testutil.WaitFor(t, 15*time.Second, "a leader other than n1", func() bool { l := n2.c.Leader(); return l != "" && l != "n1" })
	servers = raftServers(t, n2.c)
	if _, ok := servers["n1"]; ok || len(servers) != 4 {
		t.Fatalf("after the leader left: %v", servers)
	}
	testutil.WaitFor(t, 15*time.Second, "n1 gone from n2's state", func() bool {
		return slices.Equal(ids(n2.c.State()), []string{"n2:joining", "n3:joining", "n4:joining", "n6:joining"})
	})
}

func TestWrongSecretCannotJoin(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	n1 := start(t, "n1", filepath.Join(base, "n1"), "", nil, nil)
	tr, err := transport.Listen(transport.Config{Addr: "127.0.0.1:0", Secret: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	cfg := DefaultConfig()
	cfg.NodeID, cfg.Dir, cfg.Join = "evil", filepath.Join(base, "evil"), []string{n1.addr}
	cfg.Transport, cfg.Raft = tr, tr.RaftLayer()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second) // room for a handshake on a loaded machine
	defer cancel()
	c, err := Open(ctx, cfg)
	if err == nil {
		c.Close()
		t.Fatal("joined with the wrong secret")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, transport.ErrAuth) {
		t.Fatalf("err = %v, want a deadline carrying ErrAuth", err)
	}
	if got := ids(n1.c.State()); !slices.Equal(got, []string{"n1:up"}) {
		t.Fatalf("state: %v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tr := transport.NewNetwork().Node("a")
	good := DefaultConfig()
	good.NodeID, good.Dir, good.Transport, good.RaftTransport = "a", t.TempDir(), tr, &raft.InmemTransport{}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no id":        func(c *Config) { c.NodeID = "" },
		"no dir":       func(c *Config) { c.Dir = "" },
		"no transport": func(c *Config) { c.Transport = nil },
		"no raft":      func(c *Config) { c.RaftTransport = nil },
		"W > N":        func(c *Config) { c.WriteQuorum = 4 },
		"R < 0":        func(c *Config) { c.ReadQuorum = -1 },
	} {
		c := good
		mut(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A member whose data is gone rejoins rebuilding (tokens kept, not
// serving) and a replacement at a new address takes its place; a member
// that flags itself unhealthy stops serving; a replacement of a live
// member or of an unknown id is refused.
func TestRebuildReplaceHealth(t *testing.T) {
	base := t.TempDir()
	n1 := start(t, "n1", filepath.Join(base, "n1"), "", nil, nil)
	n2 := start(t, "n2", filepath.Join(base, "n2"), "", []string{n1.addr}, nil)
	n3 := start(t, "n3", filepath.Join(base, "n3"), "", []string{n1.addr}, nil)
	ctx := ctxT(t)
	for _, n := range []*testNode{n2, n3} {
		if err := n1.c.SetState(ctx, n.id, Up); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, 15*time.Second, "three up everywhere", converged(n1, n2, n3))
	before, _ := n1.c.Rings()

	// A replacement of a live member is refused, so is one of nobody.
	for _, id := range []string{"n3", "n9"} {
		tcfg := transport.DefaultConfig()
		tcfg.Secret = "test-secret"
		tr, err := transport.Listen(tcfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.NodeID, cfg.Dir, cfg.Join, cfg.Replace = id, filepath.Join(base, "r-"+id), []string{n1.addr}, true
		cfg.Transport, cfg.Raft, cfg.Heartbeat = tr, tr.RaftLayer(), 50*time.Millisecond
		_, err = Open(ctx, cfg)
		tr.Close()
		want := map[string]error{"n3": ErrNodeAlive, "n9": ErrUnknownNode}[id]
		if !errors.Is(err, want) {
			t.Fatalf("replace %s: %v, want %v", id, err, want)
		}
	}

	// n3 dies; a replacement with a fresh directory at a new address.
	n3.stop()
	testutil.WaitFor(t, 15*time.Second, "n3 down on n1", func() bool { return !n1.c.Alive("n3") })
	r3 := start(t, "n3", filepath.Join(base, "n3b"), "", []string{n1.addr}, func(c *Config) { c.Replace = true })
	self := r3.c.Self()
	if self.State != Joining || !self.Rebuilding || self.Cluster != r3.addr {
		t.Fatalf("replacement sees itself as %+v", self)
	}
	testutil.WaitFor(t, 15*time.Second, "n1 to see n3 rebuilding at its new address", func() bool {
		n, ok := n1.c.fsm.node("n3")
		return ok && n.Rebuild && n.Cluster == r3.addr && ringsCurrent(n1.c)
	})
	read, write := n1.c.Rings()
	if read != write || !sameRing(before, read) {
		t.Fatal("a rebuilding member moved ranges: its tokens must stay in both rings")
	}
	if n1.c.Serving("n3") || !n1.c.Serving("n2") {
		t.Fatalf("serving: n3 %v (rebuilding), n2 %v", n1.c.Serving("n3"), n1.c.Serving("n2"))
	}
	if err := r3.c.SetState(ctx, "n3", Up); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "n3 serving after it is up", func() bool { return n1.c.Serving("n3") && !n1.c.Self().Rebuilding })

	// Unhealthy: reported, not serving, cleared again.
	if err := n2.c.SetHealth(ctx, "n2", false); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "n2 unhealthy on n1", func() bool {
		for _, n := range n1.c.State().Nodes {
			if n.ID == "n2" {
				return n.State == Unhealthy && !n1.c.Serving("n2")
			}
		}
		return false
	})
	if err := n2.c.SetHealth(ctx, "n2", true); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "n2 healthy again", func() bool { return n1.c.Serving("n2") })
}

// A leave ordered while a node is still joining wins over the data layer's
// Joining→Up, which is conditional (Transition); an unconditional SetState
// would take Leaving→Up (a cancelled leave) and undo it.
func TestLeaveWhileJoiningIsNotUndone(t *testing.T) {
	base := t.TempDir()
	n1 := start(t, "n1", filepath.Join(base, "n1"), "", nil, nil)
	n2 := start(t, "n2", filepath.Join(base, "n2"), "", []string{n1.addr}, nil)
	testutil.WaitFor(t, 15*time.Second, "two nodes to agree", converged(n1, n2))
	if err := n1.c.Leave(ctxT(t), "n2"); err != nil {
		t.Fatalf("leave while joining: %v", err)
	}
	testutil.WaitFor(t, 15*time.Second, "n2 leaving everywhere", converged(n1, n2))
	// From a follower (forwarded to the leader), as the rebalancer does.
	err := n2.c.Transition(ctxT(t), "n2", Joining, Up)
	if !errors.Is(err, ErrBadTransition) || !strings.Contains(err.Error(), "n2 is leaving, not joining") {
		t.Fatalf("joining→up of a leaving node: %v, want ErrBadTransition naming both states", err)
	}
	if got := ids(n1.c.State()); !slices.Equal(got, []string{"n1:up", "n2:leaving"}) {
		t.Fatalf("state after the refused move: %v", got)
	}
	if err := n2.c.Transition(ctxT(t), "n2", Leaving, Left); err != nil {
		t.Fatalf("leaving→left: %v", err)
	}
	testutil.WaitFor(t, 15*time.Second, "n2 gone", func() bool {
		return slices.Equal(ids(n1.c.State()), []string{"n1:up"})
	})
}
