package main

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/grafo/grafo/kv"
)

// Raw keys live in a keyspace of their own on every front end: before,
// a write token could put "graphs\x00…" or "g/…\x00lang" through /v1/kv,
// RESP or GraphQL and so add ghost graphs, overwrite graph rows, or make
// the graphs query fail for every user.
func TestRawKeysStayOutOfGraphs(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	ctx := context.Background()
	respAddr := freePort(t)
	p := newProc(t, "n1", "--resp", respAddr)
	c := p.client()
	if err := c.GraphQL(ctx, `mutation { createGraph(id: "g") { id } }`, nil, nil); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: respAddr, MaxRetries: -1})
	defer rdb.Close()
	attacks := map[string]string{
		"graphs\x00ghost/x": "2020-01-01T00:00:00Z", // a ghost graph id with '/'
		"graphs\x00evil":    "2020-01-01T00:00:00Z", // a graph nobody created
		"g/g\x00lang":       "{{{ not json",         // one bad row used to fail `graphs` for everyone
		"g/g\x00created":    "garbage",
	}
	for k, v := range attacks {
		if err := c.Put(ctx, []byte(k), []byte(v), kv.Options{}); err != nil {
			t.Fatalf("HTTP put %q: %v", k, err)
		}
		if err := rdb.Set(ctx, k+"-resp", v, 0).Err(); err != nil {
			t.Fatalf("RESP SET %q: %v", k, err)
		}
		if err := c.GraphQL(ctx, `mutation($k: String!, $v: String!) { put(key: $k, value: $v) }`, map[string]any{"k": k + "-gql", "v": v}, nil); err != nil {
			t.Fatalf("GraphQL put %q: %v", k, err)
		}
	}
	var out struct {
		Graphs []struct {
			ID        string
			Languages []struct{ Name string }
		}
	}
	if err := c.GraphQL(ctx, `{ graphs { id languages { name } } }`, nil, &out); err != nil {
		t.Fatalf("graphs after raw writes: %v", err)
	}
	if len(out.Graphs) != 1 || out.Graphs[0].ID != "g" {
		t.Fatalf("graphs = %+v, want only g", out.Graphs)
	}
	// The graph's own rows cannot be read through the raw APIs either.
	if _, _, err := c.Get(ctx, []byte("graphs\x00g"), kv.Options{}); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("HTTP get of a graph row: %v, want not found", err)
	}
	if err := rdb.Get(ctx, "graphs\x00g").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("RESP GET of a graph row: %v, want nil", err)
	}
	// The user's keys, NUL bytes and all, read back as written everywhere.
	for k, v := range attacks {
		if got, _, err := c.Get(ctx, []byte(k), kv.Options{}); err != nil || string(got) != v {
			t.Errorf("HTTP get %q = %q, %v", k, got, err)
		}
		if got, err := rdb.Get(ctx, k).Result(); err != nil || got != v {
			t.Errorf("RESP GET of the HTTP key %q = %q, %v", k, got, err)
		}
	}
}
