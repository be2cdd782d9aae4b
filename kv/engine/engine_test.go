package engine_test

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/engine"
	"github.com/grafo/grafo/kv/engine/enginetest"
)

var ctx = context.Background()

func ver(ts uint64) kv.Version { return kv.Version{TS: ts, Node: "n1"} }

func put(key string, value string, ts uint64) kv.Entry {
	return kv.Entry{Key: []byte(key), Cell: kv.Cell{Value: []byte(value), Version: ver(ts)}}
}

func del(key string, ts uint64) kv.Entry {
	return kv.Entry{Key: []byte(key), Cell: kv.Cell{Version: ver(ts), Tombstone: true}}
}

func mustApply(t *testing.T, e *engine.Engine, entries ...kv.Entry) []bool {
	t.Helper()
	applied, err := e.Apply(ctx, entries...)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(applied) != len(entries) {
		t.Fatalf("Apply returned %d results for %d entries", len(applied), len(entries))
	}
	return applied
}

func mustGet(t *testing.T, e *engine.Engine, key string) kv.Cell {
	t.Helper()
	c, err := e.Get(ctx, []byte(key))
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return c
}

func wantCell(t *testing.T, e *engine.Engine, key, value string, ts uint64, tomb bool) {
	t.Helper()
	c := mustGet(t, e, key)
	if string(c.Value) != value || c.Version != ver(ts) || c.Tombstone != tomb {
		t.Fatalf("Get(%q) = {%q %v tomb=%v}, want {%q %v tomb=%v}", key, c.Value, c.Version, c.Tombstone, value, ver(ts), tomb)
	}
}

func reopen(t *testing.T, e *engine.Engine, cfg engine.Config) *engine.Engine {
	t.Helper()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return enginetest.MustOpenPath(t, e.Path(), cfg)
}

func TestVersionsLastWriteWins(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t)
	if got := mustApply(t, e, put("k", "v5", 5)); !got[0] {
		t.Fatal("first write to a key did not apply")
	}
	if got := mustApply(t, e, put("k", "v3", 3)); got[0] {
		t.Fatal("older write applied")
	}
	wantCell(t, e, "k", "v5", 5, false)
	// Equal version: idempotent, the stored value does not change even if
	// the bytes differ (a retry carries the same bytes anyway).
	if got := mustApply(t, e, put("k", "other", 5)); got[0] {
		t.Fatal("write with the stored version applied again")
	}
	wantCell(t, e, "k", "v5", 5, false)
	// Same TS, higher node id is newer.
	higher := kv.Entry{Key: []byte("k"), Cell: kv.Cell{Value: []byte("n2"), Version: kv.Version{TS: 5, Node: "n2"}}}
	if got := mustApply(t, e, higher); !got[0] {
		t.Fatal("tie broken by node id did not apply")
	}
	if got := mustApply(t, e, put("k", "v9", 9)); !got[0] {
		t.Fatal("newer write did not apply")
	}
	wantCell(t, e, "k", "v9", 9, false)
	if _, err := e.Get(ctx, []byte("never")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v, want kv.ErrNotFound", err)
	}
}

func TestConflictsWithinOneBatch(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t)
	got := mustApply(t, e, put("a", "new", 2), put("a", "old", 1), put("b", "old", 1), put("b", "new", 2), del("c", 3), put("c", "x", 2))
	want := []bool{true, false, true, true, true, false}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("applied = %v, want %v", got, want)
		}
	}
	wantCell(t, e, "a", "new", 2, false)
	wantCell(t, e, "b", "new", 2, false)
	wantCell(t, e, "c", "", 3, true)
	if e.Keys() != 2 {
		t.Fatalf("Keys() = %d, want 2", e.Keys())
	}
}

