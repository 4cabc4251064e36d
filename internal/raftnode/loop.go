package raftnode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// run is the only goroutine that touches n.rn. It stops on Stop or on a
// storage or state-machine failure (fail-stop: a node that cannot persist
// or apply must not acknowledge anything).
func (n *Node) run() {
	ticker := time.NewTicker(n.cfg.TickInterval)
	defer ticker.Stop()
	snapTimer := time.NewTicker(snapshotCheckInterval(n.cfg.SnapshotInterval))
	defer snapTimer.Stop()

	var err error
	defer func() {
		// etcd raft panics on a broken invariant, for example a leader
		// that believes this node holds entries it lost with a wiped data
		// directory. Stop this node (fail-stop) instead of the process,
		// which may host other nodes.
		if p := recover(); p != nil {
			err = fmt.Errorf("raft invariant violated (is this node's data directory lost or replaced?): %v", p)
		}
		n.err = err
		if err != nil {
			n.log.Error("raft loop stopped: node no longer serves writes", "err", err)
		}
		close(n.snapAbort)
		n.stopApply()
		n.stopSnapshots(ErrStopped)
		n.failAll(ErrStopped)
		n.leader.Store(0)
		n.progress.Store(nil)
		n.metrics.setLeader(0, n.cfg.NodeID)
		close(n.donec)
	}()

	for {
		select {
		case <-ticker.C:
			n.rn.Tick()
			n.retryReadIndex()
			n.remember()
			n.maybePinMembers()
			n.dropLeftPeers()
		case m := <-n.recvc:
			n.step(m)
			n.drainRecv()
		case req := <-n.propc:
			n.proposeBatch(req)
		case req := <-n.readc:
			n.readIndexBatch(req)
		case <-n.reports.wake:
			n.reports.deliver(n.rn)
		case ch := <-n.statusc:
			ch <- n.status()
		case ch := <-n.snapc:
			n.requestSnapshot(ch)
		case res := <-n.snapResc:
			if err = n.finishSnapshot(res); err != nil {
				return
			}
		case <-n.applyErrc:
			err = n.applyErr
			return
		case inc := <-n.snapInc:
			n.stepIncoming(inc)
		case req := <-n.confc:
			n.proposeConfChange(req)
		case to := <-n.transferc:
			n.rn.TransferLeader(to)
		case <-snapTimer.C:
			n.maybeSnapshot(true)
			// Segments a failed delete left behind only cost disk space:
			// storage logs and counts the failure, the timer retries.
			_ = n.storage.RemoveObsoleteSegments()
		case <-n.stopc:
			return
		}
		for n.rn.HasReady() {
			if err = n.handleReady(); err != nil {
				return
			}
		}
		// A received snapshot the Ready did not install, raft ignored
		// (this node has it already): delete its file.
		n.discardIncoming()
		// A membership change proposed above and absent from the Readys
		// just handled was refused by raft.
		n.dropUnappendedConf()
	}
}

func snapshotCheckInterval(d time.Duration) time.Duration {
	if d < time.Minute {
		return d
	}
	return time.Minute
}

func (n *Node) step(m raftpb.Message) {
	if m.Type == raftpb.MsgHeartbeat {
		// A leader says an entry is committed here only once this node
		// acknowledged it durably, so a heartbeat committing past this
		// log's end is meant for a member whose log this node does not
		// have: a replaced directory the leader still counts as the old
		// member. etcd raft would panic on it; drop it and say why.
		if last, err := n.storage.LastIndex(); err == nil && m.Commit > last {
			n.warnForeignHeartbeat(m, last)
			return
		}
	}
	if err := n.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
		n.log.Debug("step message", "type", m.Type, "from", m.From, "err", err)
	}
}

// warnForeignHeartbeat logs a dropped heartbeat, once a minute.
func (n *Node) warnForeignHeartbeat(m raftpb.Message, last uint64) {
	if time.Since(n.foreignWarnedAt) < time.Minute {
		return
	}
	n.foreignWarnedAt = time.Now()
	n.log.Error("the leader counts this node as a member holding entries this log does not have: is this a replaced or wiped data directory? Remove the old member (yakt quorum remove-voter) so this one can join as a new one",
		"leader", m.From, "leader_commit", m.Commit, "last_index", last, "directory_id", n.dirID.String())
}

// drainRecv steps every message already queued, so one Ready covers them.
func (n *Node) drainRecv() {
	for i := 0; i < 1024; i++ {
		select {
		case m := <-n.recvc:
			n.step(m)
		default:
			return
		}
	}
}

