package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
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

// clockSkew backdates certificates whose start is not given, so a peer
// whose clock is a little behind does not reject a certificate just made.
const clockSkew = time.Hour

// NewAuthority creates a self-signed CA named name, valid until notAfter.
func NewAuthority(name string, notAfter time.Time) (*Authority, error) {
	if name == "" {
		return nil, errors.New("certs: authority needs a name")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// The CA signs leaves only: an intermediate it signed by mistake
		// cannot sign further certificates.
		MaxPathLen:     0,
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("certs: create CA certificate %q: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: parse CA certificate %q: %w", name, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &Authority{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  keyPEM,
	}, nil
}

// Validity bounds an issued certificate.
type Validity struct {
	NotBefore, NotAfter time.Time
}

// bounds fills what v leaves out: from an hour ago (clock skew) until
// the CA itself expires. A Validity wholly in the past is kept as it is:
// tests use it for expired certificates.
func (v Validity) bounds(ca *x509.Certificate) (notBefore, notAfter time.Time) {
	notBefore, notAfter = v.NotBefore, v.NotAfter
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-clockSkew)
	}
	if notAfter.IsZero() {
		notAfter = ca.NotAfter
	}
	return notBefore, notAfter
}

// IssueNode issues node id's certificate in cluster clusterID: SAN
// NodeName(clusterID, id) plus hosts (DNS names or IP addresses the node
// is reached at, e.g. "127.0.0.1"), usable as server and client
// certificate. PEM encoded.
func (a *Authority) IssueNode(clusterID string, id uint64, hosts []string, v Validity) (certPEM, keyPEM []byte, err error) {
	if clusterID == "" || id == 0 {
		return nil, nil, fmt.Errorf("certs: node certificate needs a cluster id and a node id (got %q, %d)", clusterID, id)
	}
	name := NodeName(clusterID, id)
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		DNSNames:    []string{name},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		switch {
		case h == "":
		case net.ParseIP(h) != nil:
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(h))
		default:
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return a.issue(tmpl, v)
}

// IssueClient issues a client certificate whose subject CN is name (the
// principal it authenticates as). PEM encoded.
func (a *Authority) IssueClient(name string, v Validity) (certPEM, keyPEM []byte, err error) {
	if name == "" {
		return nil, nil, errors.New("certs: client certificate needs a name")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return a.issue(tmpl, v)
}

// issue signs tmpl with a fresh key and serial.
func (a *Authority) issue(tmpl *x509.Certificate, v Validity) (certPEM, keyPEM []byte, err error) {
	if a == nil || a.Cert == nil || a.Key == nil {
		return nil, nil, errors.New("certs: authority has no certificate or key")
	}
	tmpl.NotBefore, tmpl.NotAfter = v.bounds(a.Cert)
	if !tmpl.NotAfter.After(tmpl.NotBefore) {
		return nil, nil, fmt.Errorf("certs: validity ends (%s) before it starts (%s)", tmpl.NotAfter, tmpl.NotBefore)
	}
	if tmpl.SerialNumber, err = randomSerial(); err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: generate key for %q: %w", tmpl.Subject.CommonName, err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, key.Public(), a.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: sign certificate for %q: %w", tmpl.Subject.CommonName, err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// randomSerial is a positive 128-bit serial: unique without a counter to
// keep, as RFC 5280 asks (at most 20 octets).
func randomSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("certs: random serial: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("certs: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
