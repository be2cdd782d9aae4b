package leanhttp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafo/grafo/internal/netutil"
)

// DefaultMaxBody is Server.MaxBody's default.
const DefaultMaxBody = 64 << 10

// bufSize is the read buffer of a connection: a request head must fit in
// it to be taken.
const bufSize = 4 << 10

// Server serves a listener: the requests Take accepts on the fast path,
// every connection that sends anything else through HTTP.
type Server struct {
	// HTTP serves the connections handed over, and gives both paths their
	// Handler, ReadHeaderTimeout, ReadTimeout, IdleTimeout and ErrorLog.
	// Its ConnState, ConnContext and BaseContext hooks see only the
	// connections handed over.
	HTTP *http.Server
	// Take reports whether the fast path serves method on target (the
	// request target as sent, starting with '/'). It must hold only for
	// routes whose handlers need neither Hijacker nor Flusher.
	Take func(method, target string) bool
	// MaxBody bounds the body of a request taken (default DefaultMaxBody);
	// larger ones go to net/http.
	MaxBody int64

	mu      sync.Mutex
	ln      net.Listener
	conns   map[*conn]struct{}
	handoff *chanListener
	closing atomic.Bool
	httpErr chan error // HTTP.Serve's end
}

// Serve accepts connections on ln until Shutdown, and then returns
// http.ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.ln, s.conns = ln, map[*conn]struct{}{}
	s.handoff = &chanListener{ch: make(chan net.Conn), done: make(chan struct{}), addr: ln.Addr()}
	s.httpErr = make(chan error, 1)
	s.mu.Unlock()
	go func() { s.httpErr <- s.HTTP.Serve(s.handoff) }()

	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				s.handoff.Close()
				return err
			}
			// Out of file descriptors and the like: back off and retry,
			// as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.logf("http: Accept error: %v; retrying in %v", err, delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		c := s.newConn(nc)
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			nc.Close()
			return http.ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go c.serve()
	}
}

// Shutdown stops accepting, closes idle connections and waits for the
// requests in flight on both paths to finish, or for ctx to end (then it
// closes what is left and returns ctx's error).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	httpErr := make(chan error, 1)
	go func() { httpErr <- s.HTTP.Shutdown(ctx) }()
	wait := time.Millisecond
	for !s.closeIdle() {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			s.closeAll()
			<-httpErr
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
	return <-httpErr
}

// closeIdle closes the connections waiting for a request and reports
// whether none are left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			c.nc.Close()
		}
	}
	return len(s.conns) == 0
}

func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.state.Store(stateClosed)
		c.nc.Close()
	}
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) maxBody() int64 {
	if s.MaxBody > 0 {
		return s.MaxBody
	}
	return DefaultMaxBody
}

// headerTimeout and idleTimeout are net/http's: each falls back on
// ReadTimeout.
func (s *Server) headerTimeout() time.Duration {
	if d := s.HTTP.ReadHeaderTimeout; d > 0 {
		return d
	}
	return s.HTTP.ReadTimeout
}

func (s *Server) idleTimeout() time.Duration {
	if d := s.HTTP.IdleTimeout; d > 0 {
		return d
	}
	return s.HTTP.ReadTimeout
}

func (s *Server) logf(format string, args ...any) {
	if s.HTTP.ErrorLog != nil {
		s.HTTP.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}

// Connection states, for Shutdown.
const (
	stateActive int32 = iota // reading or serving a request
	stateIdle                // waiting for the next request
	stateClosed              // closed by Shutdown
)

type conn struct {
	s      *Server
	nc     net.Conn
	br     *bufio.Reader
	state  atomic.Int32
	remote string
	ctx    context.Context // cancelled when the connection ends
	cancel context.CancelFunc

	out  []byte // the response's bytes, sent in one write
	body []byte // the handler's body, held until its head is known
	date dateCache
}

func (s *Server) newConn(nc net.Conn) *conn {
	ctx := context.WithValue(context.Background(), http.ServerContextKey, s.HTTP)
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, nc.LocalAddr())
	ctx, cancel := context.WithCancel(ctx)
	c := &conn{s: s, nc: nc, br: bufio.NewReaderSize(nc, bufSize), remote: nc.RemoteAddr().String(), ctx: ctx, cancel: cancel}
	// Idle until its first byte: Shutdown closes a connection that has
	// sent nothing, instead of waiting for it to time out.
	c.state.Store(stateIdle)
	return c
}