// proposeBatch packs first and every proposal already queued into as few
// raft entries as MaxEntryBytes allows.
func (n *Node) proposeBatch(first *proposeReq) {
	batch := []*proposeReq{first}
	size := len(first.payload)
	flush := func() {
		if len(batch) > 0 {
			n.proposeEntry(batch)
		}
		batch, size = batch[:0:0], 0
	}
	for more := true; more; {
		select {
		case req := <-n.propc:
			if size+len(req.payload) > n.cfg.MaxEntryBytes {
				flush()
			}
			batch = append(batch, req)
			size += len(req.payload)
		default:
			more = false
		}
	}
	flush()
}

func (n *Node) proposeEntry(reqs []*proposeReq) {
	props := make([]proposal, 0, len(reqs))
	live := reqs[:0]
	n.waitMu.Lock()
	defer n.waitMu.Unlock()
	for _, req := range reqs {
		if req.ctx.Err() != nil {
			continue // its caller has gone; never propose it
		}
		n.nextPropID++
		id := n.nextPropID
		n.waiters[id] = &waiter{req: req}
		props = append(props, proposal{id: id, payload: req.payload})
		live = append(live, req)
	}
	if len(props) == 0 {
		return
	}
	now := time.Now()
	for _, p := range props {
		n.waiters[p.id].proposedAt = now
	}
	if err := n.rn.Propose(encodeEntry(props)); err != nil {
		// Raft refused it (no leader, leadership transfer in progress): it
		// will never commit, so callers may retry.
		for _, p := range props {
			n.finish(p.id, proposeOutcome{err: fmt.Errorf("%w: %v", ErrProposalDropped, err)})
		}
		return
	}
	n.metrics.proposalsPending.Add(float64(len(props)))
}

// finish ends proposal id's wait with out; the caller holds waitMu.
func (n *Node) finish(id uint64, out proposeOutcome) {
	w, ok := n.waiters[id]
	if !ok {
		return
	}
	delete(n.waiters, id)
	if w.index != 0 {
		n.metrics.proposalsPending.Dec()
	}
	if out.err != nil {
		n.metrics.proposalsFailed.Inc()
	}
	w.req.done <- out
}

func (n *Node) readIndexBatch(first *readReq) {
	reqs := []*readReq{first}
	for more := true; more; {
		select {
		case req := <-n.readc:
			reqs = append(reqs, req)
		default:
			more = false
		}
	}
	if n.rn.BasicStatus().Lead == raft.None {
		for _, r := range reqs {
			r.done <- ErrNoLeader
		}
		return
	}
	n.sendReadIndex(&readBatch{reqs: reqs})
}

// sendReadIndex asks raft for the read index of b under a fresh context.
func (n *Node) sendReadIndex(b *readBatch) {
	n.readCtxSeq++
	var rctx [16]byte
	binary.BigEndian.PutUint64(rctx[:8], n.nextPropID^0x5eed)
	binary.BigEndian.PutUint64(rctx[8:], n.readCtxSeq)
	b.ticks = 0
	b.keys = append(b.keys, string(rctx[:]))
	n.readsInFlight[string(rctx[:])] = b
	n.rn.ReadIndex(rctx[:])
}

// retryReadIndex asks again for read indexes unanswered for an election
// timeout. A follower's MsgReadIndex, or the leader's answer, lost with a
// broken connection is never re-sent by raft; without this the reads would
// wait for their callers' deadlines. The earlier requests stay valid (on a
// slow link their answers may still come): whichever answer arrives first
// completes the batch.
func (n *Node) retryReadIndex() {
	var due []*readBatch
	for k, b := range n.readsInFlight {
		if k != b.keys[len(b.keys)-1] {
			continue // count each batch once, by its newest request
		}
		if b.ticks++; b.ticks >= n.cfg.ElectionTicks {
			due = append(due, b)
		}
	}
	for _, b := range due {
		b.reqs = slices.DeleteFunc(b.reqs, func(r *readReq) bool { return r.ctx.Err() != nil })
		if len(b.reqs) == 0 {
			n.takeReads(b) // every caller gave up
			continue
		}
		n.sendReadIndex(b)
	}
}

// takeReads removes b's requests from readsInFlight and returns its reads.
func (n *Node) takeReads(b *readBatch) []*readReq {
	for _, k := range b.keys {
		delete(n.readsInFlight, k)
	}
	return b.reqs
}

