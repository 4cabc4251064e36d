package certs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// Files is a certificate, its private key and the CA bundle that verifies
// the other side, read from PEM files. Safe for concurrent use; the
// tls.Configs it hands out read the current material at each handshake.
type Files struct {
	certFile, keyFile, caFile string

	// reloadMu serialises reloads (Watch and SIGHUP may race) so the
	// material installed last is the one read last.
	reloadMu sync.Mutex
	mu       sync.RWMutex
	cur      *material
}

// material is one consistent reading of the three files; it is never
// changed once built, so handshakes read it without holding a lock.
type material struct {
	cert tls.Certificate // Leaf is set
	pool *x509.CertPool
	// sum is a hash of the three files' contents: a reload that reads the
	// same bytes changes nothing.
	sum [sha256.Size]byte
}

// Load reads certFile, keyFile and caFile (PEM). caFile may hold several
// CA certificates (a bundle: old and new CA during a CA rotation).
func Load(certFile, keyFile, caFile string) (*Files, error) {
	f := &Files{certFile: certFile, keyFile: keyFile, caFile: caFile}
	m, err := f.read()
	if err != nil {
		return nil, err
	}
	f.cur = m
	return f, nil
}

// Reload reads the files again. On any error it keeps the material it
// had and returns the error: a half-written file never breaks the node.
// It reports whether anything changed.
func (f *Files) Reload() (changed bool, err error) {
	f.reloadMu.Lock()
	defer f.reloadMu.Unlock()
	m, err := f.read()
	if err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur.sum == m.sum {
		return false, nil
	}
	f.cur = m
	return true, nil
}

// Watch reloads the files whenever one of them changes on disk, checking
// every interval, until ctx ends; it logs each reload and each failure.
//
// It compares the files' contents, not their modification times: a
// rewrite within the file system's timestamp granularity, or a secret
// mount swapping a symlink, is still seen. Files are rarely replaced all
// at once (a new certificate lands a moment before its key), so a
// failure is logged only when the same content still fails at the next
// check, and once per distinct content, not at every tick.
func (f *Files) Watch(ctx context.Context, interval time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	type failure struct {
		sum [sha256.Size]byte
		msg string
	}
	var pending, logged failure
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sum, err := f.contentSum()
		if err == nil && (sum == f.current().sum || sum == logged.sum) {
			pending = failure{}
			continue
		}
		changed, err := f.Reload()
		switch {
		case err != nil:
			now := failure{sum, err.Error()}
			if now == logged {
				continue
			}
			if now != pending {
				pending = now // maybe caught halfway through a rotation: look again
				continue
			}
			logged = now
			log.Error("certificate reload failed; keeping the certificates in use", "cert", f.certFile, "key", f.keyFile, "ca", f.caFile, "err", err)
		case changed:
			pending, logged = failure{}, failure{}
			leaf := f.Leaf()
			log.Info("certificates reloaded", "cert", f.certFile, "ca", f.caFile, "subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
		}
	}
}

// Leaf is the current certificate (parsed), for logs and expiry metrics.
func (f *Files) Leaf() *x509.Certificate { return f.current().cert.Leaf }

func (f *Files) current() *material {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.cur
}

// contentSum hashes the three files as they are now.
func (f *Files) contentSum() ([sha256.Size]byte, error) {
	certPEM, keyPEM, caPEM, err := f.readFiles()
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sumOf(certPEM, keyPEM, caPEM), nil
}

func (f *Files) readFiles() (certPEM, keyPEM, caPEM []byte, err error) {
	if certPEM, err = os.ReadFile(f.certFile); err != nil {
		return nil, nil, nil, fmt.Errorf("certs: read certificate: %w", err)
	}
	if keyPEM, err = os.ReadFile(f.keyFile); err != nil {
		return nil, nil, nil, fmt.Errorf("certs: read key: %w", err)
	}
	if caPEM, err = os.ReadFile(f.caFile); err != nil {
		return nil, nil, nil, fmt.Errorf("certs: read CA bundle: %w", err)
	}
	return certPEM, keyPEM, caPEM, nil
}

