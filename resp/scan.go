package resp

import (
	"hash/maphash"
	"strconv"
	"strings"
	"sync"

	"github.com/grafo/grafo/kv"
)

// Bounds of SCAN's COUNT: the default is Redis's; a larger COUNT is cut to
// maxScanCount so one call cannot make the node read and send the whole
// keyspace at once.
const (
	defaultScanCount = 10
	maxScanCount     = 1000
)

// scan answers SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]: the
// keys of the whole cluster (not only this node's), in key order, read at
// the connection's consistency. Every key present for the whole scan is
// returned once; a reply may hold fewer than COUNT keys (deleted
// candidates, MATCH), and the scan ends when the cursor comes back "0".
func (c *conn) scan(args [][]byte) {
	after, ok := c.s.cursors.resolve(string(args[1]))
	if !ok {
		c.w.err("ERR invalid cursor: not one this node issued, or expired (a node keeps its latest 65536 cursors); start again with 0")
		return
	}
	count, pattern, typ, ok := c.scanOptions(args[2:])
	if !ok {
		return
	}
	sc, ok := c.s.cfg.Store.(kv.RingScanner)
	if !ok {
		c.w.err("ERR SCAN is not available: this node's store cannot list keys across the cluster")
		return
	}
	var ents []kv.Entry
	var next []byte
	if typ == "" || typ == "string" { // every Grafo value is a string
		prefix, keep := matcher(pattern)
		var err error
		if ents, next, err = sc.ScanRing(c.s.ctx, prefix, after, count, keep, c.opts); err != nil {
			c.storeErr(err)
			return
		}
	}
	c.w.array(2)
	c.w.bulkString(c.s.cursors.save(next))
	c.w.array(len(ents))
	for _, e := range ents {
		c.w.bulk(e.Key)
	}
}

// scanOptions parses SCAN's options, answering the error and reporting
// false when one is wrong.
func (c *conn) scanOptions(opts [][]byte) (count int, pattern *string, typ string, ok bool) {
	count = defaultScanCount
	for i := 0; i < len(opts); i += 2 {
		if i+1 == len(opts) {
			c.w.err("ERR syntax error")
			return 0, nil, "", false
		}
		val := string(opts[i+1])
		switch strings.ToLower(string(opts[i])) {
		case "match":
			pattern = &val
		case "count":
			n, err := strconv.Atoi(val)
			if err != nil {
				c.w.err("ERR value is not an integer or out of range")
				return 0, nil, "", false
			}
			if n < 1 {
				c.w.err("ERR syntax error")
				return 0, nil, "", false
			}
			count = min(n, maxScanCount)
		case "type":
			typ = strings.ToLower(val)
		default:
			c.w.err("ERR syntax error")
			return 0, nil, "", false
		}
	}
	return count, pattern, typ, true
}

// matcher turns a MATCH pattern into the prefix every match starts with
// (so the scan walks only those keys) and the filter for the rest; nil
// pattern matches everything.
func matcher(pattern *string) ([]byte, func([]byte) bool) {
	if pattern == nil {
		return nil, nil
	}
	pat := *pattern
	lit := strings.IndexAny(pat, `*?[\`)
	if lit < 0 {
		lit = len(pat)
	}
	prefix := []byte(pat[:lit])
	if pat[lit:] == "*" {
		return prefix, nil // the prefix says it all
	}
	return prefix, func(k []byte) bool { return globMatch(pat, string(k)) }
}

// keys refuses KEYS: it answers every key of the cluster in one reply,
// which the node would have to hold and send whole.
func (c *conn) keys([][]byte) {
	c.w.err("ERR KEYS is not supported by Grafo: it would list the whole cluster in one reply; use SCAN cursor [MATCH pattern] [COUNT n], which pages")
}

// scanCursors maps SCAN's numeric cursors (clients parse them as
// unsigned integers, so a key cannot be the cursor itself) to the key a
// scan resumes after. A cursor is a keyed hash of that key: the same
// position always gets the same cursor, and cursors cannot be guessed
// across nodes or restarts. The map is bounded (FIFO eviction); an evicted
// cursor is refused, never silently restarted.
type scanCursors struct {
	seed  maphash.Seed
	mu    sync.Mutex
	keys  map[uint64]string
	order []uint64 // oldest first
	bytes int
}

const (
	maxCursors     = 1 << 16
	maxCursorBytes = 16 << 20
)

func newScanCursors() *scanCursors {
	return &scanCursors{seed: maphash.MakeSeed(), keys: map[uint64]string{}}
}

// save returns the cursor of the position after key; "0" (the scan is
// over) for nil.
func (cs *scanCursors) save(key []byte) string {
	if key == nil {
		return "0"
	}
	// 63 bits: clients that parse the cursor as a signed integer work too.
	h := maphash.Bytes(cs.seed, key) >> 1
	if h == 0 {
		h = 1
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if old, ok := cs.keys[h]; ok {
		cs.bytes += len(key) - len(old)
	} else {
		cs.order = append(cs.order, h)
		cs.bytes += len(key)
	}
	cs.keys[h] = string(key)
	for len(cs.order) > maxCursors || cs.bytes > maxCursorBytes {
		old := cs.order[0]
		cs.order = cs.order[1:]
		cs.bytes -= len(cs.keys[old])
		delete(cs.keys, old)
	}
	return strconv.FormatUint(h, 10)
}

// resolve returns the key a cursor resumes after (nil for "0"), and false
// for a cursor this node does not know.
func (cs *scanCursors) resolve(cursor string) ([]byte, bool) {
	if cursor == "0" {
		return nil, true
	}
	h, err := strconv.ParseUint(cursor, 10, 64)
	if err != nil {
		return nil, false
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	k, ok := cs.keys[h]
	return []byte(k), ok
}
