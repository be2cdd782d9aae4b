package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ClusterStatus is GET /v1/cluster.
type ClusterStatus struct {
	Nodes        []NodeStatus `json:"nodes"`
	Replicas     int          `json:"replicas"`
	WriteQuorum  int          `json:"writeQuorum"`
	ReadQuorum   int          `json:"readQuorum"`
	Leader       string       `json:"leader"`
	HintsPending int64        `json:"hintsPending"`
	Rebalancing  bool         `json:"rebalancing"` // true while ranges move
}

// NodeStatus is one member in ClusterStatus.
type NodeStatus struct {
	ID      string `json:"id"`
	HTTP    string `json:"http"`
	Cluster string `json:"cluster"`
	Weight  int    `json:"weight"`
	State   string `json:"state"` // up, down, joining, leaving, unhealthy
	VNodes  int    `json:"vnodes"`
	Keys    int64  `json:"keys"` // stored locally on that node
	// LastContact is when the answering node last heard from this one
	// (zero if never or not reported).
	LastContact time.Time `json:"lastContact,omitzero"`
	// Progress is the node's current or last stream of ranges (join,
	// rebuild, repair after a remove, leave); absent if it never streamed.
	Progress *Progress `json:"progress,omitempty"`
}

// Progress of a node streaming ranges in or out.
type Progress struct {
	Kind          string `json:"kind"` // join, rebuild, repair, leave
	RangesDone    int    `json:"rangesDone"`
	RangesTotal   int    `json:"rangesTotal"` // 0 for a leave (it streams by key)
	BytesStreamed int64  `json:"bytesStreamed"`
	Finished      bool   `json:"finished"`
	// Unavailable names ranges no live replica could give ("(start,end]",
	// hex hash bounds).
	Unavailable []string `json:"unavailable,omitempty"`
}

// UnmarshalJSON accepts lastContact as an RFC 3339 string, Unix
// milliseconds, or null/"" — the contract does not fix its encoding, and a
// status page must not fail over a timestamp.
func (n *NodeStatus) UnmarshalJSON(b []byte) error {
	type plain NodeStatus
	var aux struct {
		plain
		LastContact json.RawMessage `json:"lastContact"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*n = NodeStatus(aux.plain)
	n.LastContact = time.Time{}
	raw := string(aux.LastContact)
	switch {
	case raw == "" || raw == "null" || raw == `""`:
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(aux.LastContact, &s); err != nil {
			return err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("lastContact: %w", err)
		}
		n.LastContact = t
	default:
		ms, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("lastContact: %w", err)
		}
		if ms != 0 {
			n.LastContact = time.UnixMilli(ms)
		}
	}
	return nil
}

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
