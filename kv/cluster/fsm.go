package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/hashicorp/raft"
)

// storedNode is a member as the raft log records it (no heartbeat data).
type storedNode struct {
	ID      string    `json:"id"`
	HTTP    string    `json:"http,omitempty"`
	Cluster string    `json:"cluster"`
	Weight  int       `json:"weight"`
	State   NodeState `json:"state"`
	Voter   bool      `json:"voter,omitempty"`
	// Rebuild marks a Joining member that keeps its place (tokens) in the
	// read ring while it rebuilds lost data: a replacement or a node whose
	// disk was lost. It serves nothing until it is Up.
	Rebuild bool `json:"rebuild,omitempty"`
	// Unhealthy is set by the node itself when its engine keeps failing.
	Unhealthy bool `json:"unhealthy,omitempty"`
}

func (n storedNode) node() Node {
	return Node{ID: n.ID, HTTP: n.HTTP, Cluster: n.Cluster, Weight: n.Weight, State: n.State, Voter: n.Voter,
		Rebuilding: n.Rebuild, Unhealthy: n.Unhealthy}
}

type settings struct {
	Replicas    int `json:"replicas"`
	WriteQuorum int `json:"w"`
	ReadQuorum  int `json:"r"`
	VNodes      int `json:"vnodes"`
}

// fsmData is everything raft replicates; it is also the snapshot format.
type fsmData struct {
	Init     bool                  `json:"init"`
	Settings settings              `json:"settings"`
	Nodes    map[string]storedNode `json:"nodes"`
	Index    uint64                `json:"index"`
}

// Commands. JSON: a handful a day, readability of the log beats bytes.
const (
	opInit  = "init"  // Settings + Node (the bootstrapper, Up); ignored once initialised
	opAdd   = "add"   // Node: insert or update addresses/weight/voter
	opState = "state" // ID + State; Left deletes the entry
	opVoter = "voter" // ID + Voter
	// opRemove deletes ID from any state: a node removed for good, which
	// cannot go through Leaving (it hands nothing off).
	opRemove = "remove"
	// opRebuild makes ID Joining with Rebuild set, from Up or Joining: its
	// data is gone, its tokens stay.
	opRebuild = "rebuild"
	// opHealth sets ID's Unhealthy flag.
	opHealth = "health"
)

type command struct {
	Op       string      `json:"op"`
	Node     *storedNode `json:"node,omitempty"`
	Settings *settings   `json:"settings,omitempty"`
	ID       string      `json:"id,omitempty"`
	State    NodeState   `json:"state,omitempty"`
	From     NodeState   `json:"from,omitempty"` // opState: only from this state
	Voter    bool        `json:"voter,omitempty"`
	// Unhealthy is opHealth's value.
	Unhealthy bool `json:"unhealthy,omitempty"`
}

// allowed lists the stored transitions. Down is never stored.
var allowed = map[NodeState][]NodeState{
	Joining: {Up, Leaving, Left},
	Up:      {Leaving},
	Leaving: {Left, Up}, // Up: a cancelled leave
}

func transitionOK(from, to NodeState) bool {
	for _, s := range allowed[from] {
		if s == to {
			return true
		}
	}
	return false
}

type fsm struct {
	mu       sync.RWMutex
	d        fsmData
	onChange func() // called after every applied change, outside mu
}

var _ raft.FSM = (*fsm)(nil)

func newFSM() *fsm {
	return &fsm{d: fsmData{Nodes: make(map[string]storedNode)}}
}

// Apply runs one command. It must be deterministic: validation that can
// fail is repeated here and reported through the response, never by
// diverging state.
func (f *fsm) Apply(l *raft.Log) any {
	var c command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return fmt.Errorf("cluster: undecodable command at %d: %w", l.Index, err)
	}
	f.mu.Lock()
	err := f.apply(c)
	f.d.Index = l.Index
	f.mu.Unlock()
	if f.onChange != nil {
		f.onChange()
	}
	return err
}

func (f *fsm) apply(c command) error {
	switch c.Op {
	case opInit:
		if f.d.Init {
			return nil
		}
		f.d.Init = true
		f.d.Settings = *c.Settings
		f.d.Nodes[c.Node.ID] = *c.Node
	case opAdd:
		f.d.Nodes[c.Node.ID] = *c.Node
	case opState:
		n, ok := f.d.Nodes[c.ID]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownNode, c.ID)
		}
		if c.From != "" && n.State != c.From {
			return fmt.Errorf("%w: %s is %s, not %s", ErrBadTransition, c.ID, n.State, c.From)
		}
		if n.State == c.State {
			return nil
		}
		if !transitionOK(n.State, c.State) {
			return fmt.Errorf("%w: %s %s -> %s", ErrBadTransition, c.ID, n.State, c.State)
		}
		if c.State == Left {
			delete(f.d.Nodes, c.ID)
			return nil
		}
		n.State = c.State
		if c.State == Up {
			n.Rebuild = false // rebuilt
		}
		f.d.Nodes[c.ID] = n
	case opRebuild:
		n, ok := f.d.Nodes[c.ID]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownNode, c.ID)
		}
		if n.State != Up && n.State != Joining {
			return fmt.Errorf("%w: %s %s -> rebuilding", ErrBadTransition, c.ID, n.State)
		}
		n.State, n.Rebuild = Joining, true
		f.d.Nodes[c.ID] = n
	case opHealth:
		n, ok := f.d.Nodes[c.ID]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownNode, c.ID)
		}
		n.Unhealthy = c.Unhealthy
		f.d.Nodes[c.ID] = n
	case opRemove:
		delete(f.d.Nodes, c.ID)
	case opVoter:
		n, ok := f.d.Nodes[c.ID]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownNode, c.ID)
		}
		n.Voter = c.Voter
		f.d.Nodes[c.ID] = n
	default:
		return fmt.Errorf("cluster: unknown command %q", c.Op)
	}
	return nil
}

// view returns copies of the stored members (sorted by id), settings and
// last applied index.
func (f *fsm) view() ([]storedNode, settings, uint64) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	nodes := make([]storedNode, 0, len(f.d.Nodes))
	for _, n := range f.d.Nodes {
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].ID < nodes[j].ID })
	return nodes, f.d.Settings, f.d.Index
}

func (f *fsm) node(id string) (storedNode, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, ok := f.d.Nodes[id]
	return n, ok
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := json.Marshal(f.d)
	if err != nil {
		return nil, err
	}
	return fsmSnapshot(b), nil
}

func (f *fsm) Restore(r io.ReadCloser) error {
	defer r.Close()
	var d fsmData
	if err := json.NewDecoder(r).Decode(&d); err != nil {
		return fmt.Errorf("cluster: restore snapshot: %w", err)
	}
	if d.Nodes == nil {
		d.Nodes = make(map[string]storedNode)
	}
	f.mu.Lock()
	f.d = d
	f.mu.Unlock()
	if f.onChange != nil {
		f.onChange()
	}
	return nil
}

type fsmSnapshot []byte

func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return fmt.Errorf("cluster: write snapshot: %w", err)
	}
	return sink.Close()
}

func (s fsmSnapshot) Release() {}

// initialised reports whether the bootstrapper's settings are applied.
func (f *fsm) initialised() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.d.Init
}
