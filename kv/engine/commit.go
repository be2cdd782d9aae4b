package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/klauspost/compress/s2"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

type opKind uint8

const (
	opApply opKind = iota
	opPurge
)

// op is one caller's mutation, queued for the committer. Everything the
// committer touches is owned by the op (keys and encodings are copied
// when it is built), so a caller that gives up on ctx may reuse its
// buffers while the op is still being committed.
type op struct {
	ctx  context.Context
	kind opKind
	keys [][]byte
	// opApply: encoded cells and the cells to cache once committed.
	encs  [][]byte
	cells []kv.Cell
	// opPurge: the versions to match; dropLive also deletes live cells
	// (Drop), not only tombstones.
	versions []kv.Version
	dropLive bool

	applied []bool
	err     error
	done    chan struct{}
	// notify, when set, is called instead of closing done (ApplyAsync).
	notify func(applied []bool, err error)
}

func (o *op) size() int { return len(o.keys) }

// finish wakes o's caller once applied and err hold its outcome.
func (o *op) finish() {
	if o.notify != nil {
		o.notify(o.applied, o.err)
		return
	}
	close(o.done)
}

// Apply stores each entry iff its version is newer than what its key holds
// (last write wins; a tombstone is an entry with Cell.Tombstone set). It
// returns once the batch holding the entries is durable; applied[i]
// reports whether entry i won. Every entry is checked with kv.CheckPair
// first: if one fails, nothing of the call is stored.
//
// Entries must carry a non-zero version whose node id fits
// kv.MaxNodeIDLen, else Apply fails with ErrInvalidVersion and stores
// nothing. If ctx ends first, Apply returns ctx.Err(); the entries may or
// may not have been stored (see the package doc).
func (e *Engine) Apply(ctx context.Context, entries ...kv.Entry) ([]bool, error) {
	o, err := e.newApply(ctx, entries)
	if err != nil {
		return nil, err
	}
	o.done = make(chan struct{})
	if err := e.submit(ctx, o); err != nil {
		return nil, err
	}
	return o.applied, nil
}

// ApplyAsync is Apply without a goroutine waiting for the commit: it
// returns at once, and done gets Apply's outcome later, on the engine's
// committer goroutine, so done must not block (the next commit waits for
// it). An error returned here is one Apply would return before queueing
// (done is then never called).
func (e *Engine) ApplyAsync(ctx context.Context, done func(applied []bool, err error), entries ...kv.Entry) error {
	o, err := e.newApply(ctx, entries)
	if err != nil {
		return err
	}
	o.notify = done
	return e.enqueue(o)
}

// newApply checks entries and builds their op.
func (e *Engine) newApply(ctx context.Context, entries []kv.Entry) (*op, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// One arena for every key and encoding of the call: one allocation,
	// owned by the engine from here on.
	total := 0
	for i := range entries {
		ent := &entries[i]
		if err := kv.CheckPair(ent.Key, ent.Cell.Value); err != nil {
			return nil, fmt.Errorf("engine: entry %d: %w", i, err)
		}
		if ent.Cell.Version.IsZero() {
			// The zero version is older than every write: storing it would
			// make a cell indistinguishable from an absent one.
			return nil, fmt.Errorf("%w: entry %d: zero version", ErrInvalidVersion, i)
		}
		if len(ent.Cell.Version.Node) > kv.MaxNodeIDLen {
			return nil, fmt.Errorf("%w: entry %d: node id of %d bytes", ErrInvalidVersion, i, len(ent.Cell.Version.Node))
		}
		total += len(ent.Key) + 10 + len(ent.Cell.Version.Node)
		if !ent.Cell.Tombstone {
			total += s2.MaxEncodedLen(len(ent.Cell.Value)) + len(ent.Cell.Value)
		}
	}
	arena := make([]byte, 0, total)
	o := &op{
		ctx:   ctx,
		kind:  opApply,
		keys:  make([][]byte, len(entries)),
		encs:  make([][]byte, len(entries)),
		cells: make([]kv.Cell, len(entries)),
	}
	for i := range entries {
		ent := &entries[i]
		off := len(arena)
		arena = append(arena, ent.Key...)
		o.keys[i] = arena[off:len(arena):len(arena)]
		off = len(arena)
		var raw []byte
		arena, raw = encodeCell(arena, ent.Cell, e.cfg.CompressMin)
		o.encs[i] = arena[off:len(arena):len(arena)]
		cell := kv.Cell{Version: ent.Cell.Version, Tombstone: ent.Cell.Tombstone}
		switch {
		case ent.Cell.Tombstone:
		case raw != nil:
			cell.Value = raw // shares the stored bytes: never modified
		case len(ent.Cell.Value) > 0:
			off = len(arena)
			arena = append(arena, ent.Cell.Value...)
			cell.Value = arena[off:len(arena):len(arena)]
		}
		o.cells[i] = cell
	}
	return o, nil
}

