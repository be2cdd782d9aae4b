package engine

import (
	"bytes"
	"hash/maphash"
	"slices"
	"sort"
)

// memTable is an immutable map of key → encoded cell ([]byte(nil):
// removed), kept as sorted runs of unique keys, newest first: the WAL
// state's tables. A batch becomes a new run; runs merge (newer wins) while
// the newest is at least as long as the next, so a table of n keys has
// about log2(n/batch) runs and each key is copied O(log n) times.
//
// It replaced an immutable radix tree (hashicorp/go-immutable-radix),
// which cost about 330 bytes per key (a node, a leaf, a channel for each,
// the boxed value) against the 48 of a run's entry: with 16 MiB segments
// and a checkpoint running, the WAL state held over 100 MiB of tree in a
// node ingesting GOROOT/src. Readers load a table and never lock.
type memTable struct {
	runs    []run    // newest first; never modified once published
	filters []filter // filters[i] for runs[i]; nil for short runs
	n       int      // entries across runs (at least the distinct keys)
}

// run is a sorted slice of unique keys.
type run []change

var emptyTable = &memTable{}

func (t *memTable) empty() bool { return t.len() == 0 }

// len is the entries across the runs (at least the distinct keys).
func (t *memTable) len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// get reports what the table holds for key, whose keyHash is h:
// found=false when it holds nothing; enc=nil with found=true when the key
// was removed. Most keys a write or read asks for are in no run (they
// are in bbolt), so each run's filter saves the binary search.
func (t *memTable) get(key []byte, h uint64) (enc []byte, found bool) {
	if t == nil {
		return nil, false
	}
	for i, r := range t.runs {
		if !t.filters[i].mayHold(h) {
			continue
		}
		if j, ok := r.find(key); ok {
			return r[j].enc, true
		}
	}
	return nil, false
}

// find is the index of key in r, or where it would go.
func (r run) find(key []byte) (int, bool) {
	i := sort.Search(len(r), func(i int) bool { return bytes.Compare(r[i].key, key) >= 0 })
	return i, i < len(r) && bytes.Equal(r[i].key, key)
}

// with returns a table holding changes (unique keys) over t's. changes is
// sorted in place and kept: the caller must not modify it afterwards.
func (t *memTable) with(changes []change) *memTable {
	if len(changes) == 0 {
		return t
	}
	slices.SortFunc(changes, func(a, b change) int { return bytes.Compare(a.key, b.key) })
	runs := make([]run, 0, len(t.runs)+1)
	runs = append(runs, run(changes))
	runs = append(runs, t.runs...)
	filters := make([]filter, 0, len(runs))
	filters = append(filters, nil)
	filters = append(filters, t.filters...)
	for len(runs) > 1 && len(runs[0]) >= len(runs[1]) {
		m := mergeRuns(runs[0], runs[1])
		runs = append(runs[:1], runs[2:]...)
		filters = append(filters[:1], filters[2:]...)
		runs[0] = m
	}
	filters[0] = newFilter(runs[0])
	return &memTable{runs: slices.Clip(runs), filters: slices.Clip(filters), n: t.n + len(changes)}
}

// A filter is a Bloom filter of a run's keys: about 10 bits and 3 probes
// a key, under 2% false positives, so a key in no run costs a hash and a
// few bit tests instead of a binary search of every run. Runs shorter
// than minFiltered have none: their search is as cheap.
type filter []uint64

const minFiltered = 32

var hashSeed = maphash.MakeSeed()

func keyHash(key []byte) uint64 { return maphash.Bytes(hashSeed, key) }

func newFilter(r run) filter {
	if len(r) < minFiltered {
		return nil
	}
	f := make(filter, (len(r)*10+63)/64)
	for _, c := range r {
		f.add(keyHash(c.key))
	}
	return f
}

// probes are derived from one hash by double hashing.
func (f filter) probe(h uint64, i uint64) (word int, bit uint64) {
	b := (h + i*(h>>32|h<<32)) % uint64(len(f)*64)
	return int(b / 64), 1 << (b % 64)
}

func (f filter) add(h uint64) {
	for i := range uint64(3) {
		w, b := f.probe(h, i)
		f[w] |= b
	}
}

// mayHold is false only if the run surely lacks the key hashed to h.
func (f filter) mayHold(h uint64) bool {
	if f == nil {
		return true
	}
	for i := range uint64(3) {
		if w, b := f.probe(h, i); f[w]&b == 0 {
			return false
		}
	}
	return true
}

// mergeRuns merges two runs into a new one; on equal keys newer wins.
func mergeRuns(newer, older run) run {
	out := make(run, 0, len(newer)+len(older))
	i, j := 0, 0
	for i < len(newer) && j < len(older) {
		switch c := bytes.Compare(newer[i].key, older[j].key); {
		case c < 0:
			out = append(out, newer[i])
			i++
		case c > 0:
			out = append(out, older[j])
			j++
		default:
			out = append(out, newer[i])
			i++
			j++
		}
	}
	out = append(out, newer[i:]...)
	return append(out, older[j:]...)
}

// iters appends to its an iterator per run, newest first, over the keys
// under prefix from from on (removed keys included, as nil values).
func (t *memTable) iters(its []kvIter, prefix, from []byte) []kvIter {
	if t == nil {
		return its
	}
	for _, r := range t.runs {
		i, _ := r.find(from)
		its = append(its, &runIter{r: r[i:], prefix: prefix})
	}
	return its
}

type runIter struct {
	r      run
	prefix []byte
}

func (it *runIter) next() ([]byte, []byte, bool) {
	if len(it.r) == 0 || !bytes.HasPrefix(it.r[0].key, it.prefix) {
		return nil, nil, false
	}
	c := it.r[0]
	it.r = it.r[1:]
	return c.key, c.enc, true
}

// all iterates every key of the table once, in order, with its newest
// value, removed keys included (enc nil): what a checkpoint writes.
func (t *memTable) all() kvIter {
	m := newMergeIter(t.iters(nil, nil, nil)...)
	m.keepRemoved = true
	return m
}
