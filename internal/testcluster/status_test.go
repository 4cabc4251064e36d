package testcluster_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/internal/server"
	"github.com/yakt/yakt/internal/testcluster"
)

// quorumOf fetches GET path from node id and decodes it; it fails the test
// on anything but a 200.
func quorumOf(t *testing.T, ctx context.Context, c *testcluster.Cluster, id uint64, path string) client.Quorum {
	t.Helper()
	resp, err := c.Do(ctx, id, http.MethodGet, path, nil)
	if err != nil {
		t.Fatalf("GET %s on node %d: %v", path, id, err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("GET %s on node %d: %d %s", path, id, resp.Status, resp.Body)
	}
	var q client.Quorum
	if err := resp.JSON(&q); err != nil {
		t.Fatal(err)
	}
	return q
}

func voterOf(t *testing.T, q client.Quorum, id uint64) client.Voter {
	t.Helper()
	for _, v := range q.Voters {
		if v.NodeID == id {
			return v
		}
	}
	t.Fatalf("voter %d missing from %+v", id, q)
	return client.Voter{}
}

func readyzStatus(ctx context.Context, c *testcluster.Cluster, id uint64) int {
	resp, err := c.Do(ctx, id, http.MethodGet, "/readyz", nil)
	if err != nil {
		return 0
	}
	return resp.Status
}

// TestQuorumShowsDeadFollowerUnreachable: the leader's /v1/quorum reports a
// killed follower as unreachable with its last known log end, and a lag
// that grows while writes continue (never "follower" with lag 0). Every
// voter carries its peer and HTTP addresses.
func TestQuorumShowsDeadFollowerUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	if err := c.CreateTopic(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}

	q := quorumOf(t, ctx, c, lead, "/v1/quorum")
	if q.Stale || q.LeaderID != int64(lead) || q.StaleMs == nil || *q.StaleMs != 0 {
		t.Fatalf("leader's own answer: %+v", q)
	}
	for _, id := range c.IDs() {
		v := voterOf(t, q, id)
		if v.PeerAddress != c.PeerAddr(id) || v.HTTPAddress != c.HTTPAddr(id) {
			t.Errorf("voter %d addresses %q, %q; want %q, %q", id, v.PeerAddress, v.HTTPAddress, c.PeerAddr(id), c.HTTPAddr(id))
		}
		want := "follower"
		if id == lead {
			want = "leader"
		}
		if v.Status != want || v.LogEndOffset == nil || v.Lag == nil || v.LastContactMs == nil {
			t.Errorf("voter %d of a healthy cluster: %+v, want status %s and every value known", id, v, want)
		}
	}
	// A follower asked without ?stale relays the leader's view.
	f := lead%3 + 1
	if q := quorumOf(t, ctx, c, f, "/v1/quorum"); q.Stale || q.NodeID != lead {
		t.Fatalf("follower %d did not relay the leader's view: %+v", f, q)
	}

	c.Kill(f)
	var dead client.Voter
	for i := 0; ; i++ {
		if err := c.CreateTopic(ctx, fmt.Sprintf("while-down-%d", i)); err != nil {
			t.Fatal(err)
		}
		q := quorumOf(t, ctx, c, lead, "/v1/quorum")
		v := voterOf(t, q, f)
		if v.Status == "follower" && v.LastContactMs != nil && *v.LastContactMs > c.ElectionTimeout().Milliseconds() {
			t.Fatalf("dead follower still reported as a follower, %d ms after its last contact: %+v", *v.LastContactMs, v)
		}
		if v.Status == "unreachable" && i >= 3 {
			dead = v
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("follower %d never reported unreachable; last %+v", f, v)
		}
	}
	if dead.LogEndOffset == nil || dead.Lag == nil || *dead.Lag == 0 {
		t.Fatalf("unreachable follower after writes: %+v; want its last known log end and a lag > 0", dead)
	}
	if dead.PeerAddress != c.PeerAddr(f) {
		t.Fatalf("unreachable follower's peer address %q, want %q", dead.PeerAddress, c.PeerAddr(f))
	}
}

