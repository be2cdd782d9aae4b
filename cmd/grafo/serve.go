package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/grafo/grafo/autoscale"
	"github.com/grafo/grafo/kv/engine"
	"github.com/grafo/grafo/server"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d := server.DefaultConfig()
	fs := newFlags("serve", "grafo serve [flags]   (every flag also reads GRAFO_<FLAG>)", stderr)
	cfg := d
	var join, peers, ingestSpecs listFlag
	fs.StringVar(&cfg.NodeID, "node-id", d.NodeID, "unique node name")
	fs.StringVar(&cfg.DataDir, "data", d.DataDir, "data directory (bbolt files, raft state)")
	fs.StringVar(&cfg.HTTPAddr, "http", d.HTTPAddr, "public API address")
	fs.StringVar(&cfg.ClusterAddr, "cluster", d.ClusterAddr, "internal address (replication, raft)")
	fs.StringVar(&cfg.Advertise, "advertise", "", "cluster address other nodes dial, if not --cluster (e.g. node1:7071 in Docker)")
	fs.StringVar(&cfg.AdvertiseHTTP, "advertise-http", "", "public address shown to clients, if not --http")
	fs.Var(&join, "join", "public or cluster address of any member (repeatable); empty = bootstrap a new cluster")
	fs.Var(&peers, "peers", "cluster host:port where other members may be (repeatable; a name may resolve to several, e.g. a headless service): a node that would bootstrap asks them first and joins if one is a member")
	fs.IntVar(&cfg.Replicas, "replicas", d.Replicas, "N: copies of each key, capped by the number of nodes")
	fs.IntVar(&cfg.WriteQuorum, "write-quorum", 0, "W: acks a write needs by default (0 = N/2+1)")
	fs.IntVar(&cfg.ReadQuorum, "read-quorum", 0, "R: answers a read needs by default (0 = N/2+1)")
	fs.IntVar(&cfg.VNodes, "vnodes", d.VNodes, "virtual nodes per unit of weight")
	fs.IntVar(&cfg.Weight, "weight", d.Weight, "capacity of this node; its share of virtual nodes is proportional")
	fs.DurationVar(&cfg.Heartbeat, "heartbeat", d.Heartbeat, "heartbeat interval; a node missing 5 in a row is marked down")
	fs.StringVar(&cfg.RESPAddr, "resp", "", "address for the Redis protocol (RESP2) front end, e.g. 127.0.0.1:6379; empty = off")
	fs.StringVar(&cfg.TokensFile, "tokens", "", "file of API tokens: TOKEN ROLE [GRAPH,…] per line; then every request needs Authorization: Bearer TOKEN")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "allow --http or --resp on a non-loopback address without --tokens, and --cluster without --cluster-secret or --tls-*")
	allowedHosts := fs.String("allowed-hosts", "", "host names (comma-separated) the API answers to without --tokens, besides IP addresses, localhost and the node's own names; * = any")
	fs.StringVar(&cfg.ClusterSecret, "cluster-secret", "", "shared secret every member must present on the cluster port")
	fs.Var(&ingestSpecs, "ingest", "PATH or PATH=GRAPH to ingest after start (repeatable)")
	fs.StringVar(&cfg.Callgraph, "callgraph", d.Callgraph, "call-graph algorithm for --ingest: static, cha or vta")
	fs.DurationVar(&cfg.HintWindow, "hint-window", d.HintWindow, "how long writes for a down replica are kept as hints")
	fs.DurationVar(&cfg.MaxClockSkew, "max-clock-skew", d.MaxClockSkew, "refuse versions from peers further ahead of this node's clock")
	fs.DurationVar(&cfg.AntiEntropy, "anti-entropy", d.AntiEntropy, "interval of anti-entropy rounds (Merkle tree comparison with every replica); negative = off")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "this node's certificate (PEM): mutual TLS on the cluster port, with --tls-key and --tls-ca")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "private key of --tls-cert (PEM)")
	fs.StringVar(&cfg.TLSCA, "tls-ca", "", "CA certificate (PEM) that signs every member's certificate")
	fs.StringVar(&cfg.PprofAddr, "pprof", "", "address to serve Go's profiler on (/debug/pprof/), e.g. 127.0.0.1:6060; empty = off")
	capacity := fs.String("capacity", "", "bytes this node may store (e.g. 20GiB), the autoscaler's disk signal; empty = not set")
	fs.StringVar(&cfg.Autoscale, "autoscale", "", "the raft leader scales the cluster: min=N,max=M[,writes=W/s,reads=R/s,p99=D,cpu=CORES,disk=FRACTION,window=D,cooldown=D,low=F,settle=F] or @FILE (README \"Scaling\")")
	fs.StringVar(&cfg.AutoscaleExec, "autoscale-exec", "", "actuator for --autoscale, run as CMD up or CMD down NODE (no shell)")
	fs.StringVar(&cfg.Replace, "replace", "", "take the place of dead member NODE (its id and tokens) from an empty --data; needs --join")
	cache := fs.String("cache", "64MiB", "bytes of the hot-cell cache reads are answered from (e.g. 256MiB), at most half of --memory-limit; off = none")
	fs.DurationVar(&cfg.CommitWait, "commit-wait", engine.DefaultBusyBatchDelay, "while writers are concurrent, how long a group commit waits for more writes to share its fsync; 0 = never wait")
	memLimit := fs.String("memory-limit", defaultMemoryLimit, "soft limit of the node's memory (Go heap and stacks, e.g. 1GiB): the garbage collector runs more often near it; off = none; GOMEMLIMIT, when set, wins")
	gcPct := fs.Int("gc-percent", defaultGCPercent, "the garbage collector runs when the heap has grown by this percentage of its live size (Go's GOGC), short of --memory-limit; GOGC, when set, wins")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	shutdown := fs.Duration("shutdown-timeout", 15*time.Second, "how long in-flight requests may take to finish on SIGTERM")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("serve takes no arguments, got %q", pos)}
	}
	if err := envFlags(fs); err != nil {
		return usageError{err.Error()}
	}
	if err := resourceFlags(&cfg, *memLimit, *gcPct, *cache); err != nil {
		return err
	}
	cfg.Join = join
	cfg.Peers = peers
	if *capacity != "" {
		if cfg.Capacity, err = autoscale.ParseBytes(*capacity); err != nil {
			return usageError{"--capacity: " + err.Error()}
		}
	}
	if cfg.Replace != "" && !flagSet(fs, "node-id") {
		cfg.NodeID = cfg.Replace
	}
	if path := os.Getenv(probeFaultEnv); path != "" {
		cfg.Knobs = &server.Knobs{ProbeFault: probeFaultFile(path)}
	}
	for _, h := range strings.Split(*allowedHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.AllowedHosts = append(cfg.AllowedHosts, h)
		}
	}
	for _, s := range ingestSpecs {
		path, graph, _ := strings.Cut(s, "=")
		if graph == "" {
			abs, err := filepath.Abs(path)
			if err != nil {
				return err
			}
			graph = filepath.Base(abs)
		}
		cfg.Ingest = append(cfg.Ingest, server.IngestSpec{Path: path, Graph: graph})
	}
	if cfg.Logger, err = serveLogger(*logLevel, *logFormat, stderr); err != nil {
		return err
	}
	return runNode(ctx, cfg, *shutdown, stdout)
}

