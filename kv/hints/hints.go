package hints

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

var bucket = []byte("hints")

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("hints: closed")

// Config configures a Store. The zero value of every field means its
// default.
type Config struct {
	// Window is how long a hint is kept; older ones are dropped (the
	// target was down too long; anti-entropy repairs it). 0 means 3h.
	Window time.Duration
	// MaxEntries bounds the entries kept; beyond it the oldest records are
	// dropped. 0 means 1,000,000.
	MaxEntries int64
	// Rate is how many entries per second the worker delivers at most.
	// 0 means 5000.
	Rate int
	// Interval is how often the worker looks for deliverable hints when
	// nothing wakes it. 0 means 500ms.
	Interval time.Duration
	// NoSync skips fsync (tests only).
	NoSync bool
	Logger *slog.Logger
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Window: 3 * time.Hour, MaxEntries: 1_000_000, Rate: 5000, Interval: 500 * time.Millisecond}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = d.MaxEntries
	}
	if c.Rate <= 0 {
		c.Rate = d.Rate
	}
	if c.Interval <= 0 {
		c.Interval = d.Interval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Target is what delivery needs: whether a node is alive, and a way to
// apply entries (with their own versions) on it.
type Target interface {
	Alive(node string) bool
	ApplyTo(ctx context.Context, node string, entries []kv.Entry) error
}

// Store is a durable hint store. It is safe for concurrent use.
type Store struct {
	cfg     Config
	db      *bolt.DB
	log     *slog.Logger
	pending atomic.Int64
	closed  atomic.Bool
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	runOnce sync.Once
	stopMu  sync.Once
	now     func() time.Time

	stored, delivered, expired, dropped prometheus.Counter
	pendingG                            prometheus.GaugeFunc
}

// Open opens (creating) the hint file at path.
func Open(path string, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: cfg.NoSync})
	if err != nil {
		return nil, fmt.Errorf("hints: open %s: %w", path, err)
	}
	s := &Store{cfg: cfg, db: db, log: cfg.Logger, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), now: time.Now}
	var n int64
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			r, err := decodeRecord(v)
			if err == nil {
				n += int64(len(r.entries))
			}
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("hints: init: %w", err)
	}
	s.pending.Store(n)
	s.stored = prometheus.NewCounter(prometheus.CounterOpts{Name: "grafo_hints_stored_total", Help: "Entries kept as hints for unreachable replicas."})
	s.delivered = prometheus.NewCounter(prometheus.CounterOpts{Name: "grafo_hints_delivered_total", Help: "Hinted entries delivered to their replica."})
	s.expired = prometheus.NewCounter(prometheus.CounterOpts{Name: "grafo_hints_expired_total", Help: "Hinted entries dropped because they outlived the hint window."})
	s.dropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "grafo_hints_dropped_total", Help: "Hinted entries dropped because the store was full."})
	s.pendingG = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "grafo_hints_pending", Help: "Hinted entries waiting for delivery."},
		func() float64 { return float64(s.pending.Load()) })
	if n > 0 {
		s.log.Info("hints loaded", "pending", n)
	}
	return s, nil
}

// Collectors returns the store's Prometheus collectors.
func (s *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.stored, s.delivered, s.expired, s.dropped, s.pendingG}
}

// Pending is the number of entries waiting for delivery.
func (s *Store) Pending() int64 { return s.pending.Load() }

// Add keeps entries for node. It returns once they are durable.
func (s *Store) Add(ctx context.Context, node string, entries []kv.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rec := encodeRecord(record{node: node, added: s.now(), entries: entries})
	var dropped int64
	err := s.db.Batch(func(tx *bolt.Tx) error {
		dropped = 0
		b := tx.Bucket(bucket)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), rec); err != nil {
			return err
		}
		// Oldest first out when over the bound.
		over := s.pending.Load() + int64(len(entries)) - s.cfg.MaxEntries
		c := b.Cursor()
		for k, v := c.First(); k != nil && over > 0; k, v = c.First() {
			r, _ := decodeRecord(v)
			if err := c.Delete(); err != nil {
				return err
			}
			over -= int64(len(r.entries))
			dropped += int64(len(r.entries))
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, bolt.ErrDatabaseNotOpen) {
			return ErrClosed
		}
		return fmt.Errorf("hints: add: %w", err)
	}
	s.pending.Add(int64(len(entries)) - dropped)
	s.stored.Add(float64(len(entries)))
	if dropped > 0 {
		s.dropped.Add(float64(dropped))
		s.log.Warn("hint store full, dropped oldest hints", "entries", dropped)
	}
	return nil
}

// Wake makes the worker look for deliverable hints now (e.g. after a
// membership change).
func (s *Store) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run starts the delivery worker (once).
func (s *Store) Run(t Target) {
	s.runOnce.Do(func() { go s.run(t) })
}

// Close stops the worker and closes the file.
func (s *Store) Close() error {
	s.stopMu.Do(func() { close(s.stop) })
	started := true
	s.runOnce.Do(func() { started = false })
	if started {
		<-s.done
	}
	s.closed.Store(true)
	return s.db.Close()
}

func (s *Store) run(t Target) {
	defer close(s.done)
	ctx, cancel := kv.UntilClosed(s.stop)
	defer cancel()
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		case <-s.wake:
		}
		if s.pending.Load() == 0 {
			continue
		}
		if err := s.DeliverOnce(ctx, t); err != nil && ctx.Err() == nil {
			s.log.Debug("hint delivery pass", "err", err)
		}
	}
}

