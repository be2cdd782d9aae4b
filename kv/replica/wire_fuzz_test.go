package replica

import (
	"reflect"
	"testing"

	"github.com/grafo/grafo/kv"
)

// FuzzWire feeds arbitrary bytes to every replica RPC decoder: they must
// return an error or a value, never panic or allocate without bound, and
// what decodes must re-encode to the same bytes.
func FuzzWire(f *testing.F) {
	f.Add(encodeEntries([]kv.Entry{{Key: []byte("k"), Cell: kv.Cell{Value: []byte("v"), Version: kv.Version{TS: 1, Node: "n"}}}}))
	f.Add(encodeKeys([][]byte{[]byte("a"), []byte("b")}))
	f.Add(encodeCells([]kv.Cell{{}, {Tombstone: true, Version: kv.Version{TS: 9, Node: "x"}}}))
	f.Add(scanRequest{Prefix: []byte("p\x00"), Limit: 10}.encode())
	f.Add(rangeRequest{Ranges: [][2]uint64{{1, 2}}, Limit: 5}.encode())
	f.Add(encodeScanResponse(nil, true))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if es, err := decodeEntries(b); err == nil {
			again, err := decodeEntries(encodeEntries(es))
			if err != nil || !reflect.DeepEqual(normalize(again), normalize(es)) {
				t.Fatalf("entries do not survive a round trip: %x: %v", b, err)
			}
		}
		decodeKeys(b)
		decodeCells(b)
		decodeScanRequest(b)
		decodeRangeRequest(b)
		decodeScanResponse(b)
		decodeApplyResults(b)
	})
}

// normalize makes empty and nil byte slices compare equal, and drops what
// a zero version cannot carry on the wire.
func normalize(es []kv.Entry) []kv.Entry {
	out := make([]kv.Entry, len(es))
	for i, e := range es {
		c := e.Cell
		if c.Version.IsZero() {
			c = kv.Cell{}
		}
		out[i] = kv.Entry{Key: append([]byte{}, e.Key...), Cell: kv.Cell{Value: append([]byte{}, c.Value...), Version: c.Version, Tombstone: c.Tombstone}}
	}
	return out
}
