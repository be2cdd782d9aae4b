package engine

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A WAL segment is a file PATH.wal.SEQ (SEQ: 16 hex digits, the sequence
// number of its first record) that starts with a header
//
//	"GWAL" | u32 format (2) | u64 nonce
//
// followed by records
//
//	u32 length of payload | u32 CRC-32C of nonce, seq and payload | u64 seq | payload
//
// and a payload is a list of changes, each
//
//	u8 kind (1 put, 2 delete) | uvarint key length | key | (put) uvarint cell length | encoded cell
//
// Records are physical (the cell a key ends up holding, or its removal),
// so replaying one twice leaves the same state, and their sequence numbers
// follow one another across segments.
//
// Segments are recycled: once checkpointed, a segment becomes a spare
// (PATH.wal-spare.SEQ) and a later segment is that file renamed, written
// over from its header on. Writing inside a file's existing size makes an
// fdatasync flush data alone; an append must also commit the file's new
// size to the file system's journal: 1.5–1.7× the CPU and 1.8× the time
// per sync here (BenchmarkWALSync, bench/results/wal-recycle.txt). A recycled
// segment holds stale records after the new ones; each incarnation has a
// new random nonce that every record's CRC covers, so stale records never
// check and the segment ends at the first record that does not.
//
// Segments written before the header existed (format 1: records from
// offset 0, CRC of seq and payload) are still replayed.
const (
	walHeader    = 16 // of a record; a segment's header has the same size
	walMagic     = "GWAL"
	walFormat    = 2
	changePut    = 1
	changeDelete = 2
	// maxWALRecord bounds a record's announced length, so a corrupt
	// header cannot make replay allocate gigabytes. walMagic read as a
	// length exceeds it: a format-1 segment cannot start with the magic.
	maxWALRecord = 1 << 30
	// spareSegments is how many checkpointed segments are kept for reuse:
	// a checkpoint covers one segment, and the next rotation takes it.
	spareSegments = 2
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// change is one key's new state: enc is the encoded cell, nil for a key
// that is removed.
type change struct {
	key, enc []byte
}

// wal is the log segment being appended to. Only the committer uses it.
type wal struct {
	base  string // the bbolt file's path; segments are base.wal.SEQ
	f     *os.File
	off   int64 // bytes of the header and of whole, synced records in f
	nonce uint64
	buf   []byte
}

func segmentName(base string, seq uint64) string {
	return fmt.Sprintf("%s.wal.%016x", base, seq)
}

func spareName(base string, seq uint64) string {
	return fmt.Sprintf("%s.wal-spare.%016x", base, seq)
}

// segments lists the WAL segments of base, oldest first, with the sequence
// number of each one's first record.
func segments(base string) ([]string, []uint64, error) {
	return numbered(base + ".wal.")
}

// spares lists the spare segments of base, oldest first.
func spares(base string) ([]string, error) {
	names, _, err := numbered(base + ".wal-spare.")
	return names, err
}

// numbered lists the files prefix+SEQ, in SEQ order.
func numbered(prefix string) ([]string, []uint64, error) {
	names, err := filepath.Glob(prefix + "*")
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(names) // fixed-width hex: name order is seq order
	var out []string
	var seqs []uint64
	for _, n := range names {
		seq, err := strconv.ParseUint(strings.TrimPrefix(n, prefix), 16, 64)
		if err != nil {
			continue // not ours
		}
		out, seqs = append(out, n), append(seqs, seq)
	}
	return out, seqs, nil
}

// createSegment starts a segment whose first record will be seq: a spare
// if there is one, else a new file. The header with the segment's new
// nonce is synced before the file takes the segment's name, and the
// directory after, so a crash leaves either a spare or an empty segment.
func createSegment(base string, seq uint64) (w *wal, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("engine: wal: %w", err)
		}
	}()
	name := segmentName(base, seq)
	from := name
	flags := os.O_CREATE | os.O_TRUNC | os.O_WRONLY
	if sp, err := spares(base); err == nil && len(sp) > 0 {
		from, flags = sp[0], os.O_WRONLY
	}
	f, err := os.OpenFile(from, flags, 0o600)
	if err != nil {
		return nil, err
	}
	w = &wal{base: base, f: f, off: walHeader, nonce: rand.Uint64()}
	hdr := make([]byte, walHeader)
	copy(hdr, walMagic)
	binary.LittleEndian.PutUint32(hdr[4:], walFormat)
	binary.LittleEndian.PutUint64(hdr[8:], w.nonce)
	_, err = f.WriteAt(hdr, 0)
	if err == nil {
		err = fdatasync(f)
	}
	if err == nil && from != name {
		err = os.Rename(from, name)
	}
	if err == nil {
		err = syncDir(filepath.Dir(base))
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// retire makes the segment name, whose records are all in bbolt, a spare,
// or deletes it when there are spares enough.
func retire(base, name string, seq uint64) error {
	if sp, err := spares(base); err == nil && len(sp) < spareSegments {
		return os.Rename(name, spareName(base, seq))
	}
	return os.Remove(name)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// appendRecord writes one record of changes and fdatasyncs it. On failure
// it cuts the file back to its last whole record, so a later record never
// follows a torn one; if even that fails the log is unusable (broken).
// Without sync (Config.NoSync) the record is written, not synced.
func (w *wal) appendRecord(seq uint64, changes []change, sync bool) (broken bool, err error) {
	w.buf = encodeRecord(w.buf[:0], w.nonce, seq, changes)
	if len(w.buf)-walHeader > maxWALRecord {
		// Replay would take it for corruption: refuse it whole instead.
		return false, fmt.Errorf("engine: wal: a batch of %d bytes exceeds one record's %d", len(w.buf), maxWALRecord)
	}
	if _, err = w.f.WriteAt(w.buf, w.off); err == nil && sync {
		err = fdatasync(w.f)
	}
	if err != nil {
		if terr := w.f.Truncate(w.off); terr != nil {
			return true, fmt.Errorf("engine: wal: %w (and cutting the torn record: %v)", err, terr)
		}
		return false, fmt.Errorf("engine: wal: %w", err)
	}
	w.off += int64(len(w.buf))
	if cap(w.buf) > keepRecordBuf {
		w.buf = nil
	}
	return false, nil
}

// keepRecordBuf is the largest record buffer kept between commits.
const keepRecordBuf = 1 << 20

func encodeRecord(dst []byte, nonce, seq uint64, changes []change) []byte {
	dst = append(dst, make([]byte, walHeader)...)
	for _, c := range changes {
		if c.enc == nil {
			dst = append(dst, changeDelete)
			dst = binary.AppendUvarint(dst, uint64(len(c.key)))
			dst = append(dst, c.key...)
			continue
		}
		dst = append(dst, changePut)
		dst = binary.AppendUvarint(dst, uint64(len(c.key)))
		dst = append(dst, c.key...)
		dst = binary.AppendUvarint(dst, uint64(len(c.enc)))
		dst = append(dst, c.enc...)
	}
	binary.LittleEndian.PutUint32(dst[0:], uint32(len(dst)-walHeader))
	binary.LittleEndian.PutUint64(dst[8:], seq)
	binary.LittleEndian.PutUint32(dst[4:], recordCRC(nonce, dst[8:]))
	return dst
}

// recordCRC is the CRC of a record's seq and payload, seeded with its
// segment's nonce (format 2).
func recordCRC(nonce uint64, seqAndPayload []byte) uint32 {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], nonce)
	return crc32.Update(crc32.Checksum(n[:], crcTable), crcTable, seqAndPayload)
}

func (w *wal) close() error { return w.f.Close() }

// errTornRecord marks where a format-1 segment stops holding whole
// records; errBadRecord a format-2 record that checks but is not the one
// its place in the log says (corruption, or a bug).
var (
	errTornRecord = errors.New("torn or corrupt record")
	errBadRecord  = errors.New("record out of sequence or undecodable")
)

// readSegment calls fn for each record of the segment at name, whose
// first record is first, in order, and returns the sequence number the
// record after its last would have. A format-2 segment ends at the first
// record that does not check (a stale record of an earlier incarnation,
// or a write cut short by a crash); only a record that checks but is out
// of sequence or does not decode is an error. A format-1 segment returns
// errTornRecord if bytes follow its last whole record.
func readSegment(name string, first uint64, fn func(seq uint64, changes []change) error) (next uint64, err error) {
	f, err := os.Open(name)
	if err != nil {
		return first, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return first, err
	}
	r := &limited{r: bufio.NewReaderSize(f, 1<<16), left: st.Size()}
	var hdr [walHeader]byte
	n, err := io.ReadFull(r, hdr[:])
	if n == 0 && err == io.EOF {
		return first, nil
	}
	if string(hdr[:4]) != walMagic {
		if err != nil {
			return first, errTornRecord
		}
		r.left += walHeader
		r.r = io.MultiReader(bytes.NewReader(hdr[:]), r.r)
		return readFormat1(r, first, fn)
	}
	if err != nil || binary.LittleEndian.Uint32(hdr[4:]) != walFormat {
		// A header is synced before the segment is used: a torn or
		// unknown one holds no record of ours.
		if err == nil {
			return first, fmt.Errorf("%w: segment format %d", errBadRecord, binary.LittleEndian.Uint32(hdr[4:]))
		}
		return first, nil
	}
	nonce := binary.LittleEndian.Uint64(hdr[8:])
	next = first
	for {
		body, _ := readRecord(r, hdr[:], func(b []byte) uint32 { return recordCRC(nonce, b) })
		if body == nil {
			return next, nil
		}
		seq := binary.LittleEndian.Uint64(body)
		changes, derr := decodeChanges(body[8:])
		if seq != next || derr != nil {
			return next, fmt.Errorf("%w: seq %d where %d was due", errBadRecord, seq, next)
		}
		if err := fn(seq, changes); err != nil {
			return next, err
		}
		next++
	}
}

// limited reads a segment and knows how many of its bytes are left, so
// that the length of a stale or torn record (whatever its bytes say) never
// makes readRecord allocate more than the file holds.
type limited struct {
	r    io.Reader
	left int64
}

func (l *limited) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// readRecord reads one record from r into a new buffer (seq and payload).
// It returns nil if the record is not whole or its CRC (by crc) does not
// check, and with end set if r ended exactly before it.
func readRecord(r *limited, hdr []byte, crc func([]byte) uint32) (body []byte, end bool) {
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err == io.EOF
	}
	n := binary.LittleEndian.Uint32(hdr[0:])
	if n > maxWALRecord || int64(n) > r.left {
		return nil, false
	}
	body = make([]byte, 8+int(n))
	copy(body, hdr[8:])
	if _, err := io.ReadFull(r, body[8:]); err != nil || crc(body) != binary.LittleEndian.Uint32(hdr[4:]) {
		return nil, false
	}
	return body, false
}

