package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// metaWALSeq holds the sequence number of the last WAL record whose
// changes bbolt holds: replay skips records up to it.
var metaWALSeq = []byte("walseq")

// ckptJob is one checkpoint: the frozen WAL state imm, the last record it
// covers, the counters as of that record, and the first sequence number
// of the segment opened after it (every older segment is covered by imm).
type ckptJob struct {
	imm         *memTable
	seq         uint64
	live, tombs int64
	keepFrom    uint64
}

// walState is the engine's WAL side; nil when Config.NoWAL.
type walState struct {
	log      *wal   // the segment being appended to (committer only)
	seq      uint64 // last record written (committer only)
	broken   error  // set when the log could not be repaired (committer only)
	pending  *ckptJob
	jobs     chan ckptJob  // committer → checkpointer, cap 1
	done     chan struct{} // cap 1: a checkpoint finished
	stop     chan struct{} // closed by Close: the checkpointer ends
	exited   chan struct{} // closed when the checkpointer is gone
	swapWant chan struct{} // cap 1: the checkpointer asks for a swap
}

// commitWAL makes a batch durable in the WAL: it resolves the batch
// against the current state (bbolt under the WAL state), appends the
// resulting changes as one record with one fdatasync, then publishes them.
func (e *Engine) commitWAL(live []*op) {
	t, changes, err := e.resolve(live)
	if err == nil && len(changes) > 0 {
		err = e.appendWAL(changes)
	}
	if err != nil {
		e.failBatch(live, err)
		return
	}
	if len(changes) > 0 {
		e.memMu.Lock()
		e.mem.Store(e.mem.Load().withChanges(changes))
		e.memMu.Unlock()
	}
	e.committed(live, t)
}

// resolve applies the batch to an overlay of the current state, in a bbolt
// read transaction, and returns the changes it makes.
func (e *Engine) resolve(live []*op) (*txResult, []change, error) {
	tx, err := e.db.Load().Begin(false)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	keys := 0
	for _, o := range live {
		keys += o.size()
	}
	ov := &overlay{mem: e.mem.Load(), base: tx.Bucket(dataBucket), cache: e.cache, pending: make(map[string]int, keys), changes: make([]change, 0, keys)}
	t, err := e.applyOps(ov, live)
	if err != nil {
		return nil, nil, err
	}
	return t, ov.changes, nil
}

func (e *Engine) appendWAL(changes []change) error {
	w := e.w
	if w.broken != nil {
		return w.broken
	}
	seq := w.seq + 1
	broken, err := w.log.appendRecord(seq, changes, !e.cfg.NoSync)
	if broken {
		w.broken = err
	}
	if err != nil {
		return err
	}
	w.seq = seq
	return nil
}

// maybeSwap runs in the committer between batches: when the segment is
// full, or the checkpointer asks (time), it freezes the WAL state for a
// checkpoint and starts a new segment. While a checkpoint is still
// running, a segment over four times the bound makes the committer wait
// for it: writes slow down to what bbolt absorbs.
func (e *Engine) maybeSwap() {
	w := e.w
	if w == nil {
		return
	}
	full := w.log.off >= e.cfg.CheckpointBytes
	asked := false
	select {
	case <-w.swapWant:
		asked = true
	default:
	}
	if !full && !asked {
		return
	}
	if e.pendingJob() != nil {
		if w.log.off < 4*e.cfg.CheckpointBytes {
			return
		}
		select {
		case <-w.done:
		case <-w.stop:
		}
		if e.pendingJob() != nil {
			return
		}
	}
	if e.mem.Load().active.empty() {
		return
	}
	if err := e.swap(); err != nil {
		e.log.Error("starting a wal segment", "err", err)
	}
}

func (e *Engine) pendingJob() *ckptJob {
	e.memMu.Lock()
	defer e.memMu.Unlock()
	return e.w.pending
}

// swap freezes the active WAL state into a checkpoint job and continues
// in a new segment.
func (e *Engine) swap() error {
	w := e.w
	next, err := createSegment(e.path, w.seq+1)
	if err != nil {
		return err
	}
	if err := w.log.close(); err != nil {
		e.log.Warn("closing a wal segment", "err", err)
	}
	w.log = next
	e.memMu.Lock()
	m := e.mem.Load()
	job := &ckptJob{imm: m.active, seq: w.seq, live: e.live.Load(), tombs: e.tombs.Load(), keepFrom: w.seq + 1}
	w.pending = job
	e.mem.Store(&memSnap{active: emptyTable, imm: m.active})
	e.memMu.Unlock()
	w.jobs <- *job
	return nil
}

