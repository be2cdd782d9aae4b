package transport

import (
	"net"
	"sync"
)

// batchConn coalesces writes: frames of concurrent calls would each cost
// a syscall; under concurrent calls that is most of the CPU. Here
// Write only appends to a buffer and one flusher goroutine writes whatever
// has accumulated in a single syscall, so frames of many streams share a
// write. A write error is sticky: it is returned by the next Write and
// closes the connection, which ends its reader the usual way.
type batchConn struct {
	net.Conn

	mu      sync.Mutex
	cond    sync.Cond // signalled when buf drains below maxBatch or on error
	buf     []byte
	err     error
	kick    chan struct{}
	done    chan struct{}
	closeMu sync.Once
}

// maxBatch bounds buffered bytes; writers wait beyond it (backpressure).
const maxBatch = 1 << 20

func newBatchConn(c net.Conn) *batchConn {
	b := &batchConn{Conn: c, kick: make(chan struct{}, 1), done: make(chan struct{})}
	b.cond.L = &b.mu
	go b.flush()
	return b
}

func (b *batchConn) Write(p []byte) (int, error) {
	if err := b.writev(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// writev appends parts as one unit: no other writer's bytes land between
// them (a frame's header and body stay together).
func (b *batchConn) writev(parts ...[]byte) error {
	b.mu.Lock()
	for b.err == nil && len(b.buf) >= maxBatch {
		b.cond.Wait()
	}
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		return err
	}
	for _, p := range parts {
		b.buf = append(b.buf, p...)
	}
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
	return nil
}

func (b *batchConn) flush() {
	var spare []byte
	for {
		select {
		case <-b.kick:
		case <-b.done:
			return
		}
		b.mu.Lock()
		out := b.buf
		b.buf = spare[:0]
		b.cond.Broadcast()
		b.mu.Unlock()
		if len(out) == 0 {
			spare = out
			continue
		}
		if _, err := b.Conn.Write(out); err != nil {
			b.mu.Lock()
			b.err = err
			b.cond.Broadcast()
			b.mu.Unlock()
			b.Conn.Close()
			return
		}
		if cap(out) > 4*maxBatch {
			out = nil // do not keep a huge buffer after a burst
		}
		spare = out
	}
}

func (b *batchConn) Close() error {
	err := b.Conn.Close()
	b.closeMu.Do(func() {
		close(b.done)
		b.mu.Lock()
		if b.err == nil {
			b.err = net.ErrClosed
		}
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	return err
}
