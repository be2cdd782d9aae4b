package store_test

import (
	"fmt"

	"context"
	"github.com/grafo/grafo/kv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv/kvtest"
)

func fn(qn, path string, line, end int) ingest.Node {
	return ingest.Node{Kind: ingest.Function, Name: qn[strings.LastIndex(qn, ".")+1:], QualifiedName: qn, Path: path, Line: line, EndLine: end}
}

func call(from, to, path string, line int) ingest.Edge {
	return ingest.Edge{From: from, To: to, Relation: ingest.Calls, Path: path, Line: line}
}

func edgeSet(t *testing.T, s *store.Store, graph, qn string, dir store.Direction) map[string]bool {
	t.Helper()
	res, err := s.EdgesOf(context.Background(), graph, []store.EdgeQuery{{Node: store.NodeID(graph, qn), Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range res[0] {
		out[string(e.Relation)+" "+e.Other(dir)] = true
	}
	return out
}

func TestPutFilesReplacesFactsOnBothEnds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := store.New(kvtest.NewStore(t), store.Options{})
	const g = "demo"
	a := ingest.FileFacts{File: ingest.File{Path: "a.go", Name: "a.go", MD5: "m1"},
		Nodes: []ingest.Node{fn("p.A", "a.go", 1, 5), fn("p.A2", "a.go", 6, 9), {Kind: ingest.Function, Name: "Exit", QualifiedName: "os.Exit", External: true}},
		Edges: []ingest.Edge{call("p.A", "p.B", "a.go", 2), call("p.A2", "os.Exit", "a.go", 7)}}
	b := ingest.FileFacts{File: ingest.File{Path: "b.go", Name: "b.go", MD5: "m2"},
		Nodes: []ingest.Node{fn("p.B", "b.go", 1, 3)}}
	if err := s.PutFiles(ctx, g, []ingest.FileFacts{a, b}); err != nil {
		t.Fatal(err)
	}
	if got := edgeSet(t, s, g, "p.B", store.In); !got["CALLS "+store.NodeID(g, "p.A")] {
		t.Fatalf("in-edges of p.B = %v, want the call from p.A", got)
	}
	// a.go changes: A no longer calls B, A2 is gone.
	a2 := ingest.FileFacts{File: ingest.File{Path: "a.go", Name: "a.go", MD5: "m3"}, Nodes: []ingest.Node{fn("p.A", "a.go", 1, 5)}}
	if err := s.PutFiles(ctx, g, []ingest.FileFacts{a2}); err != nil {
		t.Fatal(err)
	}
	if got := edgeSet(t, s, g, "p.B", store.In); len(got) != 0 {
		t.Fatalf("in-edges of p.B after replace = %v, want none", got)
	}
	if got := edgeSet(t, s, g, "p.A", store.Out); len(got) != 0 {
		t.Fatalf("out-edges of p.A after replace = %v, want none", got)
	}
	if n, err := s.Node(ctx, g, store.NodeID(g, "p.A2")); err != nil || n != nil {
		t.Fatalf("p.A2 = %v, %v; want removed", n, err)
	}
	// External nodes are shared: they stay when the file that used them changes.
	if n, err := s.Node(ctx, g, store.NodeID(g, "os.Exit")); err != nil || n == nil || !n.External {
		t.Fatalf("os.Exit = %+v, %v; want the external node kept", n, err)
	}
	files, err := s.Files(ctx, g)
	if err != nil || files["a.go"].MD5 != "m3" || files["b.go"].MD5 != "m2" {
		t.Fatalf("files = %v, %v", files, err)
	}
	st, err := s.Stats(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	// p.A, p.B, os.Exit; no edges; two files.
	if st.Files != 2 || st.Nodes != 3 || st.Edges != 0 || st.ByKind[ingest.Function] != 3 {
		t.Fatalf("stats = %+v", st)
	}
	if err := s.DeleteFiles(ctx, g, []string{"b.go"}); err != nil {
		t.Fatal(err)
	}
	st, err = s.Stats(ctx, g)
	if err != nil || st.Files != 1 || st.Nodes != 2 {
		t.Fatalf("stats after delete = %+v, %v", st, err)
	}
}

func TestSpilledDiagnosticsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := store.New(kvtest.NewStore(t), store.Options{})
	diags := make([]string, 30)
	for i := range diags {
		diags[i] = strings.Repeat("x", 1000) + string(rune('a'+i%26))
	}
	f := ingest.FileFacts{File: ingest.File{Path: "big.go", Name: "big.go", Diagnostics: diags}}
	if err := s.PutFiles(ctx, "g", []ingest.FileFacts{f}); err != nil {
		t.Fatal(err)
	}
	fs, err := s.FilesByPath(ctx, "g", []string{"big.go"})
	if err != nil || fs[0] == nil {
		t.Fatal(fs, err)
	}
	got, err := s.Diagnostics(ctx, "g", fs[0])
	if err != nil || len(got) != 30 || got[3] != diags[3] {
		t.Fatalf("diagnostics: %d, %v", len(got), err)
	}
}

func TestBusReplayAndPeers(t *testing.T) {
	t.Parallel()
	b1 := store.NewBus(store.BusOptions{Origin: "n1"})
	b2 := store.NewBus(store.BusOptions{Origin: "n2"})
	defer b1.Close()
	defer b2.Close()
	// Each bus's peer is the other, as the server's transport would be.
	b1.SetPeers(peer{b2})
	b2.SetPeers(peer{b1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := b2.Subscribe(ctx, "g", time.Time{})
	t0 := time.Now()
	b1.Publish(ctx, store.Change{GraphID: "g", At: t0, Kind: store.NodesUpserted, Nodes: []string{"x"}})
	select {
	case c := <-ch:
		if c.Kind != store.NodesUpserted || c.Nodes[0] != "x" {
			t.Fatalf("got %+v", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("change from peer not delivered")
	}
	// A late subscriber asking for changes since before t0 gets a replay.
	late := b2.Subscribe(ctx, "g", t0.Add(-time.Second))
	if c := <-late; c.Nodes[0] != "x" {
		t.Fatalf("replay = %+v", c)
	}
	if err := b2.Deliver([]byte("not json")); err == nil {
		t.Fatal("Deliver accepted garbage")
	}
}

// The replay history keeps at most History changes and HistoryNodes node
// ids, dropping the oldest first, but always the newest change.
func TestBusHistoryBounds(t *testing.T) {
	t.Parallel()
	b := store.NewBus(store.BusOptions{History: 5, HistoryNodes: 10})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Now()
	publish := func(i, nodes int) {
		ids := make([]string, nodes)
		for j := range ids {
			ids[j] = fmt.Sprintf("c%d-n%d", i, j)
		}
		b.Publish(ctx, store.Change{GraphID: "g", At: t0.Add(time.Duration(i) * time.Millisecond), Kind: store.NodesUpserted, Nodes: ids})
	}
	replayed := func() (out []string) {
		sub, stop := context.WithCancel(ctx)
		defer stop()
		ch := b.Subscribe(sub, "g", t0.Add(-time.Second))
		for {
			select {
			case c := <-ch:
				out = append(out, fmt.Sprintf("%s/%d", strings.SplitN(c.Nodes[0], "-", 2)[0], len(c.Nodes)))
			default:
				return out
			}
		}
	}
	for i := range 8 { // 8 changes of 1 id: the count bound keeps the last 5
		publish(i, 1)
	}
	if got := fmt.Sprint(replayed()); got != "[c3/1 c4/1 c5/1 c6/1 c7/1]" {
		t.Errorf("after 8 small changes the history is %s", got)
	}
	publish(8, 4)
	publish(9, 4) // 1+1+1+4+4 = 11 ids > 10: c5 goes
	if got := fmt.Sprint(replayed()); got != "[c6/1 c7/1 c8/4 c9/4]" {
		t.Errorf("after two changes of 4 ids the history is %s", got)
	}
	publish(10, 50) // bigger than the bound alone: kept, everything older dropped
	if got := fmt.Sprint(replayed()); got != "[c10/50]" {
		t.Errorf("after a change of 50 ids the history is %s", got)
	}
}

// A peer that does not take events holds back at most a bounded queue of
// them (32 MiB), not every event a bulk load publishes; the first one
// goes whatever its size.
func TestBusPeerQueueBounded(t *testing.T) {
	t.Parallel()
	b := store.NewBus(store.BusOptions{})
	defer b.Close()
	p := &stuckPeer{release: make(chan struct{})}
	b.SetPeers(p)
	ctx := context.Background()
	ids := make([]string, 20000) // about 0.5 MB of JSON an event
	for i := range ids {
		ids[i] = fmt.Sprintf("%032x", i)
	}
	for range 200 { // 100 MB in all
		b.Publish(ctx, store.Change{GraphID: "g", At: time.Now(), Kind: store.NodesUpserted, Nodes: ids})
	}
	close(p.release)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if n, last := p.count(); n > 0 && time.Since(last) > 200*time.Millisecond {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	n, _ := p.count()
	if n < 2 || n > 70 { // 32 MiB of 0.5 MB events, and the one being sent
		t.Errorf("%d of 200 events of 0.5 MB reached a peer that was stuck, want the first and a queue of at most 32 MiB", n)
	}
}

type stuckPeer struct {
	release chan struct{}
	mu      sync.Mutex
	n       int
	last    time.Time
}

func (p *stuckPeer) Broadcast(ctx context.Context, ev []byte) {
	<-p.release
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	p.last = time.Now()
}

func (p *stuckPeer) count() (int, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n, p.last
}

type peer struct{ b *store.Bus }

func (p peer) Broadcast(ctx context.Context, ev []byte) { _ = p.b.Deliver(ev) }

// A function with more calls than one index row holds: its edges survive a
// re-put, a shrinking re-put removes exactly the dropped ones (both ends),
// and deleting the graph leaves no row behind.
func TestManyEdgesFromOneSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	raw := kvtest.NewStore(t)
	s := store.New(raw, store.Options{})
	const g = "wide"
	const n = 1500 // ~40 bytes an entry: several index rows of 8 KiB
	facts := func(calls int) ingest.FileFacts {
		f := ingest.FileFacts{File: ingest.File{Path: "a.go", Name: "a.go", MD5: fmt.Sprint(calls)},
			Nodes: []ingest.Node{fn("p.Hub", "a.go", 1, 2000)}}
		for i := 0; i < calls; i++ {
			q := fmt.Sprintf("p.F%04d", i)
			f.Nodes = append(f.Nodes, fn(q, "a.go", 2001+i, 2001+i))
			f.Edges = append(f.Edges, call("p.Hub", q, "a.go", 2+i))
		}
		return f
	}
	if err := s.PutFiles(ctx, g, []ingest.FileFacts{facts(n)}); err != nil {
		t.Fatal(err)
	}
	if got := edgeSet(t, s, g, "p.Hub", store.Out); len(got) != n {
		t.Fatalf("hub has %d out-edges, want %d", len(got), n)
	}
	if st, err := s.Stats(ctx, g); err != nil || st.Edges != n {
		t.Fatalf("stats edges = %+v, %v; want %d", st, err, n)
	}
	if err := s.PutFiles(ctx, g, []ingest.FileFacts{facts(10)}); err != nil {
		t.Fatal(err)
	}
	if got := edgeSet(t, s, g, "p.Hub", store.Out); len(got) != 10 {
		t.Fatalf("after shrinking: %d out-edges, want 10", len(got))
	}
	if got := edgeSet(t, s, g, "p.F0500", store.In); len(got) != 0 {
		t.Fatalf("a dropped callee keeps in-edges: %v", got)
	}
	// Stats are exact after the shrink and after an API mutation forces a
	// recount from the index rows.
	if st, err := s.Stats(ctx, g); err != nil || st.Edges != 10 {
		t.Fatalf("stats after shrink = %+v, %v; want 10 edges", st, err)
	}
	if _, err := s.DeleteGraph(ctx, g); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"g/" + g, "g/" + g + "/files", "g/" + g + "/n/" + store.NodeID(g, "p.F0005")} {
		rows, err := raw.Scan(ctx, kv.PartitionPrefix([]byte(p)), nil, 0, kv.Options{})
		if err != nil || len(rows) != 0 {
			t.Fatalf("partition %s after DeleteGraph: %d rows, %v", p, len(rows), err)
		}
	}
}
