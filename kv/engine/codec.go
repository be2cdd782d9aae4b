package engine

import (
	"fmt"

	"github.com/grafo/grafo/kv"
	"github.com/klauspost/compress/s2"
)

// The format byte's high bits identify the encoding generation, so a
// future format can be told apart; the low bits are flags.
const (
	formatV1      = 0xC0
	formatMask    = 0xF0
	flagTombstone = 0x01
	flagCompress  = 0x02
	flagsKnown    = flagTombstone | flagCompress
)

// encodeCell appends the on-disk form of c to dst. It returns the encoding
// and, when the value was stored raw, the sub-slice of it holding the value
// (so the cache can share it instead of copying).
func encodeCell(dst []byte, c kv.Cell, compressMin int) (enc []byte, raw []byte) {
	flags := byte(0)
	if c.Tombstone {
		flags |= flagTombstone
	}
	start := len(dst)
	dst = append(dst, formatV1)
	dst = c.Version.AppendBinary(dst)
	if c.Tombstone || len(c.Value) == 0 {
		dst[start] |= flags
		return dst, nil
	}
	if compressMin > 0 && len(c.Value) >= compressMin {
		hdr := len(dst)
		need := hdr + s2.MaxEncodedLen(len(c.Value))
		if cap(dst) < need {
			grown := make([]byte, hdr, need)
			copy(grown, dst)
			dst = grown
		}
		block := s2.Encode(dst[hdr:need], c.Value)
		if len(block) < len(c.Value) {
			dst[start] |= flags | flagCompress
			return dst[:hdr+len(block)], nil
		}
		dst = dst[:hdr]
	}
	dst[start] |= flags
	off := len(dst)
	dst = append(dst, c.Value...)
	return dst, dst[off:]
}

// cellHeader is the part of a stored cell the write path needs: enough to
// compare versions and maintain counters, without decompressing.
type cellHeader struct {
	version   kv.Version
	tombstone bool
	compress  bool
	body      []byte // the stored value bytes (aliases the input)
}

func decodeHeader(b []byte) (cellHeader, error) {
	if len(b) == 0 {
		return cellHeader{}, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	f := b[0]
	if f&formatMask != formatV1 {
		return cellHeader{}, fmt.Errorf("%w: unknown format byte %#x", ErrCorrupt, f)
	}
	if f&^formatMask&^flagsKnown != 0 {
		return cellHeader{}, fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, f)
	}
	v, rest, err := kv.DecodeVersion(b[1:])
	if err != nil {
		return cellHeader{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	h := cellHeader{version: v, tombstone: f&flagTombstone != 0, compress: f&flagCompress != 0, body: rest}
	if h.tombstone && (h.compress || len(rest) > 0) {
		return cellHeader{}, fmt.Errorf("%w: tombstone with a value", ErrCorrupt)
	}
	if h.compress && len(rest) == 0 {
		return cellHeader{}, fmt.Errorf("%w: empty compressed value", ErrCorrupt)
	}
	return h, nil
}

// decodeVersion decodes a stored cell's version and tombstone flag alone:
// its value is neither copied nor decompressed.
func decodeVersion(b []byte) (kv.Cell, error) {
	h, err := decodeHeader(b)
	if err != nil {
		return kv.Cell{}, err
	}
	return kv.Cell{Version: h.version, Tombstone: h.tombstone}, nil
}

// decodeCell decodes a stored cell into freshly allocated memory: b may be
// bbolt's mmap, valid only inside its transaction.
func decodeCell(b []byte) (kv.Cell, error) {
	h, err := decodeHeader(b)
	if err != nil {
		return kv.Cell{}, err
	}
	c := kv.Cell{Version: h.version, Tombstone: h.tombstone}
	switch {
	case h.compress:
		// The block states its decoded length: refuse anything a stored
		// pair could not hold before allocating for it.
		n, err := s2.DecodedLen(h.body)
		if err != nil {
			return kv.Cell{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if n <= 0 || n > kv.MaxPairSize {
			return kv.Cell{}, fmt.Errorf("%w: decoded length %d", ErrCorrupt, n)
		}
		v, err := s2.Decode(make([]byte, n), h.body)
		if err != nil {
			return kv.Cell{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		c.Value = v
	case len(h.body) > kv.MaxPairSize:
		return kv.Cell{}, fmt.Errorf("%w: value of %d bytes", ErrCorrupt, len(h.body))
	case len(h.body) > 0:
		c.Value = append([]byte(nil), h.body...)
	}
	return c, nil
}
