package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafo/grafo/kv"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

var (
	dataBucket  = []byte("data")
	metaBucket  = []byte("meta")
	probeBucket = []byte("probe")

	metaLive       = []byte("live")
	metaTombstones = []byte("tombstones")
	probeKey       = []byte("probe")
)

// scanChunk is how many entries one read transaction of Scan/ForEach
// collects before releasing the transaction and calling fn.
const scanChunk = 256

// Engine is one node's durable store of versioned cells. It is safe for
// concurrent use.
type Engine struct {
	path  string
	cfg   Config
	log   *slog.Logger
	db    atomic.Pointer[bolt.DB] // swapped by Reopen
	cache *cache

	reopenMu sync.Mutex // serialises Reopen and Close
	created  bool       // Open made the file

	mu     sync.Mutex // guards queue and closed
	queue  []*op
	queued int // entries in queue
	closed bool
	wake   chan struct{} // cap 1: "the queue changed"
	exited chan struct{} // closed when the committer is gone

	// The write-ahead log (nil with Config.NoWAL) and the state it holds
	// that bbolt does not yet; memMu serialises publishing snapshots.
	w     *walState
	mem   atomic.Pointer[memSnap]
	memMu sync.Mutex

	isClosed atomic.Bool
	live     atomic.Int64
	tombs    atomic.Int64
	commits  atomic.Int64
	writes   atomic.Int64
	failed   atomic.Int64
	size     atomic.Int64
}

// Stats is a snapshot of the engine's counters.
type Stats struct {
	CacheHits   int64 // reads answered from the hot-cell cache
	CacheMisses int64 // reads that went to bbolt
	CacheCells  int   // cells in the cache now
	Commits     int64 // successful group commits (bbolt transactions)
	Failures    int64 // group commits that failed and were rolled back
	Writes      int64 // entries committed: applied writes, purges and removals
	Keys        int64 // live keys
	Tombstones  int64 // keys holding a tombstone
	BytesOnDisk int64 // size of the bbolt file's data, as of the last commit
	LogEntries  int64 // writes held by the log's state, not checkpointed into bbolt yet
}

// Open opens (creating if needed, with its parent directory) the engine's
// bbolt file at path. If another process holds the file, Open fails with
// ErrLocked after cfg.OpenTimeout.
func Open(path string, cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("engine: open %s: %w", path, err)
	}
	_, statErr := os.Stat(path)
	db, err := openBolt(path, cfg)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		created: errors.Is(statErr, fs.ErrNotExist),
		path:    path,
		cfg:     cfg,
		log:     cfg.Logger.With("path", path),
		cache:   newCache(cfg.CacheCells, cfg.CacheBytes),
		wake:    make(chan struct{}, 1),
		exited:  make(chan struct{}),
	}
	e.db.Store(db)
	e.mem.Store(emptySnap)
	if err := e.init(); err != nil {
		db.Close()
		return nil, err
	}
	if err := e.openWAL(); err != nil {
		db.Close()
		return nil, err
	}
	go e.committer()
	e.log.Info("engine opened", "keys", e.live.Load(), "tombstones", e.tombs.Load(), "bytes", e.size.Load())
	return e, nil
}

// openWAL replays what a crash left in the log and, unless Config.NoWAL,
// starts a new segment and the checkpointer.
func (e *Engine) openWAL() error {
	last, err := e.replay()
	if err != nil {
		return err
	}
	if e.cfg.NoWAL {
		sp, _ := spares(e.path)
		for _, n := range sp {
			os.Remove(n) // without the log, spares only take room
		}
		return nil
	}
	log, err := createSegment(e.path, last+1)
	if err != nil {
		return err
	}
	e.w = &walState{log: log, seq: last, jobs: make(chan ckptJob, 1), done: make(chan struct{}, 1),
		stop: make(chan struct{}), exited: make(chan struct{}), swapWant: make(chan struct{}, 1)}
	go e.checkpointer()
	return nil
}

func openBolt(path string, cfg Config) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: cfg.OpenTimeout,
		NoSync:  cfg.NoSync,
		// The hashmap freelist stays fast on fragmented files. It is
		// synced: without that bbolt rebuilds it at every open by reading
		// the whole file (90 s for 3.7 GB from a cold cache), and with the
		// write-ahead log bbolt commits only at checkpoints, so the extra
		// page write a commit costs is paid rarely.
		FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s (waited %v)", ErrLocked, path, cfg.OpenTimeout)
		}
		return nil, fmt.Errorf("engine: open %s: %w", path, err)
	}
	return db, nil
}

