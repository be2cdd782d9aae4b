package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/wire"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/semaphore"
)

// Cluster is what the API needs of the node's membership.
type Cluster interface {
	Status(ctx context.Context) (wire.ClusterStatus, error)
	Join(ctx context.Context, addr string) error
	Leave(ctx context.Context, node string) error
	Remove(ctx context.Context, node string, force bool) error
	// Cleanup deletes this node's copies of data it no longer owns and
	// says what it did.
	Cleanup(ctx context.Context) (any, error)
}

// Config wires the API to the node's parts.
type Config struct {
	Store   kv.Store    // required; the raw KV routes see its user keyspace (kv.UserSpace)
	Cluster Cluster     // nil: /v1/cluster answers 503
	Sink    ingest.Sink // nil: remote ingest answers 503
	// Dump streams a graph's dump records (graph/store.Dump) to emit; nil:
	// GET /v1/graphs/{graph}/dump answers 503.
	Dump  func(ctx context.Context, graph string, emit func(any) error) error
	Ready func(ctx context.Context) error // nil: always ready
	// Tokens turns on authentication (--tokens); nil means open.
	Tokens *auth.Tokens
	// MaxConcurrent bounds requests in flight; more answer 429. 0 means
	// 1024. Websockets do not count here (they have budgets of their own).
	MaxConcurrent int
	// MaxWebsockets bounds authenticated websockets; 0 means 1024.
	MaxWebsockets int
	// MaxPendingWebsockets bounds websockets that have not authenticated
	// yet (their connection_init has not come); more answer 429. 0 means
	// 64.
	MaxPendingWebsockets int
	// Hosts are the names (besides IP addresses and localhost) that the
	// Host header may carry when tokens are off; "*" allows any. See
	// checkBrowser.
	Hosts []string
	// Registry is served on /metrics; nil means a new registry with the Go
	// and process collectors.
	Registry *prometheus.Registry
	// Mounts are extra handlers by ServeMux pattern (GraphQL, web, …).
	Mounts map[string]http.Handler
	// MaxBody bounds request bodies other than KV values (which are bound
	// by kv.MaxPairSize). 0 means 64 MiB.
	MaxBody int64
	// SinkBytes bounds the bodies of remote-ingest writes being decoded
	// and stored at once, by their Content-Length: a node holds several
	// times a body's size while it stores it (the decoded facts, then every
	// row staged before its writes), and `grafo ingest` sends 8 batches of
	// up to 4 MiB at a time. A request past the bound waits for room (it
	// is not refused); one larger than the bound runs alone. 0 means
	// DefaultSinkBytes; negative means no bound.
	SinkBytes int64
	Logger    *slog.Logger
}

// DefaultSinkBytes is Config.SinkBytes's default: two of the client's
// batches at a time, one decoding while the other is written, which keeps
// the node's writes as busy as eight did.
const DefaultSinkBytes = 8 << 20

type api struct {
	cfg      Config
	sinkMem  *semaphore.Weighted // nil: no bound (Config.SinkBytes < 0)
	mux      *http.ServeMux
	log      *slog.Logger
	inflight chan struct{}
	sockets  chan struct{} // authenticated websockets
	pending  chan struct{} // websockets before their connection_init
}

