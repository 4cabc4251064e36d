package netfault_test

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/netfault"
	"github.com/yakt/yakt/internal/transport"
)

// logWriter routes slog output to t.Log, so it shows only on failure.
type logWriter struct{ tb testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestTransportReconnectsAfterHeal runs two real transports through the
// network: a drop swallows node 1's messages without breaking its stream,
// and Heal closes the damaged stream so the transport redials and
// delivery resumes with whole messages.
func TestTransportReconnectsAfterHeal(t *testing.T) {
	checkGoroutines(t)
	lns := make(map[uint64]net.Listener)
	targets := make(map[uint64]string)
	for id := uint64(1); id <= 2; id++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		lns[id] = ln
		targets[id] = ln.Addr().String()
	}
	nw, err := netfault.NewNetwork(targets, testSeed(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nw.Close)

	got := make(chan raftpb.Message, 1<<16)
	log := slog.New(slog.NewTextHandler(logWriter{t}, nil))
	trs := make(map[uint64]*transport.Transport)
	for id := uint64(1); id <= 2; id++ {
		tr, err := transport.New(transport.Config{
			NodeID:      id,
			ClusterID:   "netfault-test",
			Listener:    lns[id],
			Peers:       nw.AddressBook(id),
			Handler:     func(m raftpb.Message) { got <- m },
			Logger:      log,
			DialTimeout: 200 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		trs[id] = tr
	}

	// Term tags the phase a message was sent in.
	send := func(term uint64) {
		trs[1].Send([]raftpb.Message{{Type: raftpb.MsgHeartbeat, From: 1, To: 2, Term: term}})
	}
	// arrived sends one more message of term and reports whether any
	// message of term has arrived.
	arrived := func(term uint64) func() bool {
		return func() bool {
			send(term)
			for {
				select {
				case m := <-got:
					if m.Term == term {
						return true
					}
				default:
					return false
				}
			}
		}
	}

	waitFor(t, "delivery before the drop", arrived(1))

	nw.Drop(1, 2)
	before := nw.LinkStats(1, 2).BytesBlackholed
	waitFor(t, "messages to fall into the blackhole", func() bool {
		send(2)
		return nw.LinkStats(1, 2).BytesBlackholed > before
	})
	// Everything of term 2 so far was read by the proxy after Drop, so
	// none of it may arrive while the link stays dropped.
	for drained := false; !drained; {
		select {
		case m := <-got:
			if m.Term == 2 {
				t.Fatalf("message of term 2 delivered through a dropped link")
			}
		default:
			drained = true
		}
	}

	nw.Heal(1, 2)
	if nw.LinkStats(1, 2).HealCloses == 0 {
		t.Fatal("Heal closed no connection, but the stream lost bytes")
	}
	waitFor(t, "delivery after the heal", arrived(3))
	t.Logf("1→2 after heal: %+v", nw.LinkStats(1, 2))
}
