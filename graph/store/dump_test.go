package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	_ "github.com/grafo/grafo/ingest/golang"
	"github.com/grafo/grafo/ingest/ingesttest"
	"github.com/grafo/grafo/kv/kvtest"
)

// snapshot is everything a query can see of a graph, one sorted line per
// fact, with qualified names for ids: two graphs with equal snapshots
// answer every query alike.
func snapshot(t *testing.T, s *store.Store, graph string) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	files, err := s.ListFiles(ctx, graph)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		d, err := s.Diagnostics(ctx, graph, f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("file %s %s %s %s %d %q", f.Path, f.MD5, f.Adler32, f.Language, f.Size, d))
	}
	pg, err := s.ListNodes(ctx, graph, store.NodeFilter{First: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	qn := map[string]string{}
	var qs []store.EdgeQuery
	for _, n := range pg.Nodes {
		qn[n.ID] = n.QualifiedName
		lines = append(lines, fmt.Sprintf("node %s %s %s %s %d-%d ext=%v", n.Kind, n.Name, n.QualifiedName, n.Path, n.Line, n.EndLine, n.External))
		qs = append(qs, store.EdgeQuery{Node: n.ID, Dir: store.Out}, store.EdgeQuery{Node: n.ID, Dir: store.In})
	}
	es, err := s.EdgesOf(ctx, graph, qs)
	if err != nil {
		t.Fatal(err)
	}
	for i, list := range es {
		for _, e := range list {
			lines = append(lines, fmt.Sprintf("edge[%d] %s %s %s %s:%d:%d dyn=%v", i%2, qn[e.From], e.Relation, qn[e.To], e.Path, e.Line, e.Column, e.Dynamic))
		}
	}
	st, err := s.Stats(ctx, graph)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Graph(ctx, graph)
	if err != nil {
		t.Fatal(err)
	}
	lines = append(lines, fmt.Sprintf("stats %d %d %d %v %v", st.Files, st.Nodes, st.Edges, st.ByKind, st.ByRelation), fmt.Sprintf("languages %v", m.Languages))
	source, err := s.Source(ctx, graph)
	if err != nil {
		t.Fatal(err)
	}
	lines = append(lines, fmt.Sprintf("source %+v", source))
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func dump(t *testing.T, s *store.Store, graph string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := s.Dump(context.Background(), graph, func(r *store.DumpRecord) error { return enc.Encode(r) }); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func restore(t *testing.T, s *store.Store, data []byte, graph string) store.RestoreSummary {
	t.Helper()
	sum, err := store.Restore(context.Background(), json.NewDecoder(bytes.NewReader(data)), graph, s)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestDumpRestoreIsExact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	ingesttest.WriteFile(t, dir, "go.mod", "module example.com/d\n\ngo 1.22\n")
	ingesttest.WriteFile(t, dir, "a.go", "package d\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\ntype S interface{ M() }\n\ntype T struct{ n int }\n\nfunc (t *T) M() { t.n++; fmt.Println(t.n) }\n\nvar V S = &T{}\n\nfunc Run() { V.M(); os.Exit(1) }\n")
	ingesttest.WriteFile(t, dir, "b/b.go", "package b\n\nimport \"example.com/d\"\n\nfunc Call() { d.Run() }\n\nfunc broken( {\n")
	commit := ingesttest.GitCommitAll(t, dir, "stable")
	src := store.New(kvtest.NewStore(t), store.Options{})
	if _, err := ingest.Run(ctx, dir, "orig", src, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	// Facts made through mutations too, with an edge into an ingested node.
	if _, err := src.UpsertNodes(ctx, "orig", []ingest.Node{{Kind: ingest.Function, Name: "Hand", QualifiedName: "hand.Hand"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.UpsertEdges(ctx, "orig", []ingest.Edge{{From: "hand.Hand", To: "example.com/d.Run", Relation: ingest.Calls, Line: 7}}); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, src, "orig")
	if !strings.Contains(want, "Commit:"+commit+" Branch:stable") {
		t.Fatalf("fixture's source not recorded:\n%s", want)
	}
	if !strings.Contains(want, "ext=true") || !strings.Contains(want, "hand.Hand CALLS example.com/d.Run") || !strings.Contains(want, "dyn=true") {
		t.Fatalf("fixture lacks external nodes, API edges or dynamic calls:\n%s", want)
	}
	data := dump(t, src, "orig")

	// Into a fresh store under the same name, and under a new name.
	dst := store.New(kvtest.NewStore(t), store.Options{})
	sum := restore(t, dst, data, "")
	if sum.Graph != "orig" || sum.Files != 3 {
		t.Errorf("restore summary %+v", sum)
	}
	if got := snapshot(t, dst, "orig"); got != want {
		t.Fatalf("restored graph differs:\n--- got\n%s\n--- want\n%s", got, want)
	}
	restore(t, src, data, "copy")
	if got := snapshot(t, src, "copy"); got != want {
		t.Fatalf("restored copy differs:\n--- got\n%s\n--- want\n%s", got, want)
	}

	// Idempotent: again, and over a graph holding a file the dump lacks.
	if err := dst.PutFiles(ctx, "orig", []ingest.FileFacts{{File: ingest.File{Path: "extra.go", Name: "extra.go", MD5: strings.Repeat("0", 32), Adler32: "00000001"},
		Nodes: []ingest.Node{{Kind: ingest.Function, Name: "X", QualifiedName: "x.X", Path: "extra.go", Line: 1}}}}); err != nil {
		t.Fatal(err)
	}
	sum = restore(t, dst, data, "")
	if got := snapshot(t, dst, "orig"); got != want || sum.Deleted != 1 {
		t.Fatalf("second restore (deleted %d):\n--- got\n%s\n--- want\n%s", sum.Deleted, got, want)
	}
	// A dump of the restored graph is the same dump, but for createdAt
	// (a restore creates the graph).
	body := func(b []byte) []byte { return b[bytes.IndexByte(b, '\n'):] }
	if again := dump(t, dst, "orig"); !bytes.Equal(body(again), body(data)) {
		t.Errorf("dump of the restored graph differs from the original dump:\n%s\n---\n%s", again, data)
	}
}

func TestRestoreRefusesOtherInput(t *testing.T) {
	t.Parallel()
	s := store.New(kvtest.NewStore(t), store.Options{})
	for in, want := range map[string]string{
		`{"file":{}}`:                              "does not start with a graph record",
		`{"graph":{"format":9,"id":"g"}}`:          "dump format 9",
		`not json`:                                 "first record",
		`{"graph":{"format":1,"id":"a/b"}}`:        "graph id",
		`{"graph":{"format":1,"id":"g"}}` + "\n{}": "no graph, file, api or external field",
	} {
		_, err := store.Restore(context.Background(), json.NewDecoder(strings.NewReader(in)), "", s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("restore %q: %v, want %q", in, err, want)
		}
	}
}