// Purge physically removes the tombstones of keys whose stored cell is
// still a tombstone of exactly versions[i] (tombstone GC once every
// replica has it). Keys holding anything else are left alone.
func (e *Engine) Purge(ctx context.Context, keys [][]byte, versions []kv.Version) error {
	return e.purge(ctx, keys, versions, false)
}

// Drop physically removes keys whose stored cell — live or tombstone — is
// still exactly versions[i]: a node deleting copies of ranges it no longer
// owns, which a newer write racing the drop must survive.
func (e *Engine) Drop(ctx context.Context, keys [][]byte, versions []kv.Version) error {
	return e.purge(ctx, keys, versions, true)
}

// purge queues the deletion of keys that still hold versions (tombstones
// only, unless dropLive) and waits for its commit.
func (e *Engine) purge(ctx context.Context, keys [][]byte, versions []kv.Version, dropLive bool) error {
	if len(keys) != len(versions) {
		return fmt.Errorf("%w: %d keys, %d versions", ErrInvalidVersion, len(keys), len(versions))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{ctx: ctx, kind: opPurge, dropLive: dropLive, keys: kv.Clone(keys...), versions: slices.Clone(versions), done: make(chan struct{})}
	return e.submit(ctx, o)
}

// submit queues o and waits for its commit or for ctx.
func (e *Engine) submit(ctx context.Context, o *op) error {
	if o.size() == 0 {
		if e.isClosed.Load() {
			return kv.ErrClosed
		}
		o.applied = []bool{}
		return nil
	}
	if err := e.enqueue(o); err != nil {
		return err
	}
	select {
	case <-o.done:
		return o.err
	case <-ctx.Done():
		select {
		case <-o.done: // committed meanwhile: report the real outcome
			return o.err
		default:
			return ctx.Err()
		}
	}
}

// enqueue hands o to the committer, which finishes it. An op of no entries
// is finished at once.
func (e *Engine) enqueue(o *op) error {
	if e.isClosed.Load() {
		return kv.ErrClosed
	}
	if o.size() == 0 {
		o.applied = []bool{}
		o.finish()
		return nil
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return kv.ErrClosed
	}
	e.queue = append(e.queue, o)
	e.queued += o.size()
	e.mu.Unlock()
	e.signal()
	return nil
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// take removes up to room entries' worth of ops from the queue (at least
// one op, however large). It also reports whether the engine is closed.
func (e *Engine) take(batch []*op, room int) ([]*op, int, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n, taken := 0, 0
	for _, o := range e.queue {
		if len(batch) > 0 && taken+o.size() > room {
			break
		}
		batch = append(batch, o)
		taken += o.size()
		n++
	}
	clear(e.queue[:n])
	e.queue = e.queue[n:]
	if len(e.queue) == 0 {
		e.queue = nil // let the backing array go
	}
	e.queued -= taken
	return batch, taken, e.closed
}

// committer is the single goroutine that writes: it turns whatever is
// queued into one bbolt transaction at a time.
func (e *Engine) committer() {
	defer close(e.exited)
	var batch []*op
	last := 0 // ops in the last batch
	for {
		<-e.wake
		for {
			var n int
			var closed bool
			batch, n, closed = e.take(batch[:0], e.cfg.MaxBatch)
			if len(batch) == 0 {
				if closed {
					return
				}
				e.maybeSwap()
				break
			}
			if !closed && n < e.cfg.MaxBatch {
				if d := e.cfg.MaxBatchDelay; d > 0 {
					batch, n = e.fill(batch, n, e.cfg.MaxBatch, d)
				} else if d := e.cfg.BusyBatchDelay; d > 0 && len(batch) < last {
					// The last batch held more ops than this one: its
					// writers are concurrent, and likely on their way.
					batch, n = e.fill(batch, n, last, d)
				}
			}
			last = len(batch)
			e.commit(batch)
			clear(batch)
			e.maybeSwap()
			// The writers just woken are about to queue again: let them
			// run before taking the next batch, or batches alternate
			// between two halves of the writers.
			runtime.Gosched()
		}
	}
}

// fill waits up to d for more ops, until the batch holds ops ops or
// MaxBatch entries.
func (e *Engine) fill(batch []*op, n, ops int, d time.Duration) ([]*op, int) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for n < e.cfg.MaxBatch && len(batch) < ops {
		select {
		case <-e.wake:
		case <-timer.C:
			// One last look: ops may have queued without a new signal.
			more, m, _ := e.take(batch, e.cfg.MaxBatch-n)
			return more, n + m
		}
		var m int
		var closed bool
		batch, m, closed = e.take(batch, e.cfg.MaxBatch-n)
		n += m
		if closed {
			break
		}
	}
	return batch, n
}

// keyRef names key i of op o of a batch.
type keyRef struct{ o, i int }

// commit applies batch in one transaction and wakes its waiters.
func (e *Engine) commit(batch []*op) {
	live := dropCancelled(batch)
	if len(live) == 0 {
		return
	}
	if e.w != nil {
		e.commitWAL(live)
		return
	}
	var t *txResult
	err := e.db.Load().Update(func(tx *bolt.Tx) error {
		var err error
		t, err = e.applyBatch(tx, live)
		return err
	})
	if err != nil {
		e.failBatch(live, err)
		return
	}
	e.size.Store(t.size)
	e.committed(live, t)
}

// committed publishes a durable batch: cache and counters move only now,
// and the waiters are woken last, so a caller that returns from Apply
// reads its own write.
func (e *Engine) committed(live []*op, t *txResult) {
	if t.corrupt > 0 {
		e.log.Warn("overwrote corrupt cells", "count", t.corrupt)
	}
	e.cache.apply(t.ups)
	e.live.Store(t.live)
	e.tombs.Store(t.tombs)
	e.commits.Add(1)
	e.writes.Add(t.writes)
	for _, o := range live {
		o.finish()
	}
}

// dropCancelled wakes the ops of batch whose caller gave up before the
// commit (nothing of theirs is written) and returns the others.
func dropCancelled(batch []*op) []*op {
	var live []*op
	for _, o := range batch {
		if err := o.ctx.Err(); err != nil {
			o.err = err
			o.finish()
			continue
		}
		live = append(live, o)
	}
	return live
}

// failBatch hands a failed transaction's error to every waiter (bbolt
// rolled it back: nothing of the batch is stored).
func (e *Engine) failBatch(live []*op, err error) {
	e.failed.Add(1)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		err = kv.ErrClosed
	} else {
		err = fmt.Errorf("engine: commit: %w", err)
	}
	e.log.Error("commit failed", "ops", len(live), "err", err)
	for _, o := range live {
		o.applied, o.err = nil, err
		o.finish()
	}
}

