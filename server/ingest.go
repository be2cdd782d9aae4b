package server

import (
	"context"
	"os"

	"github.com/grafo/grafo/ingest"
	_ "github.com/grafo/grafo/ingest/golang" // registers the Go frontend
	_ "github.com/grafo/grafo/ingest/python" // registers the Python frontend (cgo builds only)
)

// startIngest runs the --ingest trees in the background once the node
// serves, writing through this node's graph store. Progress goes to the
// node's log output.
func (n *Node) startIngest(ctx context.Context) {
	if len(n.cfg.Ingest) == 0 {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for _, spec := range n.cfg.Ingest {
			n.log.Info("ingest started", "path", spec.Path, "graph", spec.Graph)
			sum, err := ingest.Run(ctx, spec.Path, spec.Graph, n.graphs, ingest.Options{
				Callgraph: n.cfg.Callgraph, Progress: os.Stderr, Logger: n.log,
			})
			if err != nil && ctx.Err() != nil {
				// Stopped by a shutdown, not failed: the next start resumes
				// (unchanged files are skipped).
				n.log.Info("ingest stopped: the node is shutting down", "path", spec.Path, "graph", spec.Graph)
				return
			}
			if err != nil {
				n.log.Error("ingest failed", "path", spec.Path, "graph", spec.Graph, "err", err)
				continue
			}
			n.log.Info("ingest done", "graph", spec.Graph, "files", sum.Files, "changed", sum.Changed+sum.New,
				"deleted", sum.Deleted, "nodes", sum.Nodes, "edges", sum.Edges, "took", sum.Total)
		}
	}()
}
