package kv

import "context"

// Write is one mutation of a batch: a put of Value, or a delete (which
// stores a tombstone).
type Write struct {
	Key    []byte
	Value  []byte
	Delete bool
}

// Store is the key-value API that Grafo's front ends (HTTP, GraphQL, RESP)
// and the graph store are written against. kv/replica's Coordinator
// implements it for one node or a whole cluster.
type Store interface {
	// Put stores value under key and returns the version it was written
	// with once enough replicas acknowledged it.
	Put(ctx context.Context, key, value []byte, o Options) (Version, error)
	// Delete writes a tombstone for key.
	Delete(ctx context.Context, key []byte, o Options) (Version, error)
	// Get returns the newest live cell of key, or ErrNotFound.
	Get(ctx context.Context, key []byte, o Options) (Cell, error)
	// GetMany reads many keys at once; absent or deleted keys get a zero
	// Cell (Live() false). The result has one cell per key, in order.
	GetMany(ctx context.Context, keys [][]byte, o Options) ([]Cell, error)
	// Write applies a batch. Each write must reach the requested number of
	// acks; the batch is not atomic across keys, but every write is
	// idempotent, so a retried batch converges.
	Write(ctx context.Context, writes []Write, o Options) error
	// Scan returns the live entries whose key starts with prefix and sorts
	// after after (nil: from the start), in key order, at most limit of
	// them (limit <= 0: all). prefix must hold a whole partition followed
	// by Sep, so that one replica set answers it.
	Scan(ctx context.Context, prefix, after []byte, limit int, o Options) ([]Entry, error)
}

// RingScanner lists keys across the whole ring rather than one partition:
// kv/replica.Coordinator, and UserSpace over it. It returns up to limit
// live entries whose keys start with prefix, come after after and pass
// keep (nil: all), in key order, and the cursor of the next page (nil when
// there is none).
type RingScanner interface {
	ScanRing(ctx context.Context, prefix, after []byte, limit int, keep func(key []byte) bool, o Options) ([]Entry, []byte, error)
}

// UntilClosed returns a context that ends when stop is closed or cancel is
// called: background workers (hint delivery, anti-entropy) run their calls
// under it so that Close interrupts them.
func UntilClosed(stop <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
