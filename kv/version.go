package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Version orders the writes of one key across the cluster: a hybrid
// logical clock timestamp and, to break ties, the id of the node that
// coordinated the write. The newest version wins (last write wins).
//
// TS is wall milliseconds << 16 | microseconds within the millisecond << 6
// | a logical counter (0..63). The layout keeps the millisecond in the top
// 48 bits, as versions written before microseconds were added, so old
// cells compare and age (Time) as before; the microseconds make two writes
// of one key from different coordinators within the same millisecond
// follow real time (kv/replica also refuses a write older than what a
// replica holds).
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
	// By hand rather than fmt.Sprintf("%016x-%s"): it runs for every
	// answer of the HTTP API (X-Grafo-Version), and this is one allocation.
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := range b {
		b[i] = digits[v.TS>>(60-4*i)&0xf]
	}
	return string(b[:]) + "-" + v.Node
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

// MaxTS is the largest timestamp. A clock that reaches it stays there
// (saturates) instead of wrapping to 0, which would make every later
// write older than everything stored.
const MaxTS = math.MaxUint64

// PhysicalTS is the timestamp of wall time t with a zero counter.
func PhysicalTS(t time.Time) uint64 {
	us := t.UnixMicro()
	if us < 0 {
		return 0
	}
	return uint64(us/1000)<<16 | uint64(us%1000)<<6
}

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

// NewClockFunc returns a clock for node that reads wall time from now;
// tests use it to skew one node's clock.
func NewClockFunc(node string, now func() time.Time) *Clock {
	return &Clock{node: node, now: now}
}

// Wall returns the clock's wall time (not its hybrid timestamp).
func (c *Clock) Wall() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// Now returns a fresh version, newer than every one returned or observed,
// unless the clock has saturated at MaxTS.
func (c *Clock) Now() Version {
	phys := PhysicalTS(c.Wall())
	c.mu.Lock()
	defer c.mu.Unlock()
	if phys > c.last {
		c.last = phys
	} else if c.last < MaxTS {
		c.last++
	}
	return Version{TS: c.last, Node: c.node}
}

// Observe advances the clock past v (a version seen from another node).
// Callers bound what they observe (kv/replica refuses versions far ahead
// of Wall): a peer's clock far in the future would drag this one along.
func (c *Clock) Observe(v Version) {
	c.mu.Lock()
	if v.TS > c.last {
		c.last = v.TS
	}
	c.mu.Unlock()
}
