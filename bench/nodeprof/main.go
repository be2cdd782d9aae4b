// Command nodeprof runs one Grafo node in-process with the Redis front end
// and net/http/pprof, so that a load (redis-benchmark) can be profiled:
//
//	go run ./bench/nodeprof -data /tmp/np -resp 127.0.0.1:17679 -pprof 127.0.0.1:17680 &
//	redis-benchmark -p 17679 -t set -c 50 -d 100 -r 100000 -n 200000 &
//	go tool pprof -top http://127.0.0.1:17680/debug/pprof/profile?seconds=10
//
// Extra nodes can join with -join, to profile the coordinator of a cluster.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"syscall"

	"github.com/grafo/grafo/server"
)

func main() {
	cfg := server.DefaultConfig()
	flag.StringVar(&cfg.NodeID, "node-id", "prof", "node id")
	flag.StringVar(&cfg.DataDir, "data", "", "data directory (required)")
	flag.StringVar(&cfg.HTTPAddr, "http", "127.0.0.1:17670", "public HTTP address")
	flag.StringVar(&cfg.ClusterAddr, "cluster", "127.0.0.1:17671", "cluster address")
	flag.StringVar(&cfg.RESPAddr, "resp", "127.0.0.1:17679", "RESP address")
	join := flag.String("join", "", "address of a member to join")
	flag.IntVar(&cfg.Replicas, "replicas", 3, "N")
	pprofAddr := flag.String("pprof", "127.0.0.1:17680", "address of /debug/pprof")
	flag.Parse()
	if cfg.DataDir == "" {
		fmt.Fprintln(os.Stderr, "nodeprof: -data is required")
		os.Exit(2)
	}
	if *join != "" {
		cfg.Join = []string{*join}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { fmt.Fprintln(os.Stderr, http.ListenAndServe(*pprofAddr, nil)) }()
	n, err := server.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodeprof:", err)
		os.Exit(1)
	}
	fmt.Println("serving; pprof on http://" + *pprofAddr + "/debug/pprof/")
	<-ctx.Done()
	n.Close(context.Background())
}