func sumOf(parts ...[]byte) [sha256.Size]byte {
	h := sha256.New()
	for _, p := range parts {
		// The length keeps bytes from moving between files unseen.
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	var s [sha256.Size]byte
	h.Sum(s[:0])
	return s
}

// read parses the three files into material, or says which is wrong.
func (f *Files) read() (*material, error) {
	certPEM, keyPEM, caPEM, err := f.readFiles()
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certs: certificate %s with key %s: %w", f.certFile, f.keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("certs: parse certificate %s: %w", f.certFile, err)
		}
	}
	pool, err := parseBundle(caPEM)
	if err != nil {
		return nil, fmt.Errorf("certs: CA bundle %s: %w", f.caFile, err)
	}
	return &material{cert: cert, pool: pool, sum: sumOf(certPEM, keyPEM, caPEM)}, nil
}

// parseBundle reads every certificate of a PEM bundle. Unlike
// CertPool.AppendCertsFromPEM it fails on a block it cannot parse: a
// truncated bundle must not silently drop the CA a rotation adds.
func parseBundle(data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(bytes.TrimSpace(rest)) != 0 {
				return nil, errors.New("data after the last PEM block is not PEM")
			}
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is %q, want CERTIFICATE", n+1, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, errors.New("no certificate")
	}
	return pool, nil
}

// sessionTicketsDisabled: a resumed session would skip verifying the
// peer's certificate against the CA bundle as it is now (a CA removed
// by a rotation would still let old sessions in). Peer and API
// connections are long-lived, so full handshakes cost little.
const sessionTicketsDisabled = true

// HTTPServerConfig serves HTTPS: this certificate, TLS 1.2 at least, and
// a client certificate verified against the CA when one is given
// (tls.VerifyClientCertIfGiven: bearer tokens are the other way in).
//
// The configuration of each handshake is built from the material as it
// is then, so a reload applies to the next connection. HTTP/2 is not
// offered: the per-handshake configuration cannot know what the server
// negotiates, and HTTP/1.1 is what the API is built for.
func (f *Files) HTTPServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := f.current()
			return &tls.Config{
				MinVersion:             tls.VersionTLS12,
				Certificates:           []tls.Certificate{m.cert},
				ClientAuth:             tls.VerifyClientCertIfGiven,
				ClientCAs:              m.pool,
				SessionTicketsDisabled: sessionTicketsDisabled,
			}, nil
		},
	}
}

// HTTPClientConfig is for a node's own HTTPS requests to other nodes:
// it presents this certificate and verifies the server against the CA
// (and its host name).
//
// Go's own verification would use a CA pool fixed when the
// configuration is made; this one verifies against the bundle as it is
// at each handshake, so a CA rotation needs no restart. The host name is
// checked when the server is addressed by name; Go does not tell the
// verification an IP address it dialed, so a server dialed by IP is
// accepted with any server certificate of the cluster CA (only nodes
// hold those); DialTLSContext checks IP addresses too.
func (f *Files) HTTPClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			m := f.current()
			return &m.cert, nil
		},
		// Verified in VerifyConnection against the current bundle.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := f.verify(cs.PeerCertificates, x509.ExtKeyUsageServerAuth, cs.ServerName)
			return err
		},
	}
}

// DialTLSContext dials addr over TLS as HTTPClientConfig does, but with
// Go's own verification against the current CA bundle, so the server's
// certificate must name addr's host also when it is an IP address. For
// http.Transport.DialTLSContext (which then ignores TLSClientConfig).
func (f *Files) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("certs: dial %s: %w", addr, err)
	}
	m := f.current()
	d := tls.Dialer{Config: &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: host,
		RootCAs:    m.pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &m.cert, nil
		},
	}}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("certs: TLS dial %s: %w", addr, err)
	}
	return conn, nil
}

