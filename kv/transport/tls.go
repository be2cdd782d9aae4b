package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// LoadTLS builds the mutual-TLS configuration of a cluster node from PEM
// files: this node's certificate and key, and the CA that signs every
// member's certificate. Both ends present a certificate and verify the
// other's against the CA, so only holders of a CA-signed certificate can
// connect, and every byte between nodes (raft, replication, hints) is
// encrypted.
//
// Peers are authenticated by CA membership, not by host name: nodes dial
// each other by advertised addresses (often IPs or container names) that
// certificates rarely list, so the chain is verified without a name.
func LoadTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: tls certificate: %w", ErrInvalidConfig, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("%w: tls CA: %w", ErrInvalidConfig, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: tls CA %s holds no PEM certificate", ErrInvalidConfig, caFile)
	}
	return NewTLS(cert, pool), nil
}

// NewTLS is LoadTLS for certificates already in memory.
func NewTLS(cert tls.Certificate, ca *x509.CertPool) *tls.Config {
	verify := func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("transport: peer presented no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
			Roots: ca, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			return fmt.Errorf("%w: peer certificate: %w", ErrAuth, err)
		}
		return nil
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS13,
		// Verification is VerifyConnection's, by CA and without a host
		// name (see LoadTLS); the standard check would want one.
		InsecureSkipVerify: true,
		ClientAuth:         tls.RequireAnyClientCert,
		VerifyConnection:   verify,
	}
}
