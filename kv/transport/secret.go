package transport

import (
	"bytes"
	"crypto/ed25519"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// secretKDF turns the cluster secret into the seed of the cluster's
// Ed25519 key. A node shows the public key to whoever connects, so the
// derivation is deliberately slow: it makes guessing a weak secret from
// it expensive (a long random secret is still what to use).
const (
	secretKDFSalt  = "grafo cluster key v1"
	secretKDFIters = 200_000
)

var secretTLSCache sync.Map // secret → *tls.Config; derivation is slow on purpose

// SecretTLS returns the mutual-TLS configuration every member with the
// same cluster secret derives alike: an Ed25519 key pair from the secret
// (PBKDF2-SHA256), a self-signed certificate of it, TLS 1.3 only, and a
// peer accepted only if its certificate holds that same public key — that
// is, only if it knows the secret. Listen uses it when Config.Secret is
// set and Config.TLS is not.
func SecretTLS(secret string) (*tls.Config, error) {
	if secret == "" {
		return nil, fmt.Errorf("%w: SecretTLS needs a secret", ErrInvalidConfig)
	}
	if c, ok := secretTLSCache.Load(secret); ok {
		return c.(*tls.Config).Clone(), nil
	}
	seed, err := pbkdf2.Key(sha256.New, secret, []byte(secretKDFSalt), secretKDFIters, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("%w: cluster key: %w", ErrInvalidConfig, err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "grafo cluster member"},
		// Fixed and wide: members' clocks must not matter.
		NotBefore:   time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:    time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return nil, fmt.Errorf("%w: cluster certificate: %w", ErrInvalidConfig, err)
	}
	verify := func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("%w: peer presented no certificate", ErrAuth)
		}
		k, ok := cs.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
		if !ok || !bytes.Equal(k, pub) {
			return fmt.Errorf("%w: peer's key is not this cluster's (another cluster secret)", ErrAuth)
		}
		return nil
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: priv}},
		MinVersion:   tls.VersionTLS13,
		// The check is VerifyConnection's: the peer's key must be the
		// cluster's; there is no CA chain or host name to verify.
		InsecureSkipVerify: true,
		ClientAuth:         tls.RequireAnyClientCert,
		VerifyConnection:   verify,
		// Every connection is a full handshake: no tickets to keep.
		SessionTicketsDisabled: true,
	}
	secretTLSCache.Store(secret, cfg)
	return cfg.Clone(), nil
}

// nonceSet holds the nonces of this transport's handshakes in flight, on
// both sides, so a handshake can refuse a peer that hands us one of our
// own: a relay that reflects our dial back to our listener.
type nonceSet struct {
	mu sync.Mutex
	m  map[[nonceSize]byte]struct{}
}

func newNonceSet() *nonceSet { return &nonceSet{m: map[[nonceSize]byte]struct{}{}} }

// add records n; the returned func forgets it. A nil set records nothing.
func (s *nonceSet) add(n []byte) func() {
	if s == nil {
		return func() {}
	}
	k := [nonceSize]byte(n)
	s.mu.Lock()
	s.m[k] = struct{}{}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.m, k)
		s.mu.Unlock()
	}
}

func (s *nonceSet) has(n []byte) bool {
	if s == nil || len(n) != nonceSize {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[[nonceSize]byte(n)]
	return ok
}

// errReflected is wrapped (with ErrAuth) when a handshake meets one of
// our own nonces.
var errReflected = errors.New("peer sent this node's own nonce back (a relay reflecting our connection)")