// TestQuorumAndReadyzWithoutQuorum: with two of three nodes killed, the
// survivor's /v1/quorum still answers 200, marked stale, with leaderId -1
// and its last known values; its /readyz turns 503 and is 200 again once
// the quorum is back. Run with the survivor being the old leader (which
// remembers its followers' progress) and a follower (which never knew it).
func TestQuorumAndReadyzWithoutQuorum(t *testing.T) {
	for _, survivorLed := range []bool{true, false} {
		t.Run(fmt.Sprintf("survivor_led=%v", survivorLed), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c := testcluster.New(t, testcluster.Options{})
			lead := c.MustLeader()
			if err := c.CreateTopic(ctx, "t"); err != nil {
				t.Fatal(err)
			}
			if err := c.WaitConverged(ctx); err != nil {
				t.Fatal(err)
			}
			survivor := lead
			if !survivorLed {
				survivor = lead%3 + 1
			}
			if got := readyzStatus(ctx, c, survivor); got != http.StatusOK {
				t.Fatalf("readyz on node %d with a quorum: %d", survivor, got)
			}
			var killed []uint64
			for _, id := range c.IDs() {
				if id != survivor {
					c.Kill(id)
					killed = append(killed, id)
				}
			}
			if err := testcluster.WaitFor(ctx, func() bool { return readyzStatus(ctx, c, survivor) == http.StatusServiceUnavailable }); err != nil {
				t.Fatalf("readyz on isolated node %d never turned 503", survivor)
			}
			if err := testcluster.WaitFor(ctx, func() bool { return c.Server(survivor).Node.Leader() == 0 }); err != nil {
				t.Fatalf("node %d kept a leader without a quorum", survivor)
			}

			// A voter counts as unreachable once silent for an election
			// timeout; the last one killed may not be yet.
			var q client.Quorum
			if err := testcluster.WaitFor(ctx, func() bool {
				q = quorumOf(t, ctx, c, survivor, "/v1/quorum")
				for _, id := range killed {
					if voterOf(t, q, id).Status != "unreachable" {
						return false
					}
				}
				return true
			}); err != nil {
				t.Fatalf("killed voters never all unreachable: %+v", q)
			}
			if !q.Stale || q.LeaderID != -1 || q.NodeID != survivor || q.LastLeaderID == nil || *q.LastLeaderID != lead ||
				q.StaleMs == nil || *q.StaleMs <= 0 || q.HighWatermark == 0 || q.LeaderEpoch == 0 {
				t.Fatalf("survivor's answer without a quorum: %+v", q)
			}
			if self := voterOf(t, q, survivor); self.Status != "candidate" || self.LogEndOffset == nil || self.Lag != nil {
				t.Fatalf("survivor's own entry: %+v", self)
			}
			for _, id := range killed {
				v := voterOf(t, q, id)
				if v.Status != "unreachable" || v.PeerAddress != c.PeerAddr(id) {
					t.Fatalf("killed voter %d: %+v", id, v)
				}
				if survivorLed && (v.LogEndOffset == nil || v.Lag == nil) {
					t.Fatalf("killed voter %d: %+v; the old leader knew its progress", id, v)
				}
				if !survivorLed && (v.LogEndOffset != nil || v.Lag != nil) {
					t.Fatalf("killed voter %d: %+v; a follower cannot know its progress", id, v)
				}
			}
			// ?stale=true gives the same local view.
			if q := quorumOf(t, ctx, c, survivor, "/v1/quorum?stale=true"); !q.Stale || q.LeaderID != -1 {
				t.Fatalf("?stale=true without a quorum: %+v", q)
			}

			for _, id := range killed {
				c.Start(id)
			}
			if err := testcluster.WaitFor(ctx, func() bool { return readyzStatus(ctx, c, survivor) == http.StatusOK }); err != nil {
				t.Fatalf("readyz on node %d never ready again after the quorum returned", survivor)
			}
		})
	}
}

