package writebench

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/yakt/yakt/internal/certs"
)

// Principal is the name the load authenticates as in a TLS run: the
// subject CN of its client certificate, an admin in the access file.
const Principal = "bench"

// secured is what a TLS run adds to a cluster: the flags every node
// gets (the CA and the access file), each node's own certificate files,
// and the TLS the load and the readiness checks use.
type secured struct {
	args     []string
	nodeArgs func(id uint64) []string
	client   *tls.Config
}

// secure writes, into dir, a throwaway cluster CA, a certificate for
// each node of ids (in cluster clusterID, reached at 127.0.0.1), a client
// certificate for Principal and an access file that makes it an admin:
// the setup docs/security.md describes, with the CA the nodes also use
// for each other.
func secure(dir, clusterID string, ids []uint64) (*secured, error) {
	// A day of validity either side of now: a run never outlives it, and
	// a clock a little off does not matter.
	v := certs.Validity{NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	ca, err := certs.NewAuthority("yakt bench write CA", v.NotAfter)
	if err != nil {
		return nil, fmt.Errorf("bench CA: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("TLS directory: %w", err)
	}
	write := func(name string, data []byte) (string, error) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return "", fmt.Errorf("write %s: %w", name, err)
		}
		return p, nil
	}
	caFile, err := write("ca.crt", ca.CertPEM)
	if err != nil {
		return nil, err
	}
	files := map[uint64][2]string{}
	for _, id := range ids {
		certPEM, keyPEM, err := ca.IssueNode(clusterID, id, []string{"127.0.0.1"}, v)
		if err != nil {
			return nil, fmt.Errorf("node %d certificate: %w", id, err)
		}
		name := "node-" + strconv.FormatUint(id, 10)
		c, err := write(name+".crt", certPEM)
		if err != nil {
			return nil, err
		}
		k, err := write(name+".key", keyPEM)
		if err != nil {
			return nil, err
		}
		files[id] = [2]string{c, k}
	}
	access, err := write("access", []byte(Principal+" admin\n"))
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := ca.IssueClient(Principal, v)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca.CertPEM) {
		return nil, errors.New("bench CA: no certificate in its PEM")
	}
	return &secured{
		args: []string{"--tls-ca", caFile, "--access-file", access},
		nodeArgs: func(id uint64) []string {
			f := files[id]
			return []string{"--tls-cert", f[0], "--tls-key", f[1]}
		},
		client: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
	}, nil
}
