package raftnode

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/vfs"
)

// gatedFS holds every fsync while it is closed, the way a slow disk holds
// a node's raft loop in Save.
type gatedFS struct {
	vfs.FS
	mu      sync.Mutex
	gate    chan struct{} // nil: open; else syncs wait until it is closed
	waiting chan struct{} // signalled (buffered) when a sync starts waiting
}

func newGatedFS() *gatedFS {
	return &gatedFS{FS: vfs.OS, waiting: make(chan struct{}, 1)}
}

// hold makes the following syncs wait until release.
func (g *gatedFS) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
}

func (g *gatedFS) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
}

func (g *gatedFS) wait() {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate == nil {
		return
	}
	select {
	case g.waiting <- struct{}{}:
	default:
	}
	<-gate
}

func (g *gatedFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := g.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return gatedFile{File: f, g: g}, nil
}

type gatedFile struct {
	vfs.File
	g *gatedFS
}

func (f gatedFile) Sync() error     { f.g.wait(); return f.File.Sync() }
func (f gatedFile) Datasync() error { f.g.wait(); return f.File.Datasync() }

// TestLeaderReplicatesWhileItsFsyncIsSlow: the leader sends its appends
// before its own fsync, so a follower has the entry durable while the
// leader's fsync still hangs; and the proposal is acknowledged only once
// a quorum has it durable: here the leader and that follower, since the
// other follower's fsync hangs too.
func TestLeaderReplicatesWhileItsFsyncIsSlow(t *testing.T) {
	fss := map[uint64]*gatedFS{1: newGatedFS(), 2: newGatedFS(), 3: newGatedFS()}
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.FS = fss[cfg.NodeID]
		cfg.ElectionTicks = 500 // 5s: held fsyncs stall the loops, not the leadership
	})
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	lead := c.leader()
	base := c.propose("first").Index
	var fast, stuck uint64
	for id := uint64(1); id <= 3; id++ {
		if id == lead.ID() {
			continue
		}
		if fast == 0 {
			fast = id
		} else {
			stuck = id
		}
	}
	c.waitApplied(fast, base, 10*time.Second)
	c.waitApplied(stuck, base, 10*time.Second)

	fss[lead.ID()].hold()
	fss[stuck].hold()
	var released atomic.Bool
	defer fss[lead.ID()].release()
	defer fss[stuck].release()

	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		res, err := lead.Propose(ctx, []byte("second"))
		if err == nil && !released.Load() {
			// Only the fast follower had the entry durable: not a quorum.
			err = errAckedEarly
		}
		done <- outcome{res, err}
	}()

	<-fss[lead.ID()].waiting // the leader's loop is in its fsync of the entry
	<-fss[stuck].waiting
	fastNode := c.nodes[fast]
	waitFor(t, 10*time.Second, "the fast follower to persist the entry while the leader's fsync hangs", func() bool {
		last, _ := fastNode.storage.LastIndex()
		return last > base
	})
	select {
	case out := <-done:
		t.Fatalf("proposal finished while the leader's fsync hangs: %+v", out)
	default:
	}
	released.Store(true)
	fss[lead.ID()].release()
	out := <-done
	if out.err != nil {
		t.Fatalf("propose: %v", out.err)
	}
	if out.res.Index <= base {
		t.Fatalf("committed at %d, want after %d", out.res.Index, base)
	}
}

var errAckedEarly = errorString("acknowledged before a quorum had the entry durable")

type errorString string

func (e errorString) Error() string { return string(e) }
