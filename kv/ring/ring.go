package ring

import (
	"encoding/binary"
	"slices"
	"sort"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/grafo/grafo/kv"
)

// DefaultVNodes is the number of tokens per unit of weight used when New is
// given vnodesPerWeight < 1. 128 keeps equal nodes within about 10% of each
// other's share.
const DefaultVNodes = 128

// Member is one node of the ring. Weight is its capacity: it gets
// Weight×vnodesPerWeight tokens; a Weight below 1 counts as 1.
type Member struct {
	ID     string
	Weight int
}

// Range is the hash interval (Start, End]. It wraps past the top of the
// circle when Start >= End; Start == End is the whole circle.
type Range struct {
	Start, End uint64
}

// Contains reports whether h lies in (Start, End].
func (rg Range) Contains(h uint64) bool {
	if rg.Start < rg.End {
		return h > rg.Start && h <= rg.End
	}
	return h > rg.Start || h <= rg.End
}

// Ring is an immutable consistent-hash ring. The nil *Ring is an empty ring.
type Ring struct {
	members []Member // sorted by ID, weights normalised
	vnodes  int      // tokens per unit of weight
	tokens  []uint64 // sorted ascending
	owners  []int32  // owners[i] is the index in members of tokens[i]
	index   map[string]int32
}

// Hash is the ring's hash of a partition (xxHash64).
func Hash(partition []byte) uint64 { return xxhash.Sum64(partition) }

// HashKey hashes the partition of key, as the coordinator does.
func HashKey(key []byte) uint64 { return Hash(kv.Partition(key)) }

// Token returns the i-th token of member id. It depends on nothing else,
// which is what keeps a member's tokens stable across rebuilds.
func Token(id string, i int) uint64 {
	var buf [64]byte
	b := append(buf[:0], id...)
	b = append(b, 0xff) // 0xff cannot end a valid UTF-8 id, so (id, i) pairs never collide as bytes
	b = binary.BigEndian.AppendUint32(b, uint32(i))
	return xxhash.Sum64(b)
}

// New builds a ring of members, each with vnodesPerWeight×Weight tokens
// (vnodesPerWeight < 1 means DefaultVNodes). Duplicate ids keep the last
// entry; empty ids are ignored.
func New(members []Member, vnodesPerWeight int) *Ring {
	if vnodesPerWeight < 1 {
		vnodesPerWeight = DefaultVNodes
	}
	byID := make(map[string]int, len(members))
	for _, m := range members {
		if m.ID == "" {
			continue
		}
		if m.Weight < 1 {
			m.Weight = 1
		}
		byID[m.ID] = m.Weight
	}
	r := &Ring{vnodes: vnodesPerWeight, index: make(map[string]int32, len(byID))}
	for id, w := range byID {
		r.members = append(r.members, Member{ID: id, Weight: w})
	}
	slices.SortFunc(r.members, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })

	type tok struct {
		h     uint64
		owner int32
	}
	var all []tok
	for i, m := range r.members {
		r.index[m.ID] = int32(i)
		for j := range m.Weight * vnodesPerWeight {
			all = append(all, tok{Token(m.ID, j), int32(i)})
		}
	}
	// Ties between members (vanishingly rare) are broken by member order,
	// which is by id, so every node still builds the same ring.
	slices.SortFunc(all, func(a, b tok) int {
		if a.h != b.h {
			if a.h < b.h {
				return -1
			}
			return 1
		}
		return int(a.owner - b.owner)
	})
	r.tokens = make([]uint64, len(all))
	r.owners = make([]int32, len(all))
	for i, t := range all {
		r.tokens[i], r.owners[i] = t.h, t.owner
	}
	return r
}

func (r *Ring) vnodesPerWeight() int {
	if r == nil {
		return DefaultVNodes
	}
	return r.vnodes
}

// VNodesPerWeight is the number of tokens per unit of weight.
func (r *Ring) VNodesPerWeight() int { return r.vnodesPerWeight() }

// Preference returns the first n distinct member ids clockwise from
// Hash(partition): the replicas of the partition, primary first. It returns
// fewer when the ring has fewer members, and nil for an empty ring or n < 1.
func (r *Ring) Preference(partition []byte, n int) []string {
	return r.PreferenceHash(Hash(partition), n)
}

