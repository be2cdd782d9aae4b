package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/engine"
	bolt "go.etcd.io/bbolt"
)

// The benchmarks put the engine next to its naive peer, bare bbolt with
// one db.Update (one fsync) per put, over the same keys and values, so
// Put/engine/X and Put/bbolt/X read off as a ratio; Put/engine-nowal/X is
// the engine committing straight to bbolt (Config.NoWAL). All fsync: the
// numbers are durable-write throughput of this machine's disk.
//
//	go test -bench . -run '^$' -benchtime=2000x ./kv/engine

var benchSizes = []struct {
	name string
	size int // value bytes; 0 means fill the pair to kv.MaxPairSize
}{{"100B", 100}, {"1KiB", 1024}, {"10KiB", 0}}

const benchKeyLen = 20

func benchKey(dst []byte, i uint64, random bool) []byte {
	if random {
		// A bijective mix spreads consecutive i over the key space, so
		// random puts are inserts into random pages, never repeats.
		i = mix(i)
	}
	dst = append(dst[:0], "bench/"...)
	return fmt.Appendf(dst, "%014x", i&(1<<56-1))
}

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// benchValue is part text, part noise: compressible about 2:1, like the
// graph records Grafo stores.
func benchValue(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	v := make([]byte, n)
	for i := range v {
		if i%8 < 4 {
			v[i] = "grafo.Node"[i%10]
		} else {
			v[i] = byte(r.Uint32())
		}
	}
	return v
}

// runWriters runs b.N operations spread over n goroutines, each taking the
// next operation index from a shared counter.
func runWriters(b *testing.B, n int, op func(i uint64, key []byte) error) {
	var next atomic.Uint64
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := make([]byte, 0, benchKeyLen)
			for {
				i := next.Add(1) - 1
				if i >= uint64(b.N) {
					return
				}
				if err := op(i, key); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	benchSweep(b, []string{"engine", "engine-nowal", "bbolt"}, "writers", func(b *testing.B, c benchCase) {
		path := filepath.Join(b.TempDir(), "bench.db")
		switch c.store {
		case "engine", "engine-nowal":
			e, err := engine.Open(path, engine.Config{NoWAL: c.store == "engine-nowal"})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			clock := kv.NewClock("bench")
			runWriters(b, c.workers, func(i uint64, key []byte) error {
				key = benchKey(key, i, c.random)
				_, err := e.Apply(ctx, kv.Entry{Key: key, Cell: kv.Cell{Value: c.value, Version: clock.Now()}})
				return err
			})
			s := e.Stats()
			b.ReportMetric(float64(s.Writes)/float64(max(1, s.Commits)), "writes/commit")
		case "bbolt":
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			bucket := []byte("data")
			if err := db.Update(func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket(bucket)
				return err
			}); err != nil {
				b.Fatal(err)
			}
			runWriters(b, c.workers, func(i uint64, key []byte) error {
				key = benchKey(key, i, c.random)
				return db.Update(func(tx *bolt.Tx) error {
					return tx.Bucket(bucket).Put(key, c.value)
				})
			})
			b.ReportMetric(1, "writes/commit")
		}
	})
}

// benchGetKeys is how many distinct keys a Get benchmark reads from.
const benchGetKeys = 4096

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	benchSweep(b, []string{"engine", "engine-nocache", "bbolt"}, "readers", func(b *testing.B, c benchCase) {
		path := filepath.Join(b.TempDir(), "bench.db")
		pick := func(i uint64) uint64 {
			if c.random {
				return mix(i) % benchGetKeys
			}
			return i % benchGetKeys
		}
		switch c.store {
		case "engine", "engine-nocache":
			cfg := engine.Config{NoSync: true} // loading only
			if c.store == "engine-nocache" {
				cfg.CacheCells = -1
			}
			e, err := engine.Open(path, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			var batch []kv.Entry
			for i := range uint64(benchGetKeys) {
				batch = append(batch, kv.Entry{Key: benchKey(nil, i, false), Cell: kv.Cell{Value: c.value, Version: kv.Version{TS: 1}}})
			}
			if _, err := e.Apply(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			runWriters(b, c.workers, func(i uint64, key []byte) error {
				cell, err := e.Get(ctx, benchKey(key, pick(i), false))
				if err == nil && len(cell.Value) != c.size {
					err = fmt.Errorf("got %d bytes", len(cell.Value))
				}
				return err
			})
		case "bbolt":
			db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			bucket := []byte("data")
			if err := db.Update(func(tx *bolt.Tx) error {
				bk, err := tx.CreateBucket(bucket)
				if err != nil {
					return err
				}
				for i := range uint64(benchGetKeys) {
					if err := bk.Put(benchKey(nil, i, false), c.value); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			runWriters(b, c.workers, func(i uint64, key []byte) error {
				key = benchKey(key, pick(i), false)
				return db.View(func(tx *bolt.Tx) error {
					// Copy out, as any caller must: bbolt's
					// bytes die with the transaction.
					v := append([]byte(nil), tx.Bucket(bucket).Get(key)...)
					if len(v) != c.size {
						return fmt.Errorf("got %d bytes", len(v))
					}
					return nil
				})
			})
		}
	})
}

// benchCase is one point of the Put and Get sweeps.
type benchCase struct {
	store   string
	size    int // key + value bytes
	value   []byte
	random  bool // keys in random rather than sequential order
	workers int  // concurrent writers or readers
}

// benchSweep runs fn as a sub-benchmark for each store, pair size, key
// order and number of workers, named store/size/order/workers=N.
func benchSweep(b *testing.B, stores []string, workers string, fn func(b *testing.B, c benchCase)) {
	for _, store := range stores {
		for _, sz := range benchSizes {
			size := sz.size
			if size == 0 {
				size = kv.MaxPairSize - benchKeyLen
			}
			value := benchValue(size)
			for _, order := range []string{"seq", "rand"} {
				for _, n := range []int{1, 64} {
					c := benchCase{store: store, size: size, value: value, random: order == "rand", workers: n}
					b.Run(fmt.Sprintf("%s/%s/%s/%s=%d", store, sz.name, order, workers, n), func(b *testing.B) {
						b.ReportAllocs()
						b.SetBytes(int64(benchKeyLen + size))
						fn(b, c)
					})
				}
			}
		}
	}
}
