package transport

import (
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// TestPeerStatsCountTrafficAndFailures: bytes a message crosses with are
// counted on both ends, and a peer nobody listens for counts failures.
func TestPeerStatsCountTrafficAndFailures(t *testing.T) {
	checkLeaks(t)
	nodes := startCluster(t, 2, nil)
	a, b := nodes[0], nodes[1]
	m := app(1, 2, 1)
	m.Entries = nil
	a.tr.Send([]raftpb.Message{m})
	recv(t, b.got, "the message")
	// NB: b counts the bytes it read, at least the message's frame; a
	// counts them once its write returned, which may be after b got the
	// message: both are waited for.
	deadline := time.Now().Add(5 * time.Second)
	for (b.tr.PeerStats()[1].ReceivedBytes < uint64(4+m.Size()) || a.tr.PeerStats()[2].SentBytes < uint64(4+m.Size())) &&
		time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	sent := a.tr.PeerStats()[2]
	if got := b.tr.PeerStats()[1].ReceivedBytes; got < uint64(4+m.Size()) {
		t.Fatalf("node 2 received %d bytes from node 1, want at least a frame of %d", got, 4+m.Size())
	}
	if sent.SentBytes < uint64(4+m.Size()) {
		t.Fatalf("node 1 sent %d bytes to node 2, want at least a frame of %d", sent.SentBytes, 4+m.Size())
	}
	if sent.SendFailures != 0 {
		t.Fatalf("node 1 counted %d send failures to a live peer", sent.SendFailures)
	}

	// A peer whose address refuses connections: every failed dial counts.
	dead := listen(t)
	addr := dead.Addr().String()
	dead.Close()
	c := startNode(t, 3, listen(t), map[uint64]string{3: "127.0.0.1:1", 4: addr}, nil)
	recv(t, c.unreachable, "an unreachable report for the dead peer")
	if got := c.tr.PeerStats()[4].SendFailures; got < 1 {
		t.Fatalf("send failures to a dead peer = %d, want >= 1", got)
	}
}
