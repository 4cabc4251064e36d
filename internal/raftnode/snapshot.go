package raftnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/storage"
	"github.com/yakt/yakt/internal/transport"
)

// Snapshots never block the raft loop.
//
// Creating one: the loop queues a capture to the apply goroutine, which
// captures the state machine at exactly the index the loop has handed it
// (StateMachine.CaptureSnapshot, cheap) and starts one goroutine that
// encodes, writes and fsyncs the file (storage.WriteSnapshot). One runs at
// a time; the loop owns it and waits for it when it stops. When it is
// done the loop only records it (storage.RecordSnapshot: a WAL marker)
// and compacts, so heartbeats, votes and appends flow all along.
//
// Installing one from the leader: the transport streams the data into a
// temp file (storage.ReceiveSnapshot, checksum verified), then, still on
// the connection's goroutine, the state machine decodes it
// (PrepareRestore). Only then is the MsgSnap stepped into raft; when the
// Ready carries the snapshot, storage adopts the file by renaming it and
// the loop swaps the prepared state in.

// snapshotRetryDelay is how long the entry-count and timer triggers wait
// after a snapshot failed to write (a full disk, say) before trying again.
const snapshotRetryDelay = 10 * time.Second

type snapshotOutcome struct {
	info storage.SnapshotInfo
	err  error
}

// snapshotWaiter is a TakeSnapshot call waiting for a snapshot at index
// >= need.
type snapshotWaiter struct {
	need uint64
	ch   chan snapshotOutcome // buffered(1)
}

// snapshotRun is the snapshot being written off the loop.
type snapshotRun struct {
	md           raftpb.SnapshotMetadata
	start        time.Time
	appliedBytes uint64 // Node.appliedBytes at md.Index
}

type snapshotResult struct {
	md   raftpb.SnapshotMetadata
	info storage.SnapshotInfo
	err  error
}

// incomingSnapshot is a snapshot received from the leader: its file on
// disk and the state decoded from it, waiting to be stepped into raft.
type incomingSnapshot struct {
	msg      raftpb.Message // Snapshot.Data empty
	info     storage.SnapshotInfo
	members  map[uint64]memberRecord // nil: the leader sent none
	prepared any                     // nil: not decoded (raft was expected to ignore it)
	decoded  bool                    // prepared is valid
}

// TakeSnapshot snapshots the applied state now (POST /v1/snapshots) and
// returns once a snapshot at least as new as the applied index at the
// call is on disk. The raft loop keeps running meanwhile.
func (n *Node) TakeSnapshot(ctx context.Context) (storage.SnapshotInfo, error) {
	ch := make(chan snapshotOutcome, 1)
	select {
	case n.snapc <- ch:
	case <-ctx.Done():
		return storage.SnapshotInfo{}, ctx.Err()
	case <-n.donec:
		return storage.SnapshotInfo{}, ErrStopped
	}
	select {
	case out := <-ch:
		return out.info, out.err
	case <-ctx.Done():
		return storage.SnapshotInfo{}, ctx.Err()
	case <-n.donec:
		return storage.SnapshotInfo{}, ErrStopped
	}
}

// requestSnapshot handles a TakeSnapshot call on the loop.
func (n *Node) requestSnapshot(ch chan snapshotOutcome) {
	applied := n.handed // at least the applied index at the call
	if applied == 0 {
		ch <- snapshotOutcome{}
		return
	}
	n.snapWaiters = append(n.snapWaiters, snapshotWaiter{need: applied, ch: ch})
	n.resolveSnapshotWaiters()
}

// resolveSnapshotWaiters answers the waiters the newest snapshot
// satisfies and starts a snapshot for the others.
func (n *Node) resolveSnapshotWaiters() {
	if len(n.snapWaiters) == 0 {
		return
	}
	var newest storage.SnapshotInfo
	var listErr error
	if infos, err := n.storage.Snapshots(); err != nil {
		listErr = fmt.Errorf("list snapshots: %w", err)
	} else if len(infos) > 0 {
		newest = infos[0]
	}
	rest := n.snapWaiters[:0]
	for _, w := range n.snapWaiters {
		switch {
		case listErr != nil:
			w.ch <- snapshotOutcome{err: listErr}
		case n.snapIndex >= w.need && newest.Index >= w.need:
			w.ch <- snapshotOutcome{info: newest}
		default:
			rest = append(rest, w)
		}
	}
	clear(n.snapWaiters[len(rest):])
	n.snapWaiters = rest
	if len(rest) > 0 {
		n.startSnapshot()
	}
}