// txResult is what one commit transaction did, applied to the cache and
// counters once it is durable.
type txResult struct {
	data        cellStore
	ups         []cacheUpdate
	live, tombs int64 // the counters after the transaction
	writes      int64
	size        int64
	corrupt     int // cells that did not decode, overwritten or kept
}

// cellStore is where the write path reads and writes cells: a bbolt
// bucket, or (with the WAL) an overlay recording the batch's changes.
type cellStore interface {
	Get(k []byte) []byte
	Put(k, v []byte) error
	Delete(k []byte) error
}

// applyBatch writes the ops of one batch inside tx (no WAL): see applyOps.
func (e *Engine) applyBatch(tx *bolt.Tx, live []*op) (*txResult, error) {
	t, err := e.applyOps(tx.Bucket(dataBucket), live)
	if err != nil {
		return nil, err
	}
	if err := putCounters(tx.Bucket(metaBucket), t.live, t.tombs); err != nil {
		return nil, fmt.Errorf("counters: %w", err)
	}
	t.size = tx.Size()
	return t, nil
}

// applyOps writes the ops of one batch to data: applies first, in key
// order across the whole batch, then purges and drops; then it runs the
// fault-injection hook, whose error fails the batch.
func (e *Engine) applyOps(data cellStore, live []*op) (*txResult, error) {
	t := &txResult{data: data, live: e.live.Load(), tombs: e.tombs.Load()}
	if err := t.applyInKeyOrder(live); err != nil {
		return nil, err
	}
	for _, o := range live {
		if o.kind == opPurge {
			if err := t.purge(o); err != nil {
				return nil, err
			}
		}
	}
	if h := e.cfg.TestingBeforeCommit; h != nil {
		if err := h(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// applyInKeyOrder stores every entry of the batch's applies that is newer
// than what its key holds. Applies are done in key order across the whole
// batch: bbolt then touches each leaf once, in sequence, instead of
// hopping between random pages (the order of writes to different keys
// does not matter, and for the same key the version decides).
func (t *txResult) applyInKeyOrder(live []*op) error {
	var refs []keyRef
	for oi, o := range live {
		if o.kind == opApply {
			o.applied = make([]bool, len(o.keys))
			for i := range o.keys {
				refs = append(refs, keyRef{o: oi, i: i})
			}
		}
	}
	slices.SortFunc(refs, func(a, b keyRef) int { return bytes.Compare(live[a.o].keys[a.i], live[b.o].keys[b.i]) })
	for _, r := range refs {
		o, i := live[r.o], r.i
		k := o.keys[i]
		old, exists := t.current(k)
		if exists && !o.cells[i].Version.Newer(old.version) {
			continue
		}
		if err := t.data.Put(k, o.encs[i]); err != nil {
			return fmt.Errorf("put %q: %w", k, err)
		}
		if exists {
			dec(&t.live, &t.tombs, old.tombstone)
		}
		inc(&t.live, &t.tombs, o.cells[i].Tombstone)
		o.applied[i] = true
		t.writes++
		t.ups = append(t.ups, cacheUpdate{key: k, cell: o.cells[i]})
	}
	return nil
}

// purge deletes the keys of a purge (or drop) op that still hold exactly
// the op's versions (tombstones only, unless dropLive).
func (t *txResult) purge(o *op) error {
	for i, k := range o.keys {
		old, exists := t.current(k)
		if !exists || (!old.tombstone && !o.dropLive) || old.version.Compare(o.versions[i]) != 0 {
			continue
		}
		if err := t.data.Delete(k); err != nil {
			return fmt.Errorf("purge %q: %w", k, err)
		}
		dec(&t.live, &t.tombs, old.tombstone)
		t.writes++
		t.ups = append(t.ups, cacheUpdate{key: k, del: true})
	}
	return nil
}

// current is currentHeader, counting corrupt cells. Under the write-ahead
// log it asks the cache first: a write's check of the version its key
// holds was a search of bbolt's B+tree per key, 7 % of a three-node
// cluster's CPU under 100 B SETs. The header has no body then, which no
// caller of current reads.
func (t *txResult) current(k []byte) (cellHeader, bool) {
	if ov, ok := t.data.(*overlay); ok {
		if h, ok := ov.cachedHeader(k); ok {
			return h, true
		}
	}
	h, exists, corrupt := currentHeader(t.data, k)
	t.corrupt += corrupt
	return h, exists
}

// currentHeader reads what key holds inside the write transaction. A cell
// that does not decode is treated as present, live and older than any
// write, so a write repairs it (corrupt=1 reports it).
func currentHeader(data cellStore, k []byte) (h cellHeader, exists bool, corrupt int) {
	v := data.Get(k)
	if v == nil {
		return cellHeader{}, false, 0
	}
	h, err := decodeHeader(v)
	if err != nil {
		return cellHeader{}, true, 1
	}
	return h, true, 0
}

func inc(live, tombs *int64, tombstone bool) {
	if tombstone {
		*tombs++
	} else {
		*live++
	}
}

func dec(live, tombs *int64, tombstone bool) {
	if tombstone {
		*tombs--
	} else {
		*live--
	}
}
