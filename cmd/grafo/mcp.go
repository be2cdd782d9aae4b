package main

import (
	"context"
	"io"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/mcp"
)

// runMCP serves the Model Context Protocol on stdin/stdout, answering from
// the node at --server with $GRAFO_TOKEN. Nothing but protocol goes to
// stdout; errors go to stderr.
func runMCP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, server := clientFlags("mcp", "grafo mcp [--server URL]", stderr)
	_, err := parseN(fs, args, 0, "mcp takes no arguments")
	if err != nil {
		return err
	}
	c := newClient(*server)
	s := mcp.New(c, mcp.Options{
		Version: version,
		Ingest: func(ctx context.Context, path, graph string) (string, error) {
			sum, err := ingestTree(ctx, c, path, graph, ingest.Options{})
			if err != nil {
				return "", err
			}
			return sum.String(), nil
		},
	})
	return s.Run(ctx, &sdk.StdioTransport{})
}
