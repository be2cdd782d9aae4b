package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/grafo/grafo/autoscale"
)

// IngestSpec is one --ingest PATH[=GRAPH].
type IngestSpec struct {
	Path, Graph string
}

// Config is everything `grafo serve` can be told. Field comments give the
// flag and what the zero value means.
type Config struct {
	NodeID        string        // --node-id; "" = hostname
	DataDir       string        // --data; "" = ./grafo-data
	HTTPAddr      string        // --http; "" = 127.0.0.1:7070
	ClusterAddr   string        // --cluster; "" = 127.0.0.1:7071
	Advertise     string        // --advertise: cluster address peers dial, when it differs from the listen address (containers)
	AdvertiseHTTP string        // --advertise-http: public address shown to others
	Join          []string      // --join: public or cluster addresses of members; empty = bootstrap
	Peers         []string      // --peers: host:port where other members may be (a name may resolve to several); asked before bootstrapping (server/peers.go)
	Replicas      int           // --replicas (N); 0 = 3, capped by the number of nodes
	WriteQuorum   int           // --write-quorum (W); 0 = N/2+1
	ReadQuorum    int           // --read-quorum (R); 0 = N/2+1
	VNodes        int           // --vnodes per unit of weight; 0 = 128
	Weight        int           // --weight; 0 = 1
	Heartbeat     time.Duration // --heartbeat; 0 = 1s
	RESPAddr      string        // --resp; "" = off
	TokensFile    string        // --tokens; "" = no authentication
	Insecure      bool          // --insecure: allow a non-loopback --http or --resp without --tokens, and a non-loopback --cluster without --cluster-secret or --tls-*
	AllowedHosts  []string      // --allowed-hosts: Host names accepted without --tokens besides IPs, localhost and the node's own names; "*" = any
	ClusterSecret string        // --cluster-secret
	Ingest        []IngestSpec  // --ingest
	Callgraph     string        // --callgraph for --ingest; "" = cha
	PprofAddr     string        // --pprof: address of Go's profiler; "" = off
	TLSCert       string        // --tls-cert: this node's certificate (PEM) for mutual TLS on the cluster port
	TLSKey        string        // --tls-key: its private key
	TLSCA         string        // --tls-ca: the CA that signs every member's certificate
	HintWindow    time.Duration // --hint-window: how long hints for a down replica are kept; 0 = 3h
	MaxClockSkew  time.Duration // --max-clock-skew: versions from peers further ahead of this node's clock are refused; 0 = 1m
	AntiEntropy   time.Duration // --anti-entropy: interval of anti-entropy rounds; 0 = 30s, negative = off
	Capacity      int64         // --capacity: bytes this node may store, for the autoscaler's disk signal; 0 = not set
	CacheBytes    int64         // --cache: bytes of the engine's hot-cell cache; 0 = the engine's default (64 MiB), negative = no cache
	CommitWait    time.Duration // --commit-wait: how long a group commit waits for more writes while writers are concurrent; 0 = the engine's default (250µs), negative = none
	Autoscale     string        // --autoscale: the leader scales the cluster (autoscale.ParseSpec); "" = off
	AutoscaleExec string        // --autoscale-exec: the actuator command, run as CMD up / CMD down NODE
	// Replace (--replace NODE) starts this node in place of dead member
	// NODE: same id and tokens, a new address and an empty data directory;
	// it streams NODE's ranges from the survivors before serving. NodeID
	// must be NODE. "" = a normal start.
	Replace string
	Logger  *slog.Logger
	Knobs   *Knobs // testing hooks; nil in production
}

// Knobs are fault-injection hooks for tests; nil means none.
type Knobs struct {
	// ProbeFault, when it returns an error, makes the engine watcher's
	// probe fail with it (an engine that stopped working, on demand).
	ProbeFault func() error
}

// DefaultConfig returns the configuration of a node started with no flags:
// the defaults of `grafo serve`, which reads them from here.
func DefaultConfig() Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "grafo"
	}
	return Config{
		NodeID:       host,
		DataDir:      "./grafo-data",
		HTTPAddr:     "127.0.0.1:7070",
		ClusterAddr:  "127.0.0.1:7071",
		Replicas:     3,
		VNodes:       128,
		Weight:       1,
		Heartbeat:    time.Second,
		Callgraph:    "cha",
		HintWindow:   3 * time.Hour,
		MaxClockSkew: time.Minute,
		AntiEntropy:  30 * time.Second,
	}
}