func TestTombstones(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t)
	mustApply(t, e, put("k", "v", 10))
	if got := mustApply(t, e, del("k", 5)); got[0] {
		t.Fatal("delete older than the value applied")
	}
	wantCell(t, e, "k", "v", 10, false)
	if got := mustApply(t, e, del("k", 20)); !got[0] {
		t.Fatal("newer delete did not apply")
	}
	wantCell(t, e, "k", "", 20, true)
	if e.Keys() != 0 || e.Stats().Tombstones != 1 {
		t.Fatalf("Keys=%d tombstones=%d, want 0, 1", e.Keys(), e.Stats().Tombstones)
	}
	if got := mustApply(t, e, put("k", "late", 15)); got[0] {
		t.Fatal("write older than the tombstone resurrected the key")
	}
	wantCell(t, e, "k", "", 20, true)
	if got := mustApply(t, e, put("k", "back", 30)); !got[0] {
		t.Fatal("newer write did not resurrect the key")
	}
	wantCell(t, e, "k", "back", 30, false)
	if e.Keys() != 1 || e.Stats().Tombstones != 0 {
		t.Fatalf("Keys=%d tombstones=%d, want 1, 0", e.Keys(), e.Stats().Tombstones)
	}
	// A delete of a key never written still stores a tombstone, so an
	// older write arriving later from another replica loses.
	mustApply(t, e, del("ghost", 7))
	if got := mustApply(t, e, put("ghost", "x", 6)); got[0] {
		t.Fatal("write older than a tombstone of an unknown key applied")
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t)
	key := "k"
	fits := strings.Repeat("v", kv.MaxPairSize-len(key))
	if got := mustApply(t, e, put(key, fits, 1)); !got[0] {
		t.Fatal("pair of exactly MaxPairSize bytes did not apply")
	}
	if c := mustGet(t, e, key); len(c.Value) != kv.MaxPairSize-len(key) {
		t.Fatalf("stored %d bytes", len(c.Value))
	}
	tooBig := fits + "v"
	_, err := e.Apply(ctx, put("ok", "fine", 1), put("big", tooBig, 1))
	if !errors.Is(err, kv.ErrTooLarge) {
		t.Fatalf("Apply of a %d-byte pair: %v, want kv.ErrTooLarge", len("big")+len(tooBig), err)
	}
	_, err = e.Apply(ctx, put("ok2", "fine", 1), put("", "v", 1))
	if !errors.Is(err, kv.ErrEmptyKey) {
		t.Fatalf("Apply with an empty key: %v, want kv.ErrEmptyKey", err)
	}
	_, err = e.Apply(ctx, kv.Entry{Key: kv.Key("", "row"), Cell: kv.Cell{Version: ver(1)}})
	if !errors.Is(err, kv.ErrEmptyKey) {
		t.Fatalf("Apply with an empty partition: %v, want kv.ErrEmptyKey", err)
	}
	_, err = e.Apply(ctx, kv.Entry{Key: []byte("x"), Cell: kv.Cell{Version: kv.Version{TS: 1, Node: strings.Repeat("n", 256)}}})
	if !errors.Is(err, engine.ErrInvalidVersion) {
		t.Fatalf("Apply with a 256-byte node id: %v, want ErrInvalidVersion", err)
	}
	_, err = e.Apply(ctx, put("y", "v", 1), kv.Entry{Key: []byte("z"), Cell: kv.Cell{Value: []byte("v")}})
	if !errors.Is(err, engine.ErrInvalidVersion) {
		t.Fatalf("Apply with a zero version: %v, want ErrInvalidVersion", err)
	}
	for _, k := range []string{"ok", "big", "ok2", "x", "y", "z"} {
		if _, err := e.Get(ctx, []byte(k)); !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("%q stored by a rejected call (err %v)", k, err)
		}
	}
	if e.Keys() != 1 {
		t.Fatalf("Keys() = %d, want 1", e.Keys())
	}
}

func compressible(i int) string {
	return strings.Repeat(fmt.Sprintf("func pkg.F%d() calls pkg.G%d;\n", i, i), 400)[:8000]
}

func incompressible() string {
	b := make([]byte, 8000)
	crand.Read(b)
	return string(b)
}

func TestCompressionRoundTripAndShrinks(t *testing.T) {
	t.Parallel()
	const n = 200
	sizes := map[string]int64{}
	for _, mode := range []struct {
		name string
		min  int
	}{{"on", 0}, {"off", -1}} {
		t.Run(mode.name, func(t *testing.T) {
			cfg := engine.Config{CompressMin: mode.min, CacheCells: -1}
			e := enginetest.MustOpen(t, cfg)
			want := map[string]string{}
			var batch []kv.Entry
			for i := range n {
				k := fmt.Sprintf("c%04d", i)
				want[k] = compressible(i)
				batch = append(batch, put(k, want[k], 1))
			}
			for i := range 3 {
				k := fmt.Sprintf("r%04d", i)
				want[k] = incompressible()
				batch = append(batch, put(k, want[k], 1))
			}
			// Short values stay raw but must round-trip all the same.
			want["short"] = "abc"
			batch = append(batch, put("short", "abc", 1))
			mustApply(t, e, batch...)
			e = reopen(t, e, cfg)
			for k, v := range want {
				if got := mustGet(t, e, k); string(got.Value) != v {
					t.Fatalf("%s: got %d bytes, want %d", k, len(got.Value), len(v))
				}
			}
			sizes[mode.name] = e.Stats().BytesOnDisk
		})
	}
	// 200 values of 8000 bytes are 1.6 MB raw; compressed they are a few
	// hundred bytes each.
	if sizes["on"]*3 > sizes["off"] {
		t.Fatalf("on-disk size with compression %d, without %d: want at least 3x smaller", sizes["on"], sizes["off"])
	}
	t.Logf("bytes on disk: compressed %d, raw %d", sizes["on"], sizes["off"])
}

