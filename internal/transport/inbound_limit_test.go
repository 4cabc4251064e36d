package transport

import (
	"go.etcd.io/raft/v3/raftpb"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// A flood of connections to the peer port is cut off at MaxInbound: the
// connection beyond the bound is closed at once (and the limit logged),
// and once the flood is gone a member connects again.
func TestInboundConnectionLimit(t *testing.T) {
	lns := map[uint64]net.Listener{1: listen(t), 2: listen(t)}
	peers := map[uint64]string{1: lns[1].Addr().String(), 2: lns[2].Addr().String()}
	warned := make(chan struct{}, 1)
	n1 := startNode(t, 1, lns[1], peers, func(c *Config) {
		c.MaxInbound = 2
		c.Logger = testLogger(t, "n1", func(r slog.Record) {
			if strings.Contains(r.Message, "connection limit") {
				select {
				case warned <- struct{}{}:
				default:
				}
			}
		})
	})

	// Two idle connections (no hello) take both slots.
	var flood []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", peers[1])
		if err != nil {
			t.Fatal(err)
		}
		flood = append(flood, c)
	}
	// They are taken once the acceptor has tracked them; a third is
	// closed at once, before any hello.
	third, err := net.Dial("tcp", peers[1])
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	recv(t, (<-chan struct{})(warned), "the connection-limit warning")
	_ = third.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := third.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection beyond the limit was served")
	}

	for _, c := range flood {
		c.Close()
	}
	n2 := startNode(t, 2, lns[2], peers, nil)
	// The first sends may go while n2 still dials; raft resends too.
	deadline := time.Now().Add(waitTimeout)
	for {
		n2.tr.Send([]raftpb.Message{app(2, 1, 7)})
		select {
		case m := <-n1.got:
			if m.Index != 7 {
				t.Fatalf("got message %d, want 7", m.Index)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no message from a member once the flood was gone")
		}
	}
}
