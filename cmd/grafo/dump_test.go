package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/grafo/grafo/ingest/ingesttest"
)

// grafo runs the CLI with args and returns its stdout, stderr and error.
func grafo(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(grafoBin, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// answers is what a graph answers: stats, and every node's edges both ways.
func answers(t *testing.T, p *proc, graph string) string {
	t.Helper()
	var d struct {
		Graph *struct {
			Stats  json.RawMessage
			Files  json.RawMessage
			Source json.RawMessage
			Nodes  struct {
				Nodes []struct {
					QualifiedName string
					Kind          string
					External      bool
					Line          *int
					Edges         []struct {
						Relation string
						Dynamic  bool
						Line     *int
						Column   *int
						Node     struct{ QualifiedName string }
					}
				}
			}
		}
	}
	err := p.client().GraphQL(context.Background(), `query($g: ID!) { graph(id: $g) {
		stats { files nodes edges byKind { kind count } byRelation { relation count } }
		files { path md5 adler32 language diagnostics }
		source { root commit branch ingestedAt }
		nodes(first: 30) { nodes { qualifiedName kind external line
			edges(direction: BOTH) { relation dynamic line column node { qualifiedName } } } } } }`, map[string]any{"g": graph}, &d)
	if err != nil || d.Graph == nil {
		t.Fatalf("reading graph %s: %v", graph, err)
	}
	var lines []string
	for _, n := range d.Graph.Nodes.Nodes {
		for _, e := range n.Edges {
			b, _ := json.Marshal(e)
			lines = append(lines, n.QualifiedName+" "+string(b))
		}
		b, _ := json.Marshal(n.Line)
		lines = append(lines, n.QualifiedName+" "+n.Kind+" "+string(b))
	}
	sort.Strings(lines)
	return string(d.Graph.Stats) + "\n" + string(d.Graph.Files) + "\n" + string(d.Graph.Source) + "\n" + strings.Join(lines, "\n")
}

func TestDumpRestore(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	a := newProc(t, "dumpa")
	b := newProc(t, "dumpb")
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/shop\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(src, "shop.go"), []byte(mcpShop), 0o644)
	os.WriteFile(filepath.Join(src, "bad.go"), []byte("package shop\n\nfunc Bad() { undefined() }\n"), 0o644)
	commit := ingesttest.GitCommitAll(t, src, "shop-v1")
	if _, e, err := grafo(t, "ingest", src, "--graph", "shop", "--server", a.url(), "--quiet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, e)
	}
	if _, e, err := grafo(t, "query", "--server", a.url(), `mutation { upsertNodes(graphId: "shop", nodes: [{kind: FUNCTION, name: "Hand", qualifiedName: "hand.Hand"}]) { id }
		upsertEdges(graphId: "shop", edges: [{from: "hand.Hand", to: "example.com/shop.Serve", relation: CALLS, line: 3}]) }`); err != nil {
		t.Fatalf("mutation: %v\n%s", err, e)
	}
	want := answers(t, a, "shop")
	if !strings.Contains(want, "hand.Hand") || !strings.Contains(want, `"Dynamic":true`) ||
		!strings.Contains(want, `"commit":"`+commit+`","branch":"shop-v1"`) {
		t.Fatalf("fixture misses API or dynamic edges:\n%s", want)
	}

	file := filepath.Join(t.TempDir(), "shop.ndjson")
	out, e, err := grafo(t, "dump", "shop", "--server", a.url())
	if err != nil || !strings.Contains(e, "dumped graph shop") {
		t.Fatalf("dump: %v\n%s", err, e)
	}
	os.WriteFile(file, []byte(out), 0o644)
	if first, _, _ := strings.Cut(out, "\n"); !strings.HasPrefix(first, `{"graph":{"format":1,"id":"shop"`) {
		t.Fatalf("dump starts with %q", first)
	}

	// Into another node under a new name, twice: the same answers.
	for i := 0; i < 2; i++ {
		o, e, err := grafo(t, "restore", file, "--graph", "copy", "--server", b.url())
		if err != nil || !strings.Contains(o, "restored graph copy: 3 files (0 deleted)") {
			t.Fatalf("restore %d: %v\n%s%s", i, err, o, e)
		}
		if got := answers(t, b, "copy"); got != want {
			t.Fatalf("restore %d answers differently:\n--- got\n%s\n--- want\n%s", i, got, want)
		}
	}

	// Clear errors: no such graph, not a dump.
	if _, e, err := grafo(t, "dump", "nope", "--server", a.url()); err == nil || !strings.Contains(e, "nope") {
		t.Errorf("dump of a missing graph: %v %q", err, e)
	}
	bad := filepath.Join(t.TempDir(), "bad.ndjson")
	os.WriteFile(bad, []byte(`{"hello":1}`+"\n"), 0o644)
	if _, e, err := grafo(t, "restore", bad, "--server", b.url()); err == nil || !strings.Contains(e, "does not start with a graph record") {
		t.Errorf("restore of a non-dump: %v %q", err, e)
	}
}
