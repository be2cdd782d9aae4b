// Package engine is one Grafo node's durable storage: versioned cells in a
// single bbolt file, behind a write-ahead log.
//
// It owns the on-disk cell format, last-write-wins conflict resolution per
// key, tombstones and their physical removal, value compression, the
// hot-cell cache and the live/tombstone counters. It knows nothing about
// rings, replicas or graphs; kv/replica coordinates many engines.
//
// # Layout
//
// The file holds three buckets. "data" maps the raw key bytes to an
// encoded cell, so that every row of a partition is adjacent and a
// partition is one prefix scan. "meta" holds the live and tombstone
// counters, updated in the same transaction as the data they count, so
// Keys is exact after a crash or reopen. "probe" is scratch space for the
// health probe and never touches data.
//
// A stored cell is
//
//	format byte (0xC0 | flags: 1 tombstone, 2 compressed)
//	version     (kv.Version.AppendBinary: 8-byte TS, node length, node)
//	value       (raw, or an s2 block when compressed)
//
// Values are compressed with s2 (klauspost/compress) when they are at least
// Config.CompressMin bytes and the block is smaller than the value. s2 was
// chosen over zstd because it is several times faster on both sides and its
// block header states the decoded length, so a corrupt cell is rejected
// before any allocation: the engine is fsync-bound on writes and
// cache-bound on reads, and pairs are at most 10 KiB.
//
// # Group commit
//
// Every mutation (Apply, Purge, Drop) is queued for a single committer
// goroutine, which takes everything queued (up to Config.MaxBatch entries)
// and makes it durable at once, then wakes every waiter. Within a batch,
// the entries of every Apply are resolved in key order, and purges and
// drops follow. Each entry is compared with what its key holds at that
// moment (including other entries of the same batch), so conflicts on one
// key resolve by version exactly as they would one at a time: the newest
// version wins whatever the order. If the commit fails, every waiter of
// the batch gets the error and nothing of it is stored; the cache and
// counters are touched only after a successful commit.
//
// # Write-ahead log
//
// A batch is made durable by appending one record to a write-ahead log,
// PATH.wal.SEQ, and one fdatasync: a sequential write of the batch's
// bytes, where a bbolt commit is two fdatasyncs (pages, then meta page)
// after writing every page the batch touched, at random offsets. Records
// are physical (the cell each key ends up holding, or its removal) and
// carry a sequence number and a CRC-32C. The batch's changes are then
// published in the WAL state: two immutable tables of sorted runs (the
// active one, and the one being checkpointed; memtable.go) that reads and
// scans consult before bbolt, so a reader needs no lock and sees a
// consistent snapshot.
//
// A checkpointer goroutine moves the WAL state into bbolt: when the
// segment reaches Config.CheckpointBytes or Config.CheckpointInterval
// has passed, the committer freezes the active table and starts a new
// segment; the checkpointer writes the frozen table into bbolt in key
// order, in transactions of at most Config.CheckpointTxBytes (fsynced as
// always; the last one with the counters and the sequence number it
// covers) and retires the segments it covers: two are kept as spares,
// and a new segment is a spare renamed and written over from the start,
// since an fdatasync of writes inside a file's size flushes no metadata
// (each incarnation's records carry its own nonce in their CRC, so stale
// records end a segment). Checkpoints write
// each page once for thousands of writes, off the writers' path. Should
// one fall behind (the new segment reaching four times
// CheckpointBytes while it runs), the committer waits for it.
//
// Open replays the records after the sequence number bbolt holds, in one
// transaction (recounting first if a crash came between two transactions
// of a checkpoint, which delete the counters), so a crash (kill -9 or power loss) loses no acknowledged
// write. A record cut short by a crash can only be the last one of the
// last segment, never acknowledged: replay stops there. A segment that
// ends before the next one starts (records lost that bbolt does not hold)
// fails Open with ErrCorrupt. Replaying a record twice
// leaves the same state, so a crash at any point of a checkpoint is safe.
// Close checkpoints everything and retires the log. Config.NoWAL commits
// every batch straight to bbolt instead (the engine before the log), for
// comparison: durable as well, slower per write.
//
// Cancellation: a waiter whose context ends before the committer picks its
// operation up is dropped from the batch and gets ctx.Err() with nothing
// stored. If the context ends while its batch is being committed, the
// caller gets ctx.Err() but the write may or may not be stored; writes are
// idempotent under their version, so retrying is safe.
//
// # Cache
//
// A bounded, sharded LRU of decoded cells is filled by reads, behind a
// TinyLFU admission test: each shard keeps a count-min sketch of recent
// reads, and a fill that would evict goes in only if its key was read
// more often than the cell it would push out. A read pattern that cycles
// through more keys than the cache holds then hits on a stable part of
// them, where a plain LRU evicts every cell just before its next read
// (peerload's 100,000 keys of 1 KiB against the 64 MiB default: 15 % of
// reads hit with LRU, 53 % now). The sketches take 4 to 8 bytes per cell
// the cache may hold, and at most 8 MiB. Commits
// refresh (or, for purges and drops, evict) cells the cache already holds,
// and add new cells only into free room, never evicting: a bulk load of
// rows nobody reads soon must not evict the hot read set, but a key read
// soon after its write should hit.
// The committer updates each touched shard after the commit and bumps the
// shard's sequence number; a reader fills the cache only if the shard's
// sequence did not move while it read, so a reader holding an older bbolt
// snapshot never overwrites a newer cell. Cells handed out are copies:
// callers may modify them.
//
// # Scans
//
// Scan and ForEach merge the WAL state's runs with bbolt's cursor and
// read in bounded chunks, each in its own short read
// transaction, and call fn outside any transaction. That keeps long walks
// from pinning old pages (and blocking bbolt's remap) and lets fn call back
// into the engine. The walk is therefore not one snapshot: a key written
// during the walk may or may not be seen, but every key is seen at most
// once and in order.
package engine