func TestCacheHitsAndNeverStale(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t)
	mustApply(t, e, put("k", "v1", 1))
	s0 := e.Stats()
	// A write fills free room in the cache: both reads hit.
	wantCell(t, e, "k", "v1", 1, false)
	wantCell(t, e, "k", "v1", 1, false)
	s1 := e.Stats()
	if s1.CacheMisses != s0.CacheMisses || s1.CacheHits != s0.CacheHits+2 {
		t.Fatalf("two reads after a write: hits %d -> %d, misses %d -> %d, want +2 and +0", s0.CacheHits, s1.CacheHits, s0.CacheMisses, s1.CacheMisses)
	}
	// A write of a cached key refreshes the cell in place: still a hit.
	mustApply(t, e, put("k", "v1b", 2))
	wantCell(t, e, "k", "v1b", 2, false)
	if s2 := e.Stats(); s2.CacheHits != s1.CacheHits+1 {
		t.Fatalf("read after overwriting a cached key: hits %d -> %d, want +1", s1.CacheHits, s2.CacheHits)
	}
	// Callers own what they get: scribbling on it must not reach the cache.
	c := mustGet(t, e, "k")
	c.Value[0] = 'X'
	wantCell(t, e, "k", "v1b", 2, false)

	mustApply(t, e, put("k", "v2", 3))
	wantCell(t, e, "k", "v2", 3, false)
	mustApply(t, e, del("k", 4))
	wantCell(t, e, "k", "", 4, true)
	if err := e.Purge(ctx, [][]byte{[]byte("k")}, []kv.Version{ver(4)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Get(ctx, []byte("k")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get after purge: %v, want kv.ErrNotFound", err)
	}
	mustApply(t, e, put("k", "v5", 5))
	enginetest.Remove(t, e, []byte("k"))
	if _, err := e.Get(ctx, []byte("k")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get after remove: %v, want kv.ErrNotFound", err)
	}
	// A miss goes to bbolt and fills: the next read hits (a reopened
	// engine starts with an empty cache).
	e2 := enginetest.MustOpen(t)
	mustApply(t, e2, put("m", "v", 1))
	e2 = reopen(t, e2, engine.Config{})
	mustGet(t, e2, "m")
	mustGet(t, e2, "m")
	if s := e2.Stats(); s.CacheMisses != 1 || s.CacheHits != 1 {
		t.Fatalf("after two reads of a cold key: hits %d misses %d, want 1 and 1", s.CacheHits, s.CacheMisses)
	}
}

// Writes add new keys to the cache only into free room: with the cache
// full of cells being read, a bulk write evicts none of them.
func TestCacheWritesNeverEvict(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t, engine.Config{CacheCells: 4})
	hot := []string{"a", "b", "c", "d"}
	for _, k := range hot {
		mustApply(t, e, put(k, "v", 1))
	}
	var bulk []kv.Entry
	for i := range 100 {
		bulk = append(bulk, put(fmt.Sprintf("bulk%03d", i), "x", 1))
	}
	mustApply(t, e, bulk...)
	s0 := e.Stats()
	for _, k := range hot {
		mustGet(t, e, k)
	}
	s1 := e.Stats()
	if s1.CacheHits != s0.CacheHits+4 || s1.CacheMisses != s0.CacheMisses || s1.CacheCells != 4 {
		t.Fatalf("reads of the 4 cached keys after a bulk write: hits %d -> %d, misses %d -> %d, %d cells; want 4 hits, no miss, 4 cells",
			s0.CacheHits, s1.CacheHits, s0.CacheMisses, s1.CacheMisses, s1.CacheCells)
	}
}

// Reads that cycle through three times more keys than the cache holds
// still hit on a stable part of them. A plain LRU evicts each cell just
// before its next read and hits none after the first round.
func TestCacheKeepsPartOfACycle(t *testing.T) {
	t.Parallel()
	const cells, keys, rounds = 100, 300, 5
	e := enginetest.MustOpen(t, engine.Config{CacheCells: cells, NoSync: true})
	var all []kv.Entry
	for i := range keys {
		all = append(all, put(fmt.Sprintf("k%03d", i), "v", 1))
	}
	mustApply(t, e, all...)
	for range 2 { // the first rounds settle what the cache holds
		for i := range keys {
			mustGet(t, e, fmt.Sprintf("k%03d", i))
		}
	}
	s0 := e.Stats()
	for range rounds {
		for i := range keys {
			mustGet(t, e, fmt.Sprintf("k%03d", i))
		}
	}
	hits := e.Stats().CacheHits - s0.CacheHits
	if hits < rounds*cells*6/10 {
		t.Fatalf("%d rounds over %d keys with %d cells: %d hits, want at least %d", rounds, keys, cells, hits, rounds*cells*6/10)
	}
	t.Logf("%d hits of %d reads (%d at most)", hits, rounds*keys, rounds*cells)
}

// A key read again and again gets into a full cache past cells read once,
// where one read of it does not.
func TestCacheAdmitsAKeyReadAgain(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t, engine.Config{CacheCells: 100, NoSync: true})
	var all []kv.Entry
	for i := range 200 {
		all = append(all, put(fmt.Sprintf("k%03d", i), "v", 1))
	}
	mustApply(t, e, all...)
	for i := range 100 { // the cached ones, read once each
		mustGet(t, e, fmt.Sprintf("k%03d", i))
	}
	for i := 100; i < 200; i++ { // not cached, read once each: turned away
		mustGet(t, e, fmt.Sprintf("k%03d", i))
	}
	if s := e.Stats(); s.CacheHits != 100 || s.CacheMisses != 100 {
		t.Fatalf("one read of 100 cached and 100 uncached keys: %d hits, %d misses; want 100 and 100", s.CacheHits, s.CacheMisses)
	}
	// The sketch's counts are shared by colliding keys, so the victim may
	// count a few reads more than its own one; a key read twelve times
	// must still be in by the ninth.
	s0 := e.Stats()
	for range 12 {
		mustGet(t, e, "k150")
	}
	if hits := e.Stats().CacheHits - s0.CacheHits; hits < 4 {
		t.Fatalf("twelve reads of a key outside the cache: %d hits, want it cached by the ninth (4 hits)", hits)
	}
}

