package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"
)

// Handler serves one method. from is the caller's advertised address; req is
// the caller's payload, owned by the handler. A returned error reaches the
// caller as a *RemoteError.
type Handler func(ctx context.Context, from string, req []byte) ([]byte, error)

// Transport is node-to-node RPC. Implementations: *TCP and Network nodes.
type Transport interface {
	// Call runs method on the peer at addr and returns its reply. It honours
	// ctx's deadline and cancellation; the deadline is also passed to the
	// handler's context.
	Call(ctx context.Context, addr, method string, req []byte) ([]byte, error)
	// Handle registers h for method, replacing any previous handler. It may
	// be called at any time, also while calls arrive.
	Handle(method string, h Handler)
	// Addr is the address peers dial to reach this node.
	Addr() string
	// Close stops serving and closes every connection.
	Close() error
}

// Config configures Listen.
type Config struct {
	// Addr is the listen address, e.g. "127.0.0.1:7071" or "127.0.0.1:0".
	// Required.
	Addr string
	// Advertise is the address peers dial; empty means the listener's
	// actual address (which resolves port 0).
	Advertise string
	// Secret is the cluster secret. Empty means no secret, which still
	// refuses peers that have one (and they refuse us).
	Secret string
	// DialTimeout bounds dialling and handshaking one connection; 0 means
	// DefaultConfig's. A call's ctx deadline, if sooner, wins.
	DialTimeout time.Duration
	// KeepAlive is how often a quiet RPC connection is pinged; one silent
	// for three of these is dropped (the next call redials). 0 means
	// DefaultConfig's.
	KeepAlive time.Duration
	// TLS, when set, wraps every connection in mutual TLS (LoadTLS) before
	// the secret handshake: peers must hold a certificate of the same CA,
	// and traffic is encrypted. Nil means plain TCP.
	TLS *tls.Config
	// Logger receives connection-level events; nil discards.
	Logger *slog.Logger
}

// DefaultConfig listens on a free loopback port.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:0", DialTimeout: 2 * time.Second, KeepAlive: 10 * time.Second}
}

// Validate reports a config Listen cannot use.
func (c Config) Validate() error {
	if c.Addr == "" {
		return fmt.Errorf("%w: empty Addr", ErrInvalidConfig)
	}
	if c.DialTimeout < 0 {
		return fmt.Errorf("%w: negative DialTimeout", ErrInvalidConfig)
	}
	if c.KeepAlive < 0 {
		return fmt.Errorf("%w: negative KeepAlive", ErrInvalidConfig)
	}
	return nil
}
