package transport

import (
	"net"
	"sync/atomic"
)

// PeerStats are one peer's traffic counters, for metrics. They count
// every stream to and from the peer (messages, snapshots, forwarded
// requests, snapshot fetches) after the handshake.
type PeerStats struct {
	SentBytes     uint64 // written to the peer
	ReceivedBytes uint64 // read from the peer
	// SendFailures counts what raft is told as "unreachable": a failed
	// dial, a lost connection, a message dropped on a full queue, a
	// failed snapshot send.
	SendFailures uint64
}

// peerCounters are a peer's PeerStats as they are counted.
type peerCounters struct {
	sent, received, failures atomic.Uint64
}

// PeerStats returns the counters of every configured peer, by node id.
func (t *Transport) PeerStats() map[uint64]PeerStats {
	peers := t.peerMap()
	out := make(map[uint64]PeerStats, len(peers))
	for id, p := range peers {
		out[id] = PeerStats{SentBytes: p.counters.sent.Load(), ReceivedBytes: p.counters.received.Load(),
			SendFailures: p.counters.failures.Load()}
	}
	return out
}

// countingConn counts the bytes written to and read from a connection
// into a peer's counters (received may be nil: reads counted elsewhere).
type countingConn struct {
	net.Conn
	sent, received *atomic.Uint64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.sent.Add(uint64(n))
	return n, err
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.received != nil {
		c.received.Add(uint64(n))
	}
	return n, err
}
