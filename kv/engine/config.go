package engine

import (
	"cmp"
	"fmt"
	"log/slog"
	"time"
)

// Defaults used for zero Config fields.
const (
	DefaultCacheCells  = 1 << 18
	DefaultCacheBytes  = 64 << 20
	DefaultMaxBatch    = 32768
	DefaultCompressMin = 128
	DefaultOpenTimeout = time.Second

	// DefaultBusyBatchDelay is about one fdatasync on a virtual disk.
	DefaultBusyBatchDelay = 250 * time.Microsecond

	DefaultCheckpointBytes    = 16 << 20
	DefaultCheckpointInterval = 5 * time.Second
	DefaultCheckpointTxBytes  = 2 << 20
)

// Config tunes an Engine. The zero value is usable: every zero field means
// its default.
type Config struct {
	// CacheCells is the most cells the hot-cell cache holds. 0 means
	// DefaultCacheCells; a negative value disables the cache. The default
	// (256 Ki cells) is high enough that CacheBytes is the bound that
	// matters unless values and keys are tiny.
	CacheCells int

	// CacheBytes bounds the cache's size: every cached cell's key and
	// value bytes and its bookkeeping (about 100 bytes a cell), so neither
	// 10 KiB values nor long keys with empty values can grow it past the
	// bound. 0 means DefaultCacheBytes; negative means no byte bound.
	CacheBytes int

	// MaxBatch is the most entries (writes, purges, removals) one group
	// commit takes. 0 means DefaultMaxBatch. One call with more entries
	// than MaxBatch is still committed whole, alone.
	MaxBatch int

	// MaxBatchDelay is how long the committer may wait for more writes
	// before committing a batch that is not full. 0 means no wait: a batch
	// is whatever queued while the previous commit was fsyncing, which is
	// already enough to amortise fsync under load without adding latency
	// when idle.
	MaxBatchDelay time.Duration

	// BusyBatchDelay is how long the committer waits for more writes after
	// a batch of more than one op, that is, while writers are concurrent: a
	// commit then carries what arrived during that wait as well as during
	// the previous fsync, so a loaded node syncs less often for the same
	// writes. A lone writer is never delayed. 0 means no such wait;
	// DefaultConfig sets DefaultBusyBatchDelay.
	BusyBatchDelay time.Duration

	// CompressMin is the shortest value that is compressed. 0 means
	// DefaultCompressMin; negative disables compression.
	CompressMin int

	// OpenTimeout is how long Open waits for the file lock before failing
	// with ErrLocked. 0 means DefaultOpenTimeout.
	OpenTimeout time.Duration

	// NoWAL commits every batch straight to bbolt (two fdatasyncs and the
	// random page writes per group commit) instead of appending it to
	// the write-ahead log (one sequential fdatasync) and checkpointing
	// into bbolt in the background. Both are durable: for comparison.
	NoWAL bool

	// CheckpointBytes is the WAL segment size that starts a checkpoint
	// (0: DefaultCheckpointBytes); CheckpointInterval is the most time
	// written data stays only in the WAL (0: DefaultCheckpointInterval).
	// Both bound the memory the WAL state holds and the replay after a
	// crash. The longer the interval, the more writes of a hot range share
	// each page a checkpoint writes: at 1 s, 100-byte writes over 100,000
	// keys rewrote about half a leaf page each.
	CheckpointBytes    int64
	CheckpointInterval time.Duration

	// CheckpointTxBytes is the most bytes of changes (keys and cells) one
	// bbolt transaction of a checkpoint writes (0:
	// DefaultCheckpointTxBytes); a checkpoint is as many transactions as
	// it takes. It bounds the dirty pages bbolt holds in memory until a
	// commit: about one 4 KiB page per key written.
	CheckpointTxBytes int

	// NoSync skips fsync on commit. Only for tests and benchmarks that
	// measure CPU cost: an acknowledged write can be lost on a crash.
	NoSync bool

	// Logger receives the engine's logs. nil discards them.
	Logger *slog.Logger

	// TestingBeforeCommit, when set, is called inside every group commit's
	// transaction after the batch is applied; a non-nil error aborts the
	// transaction as a failing disk would. For fault-injection tests only.
	TestingBeforeCommit func() error

	// TestingAfterCheckpointTx, when set, is called after each committed
	// transaction of a checkpoint; last reports the checkpoint's final
	// one. For crash tests only.
	TestingAfterCheckpointTx func(last bool)
}

// DefaultConfig returns a Config with every default spelled out.
func DefaultConfig() Config {
	return Config{
		CacheCells:     DefaultCacheCells,
		CacheBytes:     DefaultCacheBytes,
		MaxBatch:       DefaultMaxBatch,
		BusyBatchDelay: DefaultBusyBatchDelay,
		CompressMin:    DefaultCompressMin,
		OpenTimeout:    DefaultOpenTimeout,

		CheckpointBytes:    DefaultCheckpointBytes,
		CheckpointInterval: DefaultCheckpointInterval,
		CheckpointTxBytes:  DefaultCheckpointTxBytes,
	}
}

// Validate reports a Config whose values are out of bounds.
func (c Config) Validate() error {
	if c.MaxBatch < 0 {
		return fmt.Errorf("%w: MaxBatch %d < 0", ErrInvalidConfig, c.MaxBatch)
	}
	if c.MaxBatchDelay < 0 || c.MaxBatchDelay > time.Second {
		return fmt.Errorf("%w: MaxBatchDelay %v outside 0..1s", ErrInvalidConfig, c.MaxBatchDelay)
	}
	if c.BusyBatchDelay < 0 || c.BusyBatchDelay > time.Second {
		return fmt.Errorf("%w: BusyBatchDelay %v outside 0..1s", ErrInvalidConfig, c.BusyBatchDelay)
	}
	if c.CheckpointBytes < 0 || c.CheckpointInterval < 0 || c.CheckpointTxBytes < 0 {
		return fmt.Errorf("%w: CheckpointBytes %d, CheckpointInterval %v, CheckpointTxBytes %d: negative", ErrInvalidConfig, c.CheckpointBytes, c.CheckpointInterval, c.CheckpointTxBytes)
	}
	if c.OpenTimeout < 0 {
		return fmt.Errorf("%w: OpenTimeout %v < 0", ErrInvalidConfig, c.OpenTimeout)
	}
	return nil
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.CacheCells = cmp.Or(c.CacheCells, d.CacheCells)
	c.CacheBytes = cmp.Or(c.CacheBytes, d.CacheBytes)
	c.MaxBatch = cmp.Or(c.MaxBatch, d.MaxBatch)
	c.CompressMin = cmp.Or(c.CompressMin, d.CompressMin)
	c.OpenTimeout = cmp.Or(c.OpenTimeout, d.OpenTimeout)
	c.CheckpointBytes = cmp.Or(c.CheckpointBytes, d.CheckpointBytes)
	c.CheckpointInterval = cmp.Or(c.CheckpointInterval, d.CheckpointInterval)
	c.CheckpointTxBytes = cmp.Or(c.CheckpointTxBytes, d.CheckpointTxBytes)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
