package main

import (
	"context"
	"strings"
	"testing"

	"github.com/grafo/grafo/kv"
)

// oneEnv is a getenv whose environment holds key=v only.
func oneEnv(key, v string) func(string) string {
	return func(k string) string {
		if k == key {
			return v
		}
		return ""
	}
}

func TestMemoryLimit(t *testing.T) {
	env := func(v string) func(string) string { return oneEnv("GOMEMLIMIT", v) }
	for _, c := range []struct {
		flag, gomemlimit string
		limit            int64
		ok, err          bool
	}{
		{flag: defaultMemoryLimit, limit: 400 << 20, ok: true},
		{flag: defaultIngestMemoryLimit, limit: 900 << 20, ok: true},
		{flag: "1GiB", limit: 1 << 30, ok: true},
		{flag: "1GiB", gomemlimit: "2GiB"}, // the user's GOMEMLIMIT wins
		{flag: "off"},
		{flag: "0"},
		{flag: "12MiB", err: true},
		{flag: "lots", err: true},
	} {
		limit, ok, err := memoryLimit(c.flag, env(c.gomemlimit))
		if limit != c.limit || ok != c.ok || (err != nil) != c.err {
			t.Errorf("memoryLimit(%q, GOMEMLIMIT=%q) = %d, %v, %v; want %d, %v, error %v", c.flag, c.gomemlimit, limit, ok, err, c.limit, c.ok, c.err)
		}
	}
}

func TestGCPercent(t *testing.T) {
	env := func(v string) func(string) string { return oneEnv("GOGC", v) }
	for _, c := range []struct {
		flag    int
		gogc    string
		pct     int
		ok, err bool
	}{
		{flag: defaultGCPercent, pct: 300, ok: true},
		{flag: 100, pct: 100, ok: true},
		{flag: 10000, pct: 10000, ok: true},
		{flag: 300, gogc: "50"}, // the user's GOGC wins
		{flag: 0, err: true},
		{flag: -1, err: true},
		{flag: 9, err: true},
		{flag: 10001, err: true},
	} {
		pct, ok, err := gcPercent(c.flag, env(c.gogc))
		if pct != c.pct || ok != c.ok || (err != nil) != c.err {
			t.Errorf("gcPercent(%d, GOGC=%q) = %d, %v, %v; want %d, %v, error %v", c.flag, c.gogc, pct, ok, err, c.pct, c.ok, c.err)
		}
	}
}

// grafo ingest takes --memory-limit as serve does, and refuses a bad one
// before it reads the tree or calls the server.
func TestIngestMemoryLimitFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		limit   string
		refused bool
	}{{"12MiB", true}, {"lots", true}, {"1GiB", false}, {"off", false}} {
		_, stderr, err := grafo(t, "ingest", dir, "--graph", "g", "--server", "http://127.0.0.1:1", "--quiet", "--memory-limit", c.limit)
		if err == nil {
			t.Fatalf("--memory-limit %s: an ingest into a server that does not exist succeeded", c.limit)
		}
		if refused := strings.Contains(stderr, "--memory-limit"); refused != c.refused {
			t.Errorf("--memory-limit %s: refused %v, want %v; stderr: %s", c.limit, refused, c.refused, stderr)
		}
	}
}

func TestCacheSize(t *testing.T) {
	none := func(string) string { return "" }
	for _, c := range []struct {
		flag, memLimit string
		want           int64
		err            bool
	}{
		{flag: "64MiB", memLimit: defaultMemoryLimit, want: 64 << 20},
		{flag: "200MiB", memLimit: defaultMemoryLimit, want: 200 << 20},
		{flag: "201MiB", memLimit: defaultMemoryLimit, err: true}, // over half the limit
		{flag: "1GiB", memLimit: "off", want: 1 << 30},
		{flag: "off", memLimit: defaultMemoryLimit, want: -1},
		{flag: "100KiB", memLimit: defaultMemoryLimit, err: true},
		{flag: "much", memLimit: defaultMemoryLimit, err: true},
	} {
		got, err := cacheSize(c.flag, c.memLimit, none)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("cacheSize(%q, %q) = %d, %v; want %d, error %v", c.flag, c.memLimit, got, err, c.want, c.err)
		}
	}
}

// --cache sizes the engine's cache of the running node: with it off,
// repeated reads of one key never hit a cache; with one, they do.
func TestServeCacheFlag(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		flag string
		hits bool
	}{{"off", false}, {"2MiB", true}} {
		p := newProc(t, "cache-"+c.flag, "--cache", c.flag)
		cl := p.client()
		ctx := context.Background()
		if err := cl.Put(ctx, []byte("k"), []byte("v"), kv.Options{}); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if v, _, err := cl.Get(ctx, []byte("k"), kv.Options{}); err != nil || string(v) != "v" {
				t.Fatalf("--cache %s: get = %q, %v", c.flag, v, err)
			}
		}
		if hits := metricSum(t, []*proc{p}, "grafo_engine_cache_hits_total"); (hits > 0) != c.hits {
			t.Errorf("--cache %s: %v cache hits after five reads of one key, want hits: %v", c.flag, hits, c.hits)
		}
	}
}