// The byte bound counts keys and bookkeeping, not values alone: long keys
// with tiny values must not fill the cache to its cell bound.
func TestCacheBytesCountKeys(t *testing.T) {
	t.Parallel()
	const bound = 64 << 10
	e := enginetest.MustOpen(t, engine.Config{CacheBytes: bound, NoSync: true})
	pad := strings.Repeat("k", 1000)
	var rows []kv.Entry
	for i := range 1000 {
		rows = append(rows, put(fmt.Sprintf("%s%04d", pad, i), "v", 1))
	}
	mustApply(t, e, rows...)
	for _, r := range rows {
		mustGet(t, e, string(r.Key))
	}
	if cells := e.Stats().CacheCells; cells == 0 || cells*1000 > bound {
		t.Fatalf("%d cells of 1,004-byte keys and 1-byte values cached under a %d-byte bound", cells, bound)
	}
}

// TestCacheNeverStaleConcurrent races readers against a writer on a tiny
// cache (constant eviction): once a write is acknowledged, no read that
// starts afterwards may see an older version. The readers pick among 16
// keys at random, so their counts in the cache's sketch differ by chance
// and its admission lets enough fills through to keep cells changing
// (with 8 keys read in turn the counts tied, few fills got in, and the
// test no longer caught a fill that skipped its sequence check).
func TestCacheNeverStaleConcurrent(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t, engine.Config{CacheCells: 4, NoSync: true})
	const keys, rounds = 16, 3000
	var acked [keys]struct {
		sync.Mutex
		ts uint64
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 16)
	for r := range 4 {
		wg.Add(1)
		rng := rand.New(rand.NewPCG(uint64(r), 1))
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := rng.IntN(keys)
				acked[k].Lock()
				floor := acked[k].ts
				acked[k].Unlock()
				var c kv.Cell
				var err error
				if i%2 == 0 {
					c, err = e.Get(ctx, []byte(fmt.Sprint("k", k)))
				} else {
					var cs []kv.Cell
					cs, err = e.GetMany(ctx, [][]byte{[]byte(fmt.Sprint("k", k))})
					if err == nil {
						c = cs[0]
					}
				}
				if errors.Is(err, kv.ErrNotFound) && floor == 0 {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				if c.Version.TS < floor {
					errs <- fmt.Errorf("key %d: read ts %d after ts %d was acknowledged", k, c.Version.TS, floor)
					return
				}
			}
		}()
	}
	for ts := uint64(1); ts <= rounds; ts++ {
		k := int(ts) % keys
		mustApply(t, e, put(fmt.Sprint("k", k), fmt.Sprint(ts), ts))
		acked[k].Lock()
		acked[k].ts = ts
		acked[k].Unlock()
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if s := e.Stats(); s.CacheCells > 4 {
		t.Fatalf("cache holds %d cells, bound is 4", s.CacheCells)
	}
}

// Versions answers what GetMany does, without values, from every place a
// cell can be: the cache, the WAL state, bbolt (compressed or not), a
// tombstone, nothing. It fills no cache cell.
func TestVersions(t *testing.T) {
	t.Parallel()
	for _, cells := range []int{-1, 2, 64} {
		t.Run(fmt.Sprint("cache=", cells), func(t *testing.T) {
			e := enginetest.MustOpen(t, engine.Config{CacheCells: cells, NoSync: true})
			mustApply(t, e, put("zip", strings.Repeat("abc", 300), 1), put("small", "v", 2), del("gone", 3))
			e = reopen(t, e, engine.Config{CacheCells: cells, NoSync: true}) // in bbolt, not cached
			// In the WAL state (and cached, where there is room).
			mustApply(t, e, put("wal", "w", 4), put("small", "v2", 5), put("walgone", "x", 6))
			mustApply(t, e, del("walgone", 7))
			mustGet(t, e, "wal")
			keys := [][]byte{[]byte("zip"), []byte("small"), []byte("gone"), []byte("wal"), []byte("absent"), []byte("walgone")}
			s0 := e.Stats()
			got, err := e.Versions(ctx, keys)
			if err != nil {
				t.Fatal(err)
			}
			if s := e.Stats(); s.CacheCells != s0.CacheCells {
				t.Fatalf("Versions changed the cache: %d cells, then %d", s0.CacheCells, s.CacheCells)
			}
			want, err := e.GetMany(ctx, keys)
			if err != nil {
				t.Fatal(err)
			}
			for i := range keys {
				if got[i].Value != nil || got[i].Version != want[i].Version || got[i].Tombstone != want[i].Tombstone {
					t.Errorf("%s: Versions gave %+v, GetMany %+v", keys[i], got[i], want[i])
				}
			}
			if want[0].Version != ver(1) || want[1].Version != ver(5) || !want[2].Tombstone || want[3].Version != ver(4) || want[4].Version != (kv.Version{}) || !want[5].Tombstone {
				t.Fatalf("GetMany's versions: %v %v %v %v %v %v", want[0].Version, want[1].Version, want[2].Version, want[3].Version, want[4].Version, want[5].Version)
			}
		})
	}
}

