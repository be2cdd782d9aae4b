package client

import (
	"context"
	"net/http"

	"github.com/grafo/grafo/kv/wire"
)

// ClusterStatus is GET /v1/cluster (the wire type, shared with the server).
type ClusterStatus = wire.ClusterStatus

// NodeStatus is one member in ClusterStatus.
type NodeStatus = wire.NodeStatus

// Progress is a node's stream of ranges in NodeStatus.
type Progress = wire.Progress

// Cluster returns the membership and ring as the node sees it.
func (c *Client) Cluster(ctx context.Context) (ClusterStatus, error) {
	var st ClusterStatus
	err := c.Do(ctx, http.MethodGet, "/v1/cluster", nil, &st)
	return st, err
}

// Join asks the cluster to admit the node at addr (admin).
func (c *Client) Join(ctx context.Context, addr string) error {
	return c.doJSON(ctx, http.MethodPost, "/v1/cluster/join", map[string]string{"addr": addr}, nil)
}

// Leave asks node to hand off its ranges and leave the cluster (admin).
func (c *Client) Leave(ctx context.Context, node string) error {
	return c.doJSON(ctx, http.MethodPost, "/v1/cluster/leave", map[string]string{"node": node}, nil)
}

// Remove takes a dead node out of the ring (admin); the survivors
// re-replicate its ranges. A node heartbeats see as up is refused (409)
// unless force.
func (c *Client) Remove(ctx context.Context, node string, force bool) error {
	return c.doJSON(ctx, http.MethodPost, "/v1/cluster/remove", map[string]any{"node": node, "force": force}, nil)
}
