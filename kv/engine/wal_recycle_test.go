package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/grafo/grafo/kv"
)

// writeSegment writes a segment of base whose records first, first+1, …
// each set key k to values[i] at version first+i, and closes it.
func writeSegment(t *testing.T, base string, first uint64, values ...string) *wal {
	t.Helper()
	w, err := createSegment(base, first)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range values {
		enc, _ := encodeCell(nil, kv.Cell{Value: []byte(v), Version: kv.Version{TS: first + uint64(i), Node: "n"}}, 0)
		if _, err := w.appendRecord(first+uint64(i), []change{{key: []byte("k"), enc: enc}}, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	return w
}

func openValue(t *testing.T, base string) (string, error) {
	t.Helper()
	e, err := Open(base, Config{})
	if err != nil {
		return "", err
	}
	defer e.Close()
	c, err := e.Get(context.Background(), []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	return string(c.Value), nil
}

// A recycled segment still holds its earlier incarnation's records after
// the new ones, here aligned on record boundaries and numbered as the new
// ones would be next (a data file deleted and recreated starts again at
// 1). Replay applies only the new incarnation's record: the old ones do
// not check against the new nonce.
func TestRecycledSegmentEndsAtItsOwnRecords(t *testing.T) {
	base := filepath.Join(t.TempDir(), "e.db")
	old := writeSegment(t, base, 1, "old1", "old2", "old3", "old4", "old5", "old6")
	if err := retire(base, segmentName(base, 1), 1); err != nil {
		t.Fatal(err)
	}
	if sp, _ := spares(base); len(sp) != 1 {
		t.Fatalf("spares after retiring a segment: %v, want one", sp)
	}
	w := writeSegment(t, base, 1, "new1")
	if sp, _ := spares(base); len(sp) != 0 {
		t.Fatalf("spares after a new segment: %v, want it taken", sp)
	}
	if w.nonce == old.nonce {
		t.Fatal("the recycled segment kept its nonce")
	}
	st, err := os.Stat(segmentName(base, 1))
	if err != nil || st.Size() <= w.off {
		t.Fatalf("segment of %v bytes (%v), want the old records after the new one's %d", st.Size(), err, w.off)
	}
	v, err := openValue(t, base)
	if err != nil || v != "new1" {
		t.Fatalf("after replay k = %q (%v), want new1", v, err)
	}
}

// A segment that ends before the next one starts has lost records that
// bbolt does not hold: Open refuses the file rather than skip
// acknowledged writes. Undamaged, the same log replays in full.
func TestSegmentEndingEarlyFailsOpen(t *testing.T) {
	for _, damage := range []bool{false, true} {
		t.Run(fmt.Sprint("damaged=", damage), func(t *testing.T) {
			base := filepath.Join(t.TempDir(), "e.db")
			w := writeSegment(t, base, 1, "v1", "v2", "v3", "v4", "v5")
			writeSegment(t, base, 6, "v6", "v7")
			if damage {
				f, err := os.OpenFile(segmentName(base, 1), os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				rec := (w.off - walHeader) / 5 // five records of one size
				b := []byte{0}
				f.ReadAt(b, walHeader+2*rec+rec/2) // inside the third
				b[0] ^= 0xff
				f.WriteAt(b, walHeader+2*rec+rec/2)
				f.Close()
			}
			v, err := openValue(t, base)
			switch {
			case damage && !errors.Is(err, ErrCorrupt):
				t.Fatalf("Open of a log missing records 3–5: %v (k = %q), want ErrCorrupt", err, v)
			case !damage && (err != nil || v != "v7"):
				t.Fatalf("after replay k = %q (%v), want v7", v, err)
			}
		})
	}
}

// A segment an engine wrote before segments had a header (format 1:
// records from offset 0, CRC of seq and payload) replays as before.
func TestFormat1SegmentReplays(t *testing.T) {
	base := filepath.Join(t.TempDir(), "e.db")
	var file []byte
	for i, v := range []string{"v1", "v2", "v3"} {
		enc, _ := encodeCell(nil, kv.Cell{Value: []byte(v), Version: kv.Version{TS: uint64(i + 1), Node: "n"}}, 0)
		rec := encodeRecord(nil, 0, uint64(i+1), []change{{key: []byte("k"), enc: enc}})
		binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(rec[8:], crcTable))
		file = append(file, rec...)
	}
	if err := os.WriteFile(segmentName(base, 1), file, 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := openValue(t, base)
	if err != nil || v != "v3" {
		t.Fatalf("after replay of a format-1 segment k = %q (%v), want v3", v, err)
	}
}

// The bytes after a segment's last record are stale or torn, and their
// length field says anything: replay never allocates more for a record
// than the file still holds.
func TestStaleLengthAllocatesNothingLarge(t *testing.T) {
	base := filepath.Join(t.TempDir(), "e.db")
	writeSegment(t, base, 1, "v1")
	f, err := os.OpenFile(segmentName(base, 1), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, walHeader)
	binary.LittleEndian.PutUint32(junk, maxWALRecord) // 1 GiB announced
	f.Write(junk)
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	v, err := openValue(t, base)
	runtime.ReadMemStats(&after)
	if err != nil || v != "v1" {
		t.Fatalf("after replay k = %q (%v), want v1", v, err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Fatalf("replay allocated %d MiB for a record the file does not hold", grew>>20)
	}
}