// withDefaults fills the zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	orDefault(&c.NodeID, d.NodeID)
	orDefault(&c.DataDir, d.DataDir)
	orDefault(&c.HTTPAddr, d.HTTPAddr)
	orDefault(&c.ClusterAddr, d.ClusterAddr)
	orDefault(&c.Replicas, d.Replicas)
	orDefault(&c.VNodes, d.VNodes)
	orDefault(&c.Weight, d.Weight)
	orDefault(&c.Heartbeat, d.Heartbeat)
	orDefault(&c.Callgraph, d.Callgraph)
	orDefault(&c.HintWindow, d.HintWindow)
	orDefault(&c.MaxClockSkew, d.MaxClockSkew)
	orDefault(&c.AntiEntropy, d.AntiEntropy)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// orDefault sets *v to def when *v is its type's zero value (unset).
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate checks bounds.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if len(c.NodeID) > 128 {
		errs = append(errs, fmt.Errorf("node-id longer than 128 bytes"))
	}
	if c.CommitWait > time.Second {
		errs = append(errs, fmt.Errorf("commit-wait %v: more than 1s", c.CommitWait))
	}
	if c.Replicas < 1 || c.Replicas > 15 {
		errs = append(errs, fmt.Errorf("replicas=%d outside 1..15", c.Replicas))
	}
	if c.WriteQuorum < 0 || c.WriteQuorum > c.Replicas {
		errs = append(errs, fmt.Errorf("write-quorum=%d outside 1..%d", c.WriteQuorum, c.Replicas))
	}
	if c.ReadQuorum < 0 || c.ReadQuorum > c.Replicas {
		errs = append(errs, fmt.Errorf("read-quorum=%d outside 1..%d", c.ReadQuorum, c.Replicas))
	}
	if c.VNodes < 1 || c.VNodes > 4096 {
		errs = append(errs, fmt.Errorf("vnodes=%d outside 1..4096", c.VNodes))
	}
	if c.Weight < 1 || c.Weight > 100 {
		errs = append(errs, fmt.Errorf("weight=%d outside 1..100", c.Weight))
	}
	if c.Replace != "" && c.Replace != c.NodeID {
		errs = append(errs, fmt.Errorf("--replace %s takes over that node's id; --node-id is %q", c.Replace, c.NodeID))
	}
	if c.Replace != "" && len(c.Join) == 0 {
		errs = append(errs, fmt.Errorf("--replace needs --join: the replacement learns the ring from a member"))
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "data.db")); c.Replace != "" && err == nil {
		errs = append(errs, fmt.Errorf("--replace %s needs an empty data directory; %s holds data.db", c.Replace, c.DataDir))
	}
	if c.Heartbeat < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("heartbeat=%v is below 10ms", c.Heartbeat))
	}
	if n := btoi(c.TLSCert != "") + btoi(c.TLSKey != "") + btoi(c.TLSCA != ""); n != 0 && n != 3 {
		errs = append(errs, fmt.Errorf("--tls-cert, --tls-key and --tls-ca go together"))
	}
	if c.TokensFile == "" && !c.Insecure && !loopback(c.HTTPAddr) {
		errs = append(errs, fmt.Errorf("--http %s is reachable from other machines and --tokens is not set: anyone could read and write; set --tokens, or --insecure to accept that", c.HTTPAddr))
	}
	if c.TokensFile == "" && !c.Insecure && c.RESPAddr != "" && !loopback(c.RESPAddr) {
		errs = append(errs, fmt.Errorf("--resp %s is reachable from other machines and --tokens is not set: anyone could read and write; set --tokens, or --insecure to accept that", c.RESPAddr))
	}
	if !c.clusterAuthenticated() && !c.Insecure && !loopback(c.ClusterAddr) {
		errs = append(errs, fmt.Errorf("--cluster %s is reachable from other machines and neither --cluster-secret nor --tls-* is set: anyone could join, or read and write every graph through it (--tokens does not cover the cluster port); set --cluster-secret, or --insecure to accept that", c.ClusterAddr))
	}
	if c.Autoscale != "" {
		if _, err := autoscale.ParseSpec(c.Autoscale); err != nil {
			errs = append(errs, err)
		}
		if strings.TrimSpace(c.AutoscaleExec) == "" {
			errs = append(errs, fmt.Errorf("--autoscale needs --autoscale-exec: the command that starts (CMD up) and stops (CMD down NODE) a machine"))
		}
	}
	if c.Capacity < 0 {
		errs = append(errs, fmt.Errorf("capacity=%d is negative", c.Capacity))
	}
	return errors.Join(errs...)
}

// clusterAuthenticated reports whether the cluster port checks its peers
// (a secret or mutual-TLS certificates).
func (c Config) clusterAuthenticated() bool { return c.ClusterSecret != "" || c.TLSCert != "" }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// loopback reports whether addr binds only loopback interfaces.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