// PreferenceHash is Preference for an already hashed partition.
func (r *Ring) PreferenceHash(h uint64, n int) []string {
	if r == nil || len(r.tokens) == 0 || n < 1 {
		return nil
	}
	n = min(n, len(r.members))
	out := make([]string, 0, n)
	r.walk(r.search(h), n, func(owner int32) { out = append(out, r.members[owner].ID) })
	return out
}

// search returns the index of the first token >= h, wrapping to 0.
func (r *Ring) search(h uint64) int {
	i := sort.Search(len(r.tokens), func(i int) bool { return r.tokens[i] >= h })
	if i == len(r.tokens) {
		i = 0
	}
	return i
}

// walk calls emit for the first n distinct owners clockwise from token
// index start. n must be <= len(r.members).
func (r *Ring) walk(start, n int, emit func(owner int32)) {
	// Replica counts are small, so a linear scan of what was already
	// emitted beats a map and keeps Preference allocation-free beyond its
	// result.
	var seenBuf [8]int32
	seen := seenBuf[:0]
	for k := 0; k < len(r.tokens) && len(seen) < n; k++ {
		o := r.owners[(start+k)%len(r.tokens)]
		if slices.Contains(seen, o) {
			continue
		}
		seen = append(seen, o)
		emit(o)
	}
}

// Members returns the members sorted by id (a copy).
func (r *Ring) Members() []Member {
	if r == nil {
		return nil
	}
	return slices.Clone(r.members)
}

// Has reports whether id is a member.
func (r *Ring) Has(id string) bool {
	if r == nil {
		return false
	}
	_, ok := r.index[id]
	return ok
}

// Len is the number of members.
func (r *Ring) Len() int {
	if r == nil {
		return 0
	}
	return len(r.members)
}

// VNodes is the number of tokens of id (0 if not a member).
func (r *Ring) VNodes(id string) int {
	if !r.Has(id) {
		return 0
	}
	return r.members[r.index[id]].Weight * r.vnodes
}

// Tokens returns the tokens of id in ascending order (nil if not a member).
func (r *Ring) Tokens(id string) []uint64 {
	if !r.Has(id) {
		return nil
	}
	o := r.index[id]
	var out []uint64
	for i, t := range r.tokens {
		if r.owners[i] == o {
			out = append(out, t)
		}
	}
	return out
}

// Ranges returns the hash ranges for which id is one of the n replicas,
// merged where adjacent and ordered by End. A single Range with Start ==
// End means the whole circle (id holds every key, e.g. n >= Len()). It is
// what rebalancing streams and anti-entropy compares.
func (r *Ring) Ranges(id string, n int) []Range {
	if !r.Has(id) || n < 1 {
		return nil
	}
	n = min(n, len(r.members))
	o := r.index[id]
	T := len(r.tokens)
	// owned[i]: id replicates (tokens[i-1], tokens[i]].
	owned := make([]bool, T)
	count := 0
	for i := range T {
		r.walk(i, n, func(x int32) {
			if x == o {
				owned[i] = true
			}
		})
		if owned[i] {
			count++
		}
	}
	if count == T {
		return []Range{{Start: r.tokens[T-1], End: r.tokens[T-1]}}
	}
	// Start at a token not owned, so no run wraps past index 0 unseen; a
	// range that begins where the previous one ended extends it.
	first := slices.Index(owned, false)
	var out []Range
	for k := 1; k <= T; k++ {
		i := (first + k) % T
		start := r.tokens[(i-1+T)%T]
		if !owned[i] || start == r.tokens[i] {
			continue // not ours, or empty (a token shared by two members)
		}
		if len(out) > 0 && out[len(out)-1].End == start {
			out[len(out)-1].End = r.tokens[i]
			continue
		}
		out = append(out, Range{Start: start, End: r.tokens[i]})
	}
	slices.SortFunc(out, func(a, b Range) int {
		switch {
		case a.End < b.End:
			return -1
		case a.End > b.End:
			return 1
		}
		return 0
	})
	return out
}
