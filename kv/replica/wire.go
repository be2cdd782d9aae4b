package replica

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/grafo/grafo/kv"
)

// The replica RPCs carry entries in a compact binary form: a uvarint count,
// then per entry: uvarint key length, key, flags byte (1 = tombstone,
// 2 = present), version (kv.Version.AppendBinary), uvarint value length,
// value. Decoding never panics on hostile input: it returns errBadMessage.

var errBadMessage = errors.New("replica: malformed message")

const (
	flagTombstone = 1
	flagPresent   = 2
)

type encoder struct{ b []byte }

func (e *encoder) uvarint(n uint64) { e.b = binary.AppendUvarint(e.b, n) }
func (e *encoder) bytes(p []byte)   { e.uvarint(uint64(len(p))); e.b = append(e.b, p...) }

func (e *encoder) cell(c kv.Cell) {
	var f byte
	if c.Tombstone {
		f |= flagTombstone
	}
	if !c.Version.IsZero() {
		f |= flagPresent
	}
	e.b = append(e.b, f)
	if f&flagPresent != 0 {
		e.b = c.Version.AppendBinary(e.b)
		e.bytes(c.Value)
	}
}

func (e *encoder) entries(es []kv.Entry) {
	e.uvarint(uint64(len(es)))
	for _, en := range es {
		e.bytes(en.Key)
		e.cell(en.Cell)
	}
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errBadMessage
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return n
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) byte1() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) cell() kv.Cell {
	f := d.byte1()
	if f&^(flagTombstone|flagPresent) != 0 || f == flagTombstone {
		d.fail() // unknown flags, or a tombstone without a version
	}
	if d.err != nil || f&flagPresent == 0 {
		return kv.Cell{}
	}
	v, rest, err := kv.DecodeVersion(d.b)
	if err != nil {
		d.fail()
		return kv.Cell{}
	}
	d.b = rest
	val := d.bytes()
	return kv.Cell{Value: val, Version: v, Tombstone: f&flagTombstone != 0}
}

// count reads a length that must be backed by at least min bytes per item,
// so a hostile count cannot make us allocate gigabytes.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/min+1) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) entries() []kv.Entry {
	n := d.count(2)
	out := make([]kv.Entry, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		k := d.bytes()
		c := d.cell()
		out = append(out, kv.Entry{Key: k, Cell: c})
	}
	return out
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errBadMessage, len(d.b))
	}
	return d.err
}

// Messages.

func encodeEntries(es []kv.Entry) []byte {
	// Sized up front: growing the buffer copied a 1 KiB write's value
	// several times.
	n := binary.MaxVarintLen64
	for _, en := range es {
		n += len(en.Key) + len(en.Cell.Value) + len(en.Cell.Version.Node) + 2*binary.MaxVarintLen64 + 10
	}
	e := encoder{b: make([]byte, 0, n)}
	e.entries(es)
	return e.b
}

func decodeEntries(b []byte) ([]kv.Entry, error) {
	d := decoder{b: b}
	es := d.entries()
	return es, d.done()
}

func encodeKeys(keys [][]byte) []byte {
	var e encoder
	e.uvarint(uint64(len(keys)))
	for _, k := range keys {
		e.bytes(k)
	}
	return e.b
}

func decodeKeys(b []byte) ([][]byte, error) {
	d := decoder{b: b}
	n := d.count(1)
	keys := make([][]byte, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		keys = append(keys, d.bytes())
	}
	return keys, d.done()
}

func encodeCells(cs []kv.Cell) []byte {
	n := binary.MaxVarintLen64
	for _, c := range cs {
		n += len(c.Value) + len(c.Version.Node) + binary.MaxVarintLen64 + 10
	}
	e := encoder{b: make([]byte, 0, n)}
	e.uvarint(uint64(len(cs)))
	for _, c := range cs {
		e.cell(c)
	}
	return e.b
}

func decodeCells(b []byte) ([]kv.Cell, error) {
	d := decoder{b: b}
	n := d.count(1)
	cs := make([]kv.Cell, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		cs = append(cs, d.cell())
	}
	return cs, d.done()
}

// applyStatus is what a replica did with one entry of an apply call.
type applyStatus byte