// Reopen closes the bbolt file and opens it again: what a node's watcher
// tries when probes keep failing (a file handle gone bad). Calls made
// meanwhile fail as they would on a closed engine. The cache is kept: it
// only ever holds committed cells.
func (e *Engine) Reopen() error {
	e.reopenMu.Lock()
	defer e.reopenMu.Unlock()
	if e.isClosed.Load() {
		return kv.ErrClosed
	}
	if err := e.db.Load().Close(); err != nil {
		e.log.Warn("closing the failing file", "err", err)
	}
	db, err := openBolt(e.path, e.cfg)
	if err != nil {
		return err
	}
	e.db.Store(db)
	// With the WAL, the counters in memory count what bbolt does not hold
	// yet: keep them.
	live, tombs := e.live.Load(), e.tombs.Load()
	if err := e.init(); err != nil {
		return err
	}
	if e.w != nil {
		e.live.Store(live)
		e.tombs.Store(tombs)
	}
	e.log.Info("engine reopened", "keys", e.live.Load())
	return nil
}

// init creates the buckets and loads the counters, recounting when the
// meta bucket has none (a file written before counters existed).
func (e *Engine) init() error {
	return e.db.Load().Update(func(tx *bolt.Tx) error {
		data, err := tx.CreateBucketIfNotExists(dataBucket)
		if err != nil {
			return fmt.Errorf("engine: init: %w", err)
		}
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return fmt.Errorf("engine: init: %w", err)
		}
		if _, err := tx.CreateBucketIfNotExists(probeBucket); err != nil {
			return fmt.Errorf("engine: init: %w", err)
		}
		live, okL := getCounter(meta, metaLive)
		tombs, okT := getCounter(meta, metaTombstones)
		if !okL || !okT {
			live, tombs, err = recount(data)
			if err != nil {
				return err
			}
			if err := putCounters(meta, live, tombs); err != nil {
				return err
			}
			e.log.Info("recounted keys", "live", live, "tombstones", tombs)
		}
		e.live.Store(live)
		e.tombs.Store(tombs)
		e.size.Store(tx.Size())
		return nil
	})
}

func getCounter(meta *bolt.Bucket, name []byte) (int64, bool) {
	b := meta.Get(name)
	if len(b) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b)), true
}

func putCounters(meta *bolt.Bucket, live, tombs int64) error {
	if err := meta.Put(metaLive, binary.BigEndian.AppendUint64(nil, uint64(live))); err != nil {
		return err
	}
	return meta.Put(metaTombstones, binary.BigEndian.AppendUint64(nil, uint64(tombs)))
}

// recount counts live cells and tombstones by walking the data bucket. A
// cell that does not decode counts as live, as the write path treats it.
func recount(data *bolt.Bucket) (live, tombs int64, err error) {
	err = data.ForEach(func(k, v []byte) error {
		h, err := decodeHeader(v)
		if err == nil && h.tombstone {
			tombs++
		} else {
			live++
		}
		return nil
	})
	return live, tombs, err
}

// Close stops accepting writes, waits for queued and in-flight commits to
// finish, and closes the file. Later calls (and every other method) return
// kv.ErrClosed.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return kv.ErrClosed
	}
	e.closed = true
	e.isClosed.Store(true)
	e.mu.Unlock()
	e.signal()
	<-e.exited
	e.reopenMu.Lock()
	defer e.reopenMu.Unlock()
	var werr error
	if e.w != nil {
		werr = e.closeWAL()
	}
	// bbolt's Close waits for open read transactions.
	if err := e.db.Load().Close(); err != nil {
		return fmt.Errorf("engine: close: %w", err)
	}
	if werr != nil {
		return fmt.Errorf("engine: close: last checkpoint (the wal keeps the data): %w", werr)
	}
	e.log.Info("engine closed", "keys", e.live.Load(), "commits", e.commits.Load())
	return nil
}

// Created reports whether Open created the file (there was no data):
// a node uses it to tell a lost disk from a restart.
func (e *Engine) Created() bool { return e.created }

// Path is the bbolt file's path.
func (e *Engine) Path() string { return e.path }

// Keys is the number of live (non-tombstone) keys.
func (e *Engine) Keys() int64 { return e.live.Load() }

// Stats returns a snapshot of the counters.
func (e *Engine) Stats() Stats {
	s := Stats{
		Commits:     e.commits.Load(),
		Failures:    e.failed.Load(),
		Writes:      e.writes.Load(),
		Keys:        e.live.Load(),
		Tombstones:  e.tombs.Load(),
		BytesOnDisk: e.size.Load(),
		LogEntries:  int64(e.mem.Load().entries()),
	}
	if e.cache != nil {
		s.CacheHits = e.cache.hits.Load()
		s.CacheMisses = e.cache.misses.Load()
		s.CacheCells = e.cache.len()
	}
	return s
}

