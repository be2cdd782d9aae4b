// Package kvtest gives tests of the layers above the key-value store (the
// graph store, GraphQL, ingest) a working kv.Store.
package kvtest

import (
	"bytes"
	"context"
	"sort"
	"sync"
	"testing"

	"github.com/grafo/grafo/kv"
)

// NewStore returns a store for t.
//
// TODO(foundation): this is an in-memory stand-in while the engine and the
// coordinator are being written; it will become a real single-node
// coordinator on a bbolt engine in t.TempDir(), so callers must not depend
// on anything but kv.Store.
func NewStore(t testing.TB) kv.Store {
	return &mem{clock: kv.NewClock("test"), m: map[string]kv.Cell{}}
}

type mem struct {
	mu    sync.Mutex
	clock *kv.Clock
	m     map[string]kv.Cell
}

func (s *mem) Put(ctx context.Context, key, value []byte, o kv.Options) (kv.Version, error) {
	if err := kv.CheckPair(key, value); err != nil {
		return kv.Version{}, err
	}
	v := s.clock.Now()
	s.mu.Lock()
	s.m[string(key)] = kv.Cell{Value: append([]byte(nil), value...), Version: v}
	s.mu.Unlock()
	return v, nil
}

func (s *mem) Delete(ctx context.Context, key []byte, o kv.Options) (kv.Version, error) {
	if err := kv.CheckPair(key, nil); err != nil {
		return kv.Version{}, err
	}
	v := s.clock.Now()
	s.mu.Lock()
	s.m[string(key)] = kv.Cell{Version: v, Tombstone: true}
	s.mu.Unlock()
	return v, nil
}

func (s *mem) Get(ctx context.Context, key []byte, o kv.Options) (kv.Cell, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[string(key)]
	if !ok || !c.Live() {
		return kv.Cell{}, kv.ErrNotFound
	}
	return c, nil
}

func (s *mem) GetMany(ctx context.Context, keys [][]byte, o kv.Options) ([]kv.Cell, error) {
	out := make([]kv.Cell, len(keys))
	for i, k := range keys {
		c, err := s.Get(ctx, k, o)
		if err == nil {
			out[i] = c
		}
	}
	return out, nil
}

func (s *mem) Write(ctx context.Context, writes []kv.Write, o kv.Options) error {
	for _, w := range writes {
		if err := kv.CheckPair(w.Key, w.Value); err != nil {
			return err
		}
	}
	for _, w := range writes {
		var err error
		if w.Delete {
			_, err = s.Delete(ctx, w.Key, o)
		} else {
			_, err = s.Put(ctx, w.Key, w.Value, o)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *mem) Scan(ctx context.Context, prefix, after []byte, limit int, o kv.Options) ([]kv.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []kv.Entry
	for k, c := range s.m {
		kb := []byte(k)
		if !bytes.HasPrefix(kb, prefix) || !c.Live() || (after != nil && bytes.Compare(kb, after) <= 0) {
			continue
		}
		out = append(out, kv.Entry{Key: kb, Cell: c})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