// readFormat1 reads a segment written before the header existed.
func readFormat1(r *limited, first uint64, fn func(seq uint64, changes []change) error) (uint64, error) {
	next := first
	var hdr [walHeader]byte
	for {
		body, end := readRecord(r, hdr[:], func(b []byte) uint32 { return crc32.Checksum(b, crcTable) })
		if body == nil {
			if end {
				return next, nil
			}
			return next, errTornRecord
		}
		changes, err := decodeChanges(body[8:])
		if err != nil {
			return next, errTornRecord
		}
		seq := binary.LittleEndian.Uint64(body)
		if err := fn(seq, changes); err != nil {
			return next, err
		}
		next = seq + 1
	}
}

func decodeChanges(p []byte) ([]change, error) {
	var out []change
	for len(p) > 0 {
		kind := p[0]
		p = p[1:]
		key, rest, err := lengthPrefixed(p)
		if err != nil {
			return nil, err
		}
		p = rest
		switch kind {
		case changeDelete:
			out = append(out, change{key: key})
		case changePut:
			enc, rest, err := lengthPrefixed(p)
			if err != nil || len(enc) == 0 {
				return nil, errTornRecord
			}
			p = rest
			out = append(out, change{key: key, enc: enc})
		default:
			return nil, errTornRecord
		}
	}
	return out, nil
}

func lengthPrefixed(p []byte) (field, rest []byte, err error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return nil, nil, errTornRecord
	}
	return p[k : k+int(n) : k+int(n)], p[k+int(n):], nil
}
