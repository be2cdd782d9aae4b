package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/remote"
	"github.com/grafo/grafo/kv/client"
)

// runDump streams a graph as NDJSON to stdout, a line at a time: the
// client never holds more than one record.
func runDump(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, server := clientFlags("dump", "grafo dump GRAPH [--server URL] > FILE", stderr)
	pos, err := parseN(fs, args, 1, "dump takes one GRAPH")
	if err != nil {
		return err
	}
	c := newClient(*server)
	body, err := c.Stream(ctx, "/v1/graphs/"+url.PathEscape(pos[0])+"/dump")
	if err != nil {
		return err
	}
	defer body.Close()
	in := bufio.NewReaderSize(body, 1<<20)
	out := bufio.NewWriterSize(stdout, 1<<20)
	lines := 0
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			// The node ends a stream that failed midway with an error line.
			if bytes.HasPrefix(line, []byte(`{"error":`)) {
				var e struct {
					Error struct{ Code, Message string }
				}
				_ = json.Unmarshal(line, &e)
				out.Flush()
				return fmt.Errorf("dump of %s failed after %d records: %s (%s)", pos[0], lines, e.Error.Message, e.Error.Code)
			}
			if _, werr := out.Write(line); werr != nil {
				return werr
			}
			lines++
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			out.Flush()
			return fmt.Errorf("dump of %s: connection lost after %d records: %w", pos[0], lines, err)
		}
	}
	if err := out.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "dumped graph %s: %d records\n", pos[0], lines)
	return nil
}

// runRestore loads a dump into a graph through the node's ingest routes
// (files) and GraphQL (facts made by mutations).
func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, server := clientFlags("restore", "grafo restore FILE [--graph NEW] [--server URL]", stderr)
	graph := fs.String("graph", "", "restore under this name (default: the dumped graph's)")
	pos, err := parseN(fs, args, 1, "restore takes one FILE (- for standard input)")
	if err != nil {
		return err
	}
	var in io.Reader = os.Stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	c := newClient(*server)
	sum, err := store.Restore(ctx, json.NewDecoder(bufio.NewReaderSize(in, 1<<20)), *graph, restorer{remote.New(c), c})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored graph %s: %d files (%d deleted), %d nodes, %d edges, %d external nodes\n",
		sum.Graph, sum.Files, sum.Deleted, sum.Nodes, sum.Edges, sum.External)
	if sum.Retries > 0 {
		fmt.Fprintf(stderr, "restore: %d batches sent again after the node answered unavailable\n", sum.Retries)
	}
	return nil
}

// restorer writes a restore to a node: files through the ingest routes,
// mutation-made facts through GraphQL, in chunks the API accepts.
type restorer struct {
	*remote.Sink
	c *client.Client
}

const upsertChunk = 1000

func (r restorer) UpsertAPI(ctx context.Context, graph string, f ingest.FileFacts) error {
	if err := r.c.GraphQL(ctx, `mutation($g: ID!) { createGraph(id: $g) { id } }`, map[string]any{"g": graph}, nil); err != nil {
		return err
	}
	for i := 0; i < len(f.Nodes); i += upsertChunk {
		var in []map[string]any
		for _, n := range f.Nodes[i:min(i+upsertChunk, len(f.Nodes))] {
			in = append(in, map[string]any{"kind": n.Kind, "name": n.Name, "qualifiedName": n.QualifiedName,
				"path": n.Path, "line": n.Line, "endLine": n.EndLine, "external": n.External})
		}
		if err := r.c.GraphQL(ctx, `mutation($g: ID!, $n: [NodeInput!]!) { upsertNodes(graphId: $g, nodes: $n) { id } }`,
			map[string]any{"g": graph, "n": in}, nil); err != nil {
			return err
		}
	}
	for i := 0; i < len(f.Edges); i += upsertChunk {
		var in []map[string]any
		for _, e := range f.Edges[i:min(i+upsertChunk, len(f.Edges))] {
			in = append(in, map[string]any{"from": e.From, "to": e.To, "relation": e.Relation, "path": e.Path,
				"line": e.Line, "column": e.Column, "dynamic": e.Dynamic})
		}
		if err := r.c.GraphQL(ctx, `mutation($g: ID!, $e: [EdgeInput!]!) { upsertEdges(graphId: $g, edges: $e) }`,
			map[string]any{"g": graph, "e": in}, nil); err != nil {
			return err
		}
	}
	return nil
}
