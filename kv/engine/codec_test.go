package engine

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/grafo/grafo/kv"
)

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	random := make([]byte, 4000)
	rand.Read(random)
	text := []byte(strings.Repeat("func main() { fmt.Println(\"grafo\") }\n", 100))
	cases := []struct {
		name           string
		cell           kv.Cell
		wantCompressed bool
	}{
		{"empty", kv.Cell{Version: kv.Version{TS: 1, Node: "n1"}}, false},
		{"small", kv.Cell{Value: []byte("hello"), Version: kv.Version{TS: 2, Node: "n"}}, false},
		{"tombstone", kv.Cell{Version: kv.Version{TS: 3, Node: "node-3"}, Tombstone: true}, false},
		{"compressible", kv.Cell{Value: text, Version: kv.Version{TS: 4, Node: strings.Repeat("x", 255)}}, true},
		{"incompressible", kv.Cell{Value: random, Version: kv.Version{TS: 5}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			enc, raw := encodeCell([]byte("prefix"), tc.cell, DefaultCompressMin)
			if !bytes.HasPrefix(enc, []byte("prefix")) {
				t.Fatalf("encodeCell clobbered dst")
			}
			enc = enc[len("prefix"):]
			h, err := decodeHeader(enc)
			if err != nil {
				t.Fatal(err)
			}
			if h.compress != tc.wantCompressed {
				t.Errorf("compressed = %v, want %v", h.compress, tc.wantCompressed)
			}
			if tc.wantCompressed && len(enc) >= len(tc.cell.Value) {
				t.Errorf("compressed encoding is %d bytes for a %d-byte value", len(enc), len(tc.cell.Value))
			}
			if !tc.wantCompressed && !tc.cell.Tombstone && !bytes.Equal(raw, tc.cell.Value) {
				t.Errorf("raw = %q, want the value", raw)
			}
			got, err := decodeCell(enc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Value, tc.cell.Value) || got.Version != tc.cell.Version || got.Tombstone != tc.cell.Tombstone {
				t.Errorf("round trip = %+v, want %+v", got, tc.cell)
			}
		})
	}
}

func TestCodecCompressMinRespected(t *testing.T) {
	t.Parallel()
	v := bytes.Repeat([]byte("a"), 100)
	enc, _ := encodeCell(nil, kv.Cell{Value: v, Version: kv.Version{TS: 1}}, 101)
	if h, _ := decodeHeader(enc); h.compress {
		t.Error("value shorter than CompressMin was compressed")
	}
	enc, _ = encodeCell(nil, kv.Cell{Value: v, Version: kv.Version{TS: 1}}, -1)
	if h, _ := decodeHeader(enc); h.compress {
		t.Error("compression disabled but value was compressed")
	}
	enc, _ = encodeCell(nil, kv.Cell{Value: v, Version: kv.Version{TS: 1}}, 100)
	if h, _ := decodeHeader(enc); !h.compress {
		t.Error("value of exactly CompressMin bytes was not compressed")
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	t.Parallel()
	good, _ := encodeCell(nil, kv.Cell{Value: bytes.Repeat([]byte("ab"), 200), Version: kv.Version{TS: 9, Node: "n"}}, 1)
	bad := [][]byte{
		nil,
		{0x00},
		{formatV1}, // no version
		{formatV1 | 0x04, 0, 0, 0, 0, 0, 0, 0, 1, 0},                                                     // unknown flag
		{0x10, 0, 0, 0, 0, 0, 0, 0, 1, 0},                                                                // unknown format
		append([]byte{formatV1 | flagTombstone, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 'x'),                         // tombstone with value
		{formatV1 | flagCompress, 0, 0, 0, 0, 0, 0, 0, 1, 0},                                             // compressed, empty
		append([]byte{formatV1 | flagCompress, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 0xff, 0xff, 0xff, 0xff, 0x0f), // huge decoded length
		good[:len(good)-3], // truncated block
	}
	for i, b := range bad {
		if _, err := decodeCell(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("case %d (%x): err = %v, want ErrCorrupt", i, b, err)
		}
	}
}

// FuzzDecodeCell feeds arbitrary bytes to the decoder: it must never panic
// or allocate past the pair limit, and whatever it accepts must re-encode
// to a cell that decodes the same.
func FuzzDecodeCell(f *testing.F) {
	seeds := []kv.Cell{
		{Value: []byte("v"), Version: kv.Version{TS: 1, Node: "a"}},
		{Version: kv.Version{TS: 2, Node: "b"}, Tombstone: true},
		{Value: bytes.Repeat([]byte("grafo "), 300), Version: kv.Version{TS: 3, Node: "c"}},
	}
	for _, c := range seeds {
		enc, _ := encodeCell(nil, c, DefaultCompressMin)
		f.Add(enc)
	}
	f.Add([]byte{})
	f.Add([]byte{formatV1 | flagCompress, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCell(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if len(c.Value) > kv.MaxPairSize {
			t.Fatalf("decoded %d bytes", len(c.Value))
		}
		enc, _ := encodeCell(nil, c, DefaultCompressMin)
		c2, err := decodeCell(enc)
		if err != nil {
			t.Fatalf("re-encoded cell does not decode: %v", err)
		}
		if !bytes.Equal(c.Value, c2.Value) || c.Version != c2.Version || c.Tombstone != c2.Tombstone {
			t.Fatalf("re-encode changed the cell: %+v vs %+v", c, c2)
		}
	})
}
