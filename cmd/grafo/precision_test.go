package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
)

// reachableEdges pages through every node of the graph and counts the
// edges Node.edges returns (OUT), failing on a (from, relation, to) triple
// returned twice.
func reachableEdges(t *testing.T, p *proc, graph string) (reached, stats int) {
	t.Helper()
	seen := map[string]bool{}
	after := ""
	for {
		var d struct {
			Graph struct {
				Stats struct{ Edges int }
				Nodes struct {
					Nodes []struct {
						QualifiedName string
						Edges         []struct {
							Relation string
							Node     struct{ QualifiedName string }
						}
					}
					PageInfo struct {
						EndCursor   string
						HasNextPage bool
					}
				}
			}
		}
		err := p.client().GraphQL(context.Background(), `query($g: ID!, $after: String) { graph(id: $g) {
			stats { edges }
			nodes(first: 100, after: $after) { nodes { qualifiedName edges(direction: OUT) { relation node { qualifiedName } } }
				pageInfo { endCursor hasNextPage } } } }`, map[string]any{"g": graph, "after": after}, &d)
		if err != nil {
			t.Fatalf("graph %s: %v", graph, err)
		}
		stats = d.Graph.Stats.Edges
		for _, n := range d.Graph.Nodes.Nodes {
			for _, e := range n.Edges {
				k := n.QualifiedName + " " + e.Relation + " " + e.Node.QualifiedName
				if seen[k] {
					t.Errorf("graph %s: edge %s comes back twice", graph, k)
				}
				seen[k] = true
				reached++
			}
		}
		if !d.Graph.Nodes.PageInfo.HasNextPage {
			return reached, stats
		}
		after = d.Graph.Nodes.PageInfo.EndCursor
	}
}

// TestIngestEdgesReachable ingests every Go golden fixture and the two
// real modules of the oracle test into a running node: stats.edges must
// equal the edges reachable through Node.edges (no dangling edge, none
// counted twice).
func TestIngestEdgesReachable(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	p := newProc(t, "edges")
	fixtures, err := filepath.Glob("../../ingest/golang/testdata/*.txtar")
	if err != nil || len(fixtures) < 5 {
		t.Fatalf("fixtures: %v %v", fixtures, err)
	}
	oracle, _ := filepath.Glob("../../ingest/golang/testdata/oracle/*.txtar")
	if len(oracle) == 0 {
		t.Fatal("no oracle modules")
	}
	for _, fx := range append(fixtures, oracle...) {
		name := strings.TrimSuffix(filepath.Base(fx), ".txtar")
		dir := ingesttest.Unpack(t, fx)
		if _, e, err := grafo(t, "ingest", dir, "--graph", name, "--server", p.url(), "--quiet"); err != nil {
			t.Fatalf("ingest %s: %v\n%s", name, err, e)
		}
		reached, stats := reachableEdges(t, p, name)
		if reached != stats || stats == 0 {
			t.Errorf("graph %s: stats.edges = %d, reachable through Node.edges = %d", name, stats, reached)
		}
	}
}

// TestIngestTests checks that test code is analysed and marked (callers
// of a method include the tests calling it, with test: true), and that
// --no-tests leaves it out.
func TestIngestTests(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	p := newProc(t, "tests")
	dir := ingesttest.Unpack(t, "../../ingest/golang/testdata/tests.txtar")
	callers := func(graph string) []string {
		if _, e, err := grafo(t, append([]string{"ingest", dir, "--graph", graph, "--server", p.url(), "--quiet"}, flagsOf(graph)...)...); err != nil {
			t.Fatalf("ingest %s: %v\n%s", graph, err, e)
		}
		var d struct {
			Graph struct {
				Files []struct{ Path string }
				Node  struct {
					Callers []struct {
						QualifiedName string
						Test          bool
					}
				}
			}
		}
		if err := p.client().GraphQL(context.Background(), `query($g: ID!) { graph(id: $g) { files { path }
			node(qualifiedName: "example.com/t/a.T.M") { callers { qualifiedName test } } } }`, map[string]any{"g": graph}, &d); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range d.Graph.Node.Callers {
			out = append(out, fmt.Sprintf("%s test=%v", c.QualifiedName, c.Test))
		}
		for _, f := range d.Graph.Files {
			if strings.HasSuffix(f.Path, "_test.go") {
				out = append(out, "file "+f.Path)
			}
		}
		sort.Strings(out)
		return out
	}
	got := strings.Join(callers("withtests"), "\n")
	want := "example.com/t/a.helper test=true\nexample.com/t/a_test.TestY test=true\nfile a/a_test.go\nfile a/x_test.go"
	if got != want {
		t.Errorf("with tests:\n%s\nwant:\n%s", got, want)
	}
	if got := callers("notests"); len(got) != 0 {
		t.Errorf("--no-tests: %v, want no test caller and no test file", got)
	}
}

func flagsOf(graph string) []string {
	if graph == "notests" {
		return []string{"--no-tests"}
	}
	return nil
}

// TestIngestNoTestsPatterns checks that --no-tests leaves out exactly the
// files Node.test calls test code.
func TestIngestNoTestsPatterns(t *testing.T) {
	t.Parallel() // its own temporary directory
	dir := t.TempDir()
	paths := []string{"a.go", "a_test.go", "x/b_test.go", "x/b.go", "test_a.py", "a_test.py", "conftest.py",
		"pkg/tests/helpers.py", "test/util.py", "pkg/mod.py", "pkg/testing.py", "tests/x.go", "contest.py"}
	for _, p := range paths {
		f := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(f), 0o755)
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	kept, err := ingest.Walk(context.Background(), dir, ingest.WalkOptions{Exclude: testPatterns})
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]bool{}
	for _, p := range kept {
		in[p] = true
	}
	for _, p := range paths {
		if in[p] == store.IsTest(p) {
			t.Errorf("%s: kept %v, IsTest %v", p, in[p], store.IsTest(p))
		}
	}
}