// handleReady processes one Ready under the contract in doc.go.
func (n *Node) handleReady() error {
	rd := n.rn.Ready()

	leading := n.leading
	if rd.SoftState != nil {
		leading = rd.SoftState.RaftState == raft.StateLeader
	}
	// A leader sends before it persists (the Raft thesis, 10.2.1): its
	// appends reach the followers while its own fdatasync runs, so a
	// commit costs the slower of the two, not their sum. This is safe
	// because etcd raft, outside AsyncStorageWrites, counts the leader's
	// own entries toward a quorum only through a self-addressed append
	// response it steps in Advance, after Save below: no entry commits
	// on the strength of a leader write that is not yet durable (and the
	// loop steps no follower's answer before this Ready is saved either).
	// Responses (append, vote) promise durable state, so even a leader
	// holds them back; a follower or candidate sends everything after.
	late := rd.Messages
	if leading {
		late = n.sendEarly(rd.Messages)
	}

	var inc *incomingSnapshot
	if !raft.IsEmptySnap(rd.Snapshot) {
		var err error
		if inc, err = n.incomingFor(rd.Snapshot.Metadata); err != nil {
			return err
		}
		// The file is adopted (renamed) now: it is no longer ours to delete.
		n.incoming = nil
		if err := n.storage.AdoptSnapshot(rd.Snapshot.Metadata, inc.info); err != nil {
			n.storage.DiscardReceived(inc.info)
			return fmt.Errorf("persist snapshot at index %d: %w", rd.Snapshot.Metadata.Index, err)
		}
	}
	if err := n.storage.Save(rd.HardState, rd.Entries, rd.MustSync); err != nil {
		return fmt.Errorf("persist %d entries: %w", len(rd.Entries), err)
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		n.term.Store(rd.HardState.Term)
		n.commit.Store(rd.HardState.Commit)
		n.metrics.term.Set(float64(rd.HardState.Term))
		n.metrics.commitIndex.Set(float64(rd.HardState.Commit))
		n.metrics.votedFor.Set(float64(rd.HardState.Vote))
	}
	n.countAppended(rd)
	n.trackAppended(rd.Entries)
	n.trackConfAppended(rd.Entries)
	if rd.SoftState != nil {
		n.onSoftState(rd.SoftState) // after trackAppended: see its comment
	}
	n.trackTermStart(rd.Entries)
	n.send(late)

	if inc != nil {
		if err := n.restoreSnapshot(rd.Snapshot, inc); err != nil {
			return err
		}
	}
	if err := n.handEntries(rd.CommittedEntries); err != nil {
		return err
	}
	for _, rs := range rd.ReadStates {
		n.onReadState(rs)
	}
	n.rn.Advance(rd)
	n.maybeSnapshot(false)
	return nil
}

// sendEarly sends at once the messages that promise nothing about this
// node's disk (appends, heartbeats, snapshots, read-index answers) and
// returns the responses, which must wait for persistence.
func (n *Node) sendEarly(msgs []raftpb.Message) (late []raftpb.Message) {
	if !slices.ContainsFunc(msgs, isResponse) {
		n.send(msgs) // the common case: nothing to hold back
		return nil
	}
	early := make([]raftpb.Message, 0, len(msgs))
	for _, m := range msgs {
		if isResponse(m) {
			late = append(late, m)
		} else {
			early = append(early, m)
		}
	}
	n.send(early)
	return late
}

// send hands msgs to the transport, starting the heartbeats' clocks.
func (n *Node) send(msgs []raftpb.Message) {
	if len(msgs) == 0 {
		return
	}
	n.noteHeartbeats(msgs)
	n.transport.Send(msgs)
}

// countAppended updates the log metrics after a Ready was saved.
func (n *Node) countAppended(rd raft.Ready) {
	if len(rd.Entries) == 0 && raft.IsEmptySnap(rd.Snapshot) {
		return
	}
	var bytes int
	for i := range rd.Entries {
		bytes += len(rd.Entries[i].Data)
	}
	n.metrics.entriesAppended.Add(float64(len(rd.Entries)))
	n.metrics.bytesAppended.Add(float64(bytes))
	if last, err := n.storage.LastIndex(); err == nil {
		n.metrics.logEndOffset.Set(float64(last))
	}
}

// isResponse: raft sends m only once this node's Ready is durable (raft
// queues these types in msgsAfterAppend).
func isResponse(m raftpb.Message) bool {
	switch m.Type {
	case raftpb.MsgAppResp, raftpb.MsgVoteResp, raftpb.MsgPreVoteResp:
		return true
	}
	return false
}

