package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// peer is the sending side towards one remote node: a queue and goroutine
// for the message stream, and another pair for snapshots, so a snapshot
// being streamed never delays heartbeats.
type peer struct {
	t   *Transport
	id  uint64
	log *slog.Logger

	// ctx ends when the peer is removed or the transport closes; wg counts
	// the peer's goroutines (each also counted in t.wg), so RemovePeer can
	// wait for them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	addr  string                // guarded by t.mu; SetPeer changes it
	conns map[net.Conn]struct{} // guarded by t.mu; open outbound connections

	// oldVersionSince is when the peer last refused protocolVersion (unix
	// nanoseconds; 0: it did not): dials speak previousProtocolVersion to it
	// until versionRetryAfter has passed.
	oldVersionSince atomic.Int64

	msgc  chan raftpb.Message // drained only by runMessages
	snapc chan raftpb.Message // drained only by runSnapshots
	// wake cuts a redial backoff short: the peer just opened a message
	// stream to us, so it is up again (a restarted node would otherwise
	// wait up to backoffMax for our appends and heartbeats).
	wake chan struct{}

	// flushes counts message-stream batch flushes (tests check batching).
	flushes atomic.Uint64
	// counters are the peer's traffic counters (PeerStats).
	counters peerCounters

	// req is the open request stream to the peer, nil until one is needed
	// (request.go); reqDial (capacity 1) is held while one is dialed.
	req     atomic.Pointer[reqConn]
	reqDial chan struct{}
}

// start runs the peer's senders. t.mu must be held.
func (p *peer) start() {
	p.goLocked(p.runMessages)
	p.goLocked(p.runSnapshots)
}

// goLocked runs f on a goroutine that RemovePeer and Close wait for,
// unless the peer is already stopped. t.mu must be held: RemovePeer
// cancels p.ctx under it, so no goroutine starts after its Wait began.
func (p *peer) goLocked(f func()) bool {
	if p.ctx.Err() != nil {
		return false
	}
	p.t.wg.Add(1)
	p.wg.Add(1)
	go func() {
		defer p.t.wg.Done()
		defer p.wg.Done()
		f()
	}()
	return true
}

// goRun is goLocked for callers not holding t.mu.
func (p *peer) goRun(f func()) bool {
	p.t.mu.Lock()
	defer p.t.mu.Unlock()
	return p.goLocked(f)
}

// address is where the peer is dialed now.
func (p *peer) address() string {
	p.t.mu.Lock()
	defer p.t.mu.Unlock()
	return p.addr
}

// track registers an outbound connection dialed to addr, for Close,
// RemovePeer and SetPeer to close. It refuses (the caller closes conn)
// once the peer is stopped or has moved away from addr meanwhile.
func (p *peer) track(conn net.Conn, addr string) error {
	t := p.t
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case p.ctx.Err() != nil:
		return fmt.Errorf("peer %d removed or transport closed: %w", p.id, p.ctx.Err())
	case p.addr != addr:
		return fmt.Errorf("peer %d moved from %s to %s", p.id, addr, p.addr)
	}
	t.conns[conn] = struct{}{}
	p.conns[conn] = struct{}{}
	return nil
}

func (p *peer) untrack(conn net.Conn) {
	p.t.mu.Lock()
	defer p.t.mu.Unlock()
	delete(p.t.conns, conn)
	delete(p.conns, conn)
}

// dial connects to the peer and runs the handshake. The returned release
// func closes the connection; until it is called, Close of the transport
// (and RemovePeer, and SetPeer moving the peer) also closes it, which
// unblocks any read or write on it.
//
// It speaks protocolVersion, unless the peer refused that recently: a
// peer still on the previous release answers ackBadVersion, and is then
// redialed at once, and for versionRetryAfter, with previousProtocolVersion
// (message streams excepted: see below).
func (p *peer) dial(ctx context.Context, kind streamKind) (net.Conn, func(), error) {
	var version uint8 // protocolVersion
	// A message stream is redialed only when it broke, as when the peer
	// restarts (on the new release, in a rolling upgrade): it tries the
	// newer version first every time, so the peer's directory id is
	// learnt as soon as it can send one.
	if since := p.oldVersionSince.Load(); since != 0 && kind != streamMessage {
		if time.Since(time.Unix(0, since)) < versionRetryAfter {
			version = previousProtocolVersion
		} else {
			p.oldVersionSince.CompareAndSwap(since, 0)
		}
	}
	conn, release, err := p.dialVersion(ctx, kind, version)
	if version == 0 && errors.Is(err, errUnsupportedVersion) && ctx.Err() == nil {
		if p.oldVersionSince.Swap(time.Now().UnixNano()) == 0 {
			p.log.Info("peer speaks an older protocol version: using it", "version", previousProtocolVersion,
				"retry_newer_after", versionRetryAfter)
		}
		conn, release, err = p.dialVersion(ctx, kind, previousProtocolVersion)
	}
	return conn, release, err
}

