// Package netutil holds the connection helpers that more than one
// listener of a node needs.
package netutil

import (
	"io"
	"net"
)

// PrefixConn is a connection whose first bytes were already read (to
// tell one protocol from another): Read returns Prefix before reading
// the connection again.
type PrefixConn struct {
	net.Conn
	Prefix []byte
}

func (c *PrefixConn) Read(p []byte) (int, error) {
	if len(c.Prefix) > 0 {
		n := copy(p, c.Prefix)
		c.Prefix = c.Prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// ReadFrom and CloseWrite keep what a server gets from a *net.TCPConn
// underneath: sendfile for files, and a half-close before closing.
func (c *PrefixConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

func (c *PrefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
