package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv"
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// Bus receives a Change for every change; nil publishes nowhere.
	Bus *Bus
	// Logger; nil discards.
	Logger *slog.Logger
	// BatchSize is the number of writes per kv.Store.Write call; 0 means
	// DefaultBatchSize.
	BatchSize int
	// Parallel is the number of batches or scans in flight; 0 means
	// DefaultParallel.
	Parallel int
	// Writes bounds the kv.Store.Write calls in flight across the whole
	// Store, whatever the number of requests writing; 0 means
	// DefaultWrites. Calls past it wait here, with no deadline, rather
	// than in the replicas' queues, where waiting counts against each
	// replica call's timeout: a big load then slows down instead of
	// failing on a busy machine.
	Writes int
	// Write and Read are the consistency of the store's own writes and
	// reads; zero values use the cluster's defaults.
	Write, Read kv.Options
	// Now returns the time for createdAt/updatedAt and events; nil means
	// time.Now.
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultBatchSize = 4096
	DefaultParallel  = 16
	DefaultWrites    = 4
)

// Store maps graphs onto kv rows. It is safe for concurrent use.
type Store struct {
	kv   kv.Store
	o    Options
	log  *slog.Logger
	bus  *Bus
	now  func() time.Time
	rmu  sync.Mutex // serialises recounts of file owners' stats rows
	scan int        // rows per scan page
	// writes holds a token per kv.Store.Write call in flight (Options.Writes).
	writes chan struct{}
}

var _ ingest.Sink = (*Store)(nil)

// New returns a Store writing through s.
func New(s kv.Store, o Options) *Store {
	o.BatchSize = orDefault(o.BatchSize, DefaultBatchSize)
	o.Parallel = orDefault(o.Parallel, DefaultParallel)
	o.Writes = orDefault(o.Writes, DefaultWrites)
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Store{kv: s, o: o, log: orDiscard(o.Logger), bus: o.Bus, now: now, scan: 1000,
		writes: make(chan struct{}, o.Writes)}
}

// orDefault is v, or def when v is not positive (an unset option).
func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// orDiscard is l, or a logger that discards when l is nil.
func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return l
}

// Bus returns the bus changes are published on (may be nil).
func (s *Store) Bus() *Bus { return s.bus }

func (s *Store) publish(ctx context.Context, graph, kind string, nodes []string) {
	if s.bus == nil {
		return
	}
	if nodes == nil {
		nodes = []string{}
	}
	s.bus.Publish(ctx, Change{GraphID: graph, At: s.now().UTC(), Kind: kind, Nodes: nodes})
}

// scanAll calls fn for every live row under p (a partition prefix,
// possibly extended into the row), reading pages so that partitions with
// many rows are never one huge answer.
func (s *Store) scanAll(ctx context.Context, p []byte, fn func(row string, value []byte) error) error {
	return s.scanFrom(ctx, p, nil, 0, fn)
}

// scanFrom is scanAll starting after the key after (nil: from the start)
// and stopping after limit rows (0: no limit).
func (s *Store) scanFrom(ctx context.Context, p, after []byte, limit int, fn func(row string, value []byte) error) error {
	seen := 0
	for {
		n := s.scan
		if limit > 0 {
			n = min(n, limit-seen)
		}
		ents, err := s.kv.Scan(ctx, p, after, n, s.o.Read)
		if err != nil {
			return fmt.Errorf("scan %q: %w", p, err)
		}
		for _, e := range ents {
			_, row := kv.Split(e.Key)
			if err := fn(string(row), e.Cell.Value); err != nil {
				return err
			}
		}
		seen += len(ents)
		if len(ents) < n || limit > 0 && seen >= limit {
			return nil
		}
		after = ents[len(ents)-1].Key
	}
}

// parallel runs fn(i) for i in [0,n) with at most Parallel in flight and
// returns the first error.
func (s *Store) parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, s.o.Parallel)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}(i)
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		// The parent was cancelled.
		return context.Cause(ctx)
	}
	return first
}

// batch accumulates writes; flush sends them in chunks, a few in parallel.
type batch struct {
	w []kv.Write
}

func (b *batch) put(p, row string, v []byte) {
	b.w = append(b.w, kv.Write{Key: kv.Key(p, row), Value: v})
}

func (b *batch) putJSON(p, row string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // our own records always marshal
	}
	b.put(p, row, data)
}

func (b *batch) del(p, row string) {
	b.w = append(b.w, kv.Write{Key: kv.Key(p, row), Delete: true})
}

func (s *Store) flush(ctx context.Context, b *batch) error {
	n := (len(b.w) + s.o.BatchSize - 1) / s.o.BatchSize
	err := s.parallel(ctx, n, func(ctx context.Context, i int) error {
		end := min((i+1)*s.o.BatchSize, len(b.w))
		return s.write(ctx, b.w[i*s.o.BatchSize:end])
	})
	b.w = b.w[:0]
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// write is one kv.Store.Write call, once one of the Store's Options.Writes
// slots is free.
func (s *Store) write(ctx context.Context, ws []kv.Write) error {
	select {
	case s.writes <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-s.writes }()
	return s.kv.Write(ctx, ws, s.o.Write)
}

// getMany reads keys and returns the live values (nil for absent ones).
func (s *Store) getMany(ctx context.Context, keys [][]byte) ([][]byte, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	cells, err := s.kv.GetMany(ctx, keys, s.o.Read)
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	out := make([][]byte, len(keys))
	for i, c := range cells {
		if c.Live() {
			out[i] = c.Value
		}
	}
	return out, nil
}

func (s *Store) get(ctx context.Context, key []byte) ([]byte, error) {
	c, err := s.kv.Get(ctx, key, s.o.Read)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	return c.Value, nil
}

func timeValue(t time.Time) []byte { return []byte(t.UTC().Format(time.RFC3339Nano)) }

func parseTime(v []byte) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, string(v))
	return t
}