// failSnapshotWaiters fails every waiting TakeSnapshot call.
func (n *Node) failSnapshotWaiters(err error) {
	for _, w := range n.snapWaiters {
		w.ch <- snapshotOutcome{err: err}
	}
	n.snapWaiters = nil
}

// maybeSnapshot starts a snapshot when the entry count, the applied bytes
// or the timer say so, unless one is running or the last one failed
// moments ago.
func (n *Node) maybeSnapshot(byTimer bool) {
	applied := n.handed
	if applied <= n.snapIndex || time.Now().Before(n.snapRetryAt) {
		return
	}
	if applied-n.snapIndex >= n.cfg.SnapshotEntries || n.appliedBytes-n.snapBytesAt >= n.cfg.SnapshotBytes || (byTimer && time.Since(n.lastSnapAt) >= n.cfg.SnapshotInterval) ||
		n.snapForMember > n.snapIndex {
		n.startSnapshot()
	}
}

// startSnapshot captures the state at the handed index (through the
// apply goroutine) and writes it on a goroutine of its own;
// finishSnapshot records the result. At most one runs at a time.
func (n *Node) startSnapshot() {
	if n.snapRun != nil {
		return
	}
	applied := n.handed
	if applied <= n.snapIndex {
		return
	}
	cs := n.confState
	md, err := n.storage.SnapshotMetadata(applied, &cs)
	if err == nil && md.Index != applied {
		err = fmt.Errorf("storage made metadata for index %d", md.Index)
	}
	if err != nil {
		err = fmt.Errorf("capture snapshot at index %d: %w", applied, err)
		n.log.Error("snapshot failed", "err", err)
		n.snapRetryAt = time.Now().Add(snapshotRetryDelay)
		n.failSnapshotWaiters(err)
		return
	}
	// The apply goroutine captures the state when the job's turn comes:
	// every job before it applied, none after, so at exactly md.Index.
	if err := n.hand(applyJob{capture: &snapshotCapture{md: md, members: n.encodeMembers()}}); err != nil {
		return // the loop learns why from applyErrc
	}
	n.snapRun = &snapshotRun{md: md, start: time.Now(), appliedBytes: n.appliedBytes}
	n.metrics.snapshotsInProgress.Set(1)
}

// errSnapshotAborted: the node stopped while a snapshot was being written.
var errSnapshotAborted = errors.New("raftnode: snapshot aborted: node stopping")

// abortWriter fails writes once abort is closed, so a long snapshot does
// not hold up Stop.
type abortWriter struct {
	w     io.Writer
	abort <-chan struct{}
}

func (a abortWriter) Write(p []byte) (int, error) {
	select {
	case <-a.abort:
		return 0, errSnapshotAborted
	default:
	}
	return a.w.Write(p)
}

// finishSnapshot records a written snapshot on the loop and compacts the
// log before it, keeping CompactionMargin entries (and no more than
// CompactionMarginBytes of them) so a follower that is only a little behind catches up from the log rather than needing the
// snapshot. Only a failure to record it (the WAL) stops the node.
func (n *Node) finishSnapshot(res snapshotResult) error {
	run := n.snapRun
	n.snapRun = nil
	n.metrics.snapshotsInProgress.Set(0)
	if res.err != nil {
		err := fmt.Errorf("write snapshot at index %d: %w", res.md.Index, res.err)
		n.log.Error("snapshot failed; retrying later", "err", err, "retry_in", snapshotRetryDelay)
		n.snapRetryAt = time.Now().Add(snapshotRetryDelay)
		n.failSnapshotWaiters(err)
		return nil
	}
	err := n.storage.RecordSnapshot(res.md, res.info)
	if errors.Is(err, raft.ErrSnapOutOfDate) {
		// A snapshot from the leader was installed meanwhile.
		n.log.Info("dropped a snapshot that a newer installed one overtook", "index", res.md.Index, "installed", n.snapIndex)
		n.resolveSnapshotWaiters()
		return nil
	}
	if err != nil {
		n.failSnapshotWaiters(err)
		return fmt.Errorf("record snapshot at index %d: %w", res.md.Index, err)
	}
	idx := res.md.Index
	n.snapIndex = idx
	n.snapBytesAt = run.appliedBytes
	n.lastSnapAt = time.Now()
	took := time.Since(run.start)
	n.metrics.snapshotDuration.Observe(took.Seconds())
	n.log.Info("saved snapshot", "index", idx, "bytes", res.info.SizeBytes, "took", took)
	if compactTo := n.storage.CompactionPoint(idx); compactTo > 0 {
		if first, err := n.storage.FirstIndex(); err == nil && compactTo > first {
			if err := n.storage.Compact(compactTo); err != nil {
				n.failSnapshotWaiters(err)
				return fmt.Errorf("compact log to %d: %w", compactTo, err)
			}
		}
	}
	n.resolveSnapshotWaiters()
	return nil
}

