package engine

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/grafo/grafo/kv"
)

// cache is a bounded, sharded LRU of decoded cells. A nil *cache is a
// disabled cache: every method is a no-op or a miss.
//
// Staleness: the committer calls set/del for every key it committed, after
// the commit, under the shard lock, and bumps the shard's seq. A reader
// notes seq before its bbolt read and fills only if seq has not moved, so
// a fill from an older snapshot can never land after a newer commit's
// update (even if that update was evicted in between).
type cache struct {
	seed   maphash.Seed
	shards []cacheShard
	hits   atomic.Int64
	misses atomic.Int64
}

type cacheShard struct {
	mu       sync.Mutex
	seq      uint64
	m        map[string]*cacheNode
	head     cacheNode // sentinel: head.next is the most recently used
	maxCells int
	maxBytes int // <=0: no byte bound
	bytes    int
}

// cellOverhead is what a cached cell costs beyond its key and value
// bytes: its node, its map slot and its key's string header (75 bytes
// measured on amd64), with room for allocation rounding. The byte bound
// counts it with the key: small values under long keys must not let the
// cache outgrow it (256 Ki cells of 5 KiB keys would be 1.3 GiB).
const cellOverhead = 96

func cellCost(keyLen int, cell kv.Cell) int { return keyLen + len(cell.Value) + cellOverhead }

type cacheNode struct {
	key        string
	cell       kv.Cell
	prev, next *cacheNode
}

func newCache(cells, bytes int) *cache {
	if cells < 0 {
		return nil
	}
	n := 32
	for n > 1 && cells/n < 64 {
		n /= 2 // small caches: fewer shards, so the bound stays meaningful
	}
	c := &cache{seed: maphash.MakeSeed(), shards: make([]cacheShard, n)}
	for i := range c.shards {
		s := &c.shards[i]
		s.m = make(map[string]*cacheNode)
		s.head.next, s.head.prev = &s.head, &s.head
		s.maxCells = max(1, cells/n)
		if bytes > 0 {
			s.maxBytes = max(1, bytes/n)
		}
	}
	return c
}

func (c *cache) shard(key []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, key)%uint64(len(c.shards))]
}

// get returns a copy of the cached cell, or ok=false and the shard's seq
// to pass to fill.
func (c *cache) get(key []byte) (cell kv.Cell, ok bool, seq uint64) {
	if c == nil {
		return kv.Cell{}, false, 0
	}
	s := c.shard(key)
	s.mu.Lock()
	n := s.m[string(key)]
	if n == nil {
		seq = s.seq
		s.mu.Unlock()
		c.misses.Add(1)
		return kv.Cell{}, false, seq
	}
	s.moveFront(n)
	cell = n.cell
	s.mu.Unlock()
	c.hits.Add(1)
	if cell.Value != nil {
		cell.Value = append([]byte(nil), cell.Value...)
	}
	return cell, true, 0
}

// fill caches cell (already a private copy) if no commit touched the shard
// since seq was read.
func (c *cache) fill(key []byte, cell kv.Cell, seq uint64) {
	if c == nil {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	if s.seq == seq {
		s.put(string(key), cell)
	}
	s.mu.Unlock()
}

// cacheUpdate is one committed change: a new cell, or del for a key that is
// gone from disk.
type cacheUpdate struct {
	key  []byte
	cell kv.Cell
	del  bool
}

// apply installs committed changes. The cells must not be modified later.
func (c *cache) apply(ups []cacheUpdate) {
	if c == nil || len(ups) == 0 {
		return
	}
	// Group by shard so each shard is locked once and its seq bumped once.
	byShard := make(map[*cacheShard][]int, len(c.shards))
	for i := range ups {
		s := c.shard(ups[i].key)
		byShard[s] = append(byShard[s], i)
	}
	for s, idx := range byShard {
		s.mu.Lock()
		s.seq++
		for _, i := range idx {
			u := &ups[i]
			if u.del {
				if n := s.m[string(u.key)]; n != nil {
					s.remove(n)
				}
				continue
			}
			// Writes refresh cells the cache already holds, and add new
			// ones only into free room, never evicting: a bulk load (an
			// ingest writes millions of rows nobody reads soon) must not
			// push out the hot read set or spend its time on cache churn,
			// but a key read right after its write should hit.
			if n := s.m[string(u.key)]; n != nil {
				s.refresh(n, u.cell)
			} else if s.hasRoom(cellCost(len(u.key), u.cell)) {
				s.add(string(u.key), cloneCell(u.cell)) // not the batch's arena
			}
		}
		s.mu.Unlock()
	}
}

func (s *cacheShard) put(key string, cell kv.Cell) {
	if n := s.m[key]; n != nil {
		s.refresh(n, cell)
	} else {
		s.add(key, cell)
	}
}

// refresh gives a cached key its new cell; add caches a key it does not
// hold. Both evict from the tail down to the bounds.
func (s *cacheShard) refresh(n *cacheNode, cell kv.Cell) {
	s.bytes += len(cell.Value) - len(n.cell.Value)
	n.cell = cell
	s.moveFront(n)
	s.evict()
}

func (s *cacheShard) add(key string, cell kv.Cell) {
	n := &cacheNode{key: key, cell: cell}
	s.m[key] = n
	s.bytes += cellCost(len(key), cell)
	s.pushFront(n)
	s.evict()
}

func (s *cacheShard) evict() {
	for len(s.m) > s.maxCells || (s.maxBytes > 0 && s.bytes > s.maxBytes && len(s.m) > 1) {
		s.remove(s.head.prev)
	}
}

// hasRoom reports whether a cell costing n bytes (cellCost) fits without
// evicting.
func (s *cacheShard) hasRoom(n int) bool {
	return len(s.m) < s.maxCells && (s.maxBytes <= 0 || s.bytes+n <= s.maxBytes)
}

func (s *cacheShard) remove(n *cacheNode) {
	n.prev.next, n.next.prev = n.next, n.prev
	delete(s.m, n.key)
	s.bytes -= cellCost(len(n.key), n.cell)
}

func (s *cacheShard) pushFront(n *cacheNode) {
	n.prev, n.next = &s.head, s.head.next
	s.head.next.prev = n
	s.head.next = n
}

func (s *cacheShard) moveFront(n *cacheNode) {
	if s.head.next == n {
		return
	}
	n.prev.next, n.next.prev = n.next, n.prev
	s.pushFront(n)
}

func (c *cache) len() int {
	if c == nil {
		return 0
	}
	total := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		total += len(s.m)
		s.mu.Unlock()
	}
	return total
}
