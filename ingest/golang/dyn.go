package golang

import (
	"encoding/binary"
	"go/token"
	"iter"
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
	shared := map[string][]int32{} // by the list's bytes
	var key []byte
	for pos, ids := range x.sites {
		key = key[:0]
		for _, id := range ids {
			key = binary.LittleEndian.AppendUint32(key, uint32(id))
		}
		if s, ok := shared[string(key)]; ok {
			x.sites[pos] = s
			continue
		}
		own := make([]int32, len(ids))
		copy(own, ids)
		shared[string(key)] = own
		x.sites[pos] = own
	}
	x.ids = nil
}

// calleeList is the callees of one call.
type calleeList struct {
	callees []callee
	ids     []int32
}

func (cl calleeList) len() int { return len(cl.ids) }

// all yields the callees in order.
func (cl calleeList) all() iter.Seq[callee] {
	return func(yield func(callee) bool) {
		for _, id := range cl.ids {
			if !yield(cl.callees[id]) {
				return
			}
		}
	}
}
