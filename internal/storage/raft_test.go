package storage

import (
	"fmt"
	"io"
	"log"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// raftHarness drives a single-voter raft.RawNode over a Storage the way
// raftnode does: persist, apply, advance.
type raftHarness struct {
	t       *testing.T
	s       *Storage
	rn      *raft.RawNode
	cs      raftpb.ConfState
	applied uint64
	data    []string // proposals applied, in order
}

func startRaft(t *testing.T, s *Storage) *raftHarness {
	t.Helper()
	snap, _ := s.Snapshot()
	h := &raftHarness{t: t, s: s, applied: snap.Metadata.Index, cs: snap.Metadata.ConfState}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:              1,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         s,
		Applied:         snap.Metadata.Index,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		Logger:          &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
	})
	if err != nil {
		t.Fatalf("NewRawNode: %v", err)
	}
	h.rn = rn
	return h
}

// drain processes Readys until there are none.
func (h *raftHarness) drain() {
	h.t.Helper()
	for h.rn.HasReady() {
		rd := h.rn.Ready()
		if !raft.IsEmptySnap(rd.Snapshot) {
			if err := h.s.ApplySnapshot(rd.Snapshot); err != nil {
				h.t.Fatal(err)
			}
		}
		if err := h.s.Save(rd.HardState, rd.Entries, rd.MustSync); err != nil {
			h.t.Fatal(err)
		}
		for _, e := range rd.CommittedEntries {
			switch e.Type {
			case raftpb.EntryConfChange:
				var cc raftpb.ConfChange
				if err := cc.Unmarshal(e.Data); err != nil {
					h.t.Fatal(err)
				}
				h.cs = *h.rn.ApplyConfChange(cc)
			case raftpb.EntryNormal:
				if len(e.Data) > 0 {
					h.data = append(h.data, string(e.Data))
				}
			}
			h.applied = e.Index
		}
		h.rn.Advance(rd)
	}
}

func (h *raftHarness) propose(from, to int) {
	h.t.Helper()
	for i := from; i < to; i++ {
		if err := h.rn.Propose([]byte(fmt.Sprint("p", i))); err != nil {
			h.t.Fatalf("Propose: %v", err)
		}
		h.drain()
	}
}

func (h *raftHarness) elect() {
	h.t.Helper()
	if err := h.rn.Campaign(); err != nil {
		h.t.Fatal(err)
	}
	h.drain()
	if st := h.rn.Status(); st.RaftState != raft.StateLeader {
		h.t.Fatalf("state %v after campaign, want leader", st.RaftState)
	}
}

// TestRaftRestart checks raft accepts what Open rebuilds: a node that
// snapshots, compacts and restarts keeps its term, commit index and
// committed proposals, and carries on.
func TestRaftRestart(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	cfg.SegmentSizeBytes = minSegmentSizeBytes
	s := mustOpen(t, cfg)
	h := startRaft(t, s)
	if err := h.rn.Bootstrap([]raft.Peer{{ID: 1}}); err != nil {
		t.Fatal(err)
	}
	h.drain()
	h.elect()
	h.propose(0, 40)
	if _, err := s.CreateSnapshot(h.applied, &h.cs, []byte(fmt.Sprint(len(h.data)))); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(h.applied - 5); err != nil {
		t.Fatal(err)
	}
	h.propose(40, 60)
	term, commit := h.rn.Status().Term, h.rn.Status().Commit
	mustClose(t, s)

	for restart := range 3 {
		s = mustOpen(t, cfg)
		h2 := startRaft(t, s)
		if st := h2.rn.Status(); st.Term != term || st.Commit != commit {
			t.Fatalf("restart %d: term %d commit %d, want %d %d", restart, st.Term, st.Commit, term, commit)
		}
		h2.drain() // re-applies the committed entries after the snapshot
		h2.elect()
		h2.propose(60+restart*10, 70+restart*10)
		// Applied: the committed proposals after the snapshot (p40..p59
		// the first time, none later), then the new ones.
		var want []string
		if restart == 0 {
			for i := 40; i < 60; i++ {
				want = append(want, fmt.Sprint("p", i))
			}
		}
		for i := 60 + restart*10; i < 70+restart*10; i++ {
			want = append(want, fmt.Sprint("p", i))
		}
		if fmt.Sprint(h2.data) != fmt.Sprint(want) {
			t.Fatalf("restart %d applied:\n-want %v\n+got  %v", restart, want, h2.data)
		}
		if _, err := s.CreateSnapshot(h2.applied, &h2.cs, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Compact(h2.applied); err != nil {
			t.Fatal(err)
		}
		term, commit = h2.rn.Status().Term, h2.rn.Status().Commit
		mustClose(t, s)
	}
}
