package golang

import (
	"go/token"
	"slices"
)

// calleeIndex holds, for the Lparen of each dynamic call of the tree, the
// functions it may reach. CHA gives an interface call every implementation
// of its method, and a function value every function of its signature:
// hundreds for io.Writer.Write in the standard library, the same ones at
// every such call. Held as a callee per site and call, the index took a
// tenth of the client's peak memory on all of GOROOT/src. Each callee is
// stored once and a site holds their numbers; once the index is complete,
// seal makes the sites with the same callees share one list.
type calleeIndex struct {
	callees []callee
	ids     map[callee]int32
	sites   map[token.Pos][]int32
}

func newCalleeIndex() *calleeIndex {
	return &calleeIndex{ids: map[callee]int32{}, sites: map[token.Pos][]int32{}}
}

// add records that the call at pos may reach ce, after the callees added
// for it before.
func (x *calleeIndex) add(pos token.Pos, ce callee) {
	id, ok := x.ids[ce]
	if !ok {
		id = int32(len(x.callees))
		x.ids[ce] = id
		x.callees = append(x.callees, ce)
	}
	x.sites[pos] = append(x.sites[pos], id)
}

// at is the callees of the call at pos, in the order they were added.
func (x *calleeIndex) at(pos token.Pos) calleeList {
	return calleeList{x.callees, x.sites[pos]}
}

// seal ends the adding: sites with the same callees, in the same order,
// share one list, sized to fit.
func (x *calleeIndex) seal() {
	shared := map[uint64][][]int32{}
	for pos, ids := range x.sites {
		h := hashIDs(ids)
		i := slices.IndexFunc(shared[h], func(s []int32) bool { return slices.Equal(s, ids) })
		if i >= 0 {
			x.sites[pos] = shared[h][i]
			continue
		}
		own := make([]int32, len(ids))
		copy(own, ids)
		shared[h] = append(shared[h], own)
		x.sites[pos] = own
	}
	x.ids = nil
}

func hashIDs(ids []int32) uint64 {
	h := uint64(14695981039346656037) // FNV-1a over the numbers
	for _, id := range ids {
		h = (h ^ uint64(uint32(id))) * 1099511628211
	}
	return h
}

// calleeList is the callees of one call.
type calleeList struct {
	callees []callee
	ids     []int32
}

func (cl calleeList) len() int         { return len(cl.ids) }
func (cl calleeList) get(i int) callee { return cl.callees[cl.ids[i]] }

// all returns the callees as a slice of their own.
func (cl calleeList) all() []callee {
	out := make([]callee, len(cl.ids))
	for i, id := range cl.ids {
		out[i] = cl.callees[id]
	}
	return out
}
