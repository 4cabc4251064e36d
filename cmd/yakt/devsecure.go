package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/yakt/yakt/internal/auth"
	"github.com/yakt/yakt/internal/certs"
	"github.com/yakt/yakt/internal/server"
)

// devCertValidity is how long the certificates of yakt dev --secure
// last: they are made anew at every start, so a month only has to
// outlast one long session.
const devCertValidity = 30 * 24 * time.Hour

// devPKI is the throwaway CA, certificates and access file of
// yakt dev --secure, as files in dir.
type devPKI struct {
	dir                   string
	caFile                string
	nodeCert, nodeKey     []string // node i+1's
	adminCert, adminKey   string   // client certificate, CN admin
	readerCert, readerKey string   // client certificate, CN reader
	accessFile            string
	adminToken            string           // shown once, never written
	brokerTokens          map[int32]string // the simulated brokers', never written
	caPool                *x509.CertPool
}

// makeDevPKI writes a new CA into dir, a certificate for each of nodes
// nodes of cluster clusterID (reached at 127.0.0.1 and localhost), the
// client certificates admin and reader, and the access file: admin and
// reader with their roles, a token for admin, and broker-<id> with role
// broker:<id> and a token for each of the simulated brokers.
func makeDevPKI(dir, clusterID string, nodes, brokers int) (*devPKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certificates directory: %w", err)
	}
	now := time.Now()
	v := certs.Validity{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(devCertValidity)}
	ca, err := certs.NewAuthority("yakt dev CA "+clusterID, v.NotAfter)
	if err != nil {
		return nil, fmt.Errorf("make a CA: %w", err)
	}
	p := &devPKI{dir: dir, brokerTokens: map[int32]string{}}
	write := func(name string, data []byte) (string, error) {
		path := filepath.Join(dir, name)
		// Keys and certificates alike: 0600, the directory is the user's.
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return "", fmt.Errorf("write %s: %w", path, err)
		}
		return path, nil
	}
	if p.caFile, err = write("ca.crt", ca.CertPEM); err != nil {
		return nil, err
	}
	// The CA's key, for an operator who wants to issue more with openssl.
	if _, err = write("ca.key", ca.KeyPEM); err != nil {
		return nil, err
	}
	p.caPool = x509.NewCertPool()
	p.caPool.AppendCertsFromPEM(ca.CertPEM)
	for id := 1; id <= nodes; id++ {
		c, k, err := ca.IssueNode(clusterID, uint64(id), []string{"127.0.0.1", "localhost"}, v)
		if err != nil {
			return nil, fmt.Errorf("node %d's certificate: %w", id, err)
		}
		cf, err := write(fmt.Sprintf("node-%d.crt", id), c)
		if err != nil {
			return nil, err
		}
		kf, err := write(fmt.Sprintf("node-%d.key", id), k)
		if err != nil {
			return nil, err
		}
		p.nodeCert, p.nodeKey = append(p.nodeCert, cf), append(p.nodeKey, kf)
	}
	for _, who := range []struct {
		name      string
		cert, key *string
	}{{"admin", &p.adminCert, &p.adminKey}, {"reader", &p.readerCert, &p.readerKey}} {
		c, k, err := ca.IssueClient(who.name, v)
		if err != nil {
			return nil, fmt.Errorf("%s's certificate: %w", who.name, err)
		}
		if *who.cert, err = write(who.name+".crt", c); err != nil {
			return nil, err
		}
		if *who.key, err = write(who.name+".key", k); err != nil {
			return nil, err
		}
	}
	if p.adminToken, err = auth.NewToken(); err != nil {
		return nil, fmt.Errorf("make a token: %w", err)
	}
	var access strings.Builder
	fmt.Fprintf(&access, "# yakt dev --secure, cluster %s: made at %s, thrown away with the cluster.\n", clusterID, now.UTC().Format(time.RFC3339))
	fmt.Fprintf(&access, "admin admin %s\n", auth.HashToken(p.adminToken))
	fmt.Fprintf(&access, "reader reader\n")
	for id := int32(1); id <= int32(brokers); id++ {
		tok, err := auth.NewToken()
		if err != nil {
			return nil, fmt.Errorf("make a token: %w", err)
		}
		p.brokerTokens[id] = tok
		fmt.Fprintf(&access, "broker-%d %s %s\n", id, auth.BrokerRole(id), auth.HashToken(tok))
	}
	if _, err := auth.ParseAccess([]byte(access.String())); err != nil {
		return nil, fmt.Errorf("the access file made: %w", err)
	}
	if p.accessFile, err = write("access", []byte(access.String())); err != nil {
		return nil, err
	}
	return p, nil
}

// configure points node id's configuration at its files.
func (p *devPKI) configure(cfg *server.Config, id int) {
	cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSCAFile = p.nodeCert[id-1], p.nodeKey[id-1], p.caFile
	cfg.AccessFile = p.accessFile
}

// clientTLS verifies the nodes against the dev CA (the simulated
// brokers authenticate with their tokens).
func (p *devPKI) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: p.caPool, MinVersion: tls.VersionTLS12}
}

// printUse prints how to reach the secure cluster: the variables the
// CLI reads and a curl command, each with the admin's certificate.
func (p *devPKI) printUse(w io.Writer, servers []*server.Server) {
	var eps []string
	for _, s := range servers {
		eps = append(eps, "https://"+s.HTTPAddr())
	}
	fmt.Fprintf(w, `
TLS is on, and every request needs a credential. Certificates, keys and the access file
(a throwaway CA, made for this run) are in %[1]s.
Use the cluster as admin with the admin's client certificate:

  export YAKT_ENDPOINTS=%[2]s
  export YAKT_CACERT=%[3]s
  export YAKT_CERT=%[4]s
  export YAKT_KEY=%[5]s
  yakt quorum describe --status

  curl -s --cacert %[3]s --cert %[4]s --key %[5]s %[6]s/v1/quorum

or with the admin's bearer token instead of the certificate (shown only now):

  export YAKT_TOKEN=%[7]s

Read-only: --cert %[8]s --key %[9]s (role reader).
`, p.dir, strings.Join(eps, ","), p.caFile, p.adminCert, p.adminKey, eps[0], p.adminToken, p.readerCert, p.readerKey)
}