// New returns the node's public HTTP handler.
func New(cfg Config) http.Handler {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 20
	}
	if cfg.SinkBytes == 0 {
		cfg.SinkBytes = DefaultSinkBytes
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 1024
	}
	if cfg.MaxWebsockets <= 0 {
		cfg.MaxWebsockets = 1024
	}
	if cfg.MaxPendingWebsockets <= 0 {
		cfg.MaxPendingWebsockets = 64
	}
	// The raw KV routes are the only users of Store: they see the user
	// keyspace, never the graph store's rows.
	cfg.Store = kv.UserSpace(cfg.Store)
	a := &api{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, inflight: make(chan struct{}, cfg.MaxConcurrent),
		sockets: make(chan struct{}, cfg.MaxWebsockets), pending: make(chan struct{}, cfg.MaxPendingWebsockets)}
	if cfg.SinkBytes > 0 {
		a.sinkMem = semaphore.NewWeighted(cfg.SinkBytes)
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	m := a.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	})
	m.HandleFunc("GET /readyz", a.readyz)
	m.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{Registry: cfg.Registry}))
	m.HandleFunc("GET /v1/cluster", a.clusterStatus)
	m.HandleFunc("POST /v1/cluster/join", a.clusterJoin)
	m.HandleFunc("POST /v1/cluster/leave", a.clusterLeave)
	m.HandleFunc("POST /v1/cluster/remove", a.clusterRemove)
	m.HandleFunc("POST /v1/cluster/cleanup", a.clusterCleanup)
	m.HandleFunc("GET /v1/graphs/{graph}/files", a.sinkFiles)
	m.HandleFunc("POST /v1/graphs/{graph}/files", a.sinkPutFiles)
	m.HandleFunc("POST /v1/graphs/{graph}/files/delete", a.sinkDeleteFiles)
	m.HandleFunc("PUT /v1/graphs/{graph}/languages", a.sinkLanguages)
	m.HandleFunc("PUT /v1/graphs/{graph}/source", a.sinkSource)
	m.HandleFunc("GET /v1/graphs/{graph}/dump", a.dump)
	for pattern, h := range cfg.Mounts {
		m.Handle(pattern, h)
	}
	return a
}

const kvPrefix = "/v1/kv/"

// Lean reports whether a request may be served by the node's lean HTTP/1.1
// path (package leanhttp): the raw key-value routes, whose handlers need
// neither Hijacker nor Flusher and are the ones a busy client calls.
// target is the request target as sent.
func Lean(method, target string) bool { return strings.HasPrefix(target, kvPrefix) }

// ServeHTTP routes /v1/kv/ itself: keys may hold '/', "..", or bytes that
// ServeMux would clean or redirect, so the key is taken from the escaped
// path verbatim.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
		if err := a.checkBrowser(r); err != nil {
			WriteError(w, err)
			return
		}
		if isWebsocket(r) {
			// Long-lived: never in the request budget, so sockets cannot
			// starve API calls; pending until authenticated.
			ws := &wsSlot{a: a}
			if !ws.take(a.pending) {
				tooMany(w, "too many websockets waiting for connection_init; retry later")
				return
			}
			defer ws.release()
			r = r.WithContext(auth.WithAdmission(r.Context(), ws.admit))
		} else {
			select {
			case a.inflight <- struct{}{}:
				defer func() { <-a.inflight }()
			default:
				tooMany(w, "too many requests in flight; retry later")
				return
			}
		}
	}
	r, ok := a.authorize(w, r)
	if !ok {
		return
	}
	if strings.HasPrefix(r.URL.EscapedPath(), kvPrefix) || r.URL.Path == "/v1/kv" {
		a.kv(w, r)
		return
	}
	a.mux.ServeHTTP(w, r)
}

func tooMany(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	writeErrorCode(w, http.StatusTooManyRequests, wire.CodeTooManyRequests, msg)
}

// wsSlot is one websocket's place in the pending budget, moved to the
// established budget by admit (on connection_init) and given back when
// the connection ends.
type wsSlot struct {
	a    *api
	mu   sync.Mutex
	held chan struct{} // the budget holding the slot; nil once released
}

func (s *wsSlot) take(budget chan struct{}) bool {
	select {
	case budget <- struct{}{}:
		s.held = budget
		return true
	default:
		return false
	}
}

func (s *wsSlot) admit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held != s.a.pending {
		return nil
	}
	pending := s.held
	if !s.take(s.a.sockets) {
		return fmt.Errorf("%w: too many websockets on this node (%d); retry later", kv.ErrUnavailable, cap(s.a.sockets))
	}
	<-pending
	return nil
}

func (s *wsSlot) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held != nil {
		<-s.held
		s.held = nil
	}
}