func (c *conn) serve() {
	s := c.s
	defer c.cancel()
	for first := true; ; first = false {
		if first {
			setDeadline(c.nc, s.headerTimeout())
		} else {
			setDeadline(c.nc, s.idleTimeout())
			c.state.Store(stateIdle)
			if s.closing.Load() && c.state.CompareAndSwap(stateIdle, stateClosed) {
				c.close()
				return
			}
		}
		if _, err := c.br.Peek(1); err != nil {
			c.close()
			return
		}
		if !c.state.CompareAndSwap(stateIdle, stateActive) {
			c.close() // Shutdown closed it
			return
		}
		h, v, err := c.readHead(first)
		if err != nil {
			c.close()
			return
		}
		var u *url.URL
		if v == take {
			// net/http's own parse of the target, so that the handler
			// sees the same URL; a target it would refuse is its to refuse.
			if u, err = url.ParseRequestURI(h.target); err != nil {
				v = decline
			}
		}
		if v != take {
			c.handOff()
			return
		}
		if !c.serveRequest(&h, u) || s.closing.Load() {
			c.close()
			return
		}
	}
}

// readHead waits until the buffered bytes hold a head to take, or one to
// decline. The header timeout starts when the head is not there in one
// read, as net/http's does when it starts reading one.
func (c *conn) readHead(first bool) (head, verdict, error) {
	deadline := first
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		h, v := parseHead(buf, c.s.Take, c.s.maxBody())
		if v != more {
			return h, v, nil
		}
		if len(buf) == c.br.Size() {
			return h, decline, nil // larger than we parse: net/http's
		}
		if !deadline {
			setDeadline(c.nc, c.s.headerTimeout())
			deadline = true
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			return h, decline, err
		}
	}
}

// serveRequest runs the handler on one request and sends its response;
// it reports whether the connection may serve another.
func (c *conn) serveRequest(h *head, u *url.URL) (keep bool) {
	c.br.Discard(h.n)
	var b *body
	req := &http.Request{
		Method: h.method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h.header, Body: http.NoBody, ContentLength: h.contentLength, Close: h.close,
		Host: h.host, RemoteAddr: c.remote, RequestURI: h.target,
	}
	if h.contentLength > 0 {
		if int64(c.br.Buffered()) < h.contentLength {
			setDeadline(c.nc, c.s.HTTP.ReadTimeout) // the body's, as net/http
		}
		b = &body{br: c.br, left: h.contentLength}
		req.Body = b
	}
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	req = req.WithContext(ctx)
	w := &response{c: c, req: req, body: b, declared: -1, closeAfter: h.close}
	c.out, c.body = c.out[:0], c.body[:0]
	defer func() {
		if err := recover(); err != nil {
			keep = false
			if err != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.s.logf("http: panic serving %v: %v\n%s", c.remote, err, buf)
			}
		}
	}()
	c.s.HTTP.Handler.ServeHTTP(w, req)
	return w.finish()
}

// handOff gives the connection, with every byte read from it and not
// consumed, to net/http.
func (c *conn) handOff() {
	buffered, _ := c.br.Peek(c.br.Buffered())
	pc := &netutil.PrefixConn{Conn: c.nc, Prefix: append([]byte(nil), buffered...)}
	c.nc.SetReadDeadline(time.Time{}) // net/http sets its own
	c.s.forget(c)
	if !c.s.handoff.give(pc) {
		c.nc.Close()
	}
}

func (c *conn) close() {
	c.nc.Close()
	c.s.forget(c)
}

func setDeadline(nc net.Conn, d time.Duration) {
	if d > 0 {
		nc.SetReadDeadline(time.Now().Add(d))
	} else {
		nc.SetReadDeadline(time.Time{})
	}
}

// body is a request body of known length read from the connection.
type body struct {
	br   *bufio.Reader
	left int64
	err  error // a read that failed before the end: the connection is out of step
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.br.Read(p)
	b.left -= int64(n)
	if err != nil && b.left > 0 {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		b.err = err
		return n, err
	}
	if b.left == 0 {
		return n, io.EOF
	}
	return n, nil
}

func (b *body) Close() error { return nil }

// drain reads what the handler left of the body, so that the next request
// starts where it should; it reports whether it could.
func (b *body) drain() bool {
	if b.err != nil {
		return false
	}
	if b.left > 0 {
		n, err := b.br.Discard(int(b.left))
		b.left -= int64(n)
		if err != nil {
			b.err = err
			return false
		}
	}
	return true
}

// chanListener is the listener net/http serves: connections handed over.
type chanListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

func (l *chanListener) give(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}
