package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The RPC protocol: one connection per peer carries every call, each a
// request frame tagged with an id (never 0), answered by a response frame
// with the same id in whatever order the handlers finish. Id 0 is the
// keepalive: a request with it is answered at once by the reader, without
// a handler. Frames are writeMuxRequest's and writeMuxResponse's.
//
// It replaced a yamux stream per call: opening, windowing and closing a
// stream cost six frames, a goroutine on each side and an open timer per
// call; here a call is two frames and no goroutine on the caller's side.

const idSize = 4

// errBroken is a call that found its connection broken before it sent
// anything: a redial is safe.
var errBroken = errors.New("transport: connection broken")

// muxReply is a response frame, or the error that ended the connection.
type muxReply struct {
	status, code byte
	body         []byte
	err          error
}

// muxConn is the caller's side of one connection.
type muxConn struct {
	conn     net.Conn
	w        *batchConn
	lastRead atomic.Int64  // unix nanoseconds of the last frame read
	every    time.Duration // keepalive interval

	mu    sync.Mutex
	next  uint32
	calls map[uint32]chan muxReply
	err   error // why the connection ended; no call starts after it
	done  chan struct{}
}

func newMuxConn(conn net.Conn, keepAlive time.Duration) *muxConn {
	m := &muxConn{conn: conn, w: newBatchConn(conn), every: keepAlive, calls: make(map[uint32]chan muxReply), done: make(chan struct{})}
	m.lastRead.Store(time.Now().UnixNano())
	go m.readLoop(bufio.NewReaderSize(conn, 64<<10))
	go m.keepAlive()
	return m
}

// call sends one request and waits for its response or ctx. It returns
// errBroken when the connection had ended before the request was sent.
func (m *muxConn) call(ctx context.Context, method string, timeout time.Duration, req []byte) (muxReply, error) {
	ch := make(chan muxReply, 1)
	m.mu.Lock()
	if m.err != nil {
		m.mu.Unlock()
		return muxReply{}, errBroken
	}
	m.next++
	if m.next == 0 {
		m.next = 1 // 0 is the keepalive
	}
	id := m.next
	m.calls[id] = ch
	m.mu.Unlock()
	if err := writeMuxRequest(m.w, id, method, timeout, req); err != nil {
		m.forget(id)
		return muxReply{}, errBroken // the writer had failed: nothing left
	}
	select {
	case r := <-ch:
		return r, r.err
	case <-ctx.Done():
		m.forget(id) // a late response is dropped by the reader
		return muxReply{}, ctx.Err()
	}
}

func (m *muxConn) forget(id uint32) {
	m.mu.Lock()
	delete(m.calls, id)
	m.mu.Unlock()
}

// broken reports whether the connection has ended.
func (m *muxConn) broken() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err != nil
}

func (m *muxConn) readLoop(r *bufio.Reader) {
	for {
		id, rep, err := readMuxResponse(r)
		if err != nil {
			m.fail(err)
			return
		}
		m.lastRead.Store(time.Now().UnixNano())
		if id == 0 {
			continue // keepalive answer
		}
		m.mu.Lock()
		ch := m.calls[id]
		delete(m.calls, id)
		m.mu.Unlock()
		if ch != nil {
			ch <- rep
		}
	}
}

// fail ends the connection and every call waiting on it.
func (m *muxConn) fail(err error) {
	m.mu.Lock()
	if m.err != nil {
		m.mu.Unlock()
		return
	}
	m.err = err
	calls := m.calls
	m.calls = nil
	close(m.done)
	m.mu.Unlock()
	m.w.Close()
	for _, ch := range calls {
		ch <- muxReply{err: err}
	}
}

// Close ends the connection.
func (m *muxConn) Close() { m.fail(net.ErrClosed) }

// keepAlive pings a quiet connection and drops it when nothing has been
// read for three intervals (Config.KeepAlive): a peer that vanished without a reset (a
// partition, a paused VM) is noticed in seconds, not at TCP's retransmit
// timeout, and the next call redials.
func (m *muxConn) keepAlive() {
	t := time.NewTicker(m.every)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
		}
		quiet := time.Since(time.Unix(0, m.lastRead.Load()))
		if quiet > 3*m.every {
			m.fail(errors.New("transport: peer silent: keepalive timed out"))
			return
		}
		if quiet >= m.every {
			writeMuxRequest(m.w, 0, "", 0, nil)
		}
	}
}

// serveMux is the peer's side: it reads request frames and runs each in
// its own goroutine (a handler may wait, e.g. for a group commit), whose
// response joins the shared coalescing writer.
func (t *TCP) serveMux(conn net.Conn, from string) {
	w := newBatchConn(conn)
	if !t.track(w, true) {
		w.Close()
		return
	}
	defer func() {
		t.track(w, false)
		w.Close()
	}()
	r := bufio.NewReaderSize(conn, 64<<10)
	for {
		id, method, timeout, req, err := readMuxRequest(r)
		if err != nil {
			return
		}
		if id == 0 {
			writeMuxResponse(w, 0, encodeResponse(statusOK, 0, nil))
			continue
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			// A failed write means the caller is gone; nothing to tell.
			writeMuxResponse(w, id, t.dispatch(method, timeout, from, req))
		}()
	}
}

// track adds (or removes) an inbound connection for Close to end; false
// when the transport is already closed.
func (t *TCP) track(c io.Closer, add bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !add {
		delete(t.inbound, c)
		return true
	}
	if t.closed.Load() {
		return false
	}
	t.inbound[c] = struct{}{}
	return true
}

func writeMuxRequest(w *batchConn, id uint32, method string, timeout time.Duration, req []byte) error {
	var h [idSize + reqHeader + maxMethod]byte
	binary.BigEndian.PutUint32(h[:], id)
	n := idSize + putRequestHeader(h[idSize:], method, timeout, len(req))
	return w.writev(h[:n], req)
}

func readMuxRequest(r *bufio.Reader) (id uint32, method string, timeout time.Duration, req []byte, err error) {
	var h [idSize]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return 0, "", 0, nil, err
	}
	method, timeout, req, err = readRequest(r)
	return binary.BigEndian.Uint32(h[:]), method, timeout, req, err
}

// writeMuxResponse sends resp, an encodeResponse, under id.
func writeMuxResponse(w *batchConn, id uint32, resp []byte) error {
	var h [idSize]byte
	binary.BigEndian.PutUint32(h[:], id)
	return w.writev(h[:], resp)
}

func readMuxResponse(r *bufio.Reader) (uint32, muxReply, error) {
	var h [idSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, muxReply{}, err
	}
	status, code, body, err := readResponse(r)
	return binary.BigEndian.Uint32(h[:]), muxReply{status: status, code: code, body: body}, err
}
