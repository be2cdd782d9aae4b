package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Version orders the writes of one key across the cluster: a hybrid
// logical clock timestamp (wall milliseconds << 16 | logical counter) and,
// to break ties, the id of the node that coordinated the write. The newest
// version wins (last write wins).
type Version struct {
	TS   uint64
	Node string
}

// IsZero reports whether v is the zero version (older than every write).
func (v Version) IsZero() bool { return v.TS == 0 && v.Node == "" }

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than o.
func (v Version) Compare(o Version) int {
	switch {
	case v.TS < o.TS:
		return -1
	case v.TS > o.TS:
		return 1
	case v.Node < o.Node:
		return -1
	case v.Node > o.Node:
		return 1
	}
	return 0
}

// Newer reports whether v is strictly newer than o.
func (v Version) Newer(o Version) bool { return v.Compare(o) > 0 }

// Time is the wall-clock part of the timestamp.
func (v Version) Time() time.Time {
	return time.UnixMilli(int64(v.TS >> 16))
}

// String is the wire form used in X-Grafo-Version: 16 hex digits, '-', node.
func (v Version) String() string {
	return fmt.Sprintf("%016x-%s", v.TS, v.Node)
}

// ParseVersion parses the String form.
func ParseVersion(s string) (Version, error) {
	ts, node, ok := strings.Cut(s, "-")
	if !ok || len(ts) != 16 {
		return Version{}, fmt.Errorf("kv: bad version %q", s)
	}
	n, err := strconv.ParseUint(ts, 16, 64)
	if err != nil {
		return Version{}, fmt.Errorf("kv: bad version %q: %w", s, err)
	}
	return Version{TS: n, Node: node}, nil
}

// AppendBinary appends a compact binary form: 8 bytes TS, 1 byte node
// length, node bytes.
func (v Version) AppendBinary(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, v.TS)
	b = append(b, byte(len(v.Node)))
	return append(b, v.Node...)
}

// DecodeVersion reads the AppendBinary form and returns the rest of b.
func DecodeVersion(b []byte) (Version, []byte, error) {
	if len(b) < 9 {
		return Version{}, nil, errShortVersion
	}
	ts := binary.BigEndian.Uint64(b)
	n := int(b[8])
	if len(b) < 9+n {
		return Version{}, nil, errShortVersion
	}
	return Version{TS: ts, Node: string(b[9 : 9+n])}, b[9+n:], nil
}

var errShortVersion = errors.New("kv: short version")

// MaxNodeIDLen is the longest node id a version can carry.
const MaxNodeIDLen = 255

// Clock is a hybrid logical clock: timestamps follow wall time but never go
// backwards and advance past every timestamp the node has observed, so a
// write coordinated after reading version v always gets a newer version
// even when clocks are skewed.
type Clock struct {
	mu   sync.Mutex
	last uint64
	node string
	now  func() time.Time // nil means time.Now
}

// NewClock returns a clock for node.
func NewClock(node string) *Clock { return &Clock{node: node} }

// Now returns a fresh version, newer than every one returned or observed.
func (c *Clock) Now() Version {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	phys := uint64(now().UnixMilli()) << 16
	if phys > c.last {
		c.last = phys
	} else {
		c.last++
	}
	return Version{TS: c.last, Node: c.node}
}

// Observe advances the clock past v (a version seen from another node).
func (c *Clock) Observe(v Version) {
	c.mu.Lock()
	if v.TS > c.last {
		c.last = v.TS
	}
	c.mu.Unlock()
}
