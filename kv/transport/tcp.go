package transport

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafo/grafo/internal/netutil"
)

// TCP is the real Transport: one listener serving RPC (pipelined frames,
// mux.go) and raft (see RaftLayer), and one persistent connection per peer
// it calls.
type TCP struct {
	cfg  Config
	log  *slog.Logger
	ln   net.Listener
	addr string

	handlers sync.Map // method → Handler
	serving  atomic.Bool
	nonces   *nonceSet // this node's handshake nonces in flight, both sides

	mu      sync.Mutex
	peers   map[string]*peer
	inbound map[io.Closer]struct{}

	raft   *raftLayer      // guarded by mu
	ctx    context.Context // parent of handler contexts; cancelled by Close
	cancel context.CancelFunc
	closed atomic.Bool
	wg     sync.WaitGroup
}

var _ Transport = (*TCP)(nil)

// peer holds the outbound connection to one address.
type peer struct {
	mu   sync.Mutex
	sess *muxConn
	dial *dialing // non-nil while a dial runs; callers wait on it
}

type dialing struct {
	done chan struct{}
	sess *muxConn
	err  error
}

// Listen starts serving on cfg.Addr.
func Listen(cfg Config) (*TCP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultConfig().DialTimeout
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultConfig().KeepAlive
	}
	if cfg.TLS == nil && cfg.Secret != "" {
		// The secret alone: mutual TLS keyed by it (see doc.go for why).
		c, err := SecretTLS(cfg.Secret)
		if err != nil {
			return nil, err
		}
		cfg.TLS = c
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen %s: %w", cfg.Addr, err)
	}
	addr := cfg.Advertise
	if addr == "" {
		addr = ln.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &TCP{
		cfg: cfg, log: log, ln: ln, addr: addr, nonces: newNonceSet(),
		peers:   make(map[string]*peer),
		inbound: make(map[io.Closer]struct{}),
		ctx:     ctx, cancel: cancel,
	}
	t.raft = newRaftLayer(t)
	t.wg.Add(1)
	go t.acceptLoop()
	return t, nil
}

// Addr is the advertised address.
func (t *TCP) Addr() string { return t.addr }

// Handle registers h for method.
func (t *TCP) Handle(method string, h Handler) { t.handlers.Store(method, h) }

// Serving says every handler is registered. Until then a call to a
// method with none is answered as unavailable (the node is starting: the
// caller hints it or asks another replica), not as an unknown method,
// which would mean a peer of another version.
func (t *TCP) Serving() { t.serving.Store(true) }

// Close stops the listener, closes every session and waits for running
// handlers (their contexts are cancelled).
func (t *TCP) Close() error {
	if !t.closed.CompareAndSwap(false, true) {
		return nil
	}
	t.cancel()
	err := t.ln.Close()
	t.mu.Lock()
	t.raft.Close()
	for _, p := range t.peers {
		p.mu.Lock()
		if p.sess != nil {
			p.sess.Close()
		}
		p.mu.Unlock()
	}
	for s := range t.inbound {
		s.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
	return err
}

// Call runs method on addr over the persistent connection to it.
func (t *TCP) Call(ctx context.Context, addr, method string, req []byte) ([]byte, error) {
	if t.closed.Load() {
		return nil, ErrClosed
	}
	if len(method) > maxMethod {
		return nil, fmt.Errorf("transport: method name of %d bytes", len(method))
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("transport: %s on %s: %w", method, addr, err)
	}
	var timeout time.Duration
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	for attempt := 0; ; attempt++ {
		mc, err := t.session(ctx, addr)
		if err != nil {
			return nil, err
		}
		rep, err := mc.call(ctx, method, timeout, req)
		if errors.Is(err, errBroken) {
			// The connection broke since we looked (peer restarted);
			// nothing was sent, so one redial is safe.
			t.drop(addr, mc)
			if attempt > 0 {
				return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, addr, err)
			}
			continue
		}
		if err != nil {
			return nil, callFailed(ctx, method, addr, err)
		}
		return reply(ctx, method, addr, rep)
	}
}

