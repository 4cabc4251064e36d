package certs

import (
	"crypto/x509"
	"strings"
	"testing"
)

// FuzzNodeIDOf: a certificate's DNS names, as an attacker with a CA
// signature may choose them, name at most one node, and only by the one
// spelling NodeName gives it.
func FuzzNodeIDOf(f *testing.F) {
	for _, seed := range []string{"node-1.c", "node-12.c,node-12.c", "node-1.c,node-2.c", "node-01.c", "node-0.c",
		"node-18446744073709551615.c", "node-18446744073709551616.c", "node--1.c", "node-1.c.c", "NODE-1.c", "node-1.C", ""} {
		f.Add(seed, "c")
	}
	f.Fuzz(func(t *testing.T, names, cluster string) {
		cert := &x509.Certificate{DNSNames: strings.Split(names, ",")}
		id, ok := NodeIDOf(cert, cluster)
		if !ok {
			if id != 0 {
				t.Fatalf("NodeIDOf(%q, %q) = %d, false", names, cluster, id)
			}
			return
		}
		if id == 0 {
			t.Fatalf("NodeIDOf(%q, %q) named node 0", names, cluster)
		}
		want := NodeName(cluster, id)
		found := false
		for _, n := range cert.DNSNames {
			if n == want {
				found = true
			}
			if other, ok := parseNodeName(n, cluster); ok && other != id {
				t.Fatalf("NodeIDOf(%q, %q) = %d, but %q names node %d", names, cluster, id, n, other)
			}
		}
		if !found {
			t.Fatalf("NodeIDOf(%q, %q) = %d, but no name is %q", names, cluster, id, want)
		}
	})
}
