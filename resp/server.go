package resp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/kv"
)

// Defaults of the limits in Config.
const (
	// DefaultMaxBulk is well above kv.MaxPairSize, so that a value that is
	// too large reaches the store and gets its clear "value too large"
	// error instead of a protocol error that closes the connection.
	DefaultMaxBulk    = 512 << 10
	DefaultMaxArgs    = 4096
	DefaultMaxRequest = 8 << 20
	DefaultMaxConns   = 10000
	// DefaultMaxUnauthConns bounds the connections that have not
	// authenticated yet (only with Config.Tokens): with PreAuthLimits each
	// holds about 20 KiB (buffers and goroutine), all of them about 5 MiB.
	DefaultMaxUnauthConns = 256
	// DefaultAuthTimeout is how long a connection may take to
	// authenticate (only with Config.Tokens).
	DefaultAuthTimeout = 10 * time.Second
)

// PreAuthLimits apply to a connection until it authenticates, when tokens
// are on: enough for AUTH, HELLO with AUTH and SETNAME, PING and QUIT, and
// small enough that an unauthenticated client cannot make the server hold
// more than a few KiB.
var PreAuthLimits = Limits{MaxBulk: 1 << 10, MaxArgs: 8, MaxRequest: 2 << 10, MaxInline: 2 << 10}

// RedisVersion is the Redis version Grafo answers INFO and HELLO with, for
// clients that check it before using a command. Grafo implements the subset
// of Redis 7.0 commands listed in the package documentation.
const RedisVersion = "7.0.0"

// Config configures a Server.
type Config struct {
	// Addr is the TCP address to listen on ("127.0.0.1:0" picks a port).
	Addr string
	// Store answers the data commands; a node's replica.Coordinator.
	Store kv.Store
	// Tokens, when not nil, makes every command but AUTH, HELLO, PING and
	// QUIT answer -NOAUTH until the connection authenticates.
	Tokens *auth.Tokens
	// Info describes the node and its cluster for INFO; may be nil.
	Info func() InfoData
	// Logger; nil discards.
	Logger *slog.Logger

	// MaxBulk bounds one argument (default DefaultMaxBulk), MaxArgs the
	// arguments of one command (DefaultMaxArgs), MaxRequest all arguments
	// of one command together (DefaultMaxRequest), MaxConns the open
	// connections (DefaultMaxConns); connections over it are answered
	// "-ERR max number of clients reached" and closed.
	MaxBulk, MaxArgs, MaxRequest, MaxConns int

	// MaxUnauthConns bounds the connections not authenticated yet, a
	// budget of their own inside MaxConns (default
	// DefaultMaxUnauthConns); over it a connection is answered "-ERR max
	// number of unauthenticated clients reached" and closed. AuthTimeout
	// is how long a connection may stay unauthenticated before it is
	// closed (default DefaultAuthTimeout). Both apply only with Tokens;
	// until AUTH, requests are bounded by PreAuthLimits.
	MaxUnauthConns int
	AuthTimeout    time.Duration
}

// InfoData is what INFO reports about the node and its cluster.
type InfoData struct {
	NodeID  string
	Version string // Grafo's version
	// Replicas (N), WriteQuorum (W) and ReadQuorum (R) as configured.
	Replicas, WriteQuorum, ReadQuorum int
	Leader                            string
	Nodes                             []NodeInfo
	// Keys is the number of live keys stored on this node.
	Keys int64
}

// NodeInfo is one member of the cluster.
type NodeInfo struct {
	ID, State, Addr string
}

// Server serves RESP2 on one listener.
type Server struct {
	cfg    Config
	lim    Limits
	log    *slog.Logger
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	start  time.Time

	cursors *scanCursors // SCAN's cursors, shared by all connections

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup
	nconns atomic.Int64
	unauth atomic.Int64 // connections counted against MaxUnauthConns
	nextID atomic.Int64
	total  atomic.Int64 // commands processed
}

// NewServer validates cfg and opens its listener; Serve accepts.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("resp: Config.Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.MaxConns = positiveOr(cfg.MaxConns, DefaultMaxConns)
	cfg.MaxUnauthConns = positiveOr(cfg.MaxUnauthConns, DefaultMaxUnauthConns)
	cfg.AuthTimeout = positiveOr(cfg.AuthTimeout, DefaultAuthTimeout)
	lim := Limits{MaxBulk: cfg.MaxBulk, MaxArgs: cfg.MaxArgs, MaxRequest: cfg.MaxRequest}.withDefaults()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("resp: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg: cfg, lim: lim, log: cfg.Logger, ln: ln, ctx: ctx, cancel: cancel,
		start: time.Now(), conns: map[*conn]struct{}{}, cursors: newScanCursors(),
	}, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve accepts connections until Close; it returns nil after Close.
