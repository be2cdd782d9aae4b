package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// runExport prints a node's neighbourhood as Mermaid or DOT, through the
// GraphQL export field (the same text the explorer's Export offers).
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, server := clientFlags("export", "grafo export GRAPH QUALIFIED_NAME [--format mermaid|mermaid-class|dot] [--depth N] [--limit N] [--server URL]", stderr)
	format := fs.String("format", "mermaid", "mermaid (flowchart of calls and variable access), mermaid-class (class relations) or dot")
	depth := fs.Int("depth", 1, "hops around the node, 0..3")
	limit := fs.Int("limit", 100, "most nodes to include, 1..500")
	pos, err := parseN(fs, args, 2, "export takes GRAPH and a node's QUALIFIED_NAME")
	if err != nil {
		return err
	}
	formats := map[string]string{"mermaid": "MERMAID_FLOWCHART", "mermaid-class": "MERMAID_CLASS", "dot": "DOT"}
	f, ok := formats[strings.ToLower(*format)]
	if !ok {
		return usageError{fmt.Sprintf("--format %q: want mermaid, mermaid-class or dot", *format)}
	}
	c := newClient(*server)
	var out struct {
		Graph *struct {
			Node *struct{ Export string }
		}
	}
	err = c.GraphQL(ctx, `query($g: ID!, $q: String!, $f: ExportFormat!, $d: Int, $l: Int) {
		graph(id: $g) { node(qualifiedName: $q) { export(format: $f, depth: $d, limit: $l) } } }`,
		map[string]any{"g": pos[0], "q": pos[1], "f": f, "d": *depth, "l": *limit}, &out)
	if err != nil {
		return err
	}
	if out.Graph == nil {
		return fmt.Errorf("no graph %q", pos[0])
	}
	if out.Graph.Node == nil {
		return fmt.Errorf("no node %q in graph %q", pos[1], pos[0])
	}
	_, err = io.WriteString(stdout, out.Graph.Node.Export)
	return err
}
