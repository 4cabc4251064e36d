package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"time"
)

// Files is a certificate, its private key and the CA bundle that verifies
// the other side, read from PEM files. Safe for concurrent use; the
// tls.Configs it hands out read the current material at each handshake.
type Files struct {
	// TODO(certs): implementation
}

// Load reads certFile, keyFile and caFile (PEM). caFile may hold several
// CA certificates (a bundle: old and new CA during a CA rotation).
func Load(certFile, keyFile, caFile string) (*Files, error) { panic("unimplemented") }

// Reload reads the files again. On any error it keeps the material it
// had and returns the error: a half-written file never breaks the node.
// It reports whether anything changed.
func (f *Files) Reload() (changed bool, err error) { panic("unimplemented") }

// Watch reloads the files whenever one of them changes on disk, checking
// every interval, until ctx ends; it logs each reload and each failure.
func (f *Files) Watch(ctx context.Context, interval time.Duration, log *slog.Logger) {
	panic("unimplemented")
}

// Leaf is the current certificate (parsed), for logs and expiry metrics.
func (f *Files) Leaf() *x509.Certificate { panic("unimplemented") }

// HTTPServerConfig serves HTTPS: this certificate, TLS 1.2 at least, and
// a client certificate verified against the CA when one is given
// (tls.VerifyClientCertIfGiven: bearer tokens are the other way in).
func (f *Files) HTTPServerConfig() *tls.Config { panic("unimplemented") }

// HTTPClientConfig is for a node's own HTTPS requests to other nodes:
// it presents this certificate and verifies the server against the CA
// (and its host name).
func (f *Files) HTTPClientConfig() *tls.Config { panic("unimplemented") }

// ForPeers is the peer port's mutual TLS for cluster clusterID; it
// satisfies transport.PeerTLS.
func (f *Files) ForPeers(clusterID string) *PeerTLS { panic("unimplemented") }

// PeerTLS is mutual TLS on the peer port: both sides present node
// certificates of the cluster CA, and each side checks that the other's
// names the node it expects.
type PeerTLS struct {
	files     *Files
	clusterID string
}

// ServerConfig requires and verifies a client certificate against the CA.
func (p *PeerTLS) ServerConfig() *tls.Config { panic("unimplemented") }

// ClientConfig dials node peer: it presents this node's certificate and
// accepts only a server certificate of the CA that names peer (any node
// of the cluster when peer is 0, as a snapshot fetch from an address
// does).
func (p *PeerTLS) ClientConfig(peer uint64) *tls.Config { panic("unimplemented") }

// NodeID is the node id the verified peer certificate of cs names, or an
// error saying why it names none of this cluster.
func (p *PeerTLS) NodeID(cs *tls.ConnectionState) (uint64, error) { panic("unimplemented") }