func (a *api) kv(w http.ResponseWriter, r *http.Request) {
	raw := strings.TrimPrefix(r.URL.EscapedPath(), kvPrefix)
	if r.URL.Path == "/v1/kv" {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			a.kvList(w, r)
			return
		}
		raw = ""
	}
	key, err := url.PathUnescape(raw)
	if err != nil {
		writeErrorCode(w, http.StatusBadRequest, wire.CodeBadRequest, "bad key escape: "+err.Error())
		return
	}
	if key == "" {
		writeErrorCode(w, http.StatusBadRequest, wire.CodeEmptyKey, "empty key")
		return
	}
	o, err := Options(r.URL.Query())
	if err != nil {
		WriteError(w, err)
		return
	}
	ctx := r.Context()
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		// Read at most one byte past the limit: a 100 MB body is refused
		// without being read.
		limit := int64(kv.MaxPairSize - len(key))
		if limit < 0 || r.ContentLength > limit {
			WriteError(w, kv.ErrTooLarge)
			return
		}
		val, err := readValue(r, limit)
		if err != nil {
			WriteError(w, fmt.Errorf("%w: reading body: %v", errBadRequest, err))
			return
		}
		if int64(len(val)) > limit {
			WriteError(w, kv.ErrTooLarge)
			return
		}
		v, err := a.cfg.Store.Put(ctx, []byte(key), val, o)
		if err != nil {
			WriteError(w, err)
			return
		}
		w.Header().Set("X-Grafo-Version", v.String())
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet, http.MethodHead:
		c, err := a.cfg.Store.Get(ctx, []byte(key), o)
		if err != nil {
			WriteError(w, err)
			return
		}
		w.Header().Set("X-Grafo-Version", c.Version.String())
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(c.Value)))
		if r.Method == http.MethodGet {
			w.Write(c.Value)
		}
	case http.MethodDelete:
		v, err := a.cfg.Store.Delete(ctx, []byte(key), o)
		if err != nil {
			WriteError(w, err)
			return
		}
		w.Header().Set("X-Grafo-Version", v.String())
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		writeErrorCode(w, http.StatusMethodNotAllowed, wire.CodeBadRequest, "method not allowed")
	}
}

// readValue reads a PUT's body, at most limit+1 bytes. A body of known
// length is read into one buffer of its size (net/http ends it there);
// io.ReadAll would grow one from 512 bytes, copying a 1 KiB value twice.
func readValue(r *http.Request, limit int64) ([]byte, error) {
	if n := r.ContentLength; n >= 0 && n <= limit {
		val := make([]byte, n)
		if _, err := io.ReadFull(r.Body, val); err != nil {
			return nil, err
		}
		return val, nil
	}
	return io.ReadAll(io.LimitReader(r.Body, limit+1))
}

// Bounds of GET /v1/kv?limit=.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// kvList answers GET /v1/kv?prefix=P&after=K&limit=N: raw keys in order
// across the ring, paged by the last key returned ("next").
func (a *api) kvList(w http.ResponseWriter, r *http.Request) {
	sc, ok := a.cfg.Store.(kv.RingScanner)
	if !ok {
		writeErrorCode(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "listing keys is not available on this node")
		return
	}
	q := r.URL.Query()
	o, err := Options(q)
	if err != nil {
		WriteError(w, err)
		return
	}
	limit := defaultListLimit
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > maxListLimit {
			writeErrorCode(w, http.StatusBadRequest, wire.CodeBadRequest, fmt.Sprintf("limit %q: want 1 to %d", s, maxListLimit))
			return
		}
	}
	var after []byte
	if q.Has("after") {
		after = []byte(q.Get("after"))
	}
	// The store is the user keyspace (kv.UserSpace): graph rows are never
	// listed.
	ents, next, err := sc.ScanRing(r.Context(), []byte(q.Get("prefix")), after, limit, nil, o)
	if err != nil {
		WriteError(w, err)
		return
	}
	out := wire.ListPage{Entries: make([]wire.ListEntry, 0, len(ents)), Next: string(next)}
	for _, e := range ents {
		le := wire.ListEntry{Key: string(e.Key), Version: e.Cell.Version.String()}
		if utf8.Valid(e.Cell.Value) {
			le.Value = string(e.Cell.Value)
		} else {
			le.ValueBase64 = base64.StdEncoding.EncodeToString(e.Cell.Value)
		}
		out.Entries = append(out.Entries, le)
	}
	writeJSON(w, out)
}

