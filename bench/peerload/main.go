// Command peerload is bench/peers.sh's one load generator, so every
// column of its table comes from the same code: CLIENTS concurrent
// clients, each with one request in flight, putting (then getting)
// values of SIZE bytes under keys spread over a key space, against
//
//	-system etcd   an etcd cluster, through etcd's Go client
//	-system http   Grafo's HTTP API (PUT/GET /v1/kv/KEY), keep-alive
//	-system resp   any RESP server (Redis, Grafo --resp): SET and GET
//
// It prints ops/s, latency percentiles and, given the server processes'
// pids (-pids), the CPU seconds (user + system, from /proc) they used per
// 1,000 operations — a cost that does not depend on how many cores are
// free.
//
// It is its own module so that etcd's client (and gRPC) stay out of
// Grafo's go.mod.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// client is one connection with one request in flight.
type client interface {
	put(ctx context.Context, key, val string) error
	get(ctx context.Context, key string) error
}

func main() {
	system := flag.String("system", "etcd", "etcd, http or resp")
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated addresses (etcd client URLs; host:port for http and resp); clients are spread over them")
	clients := flag.Int("clients", 50, "concurrent clients (one request in flight each)")
	n := flag.Int("n", 50000, "requests per phase")
	size := flag.Int("size", 100, "value size in bytes")
	keys := flag.Int("keys", 100000, "key space")
	ops := flag.String("ops", "put,get", "phases to run")
	query := flag.String("query", "", "http: query string for every request, e.g. consistency=quorum")
	pids := flag.String("pids", "", "comma-separated pids of the server processes whose CPU to report")
	flag.Parse()

	eps := strings.Split(*endpoints, ",")
	cs := make([]client, *clients)
	for i := range cs {
		c, err := dial(*system, eps[i%len(eps)], *query, *clients)
		if err != nil {
			fmt.Fprintln(os.Stderr, "peerload:", err)
			os.Exit(1)
		}
		cs[i] = c
	}
	val := strings.Repeat("x", *size)
	for _, op := range strings.Split(*ops, ",") {
		cpu0 := cpuOf(*pids)
		opsPerSec, p50, p99, errs := run(op, cs, *n, *keys, val)
		cpu := (cpuOf(*pids) - cpu0).Seconds() / float64(*n) * 1000
		fmt.Printf("system=%s op=%s clients=%d size=%d n=%d ops/s=%.0f p50_ms=%.3f p99_ms=%.3f cpu_s_per_1k=%.4f errors=%d\n",
			*system, op, *clients, *size, *n, opsPerSec, ms(p50), ms(p99), cpu, errs)
		if errs > 0 {
			os.Exit(1) // a benchmark with failed requests measures nothing
		}
	}
}

func dial(system, ep, query string, clients int) (client, error) {
	switch system {
	case "etcd":
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second})
		return etcdClient{c}, err
	case "http":
		base := "http://" + strings.TrimPrefix(ep, "http://") + "/v1/kv/"
		if query != "" {
			query = "?" + query
		}
		// One keep-alive connection per client, as for the others.
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}}
		return &httpClient{hc: hc, base: base, query: query}, nil
	case "resp":
		conn, err := net.DialTimeout("tcp", ep, 5*time.Second)
		if err != nil {
			return nil, err
		}
		return &respClient{c: conn, r: bufio.NewReader(conn), w: bufio.NewWriter(conn)}, nil
	}
	return nil, fmt.Errorf("unknown -system %q (etcd, http, resp)", system)
}

type etcdClient struct{ c *clientv3.Client }

func (e etcdClient) put(ctx context.Context, k, v string) error {
	_, err := e.c.Put(ctx, k, v)
	return err
}
func (e etcdClient) get(ctx context.Context, k string) error { _, err := e.c.Get(ctx, k); return err }

type httpClient struct {
	hc          *http.Client
	base, query string
}

func (h *httpClient) put(ctx context.Context, k, v string) error {
	return h.do(ctx, http.MethodPut, k, strings.NewReader(v))
}
func (h *httpClient) get(ctx context.Context, k string) error {
	return h.do(ctx, http.MethodGet, k, nil)
}

func (h *httpClient) do(ctx context.Context, method, k string, body io.Reader) error {
	req, err := http.NewRequestWithContext(ctx, method, h.base+k+h.query, body)
	if err != nil {
		return err
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// A get of a key never written is a 404: a normal answer.
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("%s %s: %s %s", method, k, resp.Status, b)
	}
	return nil
}

type respClient struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

func (r *respClient) put(_ context.Context, k, v string) error { return r.do("SET", k, v) }
func (r *respClient) get(_ context.Context, k string) error    { return r.do("GET", k) }

func (r *respClient) do(args ...string) error {
	fmt.Fprintf(r.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(r.w, "$%d\r\n%s\r\n", len(a), a)
	}
	if err := r.w.Flush(); err != nil {
		return err
	}
	line, err := r.r.ReadString('\n')
	if err != nil {
		return err
	}
	switch line[0] {
	case '+', ':':
		return nil
	case '-':
		return errors.New(strings.TrimSpace(line[1:]))
	case '$':
		n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
		if err != nil || n < 0 {
			return err // nil bulk string: a missing key
		}
		_, err = io.CopyN(io.Discard, r.r, int64(n)+2)
		return err
	}
	return fmt.Errorf("unexpected reply %q", line)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func run(op string, cs []client, n, keys int, val string) (float64, time.Duration, time.Duration, int64) {
	var next, errs atomic.Int64
	lats := make([][]time.Duration, len(cs))
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
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
					err = c.put(ctx, key, val)
				} else {
					err = c.get(ctx, key)
				}
				lats[i] = append(lats[i], time.Since(t))
				if err != nil && errs.Add(1) == 1 {
					fmt.Fprintln(os.Stderr, "peerload:", op, err)
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

// cpuOf sums user + system time of the pids, from /proc/PID/stat (fields
// 14 and 15, in clock ticks of 1/100 s on Linux).
func cpuOf(pids string) time.Duration {
	var total time.Duration
	for _, p := range strings.Split(pids, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		b, err := os.ReadFile("/proc/" + p + "/stat")
		if err != nil {
			fmt.Fprintln(os.Stderr, "peerload: cpu of", p, err)
			continue
		}
		// The command name (field 2) may hold spaces: count from its ')'.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return total
}