// verify checks certs (leaf first, then intermediates) against the
// current CA bundle for usage, and the host name when one is given.
func (f *Files) verify(certs []*x509.Certificate, usage x509.ExtKeyUsage, host string) ([][]*x509.Certificate, error) {
	if len(certs) == 0 {
		return nil, errors.New("certs: the peer presented no certificate")
	}
	opts := x509.VerifyOptions{
		Roots:         f.current().pool,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{usage},
		DNSName:       host,
	}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	chains, err := certs[0].Verify(opts)
	if err != nil {
		return nil, fmt.Errorf("certs: verify certificate %q: %w", certs[0].Subject.String(), err)
	}
	return chains, nil
}

// ForPeers is the peer port's mutual TLS for cluster clusterID; it
// satisfies transport.PeerTLS.
func (f *Files) ForPeers(clusterID string) *PeerTLS {
	return &PeerTLS{files: f, clusterID: clusterID}
}

// PeerTLS is mutual TLS on the peer port: both sides present node
// certificates of the cluster CA, and each side checks that the other's
// names the node it expects.
type PeerTLS struct {
	files     *Files
	clusterID string
}

// ServerConfig requires and verifies a client certificate against the CA.
// The certificate must name a node of this cluster; which node it must
// name is the acceptor's check (NodeID against the hello), since only
// the hello says who the peer claims to be.
func (p *PeerTLS) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := p.files.current()
			return &tls.Config{
				MinVersion:             tls.VersionTLS12,
				Certificates:           []tls.Certificate{m.cert},
				ClientAuth:             tls.RequireAndVerifyClientCert,
				ClientCAs:              m.pool,
				SessionTicketsDisabled: sessionTicketsDisabled,
				VerifyConnection: func(cs tls.ConnectionState) error {
					_, err := p.nodeOf(cs.PeerCertificates)
					return err
				},
			}, nil
		},
	}
}

// ClientConfig dials node peer: it presents this node's certificate and
// accepts only a server certificate of the CA that names peer (any node
// of the cluster when peer is 0, as a snapshot fetch from an address
// does).
//
// The node is checked by its NodeName SAN, not by the host name dialed:
// addresses change with membership, identities do not.
func (p *PeerTLS) ClientConfig(peer uint64) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS12,
		SessionTicketsDisabled: sessionTicketsDisabled,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			m := p.files.current()
			return &m.cert, nil
		},
		// Verified in VerifyConnection against the current bundle and by
		// node identity.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if _, err := p.files.verify(cs.PeerCertificates, x509.ExtKeyUsageServerAuth, ""); err != nil {
				return err
			}
			id, err := p.nodeOf(cs.PeerCertificates)
			if err != nil {
				return err
			}
			if peer != 0 && id != peer {
				return fmt.Errorf("certs: dialed node %d, but the certificate names node %d", peer, id)
			}
			return nil
		},
	}
}

// NodeID is the node id the verified peer certificate of cs names, or an
// error saying why it names none of this cluster.
func (p *PeerTLS) NodeID(cs *tls.ConnectionState) (uint64, error) {
	if cs == nil || !cs.HandshakeComplete {
		return 0, errors.New("certs: no completed TLS handshake")
	}
	if len(cs.VerifiedChains) == 0 {
		// The dialer's side verifies in VerifyConnection, which leaves no
		// chains behind: verify again rather than trust an unverified
		// certificate.
		if _, err := p.files.verify(cs.PeerCertificates, x509.ExtKeyUsageAny, ""); err != nil {
			return 0, err
		}
	}
	return p.nodeOf(cs.PeerCertificates)
}

func (p *PeerTLS) nodeOf(certs []*x509.Certificate) (uint64, error) {
	if len(certs) == 0 {
		return 0, errors.New("certs: the peer presented no certificate")
	}
	id, ok := NodeIDOf(certs[0], p.clusterID)
	if !ok {
		return 0, fmt.Errorf("certs: certificate %q names no node of cluster %q (want a DNS name %s<id>.%s)", certs[0].Subject.String(), p.clusterID, nodePrefix, p.clusterID)
	}
	return id, nil
}