type item struct {
	key []byte
	rec record
}

// DeliverOnce makes one pass over the store: it drops expired records and
// delivers the others whose target is alive, oldest first, at most Rate
// entries per second. A target that fails is skipped for the rest of the
// pass. The worker calls it; tests may too.
func (s *Store) DeliverOnce(ctx context.Context, t Target) error {
	cutoff := s.now().Add(-s.cfg.Window)
	var after []byte
	failed := map[string]bool{}
	for {
		// Read a page of records (short read transaction), expiring as we go.
		var page []item
		var expiredKeys [][]byte
		var expiredN int64
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucket).Cursor()
			var k, v []byte
			if after == nil {
				k, v = c.First()
			} else {
				k, v = c.Seek(after)
				if k != nil && string(k) == string(after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(page) < 64; k, v = c.Next() {
				key := append([]byte(nil), k...)
				after = key
				r, err := decodeRecord(v)
				if err != nil || r.added.Before(cutoff) {
					expiredKeys = append(expiredKeys, key)
					expiredN += int64(len(r.entries))
					continue
				}
				if failed[r.node] || !t.Alive(r.node) {
					continue
				}
				r.entries = cloneEntries(r.entries)
				page = append(page, item{key: key, rec: r})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(expiredKeys) > 0 {
			if err := s.remove(expiredKeys, expiredN); err != nil {
				return err
			}
			s.expired.Add(float64(expiredN))
			s.log.Info("hints expired", "entries", expiredN, "window", s.cfg.Window)
		}
		if len(page) == 0 && len(expiredKeys) == 0 {
			return nil
		}
		for _, it := range page {
			if failed[it.rec.node] {
				continue
			}
			start := time.Now()
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := t.ApplyTo(cctx, it.rec.node, it.rec.entries)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				failed[it.rec.node] = true
				s.log.Debug("hint not delivered", "node", it.rec.node, "err", err)
				continue
			}
			n := int64(len(it.rec.entries))
			if err := s.remove([][]byte{it.key}, n); err != nil {
				return err
			}
			s.delivered.Add(float64(n))
			// Rate limit: n entries may take n/Rate seconds.
			if wait := time.Duration(n)*time.Second/time.Duration(s.cfg.Rate) - time.Since(start); wait > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(wait):
				}
			}
		}
	}
}

func (s *Store) remove(keys [][]byte, entries int64) error {
	var removed int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for _, k := range keys {
			v := b.Get(k)
			if v == nil {
				continue
			}
			r, _ := decodeRecord(v)
			removed += int64(len(r.entries))
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.pending.Add(-removed)
	}
	return err
}

func cloneEntries(es []kv.Entry) []kv.Entry {
	out := make([]kv.Entry, len(es))
	for i, e := range es {
		out[i] = kv.Entry{Key: append([]byte(nil), e.Key...), Cell: kv.Cell{
			Value: append([]byte(nil), e.Cell.Value...), Version: e.Cell.Version, Tombstone: e.Cell.Tombstone}}
	}
	return out
}

// record is one Add: node, time added, entries. Encoding: uvarint node
// length, node, 8 bytes unix nanos, uvarint count, then per entry uvarint
// key length, key, flags (1 = tombstone), version (kv AppendBinary),
// uvarint value length, value.
type record struct {
	node    string
	added   time.Time
	entries []kv.Entry
}

func encodeRecord(r record) []byte {
	b := binary.AppendUvarint(nil, uint64(len(r.node)))
	b = append(b, r.node...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.added.UnixNano()))
	b = binary.AppendUvarint(b, uint64(len(r.entries)))
	for _, e := range r.entries {
		b = binary.AppendUvarint(b, uint64(len(e.Key)))
		b = append(b, e.Key...)
		var f byte
		if e.Cell.Tombstone {
			f = 1
		}
		b = append(b, f)
		b = e.Cell.Version.AppendBinary(b)
		b = binary.AppendUvarint(b, uint64(len(e.Cell.Value)))
		b = append(b, e.Cell.Value...)
	}
	return b
}

var errCorrupt = errors.New("hints: corrupt record")

func decodeRecord(b []byte) (record, error) {
	var r record
	bytesField := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		p := b[k : k+int(n)]
		b = b[k+int(n):]
		return p, true
	}
	node, ok := bytesField()
	if !ok || len(b) < 8 {
		return r, errCorrupt
	}
	r.node = string(node)
	r.added = time.Unix(0, int64(binary.BigEndian.Uint64(b)))
	b = b[8:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return r, errCorrupt
	}
	b = b[k:]
	r.entries = make([]kv.Entry, 0, n)
	for i := uint64(0); i < n; i++ {
		key, ok := bytesField()
		if !ok || len(b) < 1 {
			return r, errCorrupt
		}
		f := b[0]
		v, rest, err := kv.DecodeVersion(b[1:])
		if err != nil {
			return r, errCorrupt
		}
		b = rest
		val, ok := bytesField()
		if !ok {
			return r, errCorrupt
		}
		r.entries = append(r.entries, kv.Entry{Key: key, Cell: kv.Cell{Value: val, Version: v, Tombstone: f&1 != 0}})
	}
	return r, nil
}