// ctxErr is ctx's error, or DeadlineExceeded when its deadline has passed
// and its timer has not run yet.
func ctxErr(ctx context.Context) error {
	cerr := ctx.Err()
	if dl, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(dl) {
		cerr = context.DeadlineExceeded
	}
	return cerr
}

// callFailed reports a call that got no response: the ctx's error when
// the request ended, else the peer is unreachable.
func callFailed(ctx context.Context, method, addr string, err error) error {
	if cerr := ctxErr(ctx); cerr != nil {
		return fmt.Errorf("transport: %s on %s: %w", method, addr, cerr)
	}
	return fmt.Errorf("%w: %s on %s: %w", ErrUnreachable, method, addr, err)
}

func reply(ctx context.Context, method, addr string, rep muxReply) ([]byte, error) {
	if rep.status == statusOK {
		return rep.body, nil
	}
	rerr := &RemoteError{Addr: addr, Method: method, Message: string(rep.body), Code: rep.code}
	if cerr := ctxErr(ctx); cerr != nil {
		// The handler gave up on the deadline we sent it, a hair
		// before our own fired: report ours.
		return nil, fmt.Errorf("transport: %s on %s: %w (%w)", method, addr, cerr, rerr)
	}
	return nil, rerr
}

// session returns a live outbound connection to addr, dialling once for
// all concurrent callers.
func (t *TCP) session(ctx context.Context, addr string) (*muxConn, error) {
	t.mu.Lock()
	p := t.peers[addr]
	if p == nil {
		p = &peer{}
		t.peers[addr] = p
	}
	t.mu.Unlock()

	p.mu.Lock()
	if p.sess != nil && !p.sess.broken() {
		s := p.sess
		p.mu.Unlock()
		return s, nil
	}
	if d := p.dial; d != nil {
		p.mu.Unlock()
		select {
		case <-d.done:
			return d.sess, d.err
		case <-ctx.Done():
			return nil, fmt.Errorf("transport: dial %s: %w", addr, ctx.Err())
		}
	}
	d := &dialing{done: make(chan struct{})}
	p.dial = d
	p.mu.Unlock()

	d.sess, d.err = t.dialSession(ctx, addr)
	p.mu.Lock()
	p.dial = nil
	if d.err == nil {
		p.sess = d.sess
	}
	p.mu.Unlock()
	close(d.done)
	if d.err == nil && t.closed.Load() {
		d.sess.Close() // raced with Close, which did not see this session
		return nil, ErrClosed
	}
	return d.sess, d.err
}

// drop forgets sess if it is still addr's connection.
func (t *TCP) drop(addr string, sess *muxConn) {
	sess.Close()
	t.mu.Lock()
	p := t.peers[addr]
	t.mu.Unlock()
	if p != nil {
		p.mu.Lock()
		if p.sess == sess {
			p.sess = nil
		}
		p.mu.Unlock()
	}
}

func (t *TCP) dialSession(ctx context.Context, addr string) (*muxConn, error) {
	conn, err := t.dialConn(ctx, addr, protoRPC, t.cfg.DialTimeout)
	if err != nil {
		return nil, err
	}
	t.log.Debug("transport connected", "peer", addr)
	return newMuxConn(conn, t.cfg.KeepAlive), nil
}

// dialConn opens a TCP connection and runs the handshake for proto.
func (t *TCP) dialConn(ctx context.Context, addr string, proto byte, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %w", ErrUnreachable, addr, err)
	}
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	// The raw connection, not conn, which TLS replaces below while this
	// may run: its deadline is the TLS connection's too.
	raw := conn
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	if t.cfg.TLS != nil {
		tc := tls.Client(conn, t.cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			stop()
			conn.Close()
			return nil, fmt.Errorf("%w: tls with %s: %w", ErrUnreachable, addr, errors.Join(ErrAuth, err))
		}
		conn = tc
	}
	from := t.addr
	if proto == protoRaft {
		from = ""
	}
	err = clientHandshake(conn, proto, t.cfg.Secret, from, t.nonces)
	stop()
	if err != nil {
		conn.Close()
		// In TLS 1.3 the server checks our certificate after our side of
		// the handshake returned: its refusal arrives as an alert here.
		var oe *net.OpError
		if t.cfg.TLS != nil && errors.As(err, &oe) && oe.Op == "remote error" {
			err = errors.Join(ErrAuth, err)
		}
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, ErrAuth) {
			err = fmt.Errorf("%w (%w)", err, cerr)
		}
		return nil, fmt.Errorf("%w: handshake with %s: %w", ErrUnreachable, addr, err)
	}
	conn.SetDeadline(time.Time{})
	return conn, nil
}

