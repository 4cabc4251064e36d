package main

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/yakt/yakt/internal/api"
	"github.com/yakt/yakt/internal/auth"
	"github.com/yakt/yakt/internal/certs"
)

const securityDoc = "../../docs/security.md"

// docSection is the text of the section of doc headed exactly heading
// ("## Certificates with openssl"), up to the next heading of its level
// or a higher one outside a fenced block.
func docSection(t *testing.T, doc, heading string) string {
	t.Helper()
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	level := strings.IndexByte(heading, ' ')
	var out []string
	in, fence := false, false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		if !fence {
			if n := len(line) - len(strings.TrimLeft(line, "#")); n > 0 && strings.HasPrefix(line[n:], " ") {
				if in && n <= level {
					break
				}
				if line == heading {
					in = true
					continue
				}
			}
		}
		if in {
			out = append(out, line)
		}
	}
	if !in {
		t.Fatalf("%s has no section %q", doc, heading)
	}
	return strings.Join(out, "\n") + "\n"
}

// fenced returns the bodies of the blocks fenced with "```"+info in text.
func fenced(text, info string) []string {
	re := regexp.MustCompile("(?ms)^```" + regexp.QuoteMeta(info) + "\n(.*?)^```\n")
	var out []string
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestSecurityDocOpenSSLCommandsWork runs the openssl commands of
// docs/security.md, exactly as written, in an empty directory, and
// checks what they made with the code the nodes use: the node
// certificates load, name their node and chain to the CA with both
// usages; the client certificate's CN is its principal.
func TestSecurityDocOpenSSLCommandsWork(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "" {
				t.Skipf("docs/security.md's commands need %s: %v", tool, err)
			}
			t.Fatalf("docs/security.md's commands need %s (.ci/run installs it): %v", tool, err)
		}
	}
	section := docSection(t, securityDoc, "## Certificates with openssl")
	blocks := fenced(section, "sh")
	if len(blocks) != 4 {
		t.Fatalf("%s, \"Certificates with openssl\": %d sh blocks, the test knows 4 (cluster id, CA, nodes, client):\n%s",
			securityDoc, len(blocks), strings.Join(blocks, "\n---\n"))
	}
	m := regexp.MustCompile(`(?m)^CLUSTER=(\S+)`).FindStringSubmatch(blocks[0])
	if m == nil {
		t.Fatalf("the first block does not set CLUSTER=<cluster id>:\n%s", blocks[0])
	}
	cluster := m[1]

	dir := t.TempDir()
	script := "set -euo pipefail\n" + strings.Join(blocks, "\n")
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docs/security.md's openssl commands failed: %v\n%s\nthe script:\n%s", err, out, script)
	}
	path := func(name string) string { return filepath.Join(dir, name) }

	caCert := readCert(t, path("ca.crt"))
	if !caCert.IsCA || !caCert.BasicConstraintsValid || caCert.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("ca.crt: IsCA %v, key usage %b: want a CA that signs certificates", caCert.IsCA, caCert.KeyUsage)
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	for _, id := range []uint64{1, 2, 3} {
		name := "node-" + string(rune('0'+id))
		leaf := readCert(t, path(name+".crt"))
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("%s.crt for usage %v: %v", name, usage, err)
			}
		}
		want := certs.NodeName(cluster, id)
		if !slices.Contains(leaf.DNSNames, want) {
			t.Errorf("%s.crt: DNS names %q, want %q among them", name, leaf.DNSNames, want)
		}
		if !slices.ContainsFunc(leaf.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) }) {
			t.Errorf("%s.crt: IP addresses %v, want 127.0.0.1 among them", name, leaf.IPAddresses)
		}
		if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
			t.Errorf("%s.crt: %v", name, err)
		}
		// As a node reads them: the files load as one certificate, key
		// and CA, and the certificate names this node of this cluster.
		f, err := certs.Load(path(name+".crt"), path(name+".key"), path("ca.crt"))
		if err != nil {
			t.Fatalf("certs.Load of %s's files: %v", name, err)
		}
		if got, ok := certs.NodeIDOf(f.Leaf(), cluster); !ok || got != id {
			t.Errorf("certs.NodeIDOf(%s.crt, %q) = %d, %v; want %d", name, cluster, got, ok, id)
		}
		if got, ok := certs.NodeIDOf(f.Leaf(), cluster+"-other"); ok {
			t.Errorf("%s.crt names node %d of another cluster", name, got)
		}
		if fi, err := os.Stat(path(name + ".key")); err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s.key: %v, mode %v: want it readable by its owner only", name, err, fi.Mode().Perm())
		}
	}

	client := readCert(t, path("alice.crt"))
	if client.Subject.CommonName != "alice" {
		t.Errorf("alice.crt: subject CN %q, want alice (the principal)", client.Subject.CommonName)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("alice.crt as a client certificate: %v", err)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Errorf("alice.crt is also a server certificate; the doc issues it for clientAuth only")
	}
	if _, ok := certs.NodeIDOf(client, cluster); ok {
		t.Errorf("alice.crt names a node")
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, rest := pem.Decode(data)
	if blk == nil || blk.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("%s: want one PEM CERTIFICATE block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// TestSecurityDocAccessFileParses: the access file example is one a
// node accepts, with the roles the text around it says.
func TestSecurityDocAccessFileParses(t *testing.T) {
	t.Parallel()
	blocks := fenced(docSection(t, securityDoc, "## The access file"), "text")
	if len(blocks) != 1 {
		t.Fatalf("\"The access file\" has %d text blocks, want the example alone", len(blocks))
	}
	a, err := auth.ParseAccess([]byte(blocks[0]))
	if err != nil {
		t.Fatalf("the example access file: %v\n%s", err, blocks[0])
	}
	if roles, ok := a.Roles("alice"); !ok || !slices.Contains(roles, auth.RoleAdmin) {
		t.Errorf("alice: roles %v, want admin", roles)
	}
	if roles, _ := a.Roles("broker-2"); !slices.Equal(roles, []auth.Role{auth.BrokerRole(2), auth.RoleReader}) {
		t.Errorf("broker-2: roles %v, want broker:2 and reader", roles)
	}
	// The token the "Tokens" section shows yakt token create printing
	// is the one whose hash the example file gives its principal.
	out := fenced(docSection(t, securityDoc, "## Tokens"), "text")
	if len(out) != 1 {
		t.Fatalf("\"Tokens\" has %d text blocks, want the example of yakt token create alone", len(out))
	}
	lines := strings.Split(strings.TrimSpace(out[0]), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "$ yakt token create --principal grafana") {
		t.Fatalf("the yakt token create example is not the command, the token and the line:\n%s", out[0])
	}
	token, line := lines[1], strings.Fields(lines[2])
	if len(line) != 3 || line[2] != auth.HashToken(token) {
		t.Errorf("the example's access line %q does not hold the hash of its token (%s)", lines[2], auth.HashToken(token))
	}
	if name, ok := a.TokenPrincipal(auth.HashToken(token)); !ok || name != "grafana" {
		t.Errorf("the example access file gives the example token to %q (%v), want grafana", name, ok)
	}
}

// TestSecurityDocListsEveryRoute: the table of roles names every route
// the server has, so a new endpoint cannot go without a documented role.
func TestSecurityDocListsEveryRoute(t *testing.T) {
	t.Parallel()
	table := docSection(t, securityDoc, "## Which role each endpoint needs")
	for _, p := range api.RoutePatterns() {
		if !strings.Contains(table, "`"+p+"`") {
			t.Errorf("docs/security.md, \"Which role each endpoint needs\", does not list `%s`", p)
		}
	}
}
