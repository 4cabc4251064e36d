package raftnode

import (
	"fmt"
	"io"
	"slices"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// Committed entries are applied off the raft loop, by one goroutine the
// Node owns (applyLoop), so the loop goes on to Advance, steps the next
// answers and sends the next appends while the state machine works.
//
// The loop hands it jobs in log order through applyc: committed entries,
// a snapshot from the leader to swap in, or a request to capture a
// snapshot. Being one FIFO, a snapshot is swapped in after every earlier
// entry was applied and before any later one, and a capture runs when the
// state is at exactly the index the loop recorded for it. The loop keeps
// its own view, handed: the index of the last job it queued, which is
// what snapshot metadata, compaction and raft's applied index follow;
// Node.applied is where the state machine really is. Configuration changes
// stay on the loop, which applies them to raft when it hands their entry
// over (raft's membership is the loop's; the state machine never sees
// them).
//
// The goroutine never waits for the loop: its sends (proposal and read
// waiters, the snapshot result, its error) all go to buffered channels
// with room, so the loop may block on a full applyc without a deadlock.

// applyQueue bounds the jobs queued for the apply goroutine; a loop that
// gets this far ahead waits, which is the back-pressure raft needs.
const applyQueue = 64

// applyJob is one unit of work for the apply goroutine; exactly one field
// is set.
type applyJob struct {
	ents    []raftpb.Entry // committed, in order; conf changes only advance the index
	swap    *swapJob
	capture *snapshotCapture
}

// snapshotCapture asks for the state at md.Index; members is the
// membership as of that index, which the file carries beside it.
type snapshotCapture struct {
	md      raftpb.SnapshotMetadata
	members []byte
}

// swapJob installs the state decoded from a snapshot the leader sent,
// which storage has already adopted.
type swapJob struct {
	index    uint64
	prepared any
}

// hand queues job for the apply goroutine. It fails only when that
// goroutine has failed, with its error.
func (n *Node) hand(job applyJob) error {
	select {
	case n.applyc <- job:
		return nil
	case <-n.applyDone:
		return n.applyErr // set before applyDone closed
	}
}

// applyLoop runs the jobs until stopApply or a failure, which it reports
// on applyErrc (fail-stop, as for the loop).
func (n *Node) applyLoop() {
	defer close(n.applyDone)
	for {
		select {
		case <-n.applyStop:
			return
		default:
		}
		select {
		case <-n.applyStop:
			return
		case job := <-n.applyc:
			var err error
			switch {
			case job.ents != nil:
				err = n.applyEntries(job.ents)
			case job.swap != nil:
				err = n.swapIn(job.swap)
			case job.capture != nil:
				n.captureSnapshot(job.capture)
			}
			if err != nil {
				n.applyErr = err
				n.applyErrc <- struct{}{} // buffered(1): the goroutine's only failure
				return
			}
		}
	}
}

// stopApply stops the apply goroutine and waits for it; jobs still
// queued are dropped (a restart re-applies them from the WAL).
func (n *Node) stopApply() {
	close(n.applyStop)
	<-n.applyDone
}

// applyEntries applies committed entries and finishes the waiters.
func (n *Node) applyEntries(ents []raftpb.Entry) error {
	var batch []Committed
	var ids []uint64
	for _, e := range ents {
		if e.Type != raftpb.EntryNormal {
			continue // applied to raft by the loop
		}
		props, err := decodeEntry(e.Data)
		if err != nil {
			return fmt.Errorf("decode committed entry %d: %w", e.Index, err)
		}
		for _, p := range props {
			batch = append(batch, Committed{Index: e.Index, Payload: p.payload})
			ids = append(ids, p.id)
		}
	}
	var results []any
	if len(batch) > 0 {
		var err error
		if results, err = n.cfg.StateMachine.Apply(batch); err != nil {
			return fmt.Errorf("apply entries %d..%d: %w", ents[0].Index, ents[len(ents)-1].Index, err)
		}
		if len(results) != len(batch) {
			return fmt.Errorf("apply entries %d..%d: state machine returned %d results for %d payloads",
				ents[0].Index, ents[len(ents)-1].Index, len(results), len(batch))
		}
	}
	n.waitMu.Lock()
	for i, c := range batch {
		if _, ok := n.waiters[ids[i]]; ok {
			n.metrics.proposalsCommitted.Inc()
			n.finish(ids[i], proposeOutcome{res: Result{Index: c.Index, Value: results[i]}})
		}
	}
	for _, e := range ents {
		// Anyone still waiting at an applied index lost its entry to
		// another leader's: it will never commit.
		for _, id := range n.waitersAt[e.Index] {
			n.finish(id, proposeOutcome{err: ErrProposalDropped})
		}
		delete(n.waitersAt, e.Index)
	}
	n.waitMu.Unlock()
	n.metrics.entriesApplied.Add(float64(len(ents)))
	n.setApplied(ents[len(ents)-1].Index)
	return nil
}

// swapIn replaces the state with a snapshot's.
func (n *Node) swapIn(j *swapJob) error {
	if err := n.cfg.StateMachine.SwapIn(j.index, j.prepared); err != nil {
		return fmt.Errorf("restore state machine from snapshot at index %d: %w", j.index, err)
	}
	n.waitMu.Lock()
	for at, ids := range n.waitersAt {
		if at <= j.index {
			for _, id := range ids {
				// The snapshot may or may not hold our entry: a new leader
				// can have committed it before this node fell behind.
				n.finish(id, proposeOutcome{err: ErrOutcomeUnknown})
			}
			delete(n.waitersAt, at)
		}
	}
	n.waitMu.Unlock()
	n.setApplied(j.index)
	return nil
}

// captureSnapshot captures the state, now at exactly md.Index, and starts
// the goroutine that writes it; the result reaches the loop on snapResc
// either way (finishSnapshot).
func (n *Node) captureSnapshot(c *snapshotCapture) {
	md := c.md
	write, err := n.cfg.StateMachine.CaptureSnapshot(md.Index)
	if err != nil {
		n.snapResc <- snapshotResult{md: md, err: fmt.Errorf("capture: %w", err)} // buffered: one run at a time
		return
	}
	// Add here, not on the loop: the loop waits on snapWG only after this
	// goroutine has stopped.
	n.snapWG.Add(1)
	go func() {
		defer n.snapWG.Done()
		info, err := n.storage.WriteSnapshot(md, c.members, func(w io.Writer) error {
			return write(abortWriter{w: w, abort: n.snapAbort})
		})
		n.snapResc <- snapshotResult{md: md, info: info, err: err}
	}()
}

// handEntries applies the configuration changes among ents to raft, in
// order, and hands all of ents to the apply goroutine.
func (n *Node) handEntries(ents []raftpb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	n.observeCommits(ents)
	for _, e := range ents {
		n.appliedBytes += uint64(len(e.Data))
		switch e.Type {
		case raftpb.EntryConfChange:
			var cc raftpb.ConfChange
			if err := cc.Unmarshal(e.Data); err != nil {
				return fmt.Errorf("decode conf change %d: %w", e.Index, err)
			}
			n.confState = *n.rn.ApplyConfChange(cc)
			if e.Index <= n.membersFrom {
				continue // replayed on start: the table already holds it (loadMembers)
			}
			prev := n.membersView.Load()
			op := n.applyMemberChange(cc)
			n.membersChanged(prev)
			if cc.Type == raftpb.ConfChangeAddLearnerNode {
				n.snapForMember = e.Index
			}
			n.log.Info("membership changed", "index", e.Index, "change", cc.Type.String(), "member", cc.NodeID,
				"voters", n.confState.Voters, "observers", n.confState.Learners)
			n.finishConf(op)
		case raftpb.EntryConfChangeV2:
			var cc raftpb.ConfChangeV2
			if err := cc.Unmarshal(e.Data); err != nil {
				return fmt.Errorf("decode conf change %d: %w", e.Index, err)
			}
			prev := n.membersView.Load()
			n.confState = *n.rn.ApplyConfChange(cc)
			n.membersChanged(prev)
		}
	}
	n.handed = ents[len(ents)-1].Index
	return n.hand(applyJob{ents: ents})
}

// restoreSnapshot hands the state decoded from a snapshot the leader sent,
// which storage has just adopted, to the apply goroutine, and moves the
// loop's view to it.
func (n *Node) restoreSnapshot(snap raftpb.Snapshot, inc *incomingSnapshot) error {
	idx := snap.Metadata.Index
	prepared := inc.prepared
	if !inc.decoded {
		// receiveSnapshot expected raft to ignore it; decode it here, on
		// the loop, rather than lose it.
		n.log.Warn("decoding a snapshot on the raft loop", "index", idx)
		var err error
		if prepared, err = n.prepareRestore(n.storage.OpenSnapshot(snap.Metadata)); err != nil {
			return fmt.Errorf("restore state machine from snapshot at index %d: %w", idx, err)
		}
	}
	if err := n.hand(applyJob{swap: &swapJob{index: idx, prepared: prepared}}); err != nil {
		return err
	}
	n.handed = idx
	prev := n.membersView.Load()
	n.confState = snap.Metadata.ConfState
	n.membersFrom = 0
	n.legacyMembers = inc.members == nil
	if inc.members != nil {
		n.members = inc.members
	} else {
		// From a leader of an earlier version: keep what this node knew
		// of the members that remain.
		for id := range n.members {
			if !slices.Contains(n.confState.Voters, id) && !slices.Contains(n.confState.Learners, id) {
				delete(n.members, id)
			}
		}
	}
	n.membersChanged(prev)
	n.snapIndex = idx
	n.snapBytesAt = n.appliedBytes
	n.lastSnapAt = time.Now()
	n.metrics.snapshotsInstalled.Inc()
	n.log.Info("installed snapshot from leader", "index", idx, "term", snap.Metadata.Term, "bytes", inc.info.SizeBytes)
	n.resolveSnapshotWaiters()
	return nil
}
