package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv"
)

var _ ingest.SourceSink = (*Store)(nil)

// SetSource records where graph's tree came from (ingest.DetectSource).
// It does not move updatedAt: the source describes the facts, it is not
// one. The graph must exist.
func (s *Store) SetSource(ctx context.Context, graph string, src ingest.Source) error {
	if err := s.exists(ctx, graph); err != nil {
		return err
	}
	if src.Root == "" {
		return fmt.Errorf("%w: source of graph %q: empty root", ErrInvalid, graph)
	}
	// The root is whatever path the tree had; commit and branch are shown
	// as names.
	if err := validName("source commit", src.Commit); err != nil {
		return err
	}
	if err := validName("source branch", src.Branch); err != nil {
		return err
	}
	var b batch
	b.putJSON(pGraph(graph), "source", src)
	return s.flush(ctx, &b)
}

// Source returns graph's recorded source, or nil when none was recorded
// (a graph built through mutations) or the graph does not exist.
func (s *Store) Source(ctx context.Context, graph string) (*ingest.Source, error) {
	if err := ValidGraphID(graph); err != nil {
		return nil, err
	}
	v, err := s.get(ctx, kv.Key(pGraph(graph), "source"))
	if err != nil || v == nil {
		return nil, err
	}
	src := &ingest.Source{}
	if err := json.Unmarshal(v, src); err != nil {
		// A damaged row spoils this field, not the graph's other answers.
		s.log.Warn("graph source row unreadable", "graph", graph, "err", err)
		return nil, nil
	}
	return src, nil
}
