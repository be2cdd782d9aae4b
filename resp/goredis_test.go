package resp

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/grafo/grafo/auth"
	"github.com/redis/go-redis/v9"
)

// TestGoRedis drives the server with a real Redis client library: its
// handshake (HELLO 3, falling back to RESP2), commands, pipelines and
// error decoding.
func TestGoRedis(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), PoolSize: 4})
	t.Cleanup(func() { rdb.Close() })

	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "greeting", "hello", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := rdb.Get(ctx, "greeting").Result(); err != nil || v != "hello" {
		t.Fatalf("GET = %q, %v", v, err)
	}
	if _, err := rdb.Get(ctx, "absent").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET absent: %v, want redis.Nil", err)
	}
	if err := rdb.MSet(ctx, "a", "1", "b", "2").Err(); err != nil {
		t.Fatal(err)
	}
	vals, err := rdb.MGet(ctx, "a", "b", "c").Result()
	if err != nil || len(vals) != 3 || vals[0] != "1" || vals[1] != "2" || vals[2] != nil {
		t.Fatalf("MGET = %v, %v", vals, err)
	}
	if n, err := rdb.Exists(ctx, "a", "c").Result(); err != nil || n != 1 {
		t.Fatalf("EXISTS = %d, %v", n, err)
	}
	if n, err := rdb.Del(ctx, "a", "b", "c").Result(); err != nil || n != 2 {
		t.Fatalf("DEL = %d, %v", n, err)
	}
	// Options Grafo does not have fail clearly rather than being ignored.
	if err := rdb.SetNX(ctx, "k", "v", 0).Err(); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("SETNX: %v", err)
	}
	if err := rdb.Set(ctx, "big", strings.Repeat("x", 11000), 0).Err(); err == nil || err.Error() != "ERR value too large: key + value exceed 10240 bytes" {
		t.Fatalf("big SET: %v", err)
	}

	pipe := rdb.Pipeline()
	for i := range 100 {
		pipe.Set(ctx, "p"+string(rune('a'+i%26))+string(rune('0'+i/26)), i, 0)
	}
	get := pipe.Get(ctx, "pa0")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if get.Val() != "0" {
		t.Fatalf("pipelined GET = %q", get.Val())
	}
	// go-redis parses SCAN's cursor as an unsigned integer: its iterator
	// walks every key once, across pooled connections.
	var scanned []string
	it := rdb.Scan(ctx, 0, "p*", 7).Iterator()
	for it.Next(ctx) {
		scanned = append(scanned, it.Val())
	}
	if err := it.Err(); err != nil || len(scanned) != 100 || !slices.IsSorted(scanned) {
		t.Fatalf("SCAN iterator: %d keys (sorted %v), %v", len(scanned), slices.IsSorted(scanned), err)
	}
	if err := rdb.Keys(ctx, "*").Err(); err == nil || !strings.Contains(err.Error(), "use SCAN") {
		t.Fatalf("KEYS: %v", err)
	}
	if err := rdb.Do(ctx, "GRAFO.CONSISTENCY", "all").Err(); err != nil {
		t.Fatal(err)
	}
	if info, err := rdb.Info(ctx, "replication").Result(); err != nil || !strings.Contains(info, "role:master") {
		t.Fatalf("INFO = %q, %v", info, err)
	}
}

func TestGoRedisAuth(t *testing.T) {
	t.Parallel()
	tokens, err := auth.Parse(strings.NewReader("writer-token write\nreader-token read\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, Config{Tokens: tokens})
	ctx := context.Background()

	anon := redis.NewClient(&redis.Options{Addr: s.Addr()})
	t.Cleanup(func() { anon.Close() })
	if err := anon.Get(ctx, "k").Err(); err == nil || err.Error() != "NOAUTH Authentication required." {
		t.Fatalf("GET without AUTH: %v", err)
	}
	bad := redis.NewClient(&redis.Options{Addr: s.Addr(), Password: "not-a-token"})
	t.Cleanup(func() { bad.Close() })
	if err := bad.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Fatalf("bad password: %v", err)
	}
	w := redis.NewClient(&redis.Options{Addr: s.Addr(), Password: "writer-token"})
	t.Cleanup(func() { w.Close() })
	if err := w.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r := redis.NewClient(&redis.Options{Addr: s.Addr(), Username: "default", Password: "reader-token"})
	t.Cleanup(func() { r.Close() })
	if v, err := r.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("reader GET = %q, %v", v, err)
	}
	if err := r.Set(ctx, "k", "w", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Fatalf("reader SET: %v", err)
	}
}