// stopSnapshots runs when the loop exits: it waits for a snapshot being
// written (abortWriter cuts it short), fails the waiters and deletes a
// received snapshot that was never installed.
func (n *Node) stopSnapshots(err error) {
	n.snapWG.Wait()
	if n.snapRun != nil {
		n.snapRun = nil
		n.metrics.snapshotsInProgress.Set(0)
		// The file, if complete, is a valid snapshot Open may use. With
		// the apply goroutine stopped, a capture it never reached sends
		// nothing.
		select {
		case <-n.snapResc:
		default:
		}
	}
	n.failSnapshotWaiters(err)
	n.discardIncoming()
}

// openSnapshot is the transport's OpenSnapshot: raft's snapshots carry no
// data, the transport streams it from the file.
func (n *Node) openSnapshot(md raftpb.SnapshotMetadata) (transport.SnapshotFile, error) {
	sr, err := n.storage.OpenSnapshot(md)
	if err != nil {
		return transport.SnapshotFile{}, err
	}
	return withMembers(sr), nil
}

// withMembers is a snapshot file as a peer receives it: its members
// frame, if it has one, then the state machine's data.
func withMembers(sr *storage.SnapshotReader) transport.SnapshotFile {
	if sr.Members == nil {
		return transport.SnapshotFile{Metadata: sr.Metadata, Size: sr.Size, Data: sr}
	}
	frame := membersFrame(sr.Members)
	return transport.SnapshotFile{Metadata: sr.Metadata, Size: int64(len(frame)) + sr.Size,
		Data: readCloser{Reader: io.MultiReader(bytes.NewReader(frame), sr), Closer: sr}}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// receivedSnapshot is what receiveSnapshotData left for receiveSnapshot.
type receivedSnapshot struct {
	info     storage.SnapshotInfo
	members  map[uint64]memberRecord // nil: the leader sent none
	prepared any
	decoded  bool
}

// receiveSnapshotData is the transport's SnapshotSink, on the snapshot
// connection's goroutine: it streams a snapshot from the leader into a
// temp file, then decodes it there, off the raft loop, and returns the
// file's path as the token the MsgSnap then carries to receiveSnapshot.
// The transport acks the leader only after this returned, so raft on the
// leader keeps the follower in its snapshot state (sending it no appends
// that would only be refused, nor the snapshot again) while it decodes.
// A snapshot that does not decode is deleted and refused: the leader
// learns the send failed and tries again later.
func (n *Node) receiveSnapshotData(m raftpb.Message, r io.Reader) ([]byte, error) {
	md := m.Snapshot.Metadata
	rawMembers, r, err := readMembersFrame(r)
	var members map[uint64]memberRecord
	if err == nil && rawMembers != nil {
		members, err = decodeMembers(rawMembers)
	}
	if err != nil {
		n.log.Warn("refused a snapshot from the leader", "from", m.From, "index", md.Index, "err", err)
		return nil, err
	}
	info, err := n.storage.ReceiveSnapshot(md, rawMembers, r)
	if err != nil {
		n.log.Warn("refused a snapshot from the leader", "from", m.From, "index", md.Index, "err", err)
		return nil, err
	}
	rs := receivedSnapshot{info: info, members: members}
	// Raft ignores a snapshot this node has committed past: no need to
	// decode it (it is still stepped, so raft answers the leader).
	if md.Index > n.commit.Load() {
		start := time.Now()
		prepared, err := n.prepareRestore(n.storage.OpenSnapshotFile(info.Path))
		if err != nil {
			n.log.Warn("refused a snapshot from the leader: it does not decode", "from", m.From, "index", md.Index, "err", err)
			n.storage.DiscardReceived(info)
			return nil, err
		}
		rs.prepared, rs.decoded = prepared, true
		n.log.Info("decoded snapshot from leader", "index", md.Index, "bytes", info.SizeBytes, "took", time.Since(start))
	}
	n.receivedMu.Lock()
	defer n.receivedMu.Unlock()
	// Keep only the newest: an older one whose MsgSnap never reached the
	// Handler (its ack failed to go out) would hold a whole decoded state.
	// Newest by (term, index), not by arrival: a slow decode of an older
	// snapshot may finish after a newer one was stored.
	for path, old := range n.received {
		if !newerSnapshot(info, old.info) {
			n.storage.DiscardReceived(info)
			return nil, fmt.Errorf("snapshot at index %d (term %d) is superseded by a received one at index %d (term %d)",
				info.Index, info.Term, old.info.Index, old.info.Term)
		}
		n.storage.DiscardReceived(old.info)
		delete(n.received, path)
	}
	n.received[info.Path] = rs
	return []byte(info.Path), nil
}

// newerSnapshot reports whether a is newer than b: a higher index, or the
// same index from a later term.
func newerSnapshot(a, b storage.SnapshotInfo) bool {
	return a.Index > b.Index || a.Index == b.Index && a.Term > b.Term
}

// receiveSnapshot is the Handler's part for a MsgSnap: it hands the
// snapshot receiveSnapshotData stored and decoded to the loop.
func (n *Node) receiveSnapshot(m raftpb.Message) {
	path := string(m.Snapshot.Data)
	n.receivedMu.Lock()
	rs, ok := n.received[path]
	delete(n.received, path)
	n.receivedMu.Unlock()
	if !ok {
		n.log.Warn("dropping a snapshot message without received data", "from", m.From, "index", m.Snapshot.Metadata.Index)
		return
	}
	snap := *m.Snapshot
	snap.Data = nil
	m.Snapshot = &snap
	inc := &incomingSnapshot{msg: m, info: rs.info, members: rs.members, prepared: rs.prepared, decoded: rs.decoded}
	select {
	case n.snapInc <- inc:
	case <-n.stopc:
		n.storage.DiscardReceived(rs.info)
	case <-n.donec: // the loop ended on an error: nobody will take it
		n.storage.DiscardReceived(rs.info)
	}
}

// prepareRestore decodes an opened snapshot file, reading it to the end
// so its checksum is verified, and closes it.
func (n *Node) prepareRestore(sr *storage.SnapshotReader, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	defer sr.Close()
	index := sr.Metadata.Index
	prepared, err := n.cfg.StateMachine.PrepareRestore(index, sr)
	if err != nil {
		return nil, fmt.Errorf("decode snapshot at index %d: %w", index, err)
	}
	if _, err := io.Copy(io.Discard, sr); err != nil {
		return nil, fmt.Errorf("read snapshot at index %d: %w", index, err)
	}
	return prepared, nil
}

// stepIncoming steps a received snapshot into raft; the Ready that
// follows carries it unless raft ignored it (see run).
func (n *Node) stepIncoming(inc *incomingSnapshot) {
	n.discardIncoming() // only the newest is of use
	n.incoming = inc
	n.step(inc.msg)
}

func (n *Node) discardIncoming() {
	if n.incoming != nil {
		n.storage.DiscardReceived(n.incoming.info)
		n.incoming = nil
	}
}

// incomingFor returns the received snapshot raft installs (md), or an
// error if this node never received it.
func (n *Node) incomingFor(md raftpb.SnapshotMetadata) (*incomingSnapshot, error) {
	inc := n.incoming
	if inc == nil || inc.msg.Snapshot.Metadata.Index != md.Index || inc.msg.Snapshot.Metadata.Term != md.Term {
		return nil, fmt.Errorf("raft installs a snapshot at index %d term %d that this node did not receive", md.Index, md.Term)
	}
	return inc, nil
}
