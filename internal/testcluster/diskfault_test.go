package testcluster_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
	"github.com/yakt/yakt/internal/vfs"
)

// assertReadable GETs every name from node id (a linearizable read).
func assertReadable(ctx context.Context, t *testing.T, c *testcluster.Cluster, id uint64, names []string) {
	t.Helper()
	missing := 0
	for _, name := range names {
		resp, err := c.Do(ctx, id, http.MethodGet, "/v1/topics/"+name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusOK {
			if missing++; missing <= 5 {
				t.Errorf("node %d: GET acknowledged topic %q = %d %s", id, name, resp.Status, resp.Body)
			}
		}
	}
	if missing > 0 {
		t.Errorf("node %d lacks %d of %d acknowledged topics", id, missing, len(names))
	}
}

// TestFsyncErrorFailStopsNode makes fsync fail on one node while writers
// keep going: the node stops (fail-stop, naming the errno in its error and
// log), no acknowledged write is lost, the others elect a leader that
// takes writes, and the node rejoins after a restart.
func TestFsyncErrorFailStopsNode(t *testing.T) {
	tests := []struct {
		name   string
		leader bool // fail the leader's disk, else a follower's
		errno  syscall.Errno
	}{
		{name: "EIO on the leader", leader: true, errno: syscall.EIO},
		{name: "ENOSPC on a follower", leader: false, errno: syscall.ENOSPC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &testcluster.LogBuffer{}
			c := testcluster.New(t, testcluster.Options{CrashableDisks: true, LogWriter: logs})
			ctx := ctxFor(t, 90*time.Second)
			before := createTopics(t, c, "before", 5)
			w := startWriters(ctx, t, c, 8)
			w.waitFor(40)
			victim := c.MustLeader()
			if !tt.leader {
				victim = followers(c, victim)[0]
			}
			c.Disk(victim).FailSyncs(tt.errno)
			node := c.Server(victim).Node
			select {
			case <-node.Done():
			case <-ctx.Done():
				t.Fatalf("node %d still runs after its fsyncs failed with %v", victim, tt.errno)
			}
			if err := node.Err(); !errors.Is(err, tt.errno) {
				t.Fatalf("node %d stopped with %v, want an error wrapping %v", victim, err, tt.errno)
			}
			if l := logs.Lines("raft loop stopped: node no longer serves writes", tt.errno.Error(), fmt.Sprintf("test_node=%d", victim)); len(l) == 0 {
				t.Errorf("node %d logged no error naming %q for stopping", victim, tt.errno.Error())
			}

			// Take the dead node out, so the others agree on a leader.
			c.Kill(victim)
			newLead := c.MustLeader()
			if tt.leader && newLead == victim {
				t.Fatalf("node %d still leads after its disk failed", victim)
			}
			w.waitFor(w.count() + 40) // the survivors take writes
			acked := append(w.stop(), before...)
			assertReadable(ctx, t, c, newLead, acked)
			assertTopics(t, c, acked)

			// The disk recovers; the restarted node catches up.
			c.Start(victim)
			assertTopics(t, c, acked)
		})
	}
}

// TestCrashLosesOnlyUnsyncedWrites cuts the power to a node under load:
// every write not yet fsynced is lost, the last one torn. Restarted over
// what survived, the node recovers and the cluster keeps every
// acknowledged write on every node. A cut that happens to find everything
// synced proves nothing, so the node is restarted and cut again until a
// cut discards something.
func TestCrashLosesOnlyUnsyncedWrites(t *testing.T) {
	tests := []struct {
		name   string
		leader bool
	}{
		{name: "leader", leader: true},
		{name: "follower", leader: false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testcluster.New(t, testcluster.Options{CrashableDisks: true})
			ctx := ctxFor(t, 120*time.Second)
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			w := startWriters(ctx, t, c, 8)
			w.waitFor(40)

			var victim uint64
			var lost vfs.CrashLoss
			for cut := 1; ; cut++ {
				// The leader may have changed since the last cut.
				victim = c.MustLeader()
				if !tt.leader {
					victim = followers(c, victim)[0]
				}
				c.PowerCut(victim, true, rng)
				if lost = c.Disk(victim).Lost(); lost.Writes+lost.Names > 0 {
					t.Logf("cut %d of node %d discarded %+v", cut, victim, lost)
					break
				}
				if cut == 20 {
					t.Fatalf("20 power cuts under load found every write of node %d synced", victim)
				}
				c.Start(victim)
				w.waitFor(w.count() + 10)
			}
			newLead := c.MustLeader()
			if tt.leader && newLead == victim {
				t.Fatalf("crashed node %d still leads", victim)
			}
			w.waitFor(w.count() + 40)

			c.Start(victim) // on a Restart of its crashed disk
			w.waitFor(w.count() + 40)
			acked := w.stop()
			assertTopics(t, c, acked)
			assertReadable(ctx, t, c, victim, acked)
		})
	}
}
