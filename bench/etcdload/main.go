// Command etcdload drives an etcd cluster with the same load as
// redis-benchmark gives Grafo and Redis in bench/peers.sh: CLIENTS
// concurrent clients, each with one request in flight, putting (then
// getting) values of SIZE bytes under keys spread over a key space, and
// prints ops/s and latency percentiles.
//
// It is its own module so that etcd's client (and gRPC) stay out of
// Grafo's go.mod.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated etcd client URLs")
	clients := flag.Int("clients", 50, "concurrent clients (one request in flight each)")
	conns := flag.Int("conns", 0, "gRPC connections the clients share (0 = one per client, like redis-benchmark's one TCP connection per client)")
	n := flag.Int("n", 50000, "requests per phase")
	size := flag.Int("size", 100, "value size in bytes")
	keys := flag.Int("keys", 100000, "key space (redis-benchmark -r)")
	ops := flag.String("ops", "put,get", "phases to run")
	flag.Parse()

	if *conns <= 0 {
		*conns = *clients
	}
	var cs []*clientv3.Client
	for range *conns {
		c, err := clientv3.New(clientv3.Config{Endpoints: strings.Split(*endpoints, ","), DialTimeout: 5 * time.Second})
		if err != nil {
			fmt.Fprintln(os.Stderr, "etcdload:", err)
			os.Exit(1)
		}
		defer c.Close()
		cs = append(cs, c)
	}
	val := strings.Repeat("x", *size)
	for _, op := range strings.Split(*ops, ",") {
		opsPerSec, p50, p99, errs := run(op, cs, *clients, *n, *keys, val)
		fmt.Printf("op=%s clients=%d size=%d n=%d ops/s=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
			op, *clients, *size, *n, opsPerSec, ms(p50), ms(p99), errs)
		if errs == int64(*n) {
			os.Exit(1)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func run(op string, cs []*clientv3.Client, clients, n, keys int, val string) (float64, time.Duration, time.Duration, int64) {
	var next, errs atomic.Int64
	lats := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cs[i%len(cs)]
			ctx := context.Background()
			for {
				j := next.Add(1)
				if j > int64(n) {
					return
				}
				key := "key:" + strconv.Itoa(int(j*7919)%keys)
				t := time.Now()
				var err error
				if op == "put" {
					_, err = c.Put(ctx, key, val)
				} else {
					_, err = c.Get(ctx, key)
				}
				lats[i] = append(lats[i], time.Since(t))
				if err != nil {
					if errs.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "etcdload:", op, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	all := slices.Concat(lats...)
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	return float64(n) / el.Seconds(), pct(0.50), pct(0.99), errs.Load()
}
