package transport_test

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/grafo/grafo/kv/transport"
	"github.com/grafo/grafo/kv/transport/transporttest"
)

func listenTLS(t *testing.T, cfg *tls.Config) *transport.TCP {
	t.Helper()
	tr, err := transport.Listen(transport.Config{Addr: "127.0.0.1:0", DialTimeout: 2 * time.Second, TLS: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	tr.Handle("echo", func(ctx context.Context, from string, req []byte) ([]byte, error) { return req, nil })
	return tr
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	ca, other := transporttest.NewCA(t, "cluster"), transporttest.NewCA(t, "stranger")
	a := listenTLS(t, transport.NewTLS(ca.Issue(t, "a"), ca.Pool))
	b := listenTLS(t, transport.NewTLS(ca.Issue(t, "b"), ca.Pool))
	ctx := context.Background()
	if got, err := a.Call(ctx, b.Addr(), "echo", []byte("over tls")); err != nil || string(got) != "over tls" {
		t.Fatalf("same CA: %q, %v", got, err)
	}
	// A certificate from another CA is refused, both ways.
	s := listenTLS(t, transport.NewTLS(other.Issue(t, "s"), other.Pool))
	if _, err := s.Call(ctx, a.Addr(), "echo", []byte("x")); !errors.Is(err, transport.ErrUnreachable) {
		t.Fatalf("stranger calling a: %v", err)
	}
	if _, err := a.Call(ctx, s.Addr(), "echo", []byte("x")); !errors.Is(err, transport.ErrAuth) {
		t.Fatalf("a calling stranger: %v, want ErrAuth", err)
	}
	// A peer without TLS cannot talk to a TLS node.
	plain, err := transport.Listen(transport.Config{Addr: "127.0.0.1:0", DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Call(ctx, a.Addr(), "echo", []byte("x")); err == nil {
		t.Fatal("plain TCP peer reached a TLS node")
	}
}

func TestLoadTLSFromFiles(t *testing.T) {
	t.Parallel()
	ca := transporttest.NewCA(t, "cluster")
	certFile, keyFile, caFile := ca.WriteFiles(t, t.TempDir(), "n1")
	cfg, err := transport.LoadTLS(certFile, keyFile, caFile)
	if err != nil {
		t.Fatal(err)
	}
	a := listenTLS(t, cfg)
	b := listenTLS(t, transport.NewTLS(ca.Issue(t, "n2"), ca.Pool))
	if got, err := b.Call(context.Background(), a.Addr(), "echo", []byte("files")); err != nil || string(got) != "files" {
		t.Fatalf("%q, %v", got, err)
	}
	if _, err := transport.LoadTLS(certFile, keyFile, caFile+".missing"); !errors.Is(err, transport.ErrInvalidConfig) {
		t.Fatalf("missing CA: %v", err)
	}
}