// checkpointer writes frozen WAL states into bbolt, and every
// CheckpointInterval asks the committer to freeze what is pending.
func (e *Engine) checkpointer() {
	w := e.w
	defer close(w.exited)
	tick := time.NewTicker(e.cfg.CheckpointInterval)
	defer tick.Stop()
	for {
		select {
		case job := <-w.jobs:
			for e.checkpoint(job) != nil {
				select {
				case <-w.stop:
					return // Close finishes the job
				case <-time.After(100 * time.Millisecond):
				}
			}
		case <-tick.C:
			if m := e.mem.Load(); m.imm == nil && !m.active.empty() {
				select {
				case w.swapWant <- struct{}{}:
				default:
				}
				e.signal()
			}
		case <-w.stop:
			return
		}
	}
}

// checkpoint writes job into bbolt, in key order, in synced transactions
// of at most Config.CheckpointTxBytes of changes each; the last one also
// stores the counters and the sequence number it covers. Then it drops
// the job from the WAL state and retires the segments it covers.
//
// One transaction per job would hold every page the job touches in
// memory until its commit (bbolt copies each dirty page): with random
// keys that is one page per key, over 100 MiB for a 16 MiB segment. The
// keys go in order, so each transaction touches its own range of leaf
// pages and the split writes hardly more pages than one transaction.
//
// A crash between two of the transactions leaves bbolt holding part of
// the job, under the counters of the previous checkpoint: each partial
// transaction therefore deletes the counters, so that Open recounts them
// from the data (init) before replaying the job's records, which are
// idempotent.
func (e *Engine) checkpoint(job ckptJob) error {
	var size int64
	it := job.imm.all()
	k, enc, more := it.next()
	for more {
		err := e.db.Load().Update(func(tx *bolt.Tx) error {
			data := tx.Bucket(dataBucket)
			n := 0
			for ; more && n < e.cfg.CheckpointTxBytes; k, enc, more = it.next() {
				var err error
				if enc == nil {
					err = data.Delete(k)
				} else {
					err = data.Put(k, enc)
				}
				if err != nil {
					return err
				}
				n += len(k) + len(enc)
			}
			size = tx.Size()
			meta := tx.Bucket(metaBucket)
			if more {
				return errors.Join(meta.Delete(metaLive), meta.Delete(metaTombstones))
			}
			return putWALMeta(meta, job.live, job.tombs, job.seq)
		})
		if err != nil {
			e.failed.Add(1)
			e.log.Error("checkpoint failed", "seq", job.seq, "err", err)
			return err
		}
		if h := e.cfg.TestingAfterCheckpointTx; h != nil {
			h(!more)
		}
	}
	e.memMu.Lock()
	if m := e.mem.Load(); m.imm == job.imm {
		e.mem.Store(&memSnap{active: m.active})
	}
	e.w.pending = nil
	e.memMu.Unlock()
	e.size.Store(size)
	e.removeSegments(job.keepFrom)
	select {
	case e.w.done <- struct{}{}:
	default:
	}
	return nil
}

func putWALMeta(meta *bolt.Bucket, live, tombs int64, seq uint64) error {
	if err := putCounters(meta, live, tombs); err != nil {
		return err
	}
	return meta.Put(metaWALSeq, binary.BigEndian.AppendUint64(nil, seq))
}

// removeSegments retires the segments whose records all precede keepFrom:
// up to spareSegments of them become spares, for later segments to be
// written over.
func (e *Engine) removeSegments(keepFrom uint64) {
	names, firsts, err := segments(e.path)
	if err != nil {
		e.log.Warn("listing wal segments", "err", err)
		return
	}
	for i, n := range names { // oldest first: a crash leaves no gap
		if firsts[i] < keepFrom {
			if err := retire(e.path, n, firsts[i]); err != nil {
				e.log.Warn("retiring a wal segment", "err", err)
			}
		}
	}
}