func TestCacheDisabled(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t, engine.Config{CacheCells: -1})
	mustApply(t, e, put("k", "v", 1))
	wantCell(t, e, "k", "v", 1, false)
	mustApply(t, e, put("k", "w", 2))
	wantCell(t, e, "k", "w", 2, false)
	if s := e.Stats(); s.CacheHits != 0 || s.CacheCells != 0 {
		t.Fatalf("disabled cache: %+v", s)
	}
}

func TestKeysExactAcrossEverything(t *testing.T) {
	t.Parallel()
	cfg := engine.Config{}
	e := enginetest.MustOpen(t, cfg)
	check := func(step string, live, tombs int64) {
		t.Helper()
		if s := e.Stats(); e.Keys() != live || s.Tombstones != tombs {
			t.Fatalf("%s: Keys=%d tombstones=%d, want %d, %d", step, e.Keys(), s.Tombstones, live, tombs)
		}
		if err := enginetest.CheckInvariants(e); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	mustApply(t, e, put("a", "1", 1), put("b", "1", 1), put("c", "1", 1))
	check("three puts", 3, 0)
	mustApply(t, e, put("a", "2", 2), put("a", "0", 0))
	check("overwrite and stale write", 3, 0)
	mustApply(t, e, del("b", 2), del("zz", 1))
	check("delete and blind delete", 2, 2)
	mustApply(t, e, put("b", "3", 3))
	check("resurrection", 3, 1)
	if err := e.Purge(ctx, [][]byte{[]byte("zz"), []byte("a")}, []kv.Version{ver(1), ver(2)}); err != nil {
		t.Fatal(err)
	}
	check("purge (a holds a value: kept)", 3, 0)
	mustApply(t, e, del("c", 5))
	if err := e.Purge(ctx, [][]byte{[]byte("c")}, []kv.Version{ver(4)}); err != nil {
		t.Fatal(err)
	}
	check("purge of another version: kept", 2, 1)
	enginetest.Remove(t, e, []byte("a"), []byte("c"), []byte("nope"))
	check("remove", 1, 0)
	e = reopen(t, e, cfg)
	check("reopen", 1, 0)
	wantCell(t, e, "b", "3", 3, false)
}

func TestReopenPersists(t *testing.T) {
	t.Parallel()
	cfg := engine.Config{}
	e := enginetest.MustOpen(t, cfg)
	var batch []kv.Entry
	for i := range 1000 {
		batch = append(batch, put(fmt.Sprintf("p%d\x00row%04d", i%10, i), fmt.Sprint("value ", i), uint64(i+1)))
	}
	mustApply(t, e, batch...)
	mustApply(t, e, del("p0\x00row0000", 5000))
	e = reopen(t, e, cfg)
	if e.Keys() != 999 {
		t.Fatalf("Keys() after reopen = %d, want 999", e.Keys())
	}
	for i := 1; i < 1000; i++ {
		wantCell(t, e, fmt.Sprintf("p%d\x00row%04d", i%10, i), fmt.Sprint("value ", i), uint64(i+1), false)
	}
	wantCell(t, e, "p0\x00row0000", "", 5000, true)
}

func TestConcurrentApply64(t *testing.T) {
	t.Parallel()
	cfg := engine.Config{}
	e := enginetest.MustOpen(t, cfg)
	const writers, each = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := fmt.Sprintf("w%02d/%03d", w, i)
				applied, err := e.Apply(ctx, put(k, k, uint64(i+1)))
				if err != nil || !applied[0] {
					errs <- fmt.Errorf("%s: applied=%v err=%v", k, applied, err)
					return
				}
				// Acknowledged means readable.
				if c, err := e.Get(ctx, []byte(k)); err != nil || string(c.Value) != k {
					errs <- fmt.Errorf("%s right after Apply: %q, %v", k, c.Value, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s := e.Stats()
	if s.Writes != writers*each {
		t.Fatalf("Writes = %d, want %d", s.Writes, writers*each)
	}
	// Group commit: with 64 writers waiting on fsync, commits carry many
	// writes each.
	if s.Commits*2 > s.Writes {
		t.Fatalf("%d commits for %d writes: writes are not being grouped", s.Commits, s.Writes)
	}
	t.Logf("%d writes in %d commits", s.Writes, s.Commits)
	e = reopen(t, e, cfg)
	if e.Keys() != writers*each {
		t.Fatalf("Keys() after reopen = %d, want %d", e.Keys(), writers*each)
	}
	for w := range writers {
		for i := range each {
			k := fmt.Sprintf("w%02d/%03d", w, i)
			wantCell(t, e, k, k, uint64(i+1), false)
		}
	}
}

func keysOf(t *testing.T, e *engine.Engine, prefix, after string, limit int) []string {
	t.Helper()
	var a []byte
	if after != "" {
		a = []byte(after)
	}
	var got []string
	if err := e.Scan(ctx, []byte(prefix), a, limit, func(ent kv.Entry) bool {
		got = append(got, string(ent.Key))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestScan(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t)
	var batch []kv.Entry
	for i := range 600 { // more than one internal chunk
		batch = append(batch, put(string(kv.Key("g/a", fmt.Sprintf("%04d", i))), "v", 1))
	}
	batch = append(batch, put(string(kv.Key("g/b", "x")), "v", 1), put("g/a", "raw", 1), put("g/", "p", 1))
	mustApply(t, e, batch...)
	mustApply(t, e, del(string(kv.Key("g/a", "0003")), 2))

	all := keysOf(t, e, string(kv.PartitionPrefix([]byte("g/a"))), "", 0)
	if len(all) != 600 {
		t.Fatalf("partition scan: %d keys, want 600 (tombstones included)", len(all))
	}
	for i, k := range all {
		if k != string(kv.Key("g/a", fmt.Sprintf("%04d", i))) {
			t.Fatalf("key %d = %q: out of order or wrong", i, k)
		}
	}
	got := keysOf(t, e, "g/a\x00", "g/a\x000297", 5)
	want := []string{"g/a\x000298", "g/a\x000299", "g/a\x000300", "g/a\x000301", "g/a\x000302"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after+limit: %q, want %q", got, want)
	}
	// after between keys, and after before the prefix
	if got := keysOf(t, e, "g/a\x00", "g/a\x000597x", 0); fmt.Sprint(got) != fmt.Sprint([]string{"g/a\x000598", "g/a\x000599"}) {
		t.Fatalf("after between keys: %q", got)
	}
	if got := keysOf(t, e, "g/b", "a", 0); len(got) != 1 {
		t.Fatalf("after before prefix: %q", got)
	}
	if got := keysOf(t, e, "g/a\x00", "g/a\x000599", 0); len(got) != 0 {
		t.Fatalf("after the last key: %q", got)
	}
	if got := keysOf(t, e, "", "", 0); len(got) != 603 {
		t.Fatalf("whole store: %d keys, want 603", len(got))
	}
	if got := keysOf(t, e, "g/a\x00", "", 300); len(got) != 300 {
		t.Fatalf("limit 300: %d", len(got))
	}
	var tomb kv.Entry
	n := 0
	if err := e.Scan(ctx, []byte("g/a\x00"), nil, 0, func(ent kv.Entry) bool {
		if n == 3 {
			tomb = ent
		}
		n++
		return n < 10
	}); err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Fatalf("fn returning false did not stop the scan: %d calls", n)
	}
	if !tomb.Cell.Tombstone || tomb.Cell.Version != ver(2) {
		t.Fatalf("tombstone entry = %+v", tomb)
	}
	// fn may write to the engine (rebalancing does): no deadlock, and the
	// walk still sees every key once.
	count := 0
	if err := e.ForEach(ctx, func(ent kv.Entry) bool {
		count++
		if count%100 == 0 {
			if _, err := e.Apply(ctx, put(string(ent.Key)+"-copy", "c", 1)); err != nil {
				t.Error(err)
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if count < 603 {
		t.Fatalf("ForEach saw %d keys, want at least 603", count)
	}
}

func TestPurgeAndRemove(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t)
	mustApply(t, e, del("t1", 5), del("t2", 5), put("v", "x", 5))
	keys := [][]byte{[]byte("t1"), []byte("t2"), []byte("v"), []byte("absent")}
	if err := e.Purge(ctx, keys, []kv.Version{ver(5), ver(4), ver(5), ver(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Get(ctx, []byte("t1")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("purged tombstone still there: %v", err)
	}
	wantCell(t, e, "t2", "", 5, true) // other version: kept
	wantCell(t, e, "v", "x", 5, false)
	if err := e.Purge(ctx, keys, nil); !errors.Is(err, engine.ErrInvalidVersion) {
		t.Fatalf("Purge with mismatched lengths: %v", err)
	}
	enginetest.Remove(t, e, []byte("t2"), []byte("v"))
	for _, k := range []string{"t2", "v"} {
		if _, err := e.Get(ctx, []byte(k)); !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("removed %s still there: %v", k, err)
		}
	}
	// After a removal the key is unknown: an old write applies again (the
	// node no longer owns the range; whoever owns it decides).
	if got := mustApply(t, e, put("v", "old", 1)); !got[0] {
		t.Fatal("write after removal did not apply")
	}
}

// Drop deletes live cells and tombstones, but only at the version given:
// a newer write that raced the drop survives it, and the counters follow.
func TestDrop(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t)
	mustApply(t, e, put("a", "x", 5), put("b", "y", 5), del("c", 5))
	if err := e.Drop(ctx, [][]byte{[]byte("a"), []byte("b"), []byte("c")}, []kv.Version{ver(5), ver(4), ver(5)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Get(ctx, []byte("a")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("dropped live cell still there: %v", err)
	}
	wantCell(t, e, "b", "y", 5, false) // newer than the version dropped: kept
	if st := e.Stats(); st.Keys != 1 || st.Tombstones != 0 {
		t.Fatalf("after Drop: %d live, %d tombstones, want 1 and 0", st.Keys, st.Tombstones)
	}
	if err := e.Drop(ctx, [][]byte{[]byte("a")}, nil); !errors.Is(err, engine.ErrInvalidVersion) {
		t.Fatalf("Drop with mismatched lengths: %v", err)
	}
}

func TestGetMany(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t)
	mustApply(t, e, put("a", "1", 1), del("b", 1), put("c", "3", 1))
	e = reopen(t, e, engine.Config{})
	mustGet(t, e, "a") // one cached, the rest from bbolt
	cells, err := e.GetMany(ctx, [][]byte{[]byte("a"), []byte("b"), []byte("nope"), []byte("c")})
	if err != nil {
		t.Fatal(err)
	}
	if string(cells[0].Value) != "1" || !cells[1].Tombstone || !cells[2].Version.IsZero() || cells[2].Live() || string(cells[3].Value) != "3" {
		t.Fatalf("GetMany = %+v", cells)
	}
}

var errDiskFull = errors.New("disk full (injected)")

func TestFailedCommitLeavesStoreAsItWas(t *testing.T) {
	t.Parallel()
	fail := make(chan struct{}, 1)
	cfg := engine.Config{TestingBeforeCommit: func() error {
		select {
		case <-fail:
			return errDiskFull
		default:
			return nil
		}
	}}
	e := enginetest.MustOpen(t, cfg)
	mustApply(t, e, put("k", "v1", 1), put("gone", "x", 1))
	before := e.Stats()
	fail <- struct{}{}
	_, err := e.Apply(ctx, put("k", "v2", 2), put("new", "n", 2), del("gone", 2))
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Apply during a failing commit: %v, want the injected error", err)
	}
	wantCell(t, e, "k", "v1", 1, false)
	wantCell(t, e, "gone", "x", 1, false)
	if _, err := e.Get(ctx, []byte("new")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("write of the failed batch visible: %v", err)
	}
	after := e.Stats()
	if after.Keys != before.Keys || after.Tombstones != before.Tombstones || after.Writes != before.Writes || after.Failures != 1 {
		t.Fatalf("stats moved on a failed commit: before %+v after %+v", before, after)
	}
	// The engine keeps working, and the retry lands.
	if got := mustApply(t, e, put("k", "v2", 2)); !got[0] {
		t.Fatal("retry did not apply")
	}
	e = reopen(t, e, engine.Config{})
	wantCell(t, e, "k", "v2", 2, false)
	if _, err := e.Get(ctx, []byte("new")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("failed write on disk after reopen: %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.Apply(cctx, put("k", "v", 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a cancelled ctx: %v", err)
	}
	if _, err := e.Get(ctx, []byte("k")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("cancelled-before-submit write stored: %v", err)
	}
	if _, err := e.Get(cctx, []byte("k")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled ctx: %v", err)
	}
}

func TestCloseAndLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "dir", "e.db")
	e := enginetest.MustOpenPath(t, path, engine.Config{})
	if e.Path() != path {
		t.Fatalf("Path() = %q", e.Path())
	}
	mustApply(t, e, put("k", "v", 1))
	// A second opener of a held file gets a clear error, not a hang.
	if _, err := engine.Open(path, engine.Config{OpenTimeout: 50e6}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if err := e.Probe(ctx); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := e.Apply(ctx, put("k", "v", 2)); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Apply after Close: %v", err)
	}
	if _, err := e.Get(ctx, []byte("k")); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
	if err := e.Scan(ctx, nil, nil, 0, func(kv.Entry) bool { return true }); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Scan after Close: %v", err)
	}
	if err := e.Probe(ctx); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Probe after Close: %v", err)
	}
}

// TestCloseWaitsForInFlight closes while writers are queued: every write
// is either acknowledged (and then on disk) or refused with ErrClosed.
func TestCloseWaitsForInFlight(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "e.db")
	e, err := engine.Open(path, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok []string
	started := make(chan struct{}, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				k := fmt.Sprintf("%02d-%04d", w, i)
				_, err := e.Apply(ctx, put(k, "v", 1))
				if errors.Is(err, kv.ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ok = append(ok, k)
				mu.Unlock()
				if i == 0 {
					started <- struct{}{}
				}
			}
		}()
	}
	for range 16 {
		<-started
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	e = enginetest.MustOpenPath(t, path, engine.Config{})
	if int(e.Keys()) < len(ok) {
		t.Fatalf("%d keys on disk, %d acknowledged", e.Keys(), len(ok))
	}
	cells, err := e.GetMany(ctx, func() (ks [][]byte) {
		for _, k := range ok {
			ks = append(ks, []byte(k))
		}
		return
	}())
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cells {
		if !c.Live() {
			t.Fatalf("acknowledged %s lost by Close", ok[i])
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := engine.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (engine.Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []engine.Config{{MaxBatch: -1}, {MaxBatchDelay: -1}, {OpenTimeout: -1}} {
		if err := c.Validate(); !errors.Is(err, engine.ErrInvalidConfig) {
			t.Errorf("%+v: %v", c, err)
		}
		if _, err := engine.Open(filepath.Join(t.TempDir(), "x.db"), c); !errors.Is(err, engine.ErrInvalidConfig) {
			t.Errorf("Open with %+v: %v", c, err)
		}
	}
}

func TestBatchDelayAndSmallBatches(t *testing.T) {
	t.Parallel()
	// MaxBatch 3 with a delay: big calls still go through whole, small
	// ones are grouped up to the bound.
	e := enginetest.MustOpen(t, engine.Config{MaxBatch: 3, MaxBatchDelay: 2e6, NoSync: true})
	var batch []kv.Entry
	for i := range 10 {
		batch = append(batch, put(fmt.Sprint("big", i), "v", 1))
	}
	mustApply(t, e, batch...)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.Apply(ctx, put(fmt.Sprint("s", i), "v", 1)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if e.Keys() != 30 {
		t.Fatalf("Keys() = %d, want 30", e.Keys())
	}
	if s := e.Stats(); s.Commits < 1+7 { // 20 singles in batches of at most 3
		t.Fatalf("%d commits: MaxBatch not respected", s.Commits)
	}
}

func TestEmptyApply(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t)
	got, err := e.Apply(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty Apply = %v, %v", got, err)
	}
	if e.Stats().Commits != 0 {
		t.Fatal("empty Apply committed")
	}
}

// Reopen swaps the bbolt file handle in place: data and counters survive,
// writes and probes work afterwards, and a closed engine refuses it.
func TestReopenInPlace(t *testing.T) {
	e := enginetest.MustOpen(t)
	mustApply(t, e, put("a", "1", 1), put("b", "2", 2), del("c", 3))
	if err := e.Reopen(); err != nil {
		t.Fatal(err)
	}
	wantCell(t, e, "a", "1", 1, false)
	mustApply(t, e, put("d", "4", 4))
	wantCell(t, e, "d", "4", 4, false)
	if err := e.Probe(ctx); err != nil {
		t.Fatalf("probe after reopen: %v", err)
	}
	if k := e.Keys(); k != 3 {
		t.Fatalf("keys after reopen = %d, want 3", k)
	}
	e2 := enginetest.MustOpen(t)
	if err := e2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e2.Reopen(); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Reopen of a closed engine: %v, want kv.ErrClosed", err)
	}
}

// Created tells a new file from an existing one.
func TestCreated(t *testing.T) {
	e := enginetest.MustOpen(t)
	if !e.Created() {
		t.Fatal("a new file: Created() = false")
	}
	e = reopen(t, e, engine.DefaultConfig())
	if e.Created() {
		t.Fatal("an existing file: Created() = true")
	}
}

// Stats.LogEntries counts the writes the log's state holds until a
// checkpoint moves them into bbolt (the backlog /metrics shows).
func TestStatsLogEntries(t *testing.T) {
	e, err := engine.Open(filepath.Join(t.TempDir(), "data.db"), engine.Config{CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if n := e.Stats().LogEntries; n != 0 {
		t.Fatalf("a new engine holds %d log entries", n)
	}
	mustApply(t, e, put("a", "1", 1), put("b", "2", 2), put("c", "3", 3))
	if n := e.Stats().LogEntries; n < 3 {
		t.Fatalf("after 3 writes the log's state holds %d entries, want at least 3", n)
	}
	if err := e.Check(ctx); err != nil { // checkpoints everything first
		t.Fatal(err)
	}
	if n := e.Stats().LogEntries; n != 0 {
		t.Fatalf("after a checkpoint the log's state still holds %d entries", n)
	}
	wantCell(t, e, "b", "2", 2, false)
}

// A write asks the cache what version its key holds (commit.go, current),
// except for a key its own batch wrote before it: there the batch's write
// is what the key holds. Two writes of one cached key in one Apply, in
// both orders: the newer stays, and the older is refused.
func TestWriteChecksItsBatchBeforeTheCache(t *testing.T) {
	t.Parallel()
	e := enginetest.MustOpen(t, engine.Config{NoSync: true})
	for i, order := range [][2]uint64{{20, 30}, {30, 20}} {
		key := []byte(fmt.Sprint("k", i))
		at := func(ts uint64) kv.Entry {
			return kv.Entry{Key: key, Cell: kv.Cell{Value: []byte(fmt.Sprint("v", ts)), Version: kv.Version{TS: ts, Node: "n"}}}
		}
		if _, err := e.Apply(ctx, at(10)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Get(ctx, key); err != nil { // cached now, if the write did not add it
			t.Fatal(err)
		}
		applied, err := e.Apply(ctx, at(order[0]), at(order[1]))
		if err != nil {
			t.Fatal(err)
		}
		if want := []bool{true, order[1] > order[0]}; !slices.Equal(applied, want) {
			t.Errorf("writes at %v over a cached 10: applied %v, want %v", order, applied, want)
		}
		got, err := e.Get(ctx, key)
		if err != nil || got.Version.TS != 30 || string(got.Value) != "v30" {
			t.Errorf("writes at %v over a cached 10: key holds %q at %d (%v), want v30 at 30", order, got.Value, got.Version.TS, err)
		}
	}
}
