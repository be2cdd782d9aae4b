// Command loadgen drives a Grafo node's KV API with concurrent clients and
// prints ops/s and latency percentiles. bench/cluster.sh runs it against
// a single node and a three-node cluster in the same run.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
)

func main() {
	addrs := flag.String("addrs", "http://127.0.0.1:7070", "comma-separated node URLs; clients spread over them")
	clients := flag.Int("clients", 64, "concurrent clients")
	dur := flag.Duration("duration", 10*time.Second, "how long each phase runs")
	size := flag.Int("size", 100, "value size in bytes")
	keys := flag.Int("keys", 10000, "key space")
	label := flag.String("label", "", "label printed in front of each result line")
	flag.Parse()

	tr := &http.Transport{MaxIdleConns: *clients * 2, MaxIdleConnsPerHost: *clients * 2}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var cs []*client.Client
	for _, a := range strings.Split(*addrs, ",") {
		cs = append(cs, client.New(a, client.WithHTTPClient(hc)))
	}
	val := make([]byte, *size)
	for i := range val {
		val[i] = byte('a' + i%26)
	}
	for _, op := range []string{"put", "get"} {
		res := run(op, cs, *clients, *dur, *keys, val)
		fmt.Printf("%-28s %-4s clients=%-3d size=%-5d ops/s=%-9.0f p50=%-9v p99=%-9v errors=%d\n",
			*label, op, *clients, *size, res.opsPerSec, res.p50, res.p99, res.errors)
		if res.errors > 0 && res.ops == 0 {
			os.Exit(1)
		}
	}
}

type result struct {
	ops, errors int64
	opsPerSec   float64
	p50, p99    time.Duration
}

func run(op string, cs []*client.Client, clients int, dur time.Duration, keys int, val []byte) result {
	ctx := context.Background()
	var ops, errs atomic.Int64
	lat := make([][]time.Duration, clients)
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cs[w%len(cs)]
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for time.Now().Before(deadline) {
				k := []byte(fmt.Sprintf("bench-%08d", r.IntN(keys)))
				t0 := time.Now()
				var err error
				if op == "put" {
					err = c.Put(ctx, k, val, kv.Options{})
				} else {
					_, _, err = c.Get(ctx, k, kv.Options{})
					if err != nil && strings.Contains(err.Error(), "not_found") {
						err = nil
					}
				}
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil {
					errs.Add(1)
				} else {
					ops.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	res := result{ops: ops.Load(), errors: errs.Load(), opsPerSec: float64(ops.Load()) / el.Seconds()}
	if len(all) > 0 {
		res.p50 = all[len(all)/2].Round(time.Microsecond)
		res.p99 = all[len(all)*99/100].Round(time.Microsecond)
	}
	return res
}