func (n *Node) onSoftState(ss *raft.SoftState) {
	n.leading = ss.RaftState == raft.StateLeader
	if !n.leading {
		n.progress.Store(nil)
	}
	n.metrics.setState(ss.RaftState)
	prev := n.leader.Load()
	n.leader.Store(ss.Lead)
	n.observeLeader(prev, ss.Lead)
	if ss.Lead != prev {
		if ss.Lead != raft.None {
			n.metrics.leaderChanges.Inc()
		}
		n.log.Info("leader changed", "leader", ss.Lead, "previous", prev, "state", ss.RaftState.String(), "term", n.rn.BasicStatus().Term)
		// Reads in flight were asked of a leader that is gone: fail them so
		// callers retry against the new one (reads are safe to retry).
		for _, b := range n.readsInFlight {
			for _, r := range n.takeReads(b) {
				r.done <- ErrNoLeader
			}
		}
	}
	n.metrics.setLeader(ss.Lead, n.cfg.NodeID)
	if n.leading {
		// As raft does on election: a change may sit unapplied anywhere
		// in the log it inherited, so none is proposed before all of it
		// is applied.
		n.confPending, _ = n.storage.LastIndex()
	} else {
		n.failConf()
	}
	if ss.RaftState != raft.StateLeader {
		// Proposals whose entries reached the log were tracked by
		// trackAppended and may still commit; any others never will.
		n.waitMu.Lock()
		for id, w := range n.waiters {
			if w.index == 0 {
				n.finish(id, proposeOutcome{err: ErrProposalDropped})
			}
		}
		n.waitMu.Unlock()
	}
}

// trackTermStart keeps termStart: the first entry a leader appends in its
// term is the empty one raft appends on election, so it is found in the
// Ready that makes this node leader.
func (n *Node) trackTermStart(ents []raftpb.Entry) {
	if !n.leading {
		if n.termStart.Load() != nil {
			n.termStart.Store(nil)
		}
		return
	}
	term := n.term.Load()
	if ts := n.termStart.Load(); ts != nil && ts.term == term {
		return
	}
	for _, e := range ents {
		if e.Term == term {
			n.termStart.Store(&termStart{term: term, index: e.Index})
			return
		}
	}
}

// trackAppended remembers where this node's proposals were appended, so a
// different entry committing at that index proves they were dropped.
func (n *Node) trackAppended(ents []raftpb.Entry) {
	if len(ents) == 0 {
		return
	}
	n.waitMu.Lock()
	defer n.waitMu.Unlock()
	for _, e := range ents {
		if e.Type != raftpb.EntryNormal || len(e.Data) == 0 {
			continue
		}
		props, err := decodeEntry(e.Data)
		if err != nil {
			continue // apply reports it if it ever commits
		}
		timed := false
		for _, p := range props {
			if w, ok := n.waiters[p.id]; ok && w.index == 0 {
				w.index, w.term = e.Index, e.Term
				n.waitersAt[e.Index] = append(n.waitersAt[e.Index], p.id)
				if !timed && !w.proposedAt.IsZero() {
					n.commitClocks = append(n.commitClocks, commitClock{index: e.Index, term: e.Term, at: w.proposedAt})
					timed = true
				}
			}
		}
	}
}

// setApplied publishes the applied index (apply goroutine) and releases
// the reads waiting for it.
func (n *Node) setApplied(index uint64) {
	n.metrics.appliedIndex.Set(float64(index))
	n.appliedMu.Lock()
	defer n.appliedMu.Unlock()
	n.applied.Store(index)
	close(n.appliedNotify)
	n.appliedNotify = make(chan struct{})

	i := 0
	for ; i < len(n.readsPending) && n.readsPending[i].index <= index; i++ {
		for _, r := range n.readsPending[i].reqs {
			r.done <- nil
		}
	}
	n.readsPending = n.readsPending[i:]
}

func (n *Node) onReadState(rs raft.ReadState) {
	b, ok := n.readsInFlight[string(rs.RequestCtx)]
	if !ok {
		return
	}
	reqs := n.takeReads(b)
	// Under appliedMu, so the apply goroutine cannot move past rs.Index
	// between the check and the append and leave these reads waiting.
	n.appliedMu.Lock()
	defer n.appliedMu.Unlock()
	if rs.Index <= n.applied.Load() {
		for _, r := range reqs {
			r.done <- nil
		}
		return
	}
	// ReadStates arrive in index order, so appending keeps the slice sorted.
	n.readsPending = append(n.readsPending, pendingRead{index: rs.Index, reqs: reqs})
}

// failAll fails every waiter; used when the loop stops.
func (n *Node) failAll(err error) {
	n.waitMu.Lock()
	for id := range n.waiters {
		n.finish(id, proposeOutcome{err: err})
	}
	n.waitMu.Unlock()
	for _, b := range n.readsInFlight {
		for _, r := range n.takeReads(b) {
			r.done <- err
		}
	}
	n.appliedMu.Lock()
	defer n.appliedMu.Unlock()
	for _, p := range n.readsPending {
		for _, r := range p.reqs {
			r.done <- err
		}
	}
	n.readsPending = nil
}