// flush checkpoints everything the WAL holds (for Check, on a quiet
// engine).
func (e *Engine) flush(ctx context.Context) error {
	for e.w != nil && !e.mem.Load().empty() {
		select {
		case e.w.swapWant <- struct{}{}:
		default:
		}
		e.signal()
		select {
		case <-e.w.done:
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		if e.isClosed.Load() {
			return nil
		}
	}
	return nil
}

// closeWAL runs in Close once the committer is gone: it stops the
// checkpointer, checkpoints what is left (a pending job, then the active
// state) and retires the segments. If that fails the segments stay, and
// the next Open replays them.
func (e *Engine) closeWAL() error {
	w := e.w
	close(w.stop)
	<-w.exited
	if job := w.pending; job != nil {
		if err := e.checkpoint(*job); err != nil {
			w.log.close()
			return err
		}
	}
	if m := e.mem.Load(); !m.active.empty() {
		job := ckptJob{imm: m.active, seq: w.seq, live: e.live.Load(), tombs: e.tombs.Load(), keepFrom: w.seq + 1}
		e.memMu.Lock()
		e.mem.Store(&memSnap{active: emptyTable, imm: m.active})
		e.memMu.Unlock()
		if err := e.checkpoint(job); err != nil {
			w.log.close()
			return err
		}
	}
	w.log.close()
	e.removeSegments(w.seq + 1)
	return nil
}

// replay applies the records bbolt does not hold yet (a crash left them)
// in one synced transaction, retires the segments, and returns the last
// sequence number. It runs even with Config.NoWAL, so that switching the
// log off after a crash loses nothing. A segment ends at its first record
// that does not check: stale bytes of a recycled segment, or a write cut
// short by a crash and never acknowledged. A segment that ends before the
// next one starts lost records, and a record that checks but is out of
// sequence is corruption: Open fails.
func (e *Engine) replay() (uint64, error) {
	names, firsts, err := segments(e.path)
	if err != nil {
		return 0, fmt.Errorf("engine: wal: %w", err)
	}
	var after uint64
	if err := e.db.Load().View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(metaBucket).Get(metaWALSeq); len(b) == 8 {
			after = binary.BigEndian.Uint64(b)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	last, n, err := e.replaySegments(names, firsts, after)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		e.log.Info("replayed the wal", "records", n, "through", last)
	}
	e.removeSegments(^uint64(0))
	return last, nil
}

// replaySegments applies the records after seq after of the named
// segments to bbolt and returns the last sequence number seen and how many
// records it applied.
func (e *Engine) replaySegments(names []string, firsts []uint64, after uint64) (last uint64, n int, err error) {
	last = after
	err = e.db.Load().Update(func(tx *bolt.Tx) error {
		t := &txResult{data: tx.Bucket(dataBucket), live: e.live.Load(), tombs: e.tombs.Load()}
		for i, name := range names {
			next, rerr := readSegment(name, firsts[i], func(seq uint64, changes []change) error {
				last = max(last, seq)
				if seq <= after {
					return nil
				}
				n++
				return t.redo(changes)
			})
			if errors.Is(rerr, errTornRecord) && i == len(names)-1 {
				e.log.Warn("wal ends in a torn record (a write cut short by a crash); replay stops there", "segment", name)
				rerr = nil
			}
			// Each segment starts where the one before ended: a segment
			// that ends early lost records, unless bbolt holds them.
			if rerr == nil && i+1 < len(names) && firsts[i+1] > next && firsts[i+1]-1 > after {
				rerr = fmt.Errorf("records %d to %d are missing", max(next, after+1), firsts[i+1]-1)
			}
			if rerr != nil {
				return fmt.Errorf("%w: wal segment %s: %v", ErrCorrupt, name, rerr)
			}
		}
		if n == 0 {
			return nil
		}
		e.live.Store(t.live)
		e.tombs.Store(t.tombs)
		e.size.Store(tx.Size())
		return putWALMeta(tx.Bucket(metaBucket), t.live, t.tombs, last)
	})
	return last, n, err
}

// redo applies a record's physical changes, keeping the counters right
// whatever the key held before (so replaying twice changes nothing).
func (t *txResult) redo(changes []change) error {
	for _, c := range changes {
		if old, exists := t.current(c.key); exists {
			dec(&t.live, &t.tombs, old.tombstone)
		}
		var err error
		if c.enc == nil {
			err = t.data.Delete(c.key)
		} else {
			h, herr := decodeHeader(c.enc)
			if herr != nil {
				return herr
			}
			inc(&t.live, &t.tombs, h.tombstone)
			err = t.data.Put(c.key, c.enc)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
