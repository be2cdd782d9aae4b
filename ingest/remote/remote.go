package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv/client"
)

// Sink sends ingest records to a node.
type Sink struct{ c *client.Client }

var (
	_ ingest.Sink       = (*Sink)(nil)
	_ ingest.SourceSink = (*Sink)(nil)
)

// New returns a sink writing through c.
func New(c *client.Client) *Sink { return &Sink{c: c} }

func path(graph, rest string) string {
	return "/v1/graphs/" + url.PathEscape(graph) + rest
}

func (s *Sink) send(ctx context.Context, method, p string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("remote: encode: %w", err)
	}
	return s.c.Do(ctx, method, p, bytes.NewReader(b), out)
}

// Files implements ingest.Sink.
func (s *Sink) Files(ctx context.Context, graph string) (map[string]ingest.File, error) {
	files := map[string]ingest.File{}
	if err := s.c.Do(ctx, http.MethodGet, path(graph, "/files"), nil, &files); err != nil {
		return nil, err
	}
	return files, nil
}

// PutFiles implements ingest.Sink.
func (s *Sink) PutFiles(ctx context.Context, graph string, facts []ingest.FileFacts) error {
	return s.send(ctx, http.MethodPost, path(graph, "/files"), facts, nil)
}

// DeleteFiles implements ingest.Sink.
func (s *Sink) DeleteFiles(ctx context.Context, graph string, paths []string) error {
	return s.send(ctx, http.MethodPost, path(graph, "/files/delete"), paths, nil)
}

// SetLanguages implements ingest.Sink.
func (s *Sink) SetLanguages(ctx context.Context, graph string, langs []ingest.Language) error {
	return s.send(ctx, http.MethodPut, path(graph, "/languages"), langs, nil)
}

// SetSource implements ingest.SourceSink.
func (s *Sink) SetSource(ctx context.Context, graph string, src ingest.Source) error {
	return s.send(ctx, http.MethodPut, path(graph, "/source"), src, nil)
}