func (t *TCP) acceptLoop() {
	defer t.wg.Done()
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			if t.closed.Load() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			t.log.Warn("transport accept failed", "err", err)
			return
		}
		t.wg.Add(1)
		go t.serveConn(conn)
	}
}

func (t *TCP) serveConn(conn net.Conn) {
	defer t.wg.Done()
	conn.SetDeadline(time.Now().Add(t.cfg.DialTimeout))
	if t.cfg.TLS != nil {
		var first [1]byte
		if _, err := io.ReadFull(conn, first[:]); err != nil {
			conn.Close()
			return
		}
		if first[0] != tlsRecordHandshake {
			t.refusePlain(conn, first[0])
			return
		}
		tc := tls.Server(&netutil.PrefixConn{Conn: conn, Prefix: first[:]}, t.cfg.TLS)
		if err := tc.Handshake(); err != nil {
			conn.Close()
			t.log.Warn("transport refused peer: tls", "peer", conn.RemoteAddr().String(), "err", err)
			return
		}
		conn = tc
	}
	proto, from, err := serverHandshake(conn, t.cfg.Secret, t.nonces)
	if err != nil {
		conn.Close()
		if errors.Is(err, ErrAuth) {
			t.log.Warn("transport refused peer", "peer", conn.RemoteAddr().String(), "err", err)
		} else {
			t.log.Debug("transport handshake failed", "peer", conn.RemoteAddr().String(), "err", err)
		}
		return
	}
	conn.SetDeadline(time.Time{})
	switch proto {
	case protoRaft:
		t.currentRaft().deliver(conn)
	case protoRPC:
		t.serveMux(conn, from)
	}
}

func (t *TCP) dispatch(method string, timeout time.Duration, from string, req []byte) []byte {
	v, ok := t.handlers.Load(method)
	if !ok && !t.serving.Load() {
		return encodeResponse(statusError, codeUnavailable, []byte(fmt.Sprintf("unavailable: node starting: %q not served yet", method)))
	}
	if !ok {
		return encodeResponse(statusError, codeUnknownMethod, []byte(fmt.Sprintf("unknown method %q", method)))
	}
	ctx, cancel := t.ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	resp, err := callHandler(ctx, v.(Handler), from, req)
	if err != nil {
		return encodeResponse(statusError, errorCode(err), []byte(err.Error()))
	}
	return encodeResponse(statusOK, 0, resp)
}

// callHandler turns a handler panic into an error: one bad request must not
// take the node (and its replicas) down.
func callHandler(ctx context.Context, h Handler, from string, req []byte) (resp []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("transport: handler panic: %v", r)
		}
	}()
	return h(ctx, from, req)
}

// refusePlain answers a peer that does not speak TLS to a node that
// requires it. A node without a secret (or an older Grafo) expects a
// server proof: random bytes make it report ErrAuth, as a wrong secret
// would, instead of a bare EOF.
func (t *TCP) refusePlain(conn net.Conn, first byte) {
	defer conn.Close()
	if first != protoRPC && first != protoRaft {
		t.log.Debug("transport handshake failed", "peer", conn.RemoteAddr().String(), "err", "not TLS")
		return
	}
	junk := make([]byte, nonceSize+macSize)
	rand.Read(junk)
	conn.Write(junk)
	t.log.Warn("transport refused peer", "peer", conn.RemoteAddr().String(),
		"err", "it does not speak TLS: no cluster secret (or another Grafo version)")
}
