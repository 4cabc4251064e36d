package transport

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/certs"
	"go.etcd.io/raft/v3/raftpb"
)

// BenchmarkSend measures delivered throughput of small MsgApp messages
// from one transport to another over loopback: each op is one message
// sent with Send and received by the peer's Handler. At most `window`
// messages are in flight, so the queue never overflows.
//
// It loops on b.N rather than b.Loop because the final in-flight window
// must drain inside the timed region.
func BenchmarkSend(b *testing.B) { benchmarkSend(b, false) }

// BenchmarkSendTLS is BenchmarkSend over mutual TLS: the price of
// encrypting the peer port.
func BenchmarkSendTLS(b *testing.B) { benchmarkSend(b, true) }

func benchmarkSend(b *testing.B, withTLS bool) {
	const window = 2048
	var files map[uint64]*peerFiles
	if withTLS {
		ca := newAuthority(b, "bench ca")
		files = map[uint64]*peerFiles{1: newPeerFiles(b, ca, 1, certs.Validity{}, ca), 2: newPeerFiles(b, ca, 2, certs.Validity{}, ca)}
	}
	var received atomic.Int64
	progress := make(chan struct{}, 1)
	nodes := startCluster(b, 2, func(id uint64, c *Config) {
		c.Logger = testLogger(b, "bench", nil)
		if withTLS {
			c.TLS = files[id].peerTLS()
		}
		if id == 2 {
			c.Handler = func(raftpb.Message) {
				received.Add(1)
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		}
	})
	a := nodes[0]
	msg := app(1, 2, 1)
	batch := []raftpb.Message{msg}
	b.SetBytes(int64(msg.Size()))
	b.ReportAllocs()
	waitUntil := func(want int64) {
		for received.Load() < want {
			select {
			case <-progress:
			case <-time.After(waitTimeout):
				b.Fatalf("stalled: %d of %d delivered", received.Load(), want)
			}
		}
	}
	b.ResetTimer()
	for i := range b.N {
		batch[0].Index = uint64(i)
		a.tr.Send(batch)
		waitUntil(int64(i + 1 - window))
	}
	waitUntil(int64(b.N))
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if n := a.unreachN.Load(); n != 0 {
		b.Fatalf("%d messages reported unreachable", n)
	}
}
