package certs

import (
	"crypto"
	"crypto/x509"
	"time"
)

// Authority is a CA that issues certificates: for yakt dev --secure and
// tests. Keys are ECDSA P-256.
type Authority struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// NewAuthority creates a self-signed CA named name, valid until notAfter.
func NewAuthority(name string, notAfter time.Time) (*Authority, error) { panic("unimplemented") }

// Validity bounds an issued certificate.
type Validity struct {
	NotBefore, NotAfter time.Time
}

// IssueNode issues node id's certificate in cluster clusterID: SAN
// NodeName(clusterID, id) plus hosts (DNS names or IP addresses the node
// is reached at, e.g. "127.0.0.1"), usable as server and client
// certificate. PEM encoded.
func (a *Authority) IssueNode(clusterID string, id uint64, hosts []string, v Validity) (certPEM, keyPEM []byte, err error) {
	panic("unimplemented")
}

// IssueClient issues a client certificate whose subject CN is name (the
// principal it authenticates as). PEM encoded.
func (a *Authority) IssueClient(name string, v Validity) (certPEM, keyPEM []byte, err error) {
	panic("unimplemented")
}
