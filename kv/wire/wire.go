package wire

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/grafo/grafo/autoscale"
	"github.com/grafo/grafo/kv"
)

// Codes of the JSON error body.
const (
	CodeTooLarge           = "too_large"
	CodeBadRequest         = "bad_request"
	CodeEmptyKey           = "empty_key"
	CodeNotFound           = "not_found"
	CodeUnavailable        = "unavailable"
	CodeNotMember          = "not_member"
	CodeInvalidConsistency = "invalid_consistency"
	CodeUnauthorized       = "unauthorized"
	CodeForbidden          = "forbidden"
	CodeInternal           = "internal"
	CodeTooManyRequests    = "too_many_requests"
	CodeConflict           = "conflict"
)

// KVCodes maps the codes that stand for a kv sentinel, so that
// errors.Is(err, kv.ErrNotFound) holds on a remote store as on a local one.
var KVCodes = kv.Codes[string]{
	{Code: CodeTooLarge, Err: kv.ErrTooLarge},
	{Code: CodeNotFound, Err: kv.ErrNotFound},
	{Code: CodeNotMember, Err: kv.ErrNotMember}, // before its wider kind
	{Code: CodeUnavailable, Err: kv.ErrUnavailable},
	{Code: CodeInvalidConsistency, Err: kv.ErrInvalidConsistency},
	{Code: CodeEmptyKey, Err: kv.ErrEmptyKey},
}

// ErrorBody is every error answer: {"error":{"code":…,"message":…}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ListEntry is one key of GET /v1/kv.
type ListEntry struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Version string `json:"version"`
	// ValueBase64 carries a value that is not UTF-8 text, which a JSON
	// string cannot hold exactly (value is then empty).
	ValueBase64 string `json:"valueBase64,omitempty"`
}

// ListPage is the answer of GET /v1/kv: keys in order, and the cursor of
// the next page ("" when there is none).
type ListPage struct {
	Entries []ListEntry `json:"entries"`
	Next    string      `json:"next"`
}

// ClusterStatus is GET /v1/cluster.
type ClusterStatus struct {
	Nodes        []NodeStatus `json:"nodes"`
	Replicas     int          `json:"replicas"`
	WriteQuorum  int          `json:"writeQuorum"`
	ReadQuorum   int          `json:"readQuorum"`
	Leader       string       `json:"leader"`
	HintsPending int64        `json:"hintsPending"`
	Rebalancing  bool         `json:"rebalancing"` // true while ranges move
	// Autoscale is the leader's autoscaler (targets, readings, last
	// decision and reason); absent when --autoscale is off.
	Autoscale *autoscale.Status `json:"autoscale,omitempty"`
}

// NodeStatus is one member in ClusterStatus.
type NodeStatus struct {
	ID      string `json:"id"`
	HTTP    string `json:"http"`
	Cluster string `json:"cluster"`
	Weight  int    `json:"weight"`
	State   string `json:"state"` // up, down, joining, leaving, unhealthy
	VNodes  int    `json:"vnodes"`
	Keys    int64  `json:"keys"` // live keys the node owns under the current ring
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
// milliseconds, or null/"": a status page must not fail over the encoding
// of a timestamp.
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