func (p *peer) dialVersion(ctx context.Context, kind streamKind, version uint8) (net.Conn, func(), error) {
	t := p.t
	addr := p.address()
	d := net.Dialer{Timeout: t.cfg.DialTimeout, KeepAlive: keepAlivePeriod}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	if err := p.track(conn, addr); err != nil {
		conn.Close()
		return nil, nil, err
	}
	raw := conn
	release := func() {
		p.untrack(raw)
		raw.Close()
	}
	if t.cfg.TLS != nil {
		if conn, err = clientTLS(ctx, raw, t.cfg.TLS.ClientConfig(p.id), t.cfg.DialTimeout); err != nil {
			release()
			return nil, nil, fmt.Errorf("%s: %w", addr, err)
		}
	}
	h := hello{version: version, kind: kind, from: t.cfg.NodeID, to: p.id, incarnation: t.cfg.Incarnation,
		clusterID: t.cfg.ClusterID, httpAddr: t.cfg.HTTPAddr, dirID: t.cfg.DirectoryID, peerAddr: t.cfg.PeerAddr, kafkaAddr: t.cfg.KafkaAddr}
	if err := handshake(conn, &h, t.cfg.DialTimeout); err != nil {
		release()
		return nil, nil, fmt.Errorf("%s: %w", addr, err)
	}
	return &countingConn{Conn: conn, sent: &p.counters.sent, received: &p.counters.received}, release, nil
}

// handshake writes h and waits for the acceptor's ack (and, for
// ackNotAdmitted, its reason), all within timeout.
func handshake(conn net.Conn, h *hello, timeout time.Duration) error {
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := conn.Write(h.marshal()); err != nil {
		return fmt.Errorf("write hello: %w", err)
	}
	var a [1]byte
	if _, err := io.ReadFull(conn, a[:]); err != nil {
		return fmt.Errorf("read handshake ack: %w", err)
	}
	if ack(a[0]) == ackNotAdmitted {
		reason, err := readAdmitReason(conn)
		if err != nil {
			reason = fmt.Sprintf("(reason unreadable: %v)", err)
		}
		return fmt.Errorf("handshake refused: %w", &notAdmittedError{reason: reason})
	}
	if err := ack(a[0]).err(); err != nil {
		return fmt.Errorf("handshake refused: %w", err)
	}
	return conn.SetDeadline(time.Time{})
}

