package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func newTestAuthority(t *testing.T, name string) *Authority {
	t.Helper()
	a, err := NewAuthority(name, time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatalf("NewAuthority: %v", err)
	}
	return a
}

func parsePEMCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("not a PEM certificate: %q", certPEM)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	return c
}

func pool(cas ...*Authority) *x509.CertPool {
	p := x509.NewCertPool()
	for _, a := range cas {
		p.AddCert(a.Cert)
	}
	return p
}

func TestNewAuthorityIsCA(t *testing.T) {
	a := newTestAuthority(t, "test CA")
	if !a.Cert.IsCA || !a.Cert.BasicConstraintsValid {
		t.Fatalf("CA certificate is not a CA: IsCA=%v BasicConstraintsValid=%v", a.Cert.IsCA, a.Cert.BasicConstraintsValid)
	}
	if a.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("CA certificate cannot sign certificates: key usage %v", a.Cert.KeyUsage)
	}
	if a.Cert.Subject.CommonName != "test CA" {
		t.Fatalf("CA CN %q, want %q", a.Cert.Subject.CommonName, "test CA")
	}
	pub, ok := a.Cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("CA key is %T, want ECDSA P-256", a.Cert.PublicKey)
	}
	if got := parsePEMCert(t, a.CertPEM); !got.Equal(a.Cert) {
		t.Fatal("CertPEM is not Cert")
	}
	if _, err := tls.X509KeyPair(a.CertPEM, a.KeyPEM); err != nil {
		t.Fatalf("CA CertPEM and KeyPEM do not pair: %v", err)
	}
	if _, err := a.Cert.Verify(x509.VerifyOptions{Roots: pool(a)}); err != nil {
		t.Fatalf("self-signed CA does not verify against itself: %v", err)
	}
}

func TestIssueNode(t *testing.T) {
	a := newTestAuthority(t, "test CA")
	certPEM, keyPEM, err := a.IssueNode("c1", 3, []string{"127.0.0.1", "localhost", "::1"}, Validity{})
	if err != nil {
		t.Fatalf("IssueNode: %v", err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("node certificate and key do not pair: %v", err)
	}
	c := parsePEMCert(t, certPEM)
	if c.Subject.CommonName != "node-3.c1" {
		t.Fatalf("CN %q, want node-3.c1", c.Subject.CommonName)
	}
	if strings.Join(c.DNSNames, ",") != "node-3.c1,localhost" {
		t.Fatalf("DNS SANs %v, want [node-3.c1 localhost]", c.DNSNames)
	}
	if len(c.IPAddresses) != 2 || !c.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) || !c.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Fatalf("IP SANs %v, want [127.0.0.1 ::1]", c.IPAddresses)
	}
	if c.IsCA {
		t.Fatal("node certificate is a CA")
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool(a), KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: "node-3.c1"}); err != nil {
			t.Fatalf("node certificate does not verify for usage %v: %v", usage, err)
		}
	}
	if err := c.VerifyHostname("127.0.0.1"); err != nil {
		t.Fatalf("node certificate does not name its IP: %v", err)
	}
	if id, ok := NodeIDOf(c, "c1"); !ok || id != 3 {
		t.Fatalf("NodeIDOf = %d, %v; want 3, true", id, ok)
	}
	if _, ok := NodeIDOf(c, "c2"); ok {
		t.Fatal("a certificate of cluster c1 names a node of cluster c2")
	}

	other := newTestAuthority(t, "other CA")
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool(other)}); err == nil {
		t.Fatal("node certificate verifies against another CA")
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool(other, a)}); err != nil {
		t.Fatalf("node certificate does not verify against a bundle holding its CA: %v", err)
	}
}

func TestIssueNodeSerialsDiffer(t *testing.T) {
	a := newTestAuthority(t, "test CA")
	p1, _, err := a.IssueNode("c", 1, nil, Validity{})
	if err != nil {
		t.Fatal(err)
	}
	p2, _, err := a.IssueNode("c", 1, nil, Validity{})
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := parsePEMCert(t, p1).SerialNumber, parsePEMCert(t, p2).SerialNumber
	if s1.Cmp(s2) == 0 || s1.Sign() <= 0 {
		t.Fatalf("serials %v and %v: want distinct positive serials", s1, s2)
	}
}

