package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A WAL segment is a file PATH.wal.SEQ (SEQ: 16 hex digits, the sequence
// number of its first record) holding records
//
//	u32 length of payload | u32 CRC-32C of seq and payload | u64 seq | payload
//
// and a payload is a list of changes, each
//
//	u8 kind (1 put, 2 delete) | uvarint key length | key | (put) uvarint cell length | encoded cell
//
// Records are physical (the cell a key ends up holding, or its removal),
// so replaying one twice leaves the same state.
const (
	walHeader    = 16
	changePut    = 1
	changeDelete = 2
	// maxWALRecord bounds a record's announced length, so a corrupt
	// header cannot make replay allocate gigabytes.
	maxWALRecord = 1 << 30
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// change is one key's new state: enc is the encoded cell, nil for a key
// that is removed.
type change struct {
	key, enc []byte
}

// wal is the log segment being appended to. Only the committer uses it.
type wal struct {
	base string // the bbolt file's path; segments are base.wal.SEQ
	f    *os.File
	off  int64 // bytes of whole, synced records in f
	buf  []byte
}

func segmentName(base string, seq uint64) string {
	return fmt.Sprintf("%s.wal.%016x", base, seq)
}

// segments lists the WAL segments of base, oldest first, with the sequence
// number of each one's first record.
func segments(base string) ([]string, []uint64, error) {
	names, err := filepath.Glob(base + ".wal.*")
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(names) // fixed-width hex: name order is seq order
	var out []string
	var seqs []uint64
	for _, n := range names {
		seq, err := strconv.ParseUint(strings.TrimPrefix(n, base+".wal."), 16, 64)
		if err != nil {
			continue // not ours
		}
		out, seqs = append(out, n), append(seqs, seq)
	}
	return out, seqs, nil
}

// createSegment starts a new, empty segment whose first record will be seq
// and syncs the directory, so the file survives a power cut.
func createSegment(base string, seq uint64) (*wal, error) {
	f, err := os.OpenFile(segmentName(base, seq), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("engine: wal: %w", err)
	}
	if err := syncDir(filepath.Dir(base)); err != nil {
		f.Close()
		return nil, fmt.Errorf("engine: wal: %w", err)
	}
	return &wal{base: base, f: f}, nil
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
	w.buf = encodeRecord(w.buf[:0], seq, changes)
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

func encodeRecord(dst []byte, seq uint64, changes []change) []byte {
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
	binary.LittleEndian.PutUint32(dst[4:], crc32.Checksum(dst[8:], crcTable))
	return dst
}

func (w *wal) close() error { return w.f.Close() }

// errTornRecord marks where a segment stops holding whole records.
var errTornRecord = errors.New("torn or corrupt record")

// readSegment calls fn for each whole record of the segment at name, in
// order. It returns the offset after the last whole record, and
// errTornRecord if bytes follow it that are not a whole record (a write
// cut short by a crash, or corruption).
func readSegment(name string, fn func(seq uint64, changes []change) error) (int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	var off int64
	var hdr [walHeader]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				return off, nil
			}
			return off, errTornRecord
		}
		n := binary.LittleEndian.Uint32(hdr[0:])
		if n > maxWALRecord {
			return off, errTornRecord
		}
		body := make([]byte, 8+int(n))
		copy(body, hdr[8:])
		if _, err := io.ReadFull(r, body[8:]); err != nil || crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(hdr[4:]) {
			return off, errTornRecord
		}
		changes, err := decodeChanges(body[8:])
		if err != nil {
			return off, errTornRecord
		}
		if err := fn(binary.LittleEndian.Uint64(body), changes); err != nil {
			return off, err
		}
		off += walHeader + int64(n)
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