// Options parses ?consistency=, ?w=, ?r= and ?sloppy= into kv.Options.
func Options(q url.Values) (kv.Options, error) {
	var o kv.Options
	var err error
	if o.Level, err = kv.ParseLevel(q.Get("consistency")); err != nil {
		return o, err
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"w", &o.W}, {"r", &o.R}} {
		if s := q.Get(p.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return o, fmt.Errorf("%w: %s=%q is not a positive number", kv.ErrInvalidConsistency, p.name, s)
			}
			*p.dst = n
		}
	}
	if s := q.Get("sloppy"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return o, fmt.Errorf("%w: sloppy=%q is not a boolean", kv.ErrInvalidConsistency, s)
		}
		o.Sloppy = b
	}
	return o, nil
}

func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Ready != nil {
		if err := a.cfg.Ready(r.Context()); err != nil {
			writeErrorCode(w, http.StatusServiceUnavailable, wire.CodeUnavailable, err.Error())
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "ready\n")
}

func (a *api) clusterStatus(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Cluster == nil {
		writeErrorCode(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "cluster not started")
		return
	}
	st, err := a.cfg.Cluster.Status(r.Context())
	if err != nil {
		WriteError(w, err)
		return
	}
	writeJSON(w, st)
}

func (a *api) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBody)
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		WriteError(w, fmt.Errorf("%w: %v", errBadRequest, err))
		return false
	}
	return true
}

func (a *api) clusterJoin(w http.ResponseWriter, r *http.Request) {
	a.clusterChange(w, r, "addr", func(ctx context.Context, addr string) error { return a.cfg.Cluster.Join(ctx, addr) })
}

func (a *api) clusterLeave(w http.ResponseWriter, r *http.Request) {
	a.clusterChange(w, r, "node", func(ctx context.Context, node string) error { return a.cfg.Cluster.Leave(ctx, node) })
}

