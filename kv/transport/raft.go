package transport

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// RaftLayer returns the raft.StreamLayer riding on this transport's
// listener: connections whose first byte is 'R' are handed to it, and its
// Dial runs the same secret handshake. Pass it to raft.NewNetworkTransport.
// Closing it (raft does, on shutdown) stops raft traffic only; the listener
// belongs to the TCP. After a close, the next RaftLayer call returns a
// fresh layer, so raft can be restarted on a transport that lives on.
func (t *TCP) RaftLayer() raft.StreamLayer {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.raft.isClosed() && !t.closed.Load() {
		t.raft = newRaftLayer(t)
	}
	return t.raft
}

func newRaftLayer(t *TCP) *raftLayer {
	return &raftLayer{t: t, conns: make(chan net.Conn), closed: make(chan struct{})}
}

// currentRaft is the layer new raft connections go to.
func (t *TCP) currentRaft() *raftLayer {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.raft
}

type raftLayer struct {
	t      *TCP
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

var _ raft.StreamLayer = (*raftLayer)(nil)

func (l *raftLayer) deliver(conn net.Conn) {
	select {
	case l.conns <- conn:
	case <-l.closed:
		conn.Close()
	}
}

func (l *raftLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, fmt.Errorf("transport: raft layer: %w", net.ErrClosed)
	}
}

func (l *raftLayer) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

func (l *raftLayer) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *raftLayer) Addr() net.Addr { return addr(l.t.addr) }

func (l *raftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	select {
	case <-l.closed:
		return nil, fmt.Errorf("transport: raft layer: %w", net.ErrClosed)
	default:
	}
	if timeout <= 0 {
		timeout = l.t.cfg.DialTimeout
	}
	return l.t.dialConn(context.Background(), string(address), protoRaft, timeout)
}

// addr is the advertised address as a net.Addr.
type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }
