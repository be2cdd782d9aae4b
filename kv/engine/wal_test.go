package engine_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/engine"
	"github.com/grafo/grafo/kv/engine/enginetest"
	bolt "go.etcd.io/bbolt"
)

// crashInWAL runs the crash child until it has acknowledged n writes per
// writer, all of them only in the write-ahead log, then kills it with
// SIGKILL. It returns the acknowledged keys.
func crashInWAL(t *testing.T, path string, n int) []string {
	t.Helper()
	cmd, sc := startCrashChild(t, crashEnv+"="+path, crashStopEnv+"="+strconv.Itoa(n))
	var acked []string
	for sc.Scan() && sc.Text() != "idle" {
		k, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			t.Fatalf("child said %q", sc.Text())
		}
		acked = append(acked, k)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if len(acked) != 8*n {
		t.Fatalf("child acknowledged %d writes, want %d", len(acked), 8*n)
	}
	return acked
}

func walSegments(t *testing.T, path string) []string {
	t.Helper()
	names, err := filepath.Glob(path + ".wal.*")
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// wantAllAcked checks every acknowledged key holds its value, and nothing
// else is stored.
func wantAllAcked(t *testing.T, e *engine.Engine, acked []string) {
	t.Helper()
	wantAcked(t, e, acked)
	if e.Keys() != int64(len(acked)) {
		t.Fatalf("Keys = %d, want %d", e.Keys(), len(acked))
	}
}

// A record cut short by the crash (here: a header announcing more bytes
// than follow) ends the replay; every whole record before it is applied.
func TestWALTornTailIsCut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.db")
	acked := crashInWAL(t, path, 20)
	segs := walSegments(t, path)
	if len(segs) != 1 {
		t.Fatalf("segments after the crash: %v, want one", segs)
	}
	f, err := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// length 4096, a CRC, a sequence number, and 10 bytes of payload.
	f.Write([]byte{0, 16, 0, 0, 1, 2, 3, 4, 9, 9, 9, 9, 9, 9, 9, 9, 1, 5, 'c', 'r', 'a', 's', 'h', 1, 2, 3})
	f.Close()
	e := enginetest.MustOpenPath(t, path, engine.Config{})
	wantAllAcked(t, e, acked)
	if err := enginetest.CheckInvariants(e); err != nil {
		t.Fatal(err)
	}
}

// Replaying records bbolt already holds changes nothing: a crash between
// a checkpoint and the removal of its segments, even with the replay
// position lost, leaves the same cells and counters.
func TestWALReplayIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "e.db")
	acked := crashInWAL(t, path, 20)
	saved := map[string][]byte{}
	for _, s := range walSegments(t, path) {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		saved[s] = b
	}
	e, err := engine.Open(path, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	wantAllAcked(t, e, acked)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for s, b := range saved {
		if err := os.WriteFile(s, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	forgetReplayPosition(t, path)
	e = enginetest.MustOpenPath(t, path, engine.Config{})
	wantAllAcked(t, e, acked)
	if err := enginetest.CheckInvariants(e); err != nil {
		t.Fatal(err)
	}
}

// forgetReplayPosition deletes the WAL position bbolt records, so the next
// Open replays every segment from the start.
func forgetReplayPosition(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Delete([]byte("walseq"))
	}); err != nil {
		t.Fatal(err)
	}
}

// A bad record anywhere but the tail of the last segment is not a crash's
// doing: Open refuses the file rather than skip acknowledged writes.
func TestWALCorruptEarlierSegmentFailsOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.db")
	crashInWAL(t, path, 5)
	segs := walSegments(t, path)
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	// An older segment (sequence 0 sorts first) holding the damaged copy.
	if err := os.WriteFile(path+".wal.0000000000000000", b, 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(path, engine.Config{})
	if err == nil {
		e.Close()
		t.Fatal("Open accepted a corrupt segment before the last")
	}
	if !errors.Is(err, engine.ErrCorrupt) {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
}

// A file written without the log (Config.NoWAL, or by an engine from
// before it) opens with it, and back: after a clean Close bbolt holds
// everything, whichever way it was written.
func TestWALAndNoWALShareTheFile(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t, engine.Config{NoWAL: true})
	mustApply(t, e, put("a", "1", 1), put("b", "2", 1), put("gone", "x", 1))
	mustApply(t, e, del("gone", 2))
	e = reopen(t, e, engine.Config{})
	wantCell(t, e, "a", "1", 1, false)
	wantCell(t, e, "gone", "", 2, true)
	mustApply(t, e, put("a", "3", 3), put("c", "4", 3))
	if err := e.Purge(ctx, [][]byte{[]byte("gone")}, []kv.Version{ver(2)}); err != nil {
		t.Fatal(err)
	}
	e = reopen(t, e, engine.Config{NoWAL: true})
	if segs := walSegments(t, e.Path()); len(segs) != 0 {
		t.Fatalf("segments left after a clean Close: %v", segs)
	}
	wantCell(t, e, "a", "3", 3, false)
	wantCell(t, e, "c", "4", 3, false)
	if _, err := e.Get(ctx, []byte("gone")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("purged key: %v, want kv.ErrNotFound", err)
	}
	if e.Keys() != 3 {
		t.Fatalf("Keys = %d, want 3", e.Keys())
	}
}

// Opening with the log switched off after a crash still replays it.
func TestNoWALReplaysACrashedLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.db")
	acked := crashInWAL(t, path, 10)
	e := enginetest.MustOpenPath(t, path, engine.Config{NoWAL: true})
	wantAllAcked(t, e, acked)
	if segs := walSegments(t, path); len(segs) != 0 {
		t.Fatalf("segments left after the replay: %v", segs)
	}
}