// clusterChange answers a membership change whose body names its subject
// in one field, {"addr": …} or {"node": …}: 204 once change has run with
// it.
func (a *api) clusterChange(w http.ResponseWriter, r *http.Request, field string, change func(context.Context, string) error) {
	var req struct {
		Addr string `json:"addr"`
		Node string `json:"node"`
	}
	if !a.decode(w, r, &req) {
		return
	}
	v := req.Node
	if field == "addr" {
		v = req.Addr
	}
	if a.cfg.Cluster == nil || v == "" {
		WriteError(w, fmt.Errorf("%w: %s is required", errBadRequest, field))
		return
	}
	if err := change(r.Context(), v); err != nil {
		WriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) clusterCleanup(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Cluster == nil {
		writeErrorCode(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "cluster not available on this node")
		return
	}
	st, err := a.cfg.Cluster.Cleanup(r.Context())
	if err != nil {
		WriteError(w, err)
		return
	}
	writeJSON(w, st)
}

func (a *api) clusterRemove(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Node  string `json:"node"`
		Force bool   `json:"force"`
	}
	if !a.decode(w, r, &req) {
		return
	}
	if a.cfg.Cluster == nil || req.Node == "" {
		WriteError(w, fmt.Errorf("%w: node is required", errBadRequest))
		return
	}
	if err := a.cfg.Cluster.Remove(r.Context(), req.Node, req.Force); err != nil {
		WriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// sink reports whether the graph routes can run: the node has a graph
// store and the path names a valid graph (else it has answered).
func (a *api) sink(w http.ResponseWriter, r *http.Request) bool {
	if a.cfg.Sink == nil {
		writeErrorCode(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "graph store not available on this node")
		return false
	}
	if err := store.ValidGraphID(r.PathValue("graph")); err != nil {
		WriteError(w, err)
		return false
	}
	return true
}

func (a *api) sinkFiles(w http.ResponseWriter, r *http.Request) {
	if !a.sink(w, r) {
		return
	}
	files, err := a.cfg.Sink.Files(r.Context(), r.PathValue("graph"))
	if err != nil {
		WriteError(w, err)
		return
	}
	writeJSON(w, files)
}

func (a *api) sinkPutFiles(w http.ResponseWriter, r *http.Request) {
	sinkWrite(a, w, r, func(ctx context.Context, graph string, facts []ingest.FileFacts) error {
		return a.cfg.Sink.PutFiles(ctx, graph, facts)
	})
}

func (a *api) sinkDeleteFiles(w http.ResponseWriter, r *http.Request) {
	sinkWrite(a, w, r, func(ctx context.Context, graph string, paths []string) error {
		return a.cfg.Sink.DeleteFiles(ctx, graph, paths)
	})
}

func (a *api) sinkLanguages(w http.ResponseWriter, r *http.Request) {
	sinkWrite(a, w, r, func(ctx context.Context, graph string, langs []ingest.Language) error {
		return a.cfg.Sink.SetLanguages(ctx, graph, langs)
	})
}

// sinkWrite answers a remote-ingest write: the body decoded as T, handed
// with the graph to write, 204 once it is stored.
func sinkWrite[T any](a *api, w http.ResponseWriter, r *http.Request, write func(ctx context.Context, graph string, v T) error) {
	if !a.sink(w, r) {
		return
	}
	release, err := a.sinkRoom(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	defer release()
	var v T
	if !a.decode(w, r, &v) {
		return
	}
	if err := write(r.Context(), r.PathValue("graph"), v); err != nil {
		WriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// sinkRoom waits until the body of r fits in the SinkBytes bound and
// returns the function that gives its room back. A body of unknown length
// counts as the whole bound.
func (a *api) sinkRoom(r *http.Request) (release func(), err error) {
	if a.sinkMem == nil {
		return func() {}, nil
	}
	n := r.ContentLength
	if n < 0 || n > a.cfg.SinkBytes {
		n = a.cfg.SinkBytes
	}
	n = max(n, 1)
	if err := a.sinkMem.Acquire(r.Context(), n); err != nil {
		return nil, err
	}
	return func() { a.sinkMem.Release(n) }, nil
}

// sinkSource records where a graph's tree came from (root, git commit and
// branch), when the node's sink keeps that.
func (a *api) sinkSource(w http.ResponseWriter, r *http.Request) {
	if !a.sink(w, r) {
		return
	}
	ss, ok := a.cfg.Sink.(ingest.SourceSink)
	if !ok {
		writeErrorCode(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "this node's graph store does not record sources")
		return
	}
	var src ingest.Source
	if !a.decode(w, r, &src) {
		return
	}
	if err := ss.SetSource(r.Context(), r.PathValue("graph"), src); err != nil {
		WriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// dump streams a graph as NDJSON, one record a line, flushed as it goes so
// neither side holds the graph. An error after the first byte cannot change
// the status: it ends the stream with an {"error": …} line instead, which
// grafo dump and restore report.
func (a *api) dump(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Dump == nil {
		writeErrorCode(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "graph store not available on this node")
		return
	}
	started := false
	fl, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	n := 0
	err := a.cfg.Dump(r.Context(), r.PathValue("graph"), func(rec any) error {
		if !started {
			w.Header().Set("Content-Type", "application/x-ndjson")
			started = true
		}
		if err := enc.Encode(rec); err != nil {
			return err
		}
		if n++; n%64 == 0 && fl != nil {
			fl.Flush()
		}
		return nil
	})
	if err == nil {
		return
	}
	if !started {
		WriteError(w, err)
		return
	}
	st, code := status(err)
	a.log.Warn("dump failed mid-stream", "graph", r.PathValue("graph"), "status", st, "err", err)
	_ = enc.Encode(wire.ErrorBody{Error: wire.ErrorDetail{Code: code, Message: message(err)}})
}
