package engine

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// memSnap is the state committed to the WAL but not yet to bbolt, as two
// immutable tables of key → encoded cell ([]byte(nil): removed). active
// takes new commits; imm, when not nil, is being checkpointed into bbolt.
// A key in active is newer than in imm, which is newer than bbolt.
// Snapshots are never modified: readers load one and need no lock.
type memSnap struct {
	active, imm *memTable
}

var emptySnap = &memSnap{active: emptyTable}

// get reports what the snapshot holds for key: found=false means ask
// bbolt; enc=nil with found=true means the key was removed.
func (m *memSnap) get(key []byte) (enc []byte, found bool) {
	if m.empty() {
		return nil, false // an idle node's reads: no key to hash
	}
	h := keyHash(key)
	if enc, ok := m.active.get(key, h); ok {
		return enc, true
	}
	return m.imm.get(key, h)
}

func (m *memSnap) empty() bool {
	return m.active.empty() && m.imm.empty()
}

// entries counts the writes the snapshot holds, across both tables.
func (m *memSnap) entries() int { return m.active.len() + m.imm.len() }

// withChanges returns a snapshot with changes applied to active. The keys
// and cells are copied into one allocation of their exact size: they point
// into the callers' arenas, sized for the worst case of compression (more
// than twice the values), which the WAL state would otherwise keep alive
// until the next checkpoint.
func (m *memSnap) withChanges(changes []change) *memSnap {
	n := 0
	for _, c := range changes {
		n += len(c.key) + len(c.enc)
	}
	buf := make([]byte, 0, n)
	own := make([]change, len(changes))
	for i, c := range changes {
		off := len(buf)
		buf = append(buf, c.key...)
		own[i].key = buf[off:len(buf):len(buf)]
		if c.enc != nil { // nil: removed
			off = len(buf)
			buf = append(buf, c.enc...)
			own[i].enc = buf[off:len(buf):len(buf)]
		}
	}
	return &memSnap{active: m.active.with(own), imm: m.imm}
}

// overlay is a store seen through a batch in progress: the batch's own
// changes, then the committed WAL state, then bbolt. It implements
// cellStore for the write path, recording writes as changes.
type overlay struct {
	mem     *memSnap
	base    *bolt.Bucket
	cache   *cache         // the engine's: committed cells, asked before mem and base
	pending map[string]int // key → index in changes
	changes []change
}

func (o *overlay) Get(k []byte) []byte {
	if i, ok := o.pending[string(k)]; ok {
		return o.changes[i].enc
	}
	if enc, ok := o.mem.get(k); ok {
		return enc
	}
	return o.base.Get(k)
}

// cachedHeader answers what k holds from the cache when the batch has not
// written k yet (the cache holds only committed cells); ok=false means
// ask Get.
func (o *overlay) cachedHeader(k []byte) (h cellHeader, ok bool) {
	if _, mine := o.pending[string(k)]; mine {
		return cellHeader{}, false
	}
	h.version, h.tombstone, ok = o.cache.header(k)
	return h, ok
}

func (o *overlay) Put(k, v []byte) error {
	o.set(k, v)
	return nil
}

func (o *overlay) Delete(k []byte) error {
	o.set(k, nil)
	return nil
}

func (o *overlay) set(k, enc []byte) {
	if i, ok := o.pending[string(k)]; ok {
		o.changes[i].enc = enc
		return
	}
	o.pending[string(k)] = len(o.changes)
	o.changes = append(o.changes, change{key: k, enc: enc})
}

// kvIter walks keys in order from a start, within a prefix.
type kvIter interface {
	// next returns the next key and its value (nil for a removed key in
	// the WAL state), ok=false at the end.
	next() (k, v []byte, ok bool)
}

type cursorIter struct {
	c      *bolt.Cursor
	prefix []byte
	k, v   []byte
	moved  bool
}

func (c *cursorIter) next() ([]byte, []byte, bool) {
	if c.moved {
		c.k, c.v = c.c.Next()
	}
	c.moved = true
	if c.k == nil || !bytes.HasPrefix(c.k, c.prefix) {
		return nil, nil, false
	}
	return c.k, c.v, true
}

// mergeIter merges iterators by key; on equal keys the earlier iterator
// wins (newer state first) and removed keys are skipped (unless
// keepRemoved).
type mergeIter struct {
	its   []kvIter
	heads []head
	// keepRemoved returns removed keys too (nil value) instead of
	// skipping them.
	keepRemoved bool
}

type head struct {
	k, v []byte
	ok   bool
}

func newMergeIter(its ...kvIter) *mergeIter {
	m := &mergeIter{its: its, heads: make([]head, len(its))}
	for i, it := range its {
		k, v, ok := it.next()
		m.heads[i] = head{k, v, ok}
	}
	return m
}

func (m *mergeIter) next() ([]byte, []byte, bool) {
	for {
		best := -1
		for i, h := range m.heads {
			if h.ok && (best < 0 || bytes.Compare(h.k, m.heads[best].k) < 0) {
				best = i
			}
		}
		if best < 0 {
			return nil, nil, false
		}
		k, v := m.heads[best].k, m.heads[best].v
		for i := range m.heads {
			if m.heads[i].ok && bytes.Equal(m.heads[i].k, k) {
				nk, nv, ok := m.its[i].next()
				m.heads[i] = head{nk, nv, ok}
			}
		}
		if v != nil || m.keepRemoved {
			return k, v, true
		}
	}
}
