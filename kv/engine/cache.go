package engine

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/grafo/grafo/kv"
)

// cache is a bounded, sharded LRU of decoded cells with TinyLFU admission
// for reads. A nil *cache is a disabled cache: every method is a no-op or
// a miss.
//
// Admission: every read counts its key in its shard's frequency sketch. A
// read's fill that would evict goes in only if its key was read more
// often of late than the least recently used cell it would push out. A
// plain LRU keeps nothing of a read pattern that cycles through more keys
// than it holds (each cell is evicted just before its next read), where
// this one keeps a stable part of them, and a key read twice still gets
// in past cells read once.
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
	freq     sketch
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
	hash       uint64
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
		s.freq = newSketch(s.maxCells)
	}
	return c
}

// shard returns key's shard and hash (which the shard's sketch uses too).
func (c *cache) shard(key []byte) (*cacheShard, uint64) {
	h := maphash.Bytes(c.seed, key)
	return &c.shards[h%uint64(len(c.shards))], h
}

// get returns a copy of the cached cell (without its value if
// versionOnly), or ok=false and the shard's seq to pass to fill.
func (c *cache) get(key []byte, versionOnly bool) (cell kv.Cell, ok bool, seq uint64) {
	if c == nil {
		return kv.Cell{}, false, 0
	}
	s, h := c.shard(key)
	s.mu.Lock()
	s.freq.add(h)
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
	if versionOnly {
		cell.Value = nil
	} else if cell.Value != nil {
		cell.Value = append([]byte(nil), cell.Value...)
	}
	return cell, true, 0
}

// header reports the version and tombstone flag of key's cached cell,
// for the write path's check of what a key holds: a cached cell is the
// key's committed cell (see cache), so a hit spares a search of bbolt.
// It neither copies the value nor counts as a read for admission or
// recency.
func (c *cache) header(key []byte) (version kv.Version, tombstone, ok bool) {
	if c == nil {
		return kv.Version{}, false, false
	}
	s, _ := c.shard(key)
	s.mu.Lock()
	if n := s.m[string(key)]; n != nil {
		version, tombstone, ok = n.cell.Version, n.cell.Tombstone, true
	}
	s.mu.Unlock()
	return version, tombstone, ok
}

// fill caches a copy of cell if no commit touched the shard since seq was
// read and the key is admitted (see cache). The copy is made only then:
// under a read pattern the cache cannot hold, most fills are turned away.
func (c *cache) fill(key []byte, cell kv.Cell, seq uint64) {
	if c == nil {
		return
	}
	s, h := c.shard(key)
	s.mu.Lock()
	if s.seq == seq {
		if n := s.m[string(key)]; n != nil {
			s.refresh(n, cloneCell(cell))
		} else if s.hasRoom(cellCost(len(key), cell)) || s.freq.estimate(h) > s.freq.estimate(s.head.prev.hash) {
			s.add(string(key), h, cloneCell(cell))
		}
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

// apply installs committed changes. Each key's shard is locked on its
// own and its seq bumped: grouping a batch's keys by shard first cost
// more (a map and its slices a commit) than the locks it saved.
func (c *cache) apply(ups []cacheUpdate) {
	if c == nil {
		return
	}
	for i := range ups {
		u := &ups[i]
		s, h := c.shard(u.key)
		s.mu.Lock()
		s.seq++
		n := s.m[string(u.key)]
		switch {
		case u.del:
			if n != nil {
				s.remove(n)
			}
		// Writes refresh cells the cache already holds, and add new ones
		// only into free room, never evicting: a bulk load (an ingest
		// writes millions of rows nobody reads soon) must not push out
		// the hot read set or spend its time on cache churn, but a key
		// read right after its write should hit. Both copy the cell: it
		// shares the batch's arena, which a cached cell must not keep
		// alive (a batch of thousands of rows for one cell of 100 bytes).
		case n != nil:
			s.refresh(n, cloneCell(u.cell))
		case s.hasRoom(cellCost(len(u.key), u.cell)):
			s.add(string(u.key), h, cloneCell(u.cell))
		}
		s.mu.Unlock()
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

func (s *cacheShard) add(key string, hash uint64, cell kv.Cell) {
	n := &cacheNode{key: key, hash: hash, cell: cell}
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

// sketch is a count-min sketch of how often keys were read of late: four
// rows of saturating 4-bit counts (one byte each, for simplicity), all
// halved once the reads counted reach ten times the row width, so that
// old popularity fades (TinyLFU's reset).
type sketch struct {
	counts []uint8 // 4 rows of mask+1
	mask   uint64
	adds   int
	reset  int
}

// maxSketchWidth bounds a shard's sketch (4 x 64 Ki bytes): a cache sized
// by bytes may allow millions of tiny cells, but admission only needs the
// counts to tell hot from cold, not to be exact.
const maxSketchWidth = 1 << 16

func newSketch(cells int) sketch {
	w := 16
	for w < cells && w < maxSketchWidth {
		w *= 2
	}
	return sketch{counts: make([]uint8, 4*w), mask: uint64(w - 1), reset: 10 * w}
}

// slot is the index of h's count in row i: double hashing over bits of h
// above the ones that chose the shard (a shard's keys share those).
func (s *sketch) slot(h uint64, i int) uint64 {
	h1, h2 := h>>32, h>>8|1
	return uint64(i)*(s.mask+1) + (h1+uint64(i)*h2)&s.mask
}

func (s *sketch) add(h uint64) {
	for i := range 4 {
		if j := s.slot(h, i); s.counts[j] < 15 {
			s.counts[j]++
		}
	}
	if s.adds++; s.adds >= s.reset {
		for j := range s.counts {
			s.counts[j] /= 2
		}
		s.adds /= 2
	}
}

func (s *sketch) estimate(h uint64) uint8 {
	m := uint8(15)
	for i := range 4 {
		m = min(m, s.counts[s.slot(h, i)])
	}
	return m
}