// runMessages keeps one message stream to the peer open and feeds it from
// msgc until Close. While disconnected it redials with backoff and drops
// what is queued: raft retransmits, and stale heartbeats are worthless.
func (p *peer) runMessages() {
	bo := p.newBackoff()
	failing := false // logged the current run of failures already
	// dupSince is the first of the current run of ErrDuplicateNode
	// refusals (zero: none); dupLogged, that the run was logged as an error.
	var dupSince time.Time
	dupLogged := false
	for {
		conn, release, err := p.dial(p.ctx, streamMessage)
		if err != nil {
			if p.ctx.Err() != nil {
				return
			}
			var refused *notAdmittedError
			dup := errors.Is(err, ErrDuplicateNode)
			if !dup {
				dupSince, dupLogged = time.Time{}, false
			}
			switch {
			case dup && dupSince.IsZero():
				// Right after a restart the peer may not have noticed our
				// previous process's connection close yet.
				dupSince = time.Now()
				p.log.Warn("peer refused us: it still holds a connection from another process with this node id",
					"incarnation", fmtIncarnation(p.t.cfg.Incarnation), "err", err)
				failing = true
			case dup && !dupLogged && time.Since(dupSince) > minSilentAfter+backoffMax:
				// Refused for longer than a restart can explain: another
				// live process runs as this node.
				p.log.Error("peer refused us: another process is connected to it as this node id; is a copy of this node (a copied data directory?) running?",
					"incarnation", fmtIncarnation(p.t.cfg.Incarnation), "refused_for", time.Since(dupSince).Round(time.Millisecond), "err", err)
				dupLogged = true
			case dup:
				p.log.Debug("cannot connect to peer", "err", err)
			case errors.As(err, &refused):
				level := slog.LevelDebug
				if p.t.shouldWarnRefusal(p.id, ackNotAdmitted, refused.reason) {
					level = slog.LevelWarn
				}
				p.log.Log(p.ctx, level, "peer refused to admit us", "reason", refused.reason,
					"directory_id", fmtDirID(p.t.cfg.DirectoryID), "err", err)
				failing = true
			case !failing:
				p.log.Warn("cannot connect to peer", "err", err)
				failing = true
			default:
				p.log.Debug("cannot connect to peer", "err", err)
			}
			p.t.unreachable(p.id)
			if !p.dropFor(bo.step()) {
				return
			}
			continue
		}
		select {
		case <-p.wake: // this connection is the news
		default:
		}
		p.log.Info("connected to peer", "stream", streamMessage, "addr", conn.RemoteAddr().String())
		failing, dupSince, dupLogged = false, time.Time{}, false
		bo = p.newBackoff()
		err = p.stream(conn)
		release()
		if p.ctx.Err() != nil {
			return
		}
		p.log.Warn("lost connection to peer", "stream", streamMessage, "err", err)
		p.t.unreachable(p.id)
		if !p.dropFor(bo.step()) {
			return
		}
	}
}

// errPeerClosed: the peer closed (or broke) a stream it never writes on.
var errPeerClosed = errors.New("transport: peer closed the connection")

// stream writes queued messages to conn until a write fails, the peer
// closes the connection, or the transport closes. Each wakeup writes
// everything queued (up to maxBatch) through one buffered writer and
// flushes once.
func (p *peer) stream(conn net.Conn) error {
	// The acceptor never writes on a message stream, so a read returns only
	// when the connection dies. Watching for that notices a restarted peer
	// before the next write has to fail.
	dead := make(chan struct{})
	// Counters are above zero (this goroutine holds them), so no lock is
	// needed to add.
	p.t.wg.Add(1)
	p.wg.Add(1)
	go func() {
		defer p.t.wg.Done()
		defer p.wg.Done()
		defer close(dead)
		var b [1]byte
		_, _ = conn.Read(b[:]) // any outcome means the stream is over
	}()

	// An idle stream carries a keepalive frame every KeepaliveInterval, so
	// the acceptor can tell this live process from a gone one (see
	// Transport.claim) even while raft has nothing to send.
	keepalive := time.NewTicker(p.t.cfg.KeepaliveInterval)
	defer keepalive.Stop()
	wrote := false // since the last tick

	bw := bufio.NewWriterSize(conn, 64<<10)
	fw := frameWriter{w: bw}
	for {
		var m raftpb.Message
		select {
		case <-p.ctx.Done():
			return p.ctx.Err()
		case <-dead:
			return errPeerClosed
		case <-keepalive.C:
			if wrote {
				wrote = false
				continue
			}
			if err := conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
				return err
			}
			if _, err := conn.Write(keepaliveFrame); err != nil {
				return err
			}
			continue
		case m = <-p.msgc:
		}
		wrote = true
		if err := conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
			return err
		}
		for n := 1; ; n++ {
			if err := fw.write(&m); err != nil {
				if !errors.Is(err, errFrameTooLarge) {
					return err
				}
				// Nothing was written; raft's MaxSizePerMsg should make this
				// impossible, so it is a configuration bug worth shouting.
				p.log.Error("dropping message", "type", m.Type, "err", err)
			}
			if n == maxBatch {
				break
			}
			var more bool
			select {
			case m, more = <-p.msgc:
			default:
			}
			if !more {
				break
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		p.flushes.Add(1)
	}
}

// dropFor waits d, or until the peer dials us (wake) or Close, discarding
// whatever is queued in the meantime. It reports whether the transport is still open.
func (p *peer) dropFor(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case <-p.msgc:
		case <-timer.C:
			return true
		case <-p.wake:
			return true
		case <-p.ctx.Done():
			return false
		}
	}
}

