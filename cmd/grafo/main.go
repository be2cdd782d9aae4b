// Command grafo is Grafo's one binary: a node (serve), the ingester
// (ingest), and clients of the public API (query, kv, cluster).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name, usage, summary string
	run                  func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "grafo serve [flags]", "run a node: public API (GraphQL, KV, explorer, health, metrics) and the cluster port", runServe},
		{"ingest", "grafo ingest PATH --graph NAME [--server URL] [--watch]", "parse a source tree and store or update its graph (--watch: keep doing so as files change)", runIngest},
		{"query", "grafo query 'GRAPHQL' [--var k=v] [--server URL]", "run a GraphQL document and print the JSON result", runQuery},
		{"lsp", "grafo lsp [--server URL] [--graph NAME] [--ingest-on-save]", "Language Server Protocol on stdio, answering from a node (editors: see the README)", runLSP},
		{"export", "grafo export GRAPH QUALIFIED_NAME [--format mermaid|mermaid-class|dot]", "print a node's neighbourhood as Mermaid or Graphviz DOT", runExport},
		{"kv", "grafo kv put KEY VALUE | get KEY | del KEY [--consistency one|quorum|all|linearizable] [--w N] [--r N]", "the raw key-value store", runKV},
		{"cluster", "grafo cluster status | join ADDR | leave NODE | remove NODE [--force] | cleanup", "membership and ring", runCluster},
		{"dump", "grafo dump GRAPH [--server URL] > FILE", "stream a graph as NDJSON (constant memory)", runDump},
		{"restore", "grafo restore FILE [--graph NEW] [--server URL]", "load a dump into a graph (idempotent)", runRestore},
		{"mcp", "grafo mcp [--server URL]", "Model Context Protocol server on stdio, for coding agents ($GRAFO_TOKEN)", runMCP},
		{"health", "grafo health [--server URL] [--live]", "exit 0 when the node is ready (the container health check)", runHealth},
		{"version", "grafo version", "print version, commit and Go version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "grafo:", err)
		}
		os.Exit(exitCode(err))
	}
}

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return usageError{"no command"}
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	printUsage(stderr)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Grafo — a code-graph knowledge store on a Dynamo-style replicated key-value store.")
	fmt.Fprintln(w, "\nUsage:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-60s %s\n", c.usage, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'grafo COMMAND --help' for a command's flags.")
}
