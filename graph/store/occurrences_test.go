package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/kvtest"
)

// keyLog is a kv.Store that remembers every key written through it, so a
// test can ask which of them are still live.
type keyLog struct {
	kv.Store
	mu   sync.Mutex
	keys map[string]bool
}

func (k *keyLog) Write(ctx context.Context, ws []kv.Write, o kv.Options) error {
	k.mu.Lock()
	for _, w := range ws {
		k.keys[string(w.Key)] = true
	}
	k.mu.Unlock()
	return k.Store.Write(ctx, ws, o)
}

// liveRows returns the live keys whose row starts with one of prefixes.
func (k *keyLog) liveRows(t *testing.T, prefixes ...string) []string {
	t.Helper()
	var keys [][]byte
	for key := range k.keys {
		_, row := kv.Split([]byte(key))
		for _, p := range prefixes {
			if strings.HasPrefix(string(row), p) {
				keys = append(keys, []byte(key))
				break
			}
		}
	}
	cells, err := k.Store.GetMany(context.Background(), keys, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, c := range cells {
		if c.Live() {
			out = append(out, string(keys[i]))
		}
	}
	return out
}

func occ(line, col int, name string, role ingest.Role, target string) ingest.Occurrence {
	return ingest.Occurrence{Line: line, Column: col, EndColumn: col + len([]rune(name)), Role: role, Target: target}
}

func TestOccurrencesByPositionAndByNode(t *testing.T) {
	ctx := context.Background()
	kl := &keyLog{Store: kvtest.NewStore(t), keys: map[string]bool{}}
	s := store.New(kl, store.Options{})
	const g = "demo"
	// Enough occurrences of one variable to need several chunks on both
	// sides (by position and by node).
	var many []ingest.Occurrence
	for line := 10; line < 3010; line++ {
		many = append(many, occ(line, 5, "Count", ingest.RoleRead, "p.Count"))
	}
	a := ingest.FileFacts{File: ingest.File{Path: "a.go", Name: "a.go", MD5: "m1"},
		Nodes: []ingest.Node{fn("p.A", "a.go", 1, 3000), {Kind: ingest.Variable, Name: "Count", QualifiedName: "p.Count", Path: "a.go", Line: 1, EndLine: 1}},
		Occurrences: append([]ingest.Occurrence{
			occ(1, 1, "Count", ingest.RoleDefinition, "p.Count"),
			occ(2, 1, "A", ingest.RoleDefinition, "p.A"),
			occ(2, 9, "B", ingest.RoleCall, "p.B"),
		}, many...)}
	b := ingest.FileFacts{File: ingest.File{Path: "b.go", Name: "b.go", MD5: "m2"},
		Nodes:       []ingest.Node{fn("p.B", "b.go", 1, 3)},
		Occurrences: []ingest.Occurrence{occ(1, 6, "B", ingest.RoleDefinition, "p.B"), occ(2, 2, "Count", ingest.RoleWrite, "p.Count")}}
	if err := s.PutFiles(ctx, g, []ingest.FileFacts{a, b}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		line, col int
		want      string
	}{{2, 9, "p.B"}, {2, 10, "p.B"}, {2, 1, "p.A"}, {2, 2, "p.A"}, {2, 3, ""}, {2, 4, ""}, {2500, 7, "p.Count"}} {
		o, err := s.OccurrenceAt(ctx, g, "a.go", c.line, c.col)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if o != nil {
			got = o.Node
		}
		if want := idOr(g, c.want); got != want {
			t.Errorf("occurrence at a.go:%d:%d = %q, want %s", c.line, c.col, got, c.want)
		}
	}
	refs, err := s.References(ctx, g, store.NodeID(g, "p.Count"))
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 3002 || refs[0].Role != ingest.RoleDefinition || refs[3001].Path != "b.go" || refs[3001].Role != ingest.RoleWrite || refs[3001].Column != 2 || refs[3001].End != 7 {
		t.Fatalf("references of p.Count: %d, first %+v, last %+v", len(refs), refs[0], refs[len(refs)-1])
	}
	if n := len(kl.liveRows(t, "r/")); n < 3 {
		t.Fatalf("%d r/ rows: the 3002 references of p.Count should have needed several chunks", n)
	}

	// a.go shrinks: no more reads of Count, B is no longer called.
	a.File.MD5 = "m3"
	a.Occurrences = a.Occurrences[:2]
	if err := s.PutFiles(ctx, g, []ingest.FileFacts{a}); err != nil {
		t.Fatal(err)
	}
	refs, err = s.References(ctx, g, store.NodeID(g, "p.Count"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(refsString(refs)); got != "[a.go:1:1-6 definition b.go:2:2-7 write]" {
		t.Fatalf("references of p.Count after the replace = %s", got)
	}
	if refs, _ := s.References(ctx, g, store.NodeID(g, "p.B")); len(refs) != 1 {
		t.Fatalf("references of p.B after the replace = %v, want its definition only", refsString(refs))
	}
	if o, _ := s.OccurrenceAt(ctx, g, "a.go", 2500, 7); o != nil {
		t.Fatalf("stale occurrence at a.go:2500:7: %+v", o)
	}

	// Deleting every file leaves no occurrence row anywhere.
	if err := s.DeleteFiles(ctx, g, []string{"a.go", "b.go"}); err != nil {
		t.Fatal(err)
	}
	if left := kl.liveRows(t, "r/", "k/", "t/"); len(left) > 0 {
		t.Fatalf("%d occurrence rows left after deleting the files, e.g. %q", len(left), left[0])
	}
}

func TestDeleteGraphRemovesOccurrenceRows(t *testing.T) {
	ctx := context.Background()
	kl := &keyLog{Store: kvtest.NewStore(t), keys: map[string]bool{}}
	s := store.New(kl, store.Options{})
	f := ingest.FileFacts{File: ingest.File{Path: "a.go", Name: "a.go", MD5: "m"},
		Nodes:       []ingest.Node{fn("p.A", "a.go", 1, 3)},
		Occurrences: []ingest.Occurrence{occ(1, 6, "A", ingest.RoleDefinition, "p.A"), occ(2, 2, "Exit", ingest.RoleCall, "os.Exit")}}
	if err := s.PutFiles(ctx, "g", []ingest.FileFacts{f}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteGraph(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	if left := kl.liveRows(t, "r/", "k/", "t/"); len(left) > 0 {
		t.Fatalf("occurrence rows left after deleting the graph: %q", left)
	}
}

func TestNodeAtFindsAPINodes(t *testing.T) {
	ctx := context.Background()
	s := store.New(kvtest.NewStore(t), store.Options{})
	if _, err := s.CreateGraph(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertNodes(ctx, "g", []ingest.Node{fn("p.Outer", "x.py", 1, 20), fn("p.Inner", "x.py", 5, 8)}); err != nil {
		t.Fatal(err)
	}
	for line, want := range map[int]string{3: "p.Outer", 6: "p.Inner", 21: ""} {
		n, err := s.NodeAt(ctx, "g", "x.py", line)
		if err != nil {
			t.Fatal(err)
		}
		if got := nodeName(n); got != want {
			t.Errorf("nodeAt x.py:%d = %q, want %q", line, got, want)
		}
	}
	// Moved to another file: no longer found in the first.
	if _, err := s.UpsertNodes(ctx, "g", []ingest.Node{fn("p.Inner", "y.py", 5, 8)}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.NodeAt(ctx, "g", "x.py", 6); nodeName(n) != "p.Outer" {
		t.Errorf("nodeAt x.py:6 after the move = %q, want p.Outer", nodeName(n))
	}
	if n, _ := s.NodeAt(ctx, "g", "y.py", 6); nodeName(n) != "p.Inner" {
		t.Errorf("nodeAt y.py:6 = %q, want p.Inner", nodeName(n))
	}
	if _, err := s.DeleteNodes(ctx, "g", []string{store.NodeID("g", "p.Outer")}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.NodeAt(ctx, "g", "x.py", 3); n != nil {
		t.Errorf("nodeAt x.py:3 after delete = %q", n.QualifiedName)
	}
}

func nodeName(n *store.Node) string {
	if n == nil {
		return ""
	}
	return n.QualifiedName
}

func idOr(g, qn string) string {
	if qn == "" {
		return ""
	}
	return store.NodeID(g, qn)
}

func refsString(refs []store.Occurrence) []string {
	var out []string
	for _, r := range refs {
		out = append(out, fmt.Sprintf("%s:%d:%d-%d %s", r.Path, r.Line, r.Column, r.End, r.Role))
	}
	return out
}

// countingKV counts the reads a store makes.
type countingKV struct {
	kv.Store
	mu             sync.Mutex
	scans, getMany int
}

func (c *countingKV) Scan(ctx context.Context, prefix, after []byte, limit int, o kv.Options) ([]kv.Entry, error) {
	c.mu.Lock()
	c.scans++
	c.mu.Unlock()
	return c.Store.Scan(ctx, prefix, after, limit, o)
}

func (c *countingKV) GetMany(ctx context.Context, keys [][]byte, o kv.Options) ([]kv.Cell, error) {
	c.mu.Lock()
	c.getMany++
	c.mu.Unlock()
	return c.Store.GetMany(ctx, keys, o)
}

// Declarations of a list of nodes spread over many files are one batched
// read; a scan only for a node whose declaration is not among its first
// occurrences in its file.
func TestDefinitionsOfAListAreOneRead(t *testing.T) {
	ctx := context.Background()
	ckv := &countingKV{Store: kvtest.NewStore(t)}
	s := store.New(ckv, store.Options{})
	const g = "demo"
	var facts []ingest.FileFacts
	var ns []*store.Node
	for i := range 30 {
		qn, path := fmt.Sprintf("p.F%d", i), fmt.Sprintf("f%d.go", i)
		facts = append(facts, ingest.FileFacts{File: ingest.File{Path: path, Name: path, MD5: "m"},
			Nodes:       []ingest.Node{fn(qn, path, 5, 9)},
			Occurrences: []ingest.Occurrence{occ(5, 6, "F", ingest.RoleDefinition, qn), occ(6, 2, "F", ingest.RoleCall, qn)}})
		ns = append(ns, &store.Node{ID: store.NodeID(g, qn), Path: path, Line: 5})
	}
	// Late is used 1,500 times above its declaration: past its first chunk.
	late := ingest.FileFacts{File: ingest.File{Path: "late.go", Name: "late.go", MD5: "m"},
		Nodes: []ingest.Node{{Kind: ingest.Variable, Name: "Late", QualifiedName: "p.Late", Path: "late.go", Line: 500, EndLine: 500}}}
	for line := 1; line < 500; line++ {
		for col := 1; col <= 3; col++ {
			late.Occurrences = append(late.Occurrences, occ(line, col*10, "Late", ingest.RoleRead, "p.Late"))
		}
	}
	late.Occurrences = append(late.Occurrences, occ(500, 5, "Late", ingest.RoleDefinition, "p.Late"))
	bare := ingest.FileFacts{File: ingest.File{Path: "bare.go", Name: "bare.go", MD5: "m"}, Nodes: []ingest.Node{fn("p.Bare", "bare.go", 3, 4)}}
	if err := s.PutFiles(ctx, g, append(facts, late, bare)); err != nil {
		t.Fatal(err)
	}
	ns = append(ns, &store.Node{ID: store.NodeID(g, "p.Late"), Path: "late.go", Line: 500},
		&store.Node{ID: store.NodeID(g, "p.Bare"), Path: "bare.go", Line: 3},
		&store.Node{ID: store.NodeID(g, "os.Exit"), External: true})
	ckv.scans, ckv.getMany = 0, 0
	defs, err := s.Definitions(ctx, g, ns)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if d := defs[i]; d == nil || d.Path != ns[i].Path || d.Line != 5 || d.Column != 6 || d.End != 7 || d.Node != ns[i].ID {
			t.Fatalf("definition of p.F%d = %+v, want %s:5:6-7", i, d, ns[i].Path)
		}
	}
	if d := defs[30]; d == nil || d.Path != "late.go" || d.Line != 500 || d.Column != 5 || d.End != 9 {
		t.Fatalf("definition of p.Late = %+v, want late.go:500:5-9", d)
	}
	if defs[31] != nil || defs[32] != nil {
		t.Fatalf("definitions of a node without occurrences and of an external one = %+v, %+v, want none", defs[31], defs[32])
	}
	if ckv.getMany != 1 || ckv.scans != 1 {
		t.Fatalf("%d GetMany and %d scans for 33 definitions, want 1 and 1 (p.Late's block)", ckv.getMany, ckv.scans)
	}
}