func (s *Server) Serve() error {
	var delay time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: back off, retry.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("resp: accept failed", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if n := s.nconns.Add(1); n > int64(s.cfg.MaxConns) {
			s.nconns.Add(-1)
			s.wg.Add(1)
			go s.refuse(nc, fmt.Sprintf("max number of clients reached (limit %d)", s.cfg.MaxConns))
			continue
		}
		c := s.newConn(nc)
		if !c.authed {
			if n := s.unauth.Add(1); n > int64(s.cfg.MaxUnauthConns) {
				s.unauth.Add(-1)
				s.nconns.Add(-1)
				s.wg.Add(1)
				go s.refuse(nc, fmt.Sprintf("max number of unauthenticated clients reached (limit %d)", s.cfg.MaxUnauthConns))
				continue
			}
			c.counted = true
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			s.nconns.Add(-1)
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

func (s *Server) refuse(nc net.Conn, why string) {
	defer s.wg.Done()
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(nc, "-ERR %s\r\n", why)
	nc.Close()
	s.log.Warn("resp: connection refused", "reason", why, "remote", nc.RemoteAddr().String())
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting, closes every connection, cancels commands in
// flight and waits for their goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return err
}

// conn is one client connection; its commands run one at a time, in order.
type conn struct {
	s         *Server
	nc        net.Conn
	id        int64
	r         *Reader
	w         writer
	authed    bool
	principal auth.Principal
	opts      kv.Options
	name      string
	quit      bool
	counted   bool // holds a slot of MaxUnauthConns
	lower     [32]byte
}

// Write buffer sizes: small until the connection authenticates.
const (
	preAuthWriteBuf = 1 << 10
	writeBuf        = 16 << 10
)

func (s *Server) newConn(nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, id: s.nextID.Add(1)}
	if s.cfg.Tokens == nil {
		c.authed = true
		c.principal, _ = s.cfg.Tokens.Check("")
		c.r = NewReader(nc, s.lim)
		c.w = newWriter(nc, writeBuf)
		return c
	}
	c.r = NewReader(nc, PreAuthLimits)
	c.w = newWriter(nc, preAuthWriteBuf)
	return c
}

// authenticated gives a connection that just authenticated the full
// limits and buffers, and lifts its deadline to authenticate.
func (c *conn) authenticated(p auth.Principal) {
	c.principal = p
	if c.authed {
		return
	}
	c.authed = true
	c.r.SetLimits(c.s.lim)
	c.nc.SetDeadline(time.Time{})
	if c.counted {
		c.counted = false
		c.s.unauth.Add(-1)
	}
	// Answers still in the small buffer go out first, in order.
	c.w.resize(writeBuf)
}

func (c *conn) serve() {
	s := c.s
	defer func() {
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		if c.counted {
			s.unauth.Add(-1)
		}
		s.nconns.Add(-1)
		s.wg.Done()
	}()
	if !c.authed {
		// Reads and writes alike: a client that neither authenticates
		// nor reads its answers must not keep the slot.
		c.nc.SetDeadline(time.Now().Add(s.cfg.AuthTimeout))
	}
	for !c.quit {
		args, err := c.r.ReadCommand()
		if err != nil {
			var pe *ProtocolError
			var ne net.Error
			if errors.As(err, &pe) {
				c.w.err("ERR " + pe.Error())
				c.w.bw.Flush()
				s.log.Debug("resp: protocol error", "remote", c.nc.RemoteAddr().String(), "err", err)
			} else if !c.authed && errors.As(err, &ne) && ne.Timeout() {
				c.nc.SetWriteDeadline(time.Now().Add(time.Second))
				c.w.err("ERR authentication timeout: AUTH must come within " + s.cfg.AuthTimeout.String())
				c.w.bw.Flush()
				s.log.Info("resp: connection closed: no AUTH in time", "remote", c.nc.RemoteAddr().String())
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("resp: connection ended", "remote", c.nc.RemoteAddr().String(), "err", err)
			}
			return
		}
		s.total.Add(1)
		c.dispatch(args)
		// Answers of pipelined commands go out together, once the
		// client has nothing more queued.
		if c.r.Buffered() == 0 || c.quit {
			if err := c.w.bw.Flush(); err != nil {
				return
			}
		}
	}
}