func TestIssueClient(t *testing.T) {
	a := newTestAuthority(t, "test CA")
	certPEM, keyPEM, err := a.IssueClient("alice", Validity{})
	if err != nil {
		t.Fatalf("IssueClient: %v", err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("client certificate and key do not pair: %v", err)
	}
	c := parsePEMCert(t, certPEM)
	if c.Subject.CommonName != "alice" {
		t.Fatalf("CN %q, want alice", c.Subject.CommonName)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool(a), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client certificate does not verify as a client: %v", err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool(a), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Fatal("client certificate verifies as a server")
	}
	if _, ok := NodeIDOf(c, "c"); ok {
		t.Fatal("a client certificate names a node")
	}
}

func TestIssueExpired(t *testing.T) {
	a := newTestAuthority(t, "test CA")
	past := Validity{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}
	certPEM, _, err := a.IssueNode("c", 1, nil, past)
	if err != nil {
		t.Fatalf("IssueNode with a past validity: %v", err)
	}
	c := parsePEMCert(t, certPEM)
	if !c.NotAfter.Before(time.Now()) {
		t.Fatalf("NotAfter %v is not in the past", c.NotAfter)
	}
	_, err = c.Verify(x509.VerifyOptions{Roots: pool(a)})
	var inv x509.CertificateInvalidError
	if !errors.As(err, &inv) || inv.Reason != x509.Expired {
		t.Fatalf("expired certificate verifies with %v, want an Expired error", err)
	}
	if _, _, err := a.IssueClient("x", Validity{NotBefore: time.Now(), NotAfter: time.Now().Add(-time.Hour)}); err == nil {
		t.Fatal("IssueClient accepted a validity that ends before it starts")
	}
}

func TestIssueRejectsBadInput(t *testing.T) {
	a := newTestAuthority(t, "test CA")
	if _, _, err := a.IssueNode("", 1, nil, Validity{}); err == nil {
		t.Fatal("IssueNode accepted an empty cluster id")
	}
	if _, _, err := a.IssueNode("c", 0, nil, Validity{}); err == nil {
		t.Fatal("IssueNode accepted node id 0")
	}
	if _, _, err := a.IssueClient("", Validity{}); err == nil {
		t.Fatal("IssueClient accepted an empty name")
	}
	if _, err := NewAuthority("", time.Now().Add(time.Hour)); err == nil {
		t.Fatal("NewAuthority accepted an empty name")
	}
}

func TestNodeNameAndNodeIDOf(t *testing.T) {
	if got := NodeName("prod.eu", 12); got != "node-12.prod.eu" {
		t.Fatalf("NodeName = %q", got)
	}
	cases := []struct {
		names []string
		id    uint64
		ok    bool
	}{
		{[]string{"node-12.prod.eu"}, 12, true},
		{[]string{"localhost", "node-12.prod.eu", "node-12.prod.eu"}, 12, true},
		{[]string{"node-12.prod.eu", "node-13.prod.eu"}, 0, false},
		{[]string{"node-12.other"}, 0, false},
		{[]string{"node-12.x.prod.eu"}, 0, false},
		{[]string{"node-012.prod.eu"}, 0, false},
		{[]string{"node-0.prod.eu"}, 0, false},
		{[]string{"node-+1.prod.eu"}, 0, false},
		{[]string{"node-.prod.eu"}, 0, false},
		{[]string{"node-99999999999999999999.prod.eu"}, 0, false},
		{[]string{"xnode-1.prod.eu"}, 0, false},
		{nil, 0, false},
	}
	for _, tc := range cases {
		id, ok := NodeIDOf(&x509.Certificate{DNSNames: tc.names}, "prod.eu")
		if id != tc.id || ok != tc.ok {
			t.Errorf("NodeIDOf(%v) = %d, %v; want %d, %v", tc.names, id, ok, tc.id, tc.ok)
		}
	}
	if _, ok := NodeIDOf(nil, "prod.eu"); ok {
		t.Error("NodeIDOf(nil) names a node")
	}
	if _, ok := NodeIDOf(&x509.Certificate{DNSNames: []string{"node-1."}}, ""); ok {
		t.Error("NodeIDOf with an empty cluster id names a node")
	}
}