// view runs fn in a read transaction, mapping a closed database onto
// kv.ErrClosed.
func (e *Engine) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.isClosed.Load() {
		return kv.ErrClosed
	}
	err := e.db.Load().View(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return kv.ErrClosed
	}
	return err
}

// Get returns the cell stored under key, tombstones included (Tombstone
// true), or kv.ErrNotFound if the key holds nothing.
func (e *Engine) Get(ctx context.Context, key []byte) (kv.Cell, error) {
	cell, ok, seq := e.cache.get(key, false)
	if ok {
		if e.isClosed.Load() {
			return kv.Cell{}, kv.ErrClosed
		}
		return cell, nil
	}
	cells, found, err := e.read(ctx, [][]byte{key}, decodeCell)
	if err != nil {
		return kv.Cell{}, err
	}
	if !found[0] {
		return kv.Cell{}, kv.ErrNotFound
	}
	e.cache.fill(key, cells[0], seq)
	return cells[0], nil
}

// read looks keys up past the cache: in the WAL state first, then in one
// bbolt read transaction for the rest. The WAL snapshot is taken before
// the transaction begins: a key a checkpoint moves out of it meanwhile is
// in bbolt by then. decode is decodeCell, or decodeVersion for versions
// only.
func (e *Engine) read(ctx context.Context, keys [][]byte, decode func([]byte) (kv.Cell, error)) ([]kv.Cell, []bool, error) {
	out := make([]kv.Cell, len(keys))
	found := make([]bool, len(keys))
	var rest []int
	m := e.mem.Load()
	for i, k := range keys {
		enc, ok := m.get(k)
		if !ok {
			rest = append(rest, i)
			continue
		}
		if err := decodeInto(&out[i], &found[i], k, enc, decode); err != nil {
			return nil, nil, err
		}
	}
	if len(rest) == 0 {
		if e.isClosed.Load() {
			return nil, nil, kv.ErrClosed
		}
		return out, found, nil
	}
	err := e.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(dataBucket)
		for _, i := range rest {
			if err := decodeInto(&out[i], &found[i], keys[i], b.Get(keys[i]), decode); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, found, nil
}

// decodeInto decodes a stored cell (nil: nothing stored) into cell.
func decodeInto(cell *kv.Cell, found *bool, key, v []byte, decode func([]byte) (kv.Cell, error)) error {
	if v == nil {
		return nil
	}
	c, err := decode(v)
	if err != nil {
		return fmt.Errorf("engine: get %q: %w", key, err)
	}
	*cell, *found = c, true
	return nil
}

// Versions is GetMany without values: each key's cell holds its version
// and tombstone flag alone (the zero Cell for a key holding nothing). A
// digest read (kv/replica) needs no more, and neither copies a cached
// value nor decompresses a stored one. It fills no cache cell.
func (e *Engine) Versions(ctx context.Context, keys [][]byte) ([]kv.Cell, error) {
	return e.lookup(ctx, keys, true)
}

// GetMany reads keys in one read transaction (for those not cached). The
// result has one cell per key, in order; a key holding nothing gets the
// zero Cell. Tombstones are returned as such.
func (e *Engine) GetMany(ctx context.Context, keys [][]byte) ([]kv.Cell, error) {
	return e.lookup(ctx, keys, false)
}

// lookup is GetMany, or Versions if versionOnly.
func (e *Engine) lookup(ctx context.Context, keys [][]byte, versionOnly bool) ([]kv.Cell, error) {
	out := make([]kv.Cell, len(keys))
	var miss []int
	var seqs []uint64
	for i, k := range keys {
		if cell, ok, seq := e.cache.get(k, versionOnly); ok {
			out[i] = cell
		} else {
			miss = append(miss, i)
			seqs = append(seqs, seq)
		}
	}
	if len(miss) == 0 {
		if e.isClosed.Load() {
			return nil, kv.ErrClosed
		}
		return out, nil
	}
	decode := decodeCell
	if versionOnly {
		decode = decodeVersion
	}
	cells, found, err := e.read(ctx, pick(keys, miss), decode)
	if err != nil {
		return nil, err
	}
	for j, i := range miss {
		out[i] = cells[j]
		if found[j] && !versionOnly {
			e.cache.fill(keys[i], out[i], seqs[j])
		}
	}
	return out, nil
}

func pick(keys [][]byte, idx []int) [][]byte {
	out := make([][]byte, len(idx))
	for j, i := range idx {
		out[j] = keys[i]
	}
	return out
}

func cloneCell(c kv.Cell) kv.Cell {
	if c.Value != nil {
		c.Value = append([]byte(nil), c.Value...)
	}
	return c
}

// Scan calls fn for every stored key (tombstones included) that starts
// with prefix and sorts after after (nil: from the start of prefix), in key
// order, stopping after limit entries (limit <= 0: no limit) or when fn
// returns false. fn runs outside any transaction and may call the engine;
// the entry it gets is its own. See the package doc for the consistency of
// a long scan.
func (e *Engine) Scan(ctx context.Context, prefix, after []byte, limit int, fn func(kv.Entry) bool) error {
	var last []byte
	if after != nil {
		last = append([]byte(nil), after...)
	}
	seen := 0
	buf := make([]kv.Entry, 0, scanChunk)
	for {
		want := scanChunk
		if limit > 0 && limit-seen < want {
			want = limit - seen
		}
		buf = buf[:0]
		m := e.mem.Load() // before the transaction: see read
		err := e.view(ctx, func(tx *bolt.Tx) error {
			from := prefix
			if last != nil && bytes.Compare(last, prefix) >= 0 {
				from = last
			}
			it := scanIter(m, tx.Bucket(dataBucket).Cursor(), prefix, from)
			for k, v, ok := it.next(); ok && len(buf) < want; k, v, ok = it.next() {
				if last != nil && bytes.Equal(k, last) {
					continue
				}
				cell, err := decodeCell(v)
				if err != nil {
					return fmt.Errorf("engine: scan %q: %w", k, err)
				}
				buf = append(buf, kv.Entry{Key: append([]byte(nil), k...), Cell: cell})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, ent := range buf {
			if !fn(ent) {
				return nil
			}
		}
		seen += len(buf)
		if len(buf) < want || (limit > 0 && seen >= limit) {
			return nil
		}
		last = buf[len(buf)-1].Key
	}
}

// scanIter walks the keys under prefix from from on: the WAL state's over
// bbolt's (the bbolt cursor alone when the WAL holds nothing).
func scanIter(m *memSnap, c *bolt.Cursor, prefix, from []byte) kvIter {
	k, v := c.Seek(from)
	ci := &cursorIter{c: c, prefix: prefix, k: k, v: v}
	if m.empty() {
		return ci
	}
	its := m.active.iters(nil, prefix, from)
	its = m.imm.iters(its, prefix, from)
	return newMergeIter(append(its, ci)...)
}

// ForEach walks every stored key in order, tombstones included, in bounded
// chunks (each its own short read transaction), until fn returns false.
func (e *Engine) ForEach(ctx context.Context, fn func(kv.Entry) bool) error {
	return e.Scan(ctx, nil, nil, 0, fn)
}

// Probe checks that the file can be written, read back and cleaned up, in
// its own bucket: a node's health watcher calls it.
func (e *Engine) Probe(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.isClosed.Load() {
		return kv.ErrClosed
	}
	want := strconv.AppendInt(nil, time.Now().UnixNano(), 10)
	err := e.db.Load().Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(probeBucket)
		if err := b.Put(probeKey, want); err != nil {
			return err
		}
		if got := b.Get(probeKey); !bytes.Equal(got, want) {
			return fmt.Errorf("%w: read %q, wrote %q", ErrProbe, got, want)
		}
		return b.Delete(probeKey)
	})
	switch {
	case errors.Is(err, bolterrors.ErrDatabaseNotOpen):
		return kv.ErrClosed
	case err != nil:
		return fmt.Errorf("engine: probe: %w", err)
	}
	return nil
}

// Check verifies the file: bbolt's own page consistency check, every cell
// decodes, and the stored counters equal a recount. It reads the whole
// file in one transaction; meant for tests and offline tools.
func (e *Engine) Check(ctx context.Context) error {
	if err := e.flush(ctx); err != nil {
		return err
	}
	return e.view(ctx, func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("engine: check: %w", err)
		}
		live, tombs, err := recount(tx.Bucket(dataBucket))
		if err != nil {
			return fmt.Errorf("engine: check: %w", err)
		}
		meta := tx.Bucket(metaBucket)
		ml, _ := getCounter(meta, metaLive)
		mt, _ := getCounter(meta, metaTombstones)
		if ml != live || mt != tombs {
			return fmt.Errorf("%w: counters say %d live, %d tombstones; recount %d, %d", ErrCorrupt, ml, mt, live, tombs)
		}
		return tx.Bucket(dataBucket).ForEach(func(k, v []byte) error {
			if _, err := decodeCell(v); err != nil {
				return fmt.Errorf("engine: check %q: %w", k, err)
			}
			return nil
		})
	})
}
