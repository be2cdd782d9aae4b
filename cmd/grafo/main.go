// Command grafo is Grafo's one binary: a node (serve), the ingester
// (ingest), and clients of the public API (query, kv, cluster).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
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
		{"lsp", "grafo lsp [--server URL] [--graph NAME] [--ingest-on-save] [--max-results N]", "Language Server Protocol on stdio, answering from a node (editors: see the README)", runLSP},
		{"export", "grafo export GRAPH QUALIFIED_NAME [--format mermaid|mermaid-class|dot]", "print a node's neighbourhood as Mermaid or Graphviz DOT", runExport},
		{"kv", "grafo kv put KEY VALUE | get KEY | del KEY [--consistency one|quorum|all|linearizable] [--w N] [--r N]", "the raw key-value store", runKV},
		{"cluster", "grafo cluster status | join ADDR | leave [NODE] [--wait D] | remove NODE [--force] | cleanup", "membership and ring", runCluster},
		{"autoscale-docker", "grafo autoscale-docker --template CONTAINER up | down NODE", "an --autoscale-exec actuator on the Docker Engine API: start a node like the template container, or remove one it started", runAutoscaleDocker},
		{"dump", "grafo dump GRAPH [--server URL] > FILE", "stream a graph as NDJSON (constant memory)", runDump},
		{"restore", "grafo restore FILE [--graph NEW] [--server URL]", "load a dump into a graph (idempotent)", runRestore},
		{"mcp", "grafo mcp [--server URL]", "Model Context Protocol server on stdio, for coding agents ($GRAFO_TOKEN)", runMCP},
		{"dev", "grafo dev cluster N [--base-port P] [--data DIR]", "start N local nodes (real processes) on consecutive ports; Ctrl-C stops them", runDev},
		{"health", "grafo health [--server URL] [--live]", "exit 0 when the node is ready (the container health check)", runHealth},
		{"version", "grafo version", "print version, commit and Go version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "grafo: "+message(err))
		os.Exit(exitCode(err))
	}
}

// message is err's text for the one "grafo: " line main prints: without
// the "grafo: " the client's errors already start with (the issue's
// "grafo: grafo: ..."), and with a hint when no node answers at all, the
// usual first mistake of a new user.
func message(err error) string {
	var ue *url.Error
	if errors.Is(err, syscall.ECONNREFUSED) && errors.As(err, &ue) {
		where := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			where = u.Scheme + "://" + u.Host
		}
		return fmt.Sprintf("cannot reach %s (connection refused): start a node with 'grafo serve' or point --server / GRAFO_SERVER at one", where)
	}
	return strings.TrimPrefix(err.Error(), "grafo: ")
}

// usageError marks errors in how the command was called: every one exits
// 2 (unknown command, unknown flag, wrong arguments), as the flag package
// and most Unix tools do; everything else exits 1.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return usageError{"no command"}
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		// Asked-for help is output, not a diagnostic: stdout, exit 0.
		printUsage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdout, stderr)
			var he helpError
			if errors.As(err, &he) {
				fmt.Fprint(stdout, he.text)
				return nil
			}
			return err
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
