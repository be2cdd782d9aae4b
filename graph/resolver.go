package graph

//go:generate go run github.com/99designs/gqlgen generate

import (
	"context"
	"io"
	"log/slog"

	"github.com/grafo/grafo/graph/model"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/kv"
)

// ClusterInfo answers the cluster query (the server's view of the ring,
// the same as GET /v1/cluster).
type ClusterInfo interface {
	Cluster(ctx context.Context) (*model.Cluster, error)
}

// Resolver is the wiring root of the GraphQL API.
type Resolver struct {
	// Store holds the graphs. Required.
	Store *store.Store
	// KV serves the raw get/put/delete fields, in its user keyspace
	// (kv.UserSpace): they cannot reach the graphs' rows. Required.
	KV kv.Store
	// ClusterInfo serves the cluster field; nil answers UNAVAILABLE.
	ClusterInfo ClusterInfo
	// Bus feeds subscriptions; nil uses Store.Bus().
	Bus *store.Bus
	// Logger; nil discards.
	Logger *slog.Logger
}

func (r *Resolver) log() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return r.Logger
}

func (r *Resolver) bus() *store.Bus {
	if r.Bus != nil {
		return r.Bus
	}
	return r.Store.Bus()
}

func (r *Resolver) rawKV() kv.Store { return kv.UserSpace(r.KV) }