const (
	// statusRefused: the replica holds a newer version (applyResult.Held)
	// and kept it.
	statusRefused applyStatus = iota
	// statusApplied: the entry was newer and is now durable.
	statusApplied
	// statusHeld: the replica already held exactly this version.
	statusHeld
)

// applyResult is one entry's outcome; Held is set when it was refused.
type applyResult struct {
	Status applyStatus
	Held   kv.Version
}

// accepted reports whether the replica holds the entry's version.
func (r applyResult) accepted() bool { return r.Status != statusRefused }

// An apply response is a uvarint count, then per entry a status byte and,
// for a refused entry, the version the replica holds (AppendBinary form).
func encodeApplyResults(rs []applyResult) []byte {
	var e encoder
	e.uvarint(uint64(len(rs)))
	for _, r := range rs {
		e.b = append(e.b, byte(r.Status))
		if r.Status == statusRefused {
			e.b = r.Held.AppendBinary(e.b)
		}
	}
	return e.b
}

func decodeApplyResults(b []byte) ([]applyResult, error) {
	d := decoder{b: b}
	n := d.count(1)
	out := make([]applyResult, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		r := applyResult{Status: applyStatus(d.byte1())}
		switch r.Status {
		case statusApplied, statusHeld:
		case statusRefused:
			v, rest, err := kv.DecodeVersion(d.b)
			if err != nil || v.IsZero() {
				d.fail()
				break
			}
			d.b, r.Held = rest, v
		default:
			d.fail()
		}
		out = append(out, r)
	}
	return out, d.done()
}

type scanRequest struct {
	Prefix, After []byte
	Limit         int
}

func (s scanRequest) encode() []byte {
	var e encoder
	e.bytes(s.Prefix)
	e.bytes(s.After)
	e.uvarint(uint64(s.Limit))
	return e.b
}

func decodeScanRequest(b []byte) (scanRequest, error) {
	d := decoder{b: b}
	s := scanRequest{Prefix: d.bytes(), After: d.after(), Limit: d.limit()}
	return s, d.done()
}

// scanResponse is a page of entries (tombstones included) and whether the
// replica stopped because of the limit.
func encodeScanResponse(es []kv.Entry, more bool) []byte {
	var e encoder
	if more {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
	e.entries(es)
	return e.b
}

func decodeScanResponse(b []byte) ([]kv.Entry, bool, error) {
	d := decoder{b: b}
	more := d.byte1() == 1
	es := d.entries()
	return es, more, d.done()
}

// rangeRequest asks a node for the entries whose partition hashes into
// any of the ranges, starting after a key (paging).
type rangeRequest struct {
	Ranges [][2]uint64
	After  []byte
	Limit  int
}

func (r rangeRequest) encode() []byte {
	var e encoder
	e.uvarint(uint64(len(r.Ranges)))
	for _, rg := range r.Ranges {
		e.b = binary.BigEndian.AppendUint64(e.b, rg[0])
		e.b = binary.BigEndian.AppendUint64(e.b, rg[1])
	}
	e.bytes(r.After)
	e.uvarint(uint64(r.Limit))
	return e.b
}

func decodeRangeRequest(b []byte) (rangeRequest, error) {
	d := decoder{b: b}
	n := d.count(16)
	r := rangeRequest{Ranges: make([][2]uint64, 0, n)}
	for i := 0; i < n && d.err == nil; i++ {
		if len(d.b) < 16 {
			d.fail()
			break
		}
		r.Ranges = append(r.Ranges, [2]uint64{binary.BigEndian.Uint64(d.b), binary.BigEndian.Uint64(d.b[8:])})
		d.b = d.b[16:]
	}
	r.After, r.Limit = d.after(), d.limit()
	return r, d.done()
}

// after decodes a page's cursor: nil when empty (from the start).
func (d *decoder) after() []byte {
	b := d.bytes()
	if len(b) == 0 {
		return nil
	}
	return b
}

// limit decodes a page's limit, refusing absurd ones.
func (d *decoder) limit() int {
	lim := d.uvarint()
	if lim > 1<<20 {
		d.fail()
	}
	return int(lim)
}