// runSnapshots sends each queued MsgSnap on its own snapshot stream and
// reports the outcome.
func (p *peer) runSnapshots() {
	for {
		select {
		case <-p.ctx.Done():
			return
		case m := <-p.snapc:
			start := time.Now()
			size, err := p.sendSnapshot(&m)
			if p.ctx.Err() != nil {
				return
			}
			if err != nil {
				p.log.Warn("send snapshot failed", "index", snapIndex(&m), "err", err)
				p.t.unreachable(p.id)
			} else {
				p.log.Info("sent snapshot", "index", snapIndex(&m), "bytes", size, "took", time.Since(start))
			}
			p.t.snapshotStatus(p.id, err != nil)
		}
	}
}

// sendSnapshot dials a snapshot stream, writes the MsgSnap with its data
// stripped, then the data and its CRC-32C, and waits for the receiver's
// ack. The data comes from Snapshot.Data when raft's message carries it,
// otherwise from Config.OpenSnapshot, streamed through one chunk buffer,
// so a snapshot is never held in memory for sending. The connection is
// closed afterwards either way. It returns the data size.
func (p *peer) sendSnapshot(m *raftpb.Message) (int64, error) {
	if m.Snapshot == nil {
		return 0, fmt.Errorf("%w: MsgSnap without snapshot", errProtocol)
	}
	hdr := *m
	snap := *m.Snapshot
	snap.Data = nil
	hdr.Snapshot = &snap

	var src io.Reader = bytes.NewReader(m.Snapshot.Data)
	size := int64(len(m.Snapshot.Data))
	if size == 0 && p.t.cfg.OpenSnapshot != nil {
		sf, err := p.t.cfg.OpenSnapshot(snap.Metadata)
		if err != nil {
			return 0, fmt.Errorf("open snapshot at index %d: %w", snap.Metadata.Index, err)
		}
		defer sf.Data.Close()
		src, size = sf.Data, sf.Size
	}
	if size < 0 || uint64(size) > maxStreamedSnapshotBytes {
		return 0, fmt.Errorf("snapshot of %d bytes exceeds %d", size, uint64(maxStreamedSnapshotBytes))
	}
	conn, release, err := p.dial(p.ctx, streamSnapshot)
	if err != nil {
		return 0, err
	}
	defer release()

	if err := conn.SetWriteDeadline(time.Now().Add(snapshotIOTimeout)); err != nil {
		return 0, err
	}
	bw := bufio.NewWriter(conn)
	fw := frameWriter{w: bw}
	if err := fw.write(&hdr); err != nil {
		return 0, fmt.Errorf("write snapshot header: %w", err)
	}
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(size))
	_, _ = bw.Write(n[:]) // a bufio error is sticky and surfaces in Flush
	if err := bw.Flush(); err != nil {
		return 0, fmt.Errorf("write snapshot header: %w", err)
	}
	if err := writeSnapshotData(chunkWriter{conn}, src, size); err != nil {
		return 0, err
	}
	// The receiver acks once its SnapshotSink has stored (and, in raftnode,
	// decoded) the data, which takes longer than a chunk.
	if err := conn.SetReadDeadline(time.Now().Add(snapshotAckTimeout)); err != nil {
		return 0, err
	}
	var a [1]byte
	if _, err := io.ReadFull(conn, a[:]); err != nil {
		return 0, fmt.Errorf("read snapshot ack: %w", err)
	}
	if ack(a[0]) != ackOK {
		return 0, fmt.Errorf("%w: snapshot ack %d", errProtocol, a[0])
	}
	return size, nil
}

// backoff yields exponentially growing waits between the configured
// redial bounds (backoffMin and backoffMax), each jittered into [d/2, d] so
// peers that lost each other at the same moment do not redial in lockstep.
type backoff struct{ next, max time.Duration }

func (p *peer) newBackoff() backoff {
	return backoff{next: p.t.cfg.redialMin, max: p.t.cfg.redialMax}
}

func (b *backoff) step() time.Duration {
	d := b.next
	b.next = min(2*b.next, b.max)
	return d/2 + rand.N(d/2+1)
}

// fmtDirID formats a directory id for logs.
// fmtDirID prints a directory id as everything else in YAKt does (Kafka's
// UUID text: unpadded base64url); "" when unknown.
func fmtDirID(id [16]byte) string {
	if id == [16]byte{} {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(id[:])
}