// serveLogger is the node's logger for --log-level and --log-format.
func serveLogger(level, format string, stderr io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{"--log-level: " + err.Error()}
	}
	hopts := &slog.HandlerOptions{Level: lvl}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(stderr, hopts)), nil
	}
	return slog.New(slog.NewTextHandler(stderr, hopts)), nil
}

// runNode starts the node and runs it until ctx ends (SIGTERM) or its
// engine fails for good, then closes it within shutdown.
func runNode(ctx context.Context, cfg server.Config, shutdown time.Duration, stdout io.Writer) error {
	node, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "grafo node %s serving http://%s (cluster %s, data %s)\n", cfg.NodeID, node.HTTPAddr(), node.ClusterAddr(), cfg.DataDir)
	var failed error
	select {
	case <-ctx.Done():
		cfg.Logger.Info("shutting down")
	case failed = <-node.Failed():
		cfg.Logger.Error("engine failed for good; exiting for a supervisor to restart the node", "err", failed)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdown)
	defer cancel()
	if err := node.Close(sctx); failed == nil {
		return err
	}
	if path := os.Getenv(probeFaultEnv); path != "" {
		// An injected fault lasts one process, like a bad file handle:
		// the restarted node comes back healthy.
		os.Remove(path)
	}
	return failed
}

// probeFaultEnv names a file whose existence makes the engine probe fail:
// a test-only knob for the engine watcher (undocumented in --help).
const probeFaultEnv = "GRAFO_TEST_PROBE_FAULT_FILE"

func probeFaultFile(path string) func() error {
	return func() error {
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("probe fault injected (%s exists)", path)
		}
		return nil
	}
}

// resourceFlags applies the flags that size the node's memory and disk
// work: the memory limit and the collector's target to the process, the
// cache and the commit wait to cfg.
func resourceFlags(cfg *server.Config, memLimit string, gcPct int, cache string) error {
	if err := setMemoryLimit(memLimit); err != nil {
		return err
	}
	if err := setGCPercent(gcPct); err != nil {
		return err
	}
	var err error
	if cfg.CacheBytes, err = cacheSize(cache, memLimit, os.Getenv); err != nil {
		return usageError{err.Error()}
	}
	switch {
	case cfg.CommitWait < 0:
		return usageError{fmt.Sprintf("--commit-wait %v: negative", cfg.CommitWait)}
	case cfg.CommitWait == 0:
		cfg.CommitWait = -1 // the flag's 0 is "never"; the config's is "default"
	}
	return nil
}
