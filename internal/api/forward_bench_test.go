package api_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/server"
)

// benchNodes starts a three-node cluster of real nodes on loopback TCP
// (real WAL, fsync on) whose followers forward over HTTP or on the peer
// connection, waits for a leader and returns the nodes with the leader's
// id.
func benchNodes(b *testing.B, overHTTP bool) (map[uint64]*server.Server, uint64) {
	b.Helper()
	peerLs := map[uint64]net.Listener{}
	voters := map[uint64]string{}
	for id := uint64(1); id <= 3; id++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		peerLs[id], voters[id] = l, l.Addr().String()
	}
	dir := b.TempDir()
	nodes := map[uint64]*server.Server{}
	b.Cleanup(func() {
		for _, s := range nodes {
			s.Kill()
		}
	})
	for id := uint64(1); id <= 3; id++ {
		hl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		s, err := server.Start(server.Config{NodeID: id, ClusterID: "forward-bench", DataDir: filepath.Join(dir, fmt.Sprint(id)), Voters: voters,
			PeerListener: peerLs[id], HTTPListener: hl, ForwardOverHTTP: overHTTP,
			TickInterval: 50 * time.Millisecond, ElectionTicks: 20,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		nodes[id] = s
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		lead := nodes[1].Node.Leader()
		agreed := lead != 0
		for _, s := range nodes {
			agreed = agreed && s.Node.Leader() == lead
		}
		if agreed {
			return nodes, lead
		}
		if time.Now().After(deadline) {
			b.Fatal("no leader within 30s")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, bounded above
	}
}

func benchPost(b *testing.B, hc *http.Client, url string, body []byte, want int) {
	resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Error(err)
		return
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Errorf("%s: %d %s", url, resp.StatusCode, data)
	}
}

// cpuTime is the CPU this process (client and all three nodes) has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measureCPU reports the process's CPU time per operation of run: on a
// busy machine a steadier measure of a hop's cost than wall time.
func measureCPU(b *testing.B, run func()) {
	start := cpuTime()
	run()
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e3, "cpu-us/op")
}

// BenchmarkForwardedWrite measures writes a client sends to a follower,
// which forwards them to the leader: "http" as a second HTTP request,
// "peer" as a frame on the peer connection. topic creates a topic (a raft
// round with fsync on the leader and a quorum); heartbeat is a broker
// heartbeat the leader answers from memory, so the hop itself dominates.
// parallel runs 16 clients at once. cpu-us/op is the CPU the whole
// process (client and three nodes) spent per write.
func BenchmarkForwardedWrite(b *testing.B) {
	for _, hop := range []string{"http", "peer"} {
		b.Run("hop="+hop, func(b *testing.B) {
			nodes, lead := benchNodes(b, hop == "http")
			var follower *server.Server
			for id, s := range nodes {
				if id != lead {
					follower = s
					break
				}
			}
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
			defer hc.CloseIdleConnections()
			base := "http://" + follower.HTTPAddr()
			benchPost(b, hc, base+"/v1/brokers", []byte(`{"brokerId":1,"brokerHost":"10.0.0.5","brokerPort":"9092","securityProtocol":"PLAINTEXT"}`), http.StatusCreated)
			hb := []byte(`{"brokerId":1}`)
			var seq atomic.Int64
			topic := func() []byte { return fmt.Appendf(nil, `{"name":"bench-%d"}`, seq.Add(1)) }
			for _, op := range []struct {
				name, path string
				body       func() []byte
				want       int
			}{
				{"heartbeat", "/v1/internal/broker-heartbeat", func() []byte { return hb }, http.StatusOK},
				{"topic", "/v1/topics", topic, http.StatusCreated},
			} {
				b.Run("op="+op.name, func(b *testing.B) {
					measureCPU(b, func() {
						for b.Loop() {
							benchPost(b, hc, base+op.path, op.body(), op.want)
						}
					})
				})
				b.Run("op="+op.name+"/parallel", func(b *testing.B) {
					b.SetParallelism(8)
					measureCPU(b, func() {
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								benchPost(b, hc, base+op.path, op.body(), op.want)
							}
						})
					})
				})
			}
		})
	}
}
