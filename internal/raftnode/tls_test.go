package raftnode

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/certs"
)

// TestPeerTLSCluster: three nodes whose peer ports speak mutual TLS
// elect a leader and commit; a connection without a certificate is
// refused and counted.
func TestPeerTLSCluster(t *testing.T) {
	ca, err := certs.NewAuthority("raftnode test ca", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	const cluster = "raftnode-test" // newTestCluster's
	peerTLS := map[uint64]*certs.PeerTLS{}
	for id := uint64(1); id <= 3; id++ {
		certPEM, keyPEM, err := ca.IssueNode(cluster, id, []string{"127.0.0.1"}, certs.Validity{})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		paths := [3]string{filepath.Join(dir, "node.pem"), filepath.Join(dir, "node-key.pem"), filepath.Join(dir, "ca.pem")}
		for i, data := range [][]byte{certPEM, keyPEM, ca.CertPEM} {
			if err := os.WriteFile(paths[i], data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		f, err := certs.Load(paths[0], paths[1], paths[2])
		if err != nil {
			t.Fatal(err)
		}
		peerTLS[id] = f.ForPeers(cluster)
	}
	c := newTestCluster(t, 3, func(cfg *Config) {
		if cfg.ClusterID != cluster {
			t.Errorf("the test cluster's id is %q, the certificates name %q", cfg.ClusterID, cluster)
		}
		cfg.PeerTLS = peerTLS[cfg.NodeID]
	})
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	c.leader()
	res := c.propose("over TLS")
	for id := uint64(1); id <= 3; id++ {
		c.waitApplied(id, res.Index, 10*time.Second)
	}

	// A client without a certificate, through node 1's proxy (a byte
	// relay), fails the handshake and is counted.
	base := counterValue(c.metrics[1].refusedPeers)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", c.proxies[1].addr(), &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		// TLS 1.3: the refusal of the missing certificate arrives with
		// the first read.
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("a peer without a certificate was let in")
	}
	waitFor(t, 10*time.Second, "the refusal to be counted", func() bool {
		return counterValue(c.metrics[1].refusedPeers) >= base+1
	})
}