// TestSecondProcessWithCopiedDataDirIsRefused: a second node started with
// node 3's id and a copy of its data directory, on other ports, is refused
// by the peers (each logs an error naming both processes), while the real
// node 3 stays connected (no stream accepted anew, so no flapping) and the
// cluster keeps committing with node 3 applying.
func TestSecondProcessWithCopiedDataDirIsRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var logs testcluster.LogBuffer
	c := testcluster.New(t, testcluster.Options{LogWriter: &logs})
	c.MustLeader()
	if err := c.CreateTopic(ctx, "before-copy"); err != nil {
		t.Fatal(err)
	}
	// Copy node 3's data directory while it is down, as an operator
	// cloning a machine would, then bring the real node 3 back.
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	c.Kill(3)
	copyDir := filepath.Join(t.TempDir(), "node-3-copy")
	if err := copyTree(c.DataDir(3), copyDir); err != nil {
		t.Fatal(err)
	}
	c.Start(3)
	if err := c.CreateTopic(ctx, "after-restart"); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	real3 := c.Server(3).Node.Incarnation()
	accepted := map[uint64]uint64{}
	for _, id := range []uint64{1, 2} {
		accepted[id] = c.Server(id).Node.TransportStats().AcceptedStreams
	}

	voters := map[uint64]string{1: c.PeerAddr(1), 2: c.PeerAddr(2), 3: "127.0.0.1:0"}
	var impLogs testcluster.LogBuffer
	imp, err := server.StartContext(ctx, server.Config{
		NodeID: 3, DataDir: copyDir, Voters: voters, ClusterID: "testcluster",
		ListenPeer: "127.0.0.1:0", ListenHTTP: "127.0.0.1:0",
		TickInterval: 20 * time.Millisecond, ElectionTicks: 10,
		BrokerSessionTimeout: time.Hour,
		Logger:               slog.New(slog.NewTextHandler(io.MultiWriter(&impLogs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatalf("start the second node 3: %v", err)
	}
	t.Cleanup(imp.Kill)
	impInc := imp.Node.Incarnation()
	if impInc == real3 {
		t.Fatalf("both node 3 processes drew incarnation %x", real3)
	}

	// Keep committing while the second process keeps trying.
	for i := 0; ; i++ {
		if err := c.CreateTopic(ctx, fmt.Sprintf("during-%d", i)); err != nil {
			t.Fatal(err)
		}
		if c.Server(1).Node.TransportStats().RefusedDuplicates >= 3 && c.Server(2).Node.TransportStats().RefusedDuplicates >= 3 && i >= 20 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the peers never refused the second node 3 three times each")
		}
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatalf("real node 3 stopped applying: %v", err)
	}
	for _, id := range []uint64{1, 2} {
		if got := c.Server(id).Node.TransportStats().AcceptedStreams; got != accepted[id] {
			t.Errorf("node %d accepted %d message streams while the second node 3 ran; want 0 (the real one's stream must stay)", id, got-accepted[id])
		}
		lines := logs.Lines("level=ERROR", fmt.Sprintf("test_node=%d", id), "another process is already connected as this node id",
			fmt.Sprintf("incarnation=%016x", impInc), fmt.Sprintf("connected_incarnation=%016x", real3))
		if len(lines) == 0 {
			t.Errorf("node %d logged no error naming both node 3 processes (incarnations %016x and %016x)", id, impInc, real3)
		}
	}
	// The second process logs an error once its refusals outlast what a
	// restart could explain (a few seconds).
	if err := testcluster.WaitFor(ctx, func() bool {
		return len(impLogs.Lines("level=ERROR", "another process is connected to it as this node id")) > 0
	}); err != nil {
		t.Error("the second node 3 logged no error about being refused")
	}
	lead := c.MustLeader()
	if v := voterOf(t, quorumOf(t, ctx, c, lead, "/v1/quorum"), 3); v.Status != "follower" && !(lead == 3 && v.Status == "leader") {
		t.Errorf("real node 3 as the leader sees it: %+v", v)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// copyTree copies the regular files and directories under src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// TestReadyzFollowsReadBarrier: a follower that still hears its leader but
// cannot reach it (its messages to the leader are dropped) keeps knowing
// the leader and has applied all it knows of, yet cannot serve a
// linearizable read: /readyz must say not ready (and ready again once the
// link heals). The leader, hearing nothing from it, reports it
// unreachable.
func TestReadyzFollowsReadBarrier(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := testcluster.New(t, testcluster.Options{Network: true})
	lead := c.MustLeader()
	if err := c.CreateTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	f := lead%3 + 1
	if got := readyzStatus(ctx, c, f); got != http.StatusOK {
		t.Fatalf("readyz on follower %d of a healthy cluster: %d", f, got)
	}

	c.Net.OneWay(f, lead)
	if err := testcluster.WaitFor(ctx, func() bool { return readyzStatus(ctx, c, f) == http.StatusServiceUnavailable }); err != nil {
		t.Fatalf("readyz on follower %d stayed 200 while it could not reach the leader", f)
	}
	if got := c.Server(f).Node.Leader(); got != lead {
		t.Fatalf("follower %d's leader is %d, want %d still: the test no longer isolates the read path", f, got, lead)
	}
	if err := testcluster.WaitFor(ctx, func() bool {
		return voterOf(t, quorumOf(t, ctx, c, lead, "/v1/quorum"), f).Status == "unreachable"
	}); err != nil {
		t.Fatalf("the leader never reported follower %d, silent to it, as unreachable", f)
	}

	c.Net.Heal(f, lead)
	if err := testcluster.WaitFor(ctx, func() bool { return readyzStatus(ctx, c, f) == http.StatusOK }); err != nil {
		t.Fatalf("readyz on follower %d never ready again after the link healed", f)
	}
}
