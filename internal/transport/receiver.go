package transport

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// acceptLoop hands every inbound connection to its own serveConn
// goroutine until the listener is closed.
func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	delay := 5 * time.Millisecond
	for {
		conn, err := t.cfg.Listener.Accept()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				if t.ctx.Err() == nil {
					t.log.Error("peer listener closed under the transport", "err", err)
				}
				return
			}
			// Typically out of file descriptors: wait and retry rather than
			// spin or give up on the peer port for good.
			t.log.Warn("accept peer connection", "err", err, "retry_in", delay)
			if !t.wait(delay) {
				return
			}
			delay = min(2*delay, time.Second)
			continue
		}
		delay = 5 * time.Millisecond
		t.wg.Add(1)
		go t.serveConn(conn)
	}
}

// serveConn runs the acceptor side of the handshake, then reads the
// stream until it ends. Whatever goes wrong, the connection is closed and
// nothing read after the fault is delivered.
func (t *Transport) serveConn(conn net.Conn) {
	defer t.wg.Done()
	defer conn.Close()
	if !t.track(conn) {
		return
	}
	defer t.untrack(conn)
	if tc, ok := conn.(*net.TCPConn); ok {
		// Best effort: without keepalive a vanished peer is noticed later.
		_ = tc.SetKeepAlive(true)
		_ = tc.SetKeepAlivePeriod(keepAlivePeriod)
	}
	log := t.log.With("addr", conn.RemoteAddr().String())

	// One deadline covers the TLS handshake and the hello.
	if err := conn.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return
	}
	var tlsState *tls.ConnectionState
	if t.cfg.TLS != nil {
		tc, st, ok := t.serverTLS(conn, log)
		if !ok {
			return
		}
		conn, tlsState = tc, st
	}
	cr := &connReader{conn: conn}
	br := bufio.NewReaderSize(cr, 64<<10)
	h, err := readHello(br)
	if err != nil {
		if t.ctx.Err() != nil {
			return
		}
		if errors.Is(err, errUnsupportedVersion) {
			_, _ = conn.Write([]byte{byte(ackBadVersion)}) // closing anyway
		}
		log.Warn("rejected peer connection: bad handshake", "err", err)
		return
	}
	log = log.With("peer", h.from, "stream", h.kind)
	if a := t.admit(&h); a != ackOK {
		_, _ = conn.Write([]byte{byte(a)}) // closing anyway
		// The refused node redials every couple of seconds; warn once a
		// minute per node and reason, keep the rest for debug.
		level := slog.LevelDebug
		if t.shouldWarnRefusal(h.from, a) {
			level = slog.LevelWarn
		}
		switch a {
		case ackClusterMismatch:
			log.Log(t.ctx, level, "rejected peer connection: cluster id mismatch",
				"cluster", t.cfg.ClusterID, "peer_cluster", h.clusterID)
		default:
			log.Log(t.ctx, level, "rejected peer connection: node id mismatch", "to", h.to)
		}
		return
	}
	if tlsState != nil && !t.checkIdentity(conn, tlsState, &h, log) {
		return
	}
	var r *remote
	var in *inbound
	var held *heldStream
	for {
		// A Revoke between Admit and claim would miss this connection, so
		// claim refuses a hello admitted before a Revoke and it is
		// admitted again.
		gen := t.revocations(h.from)
		if err := t.runAdmit(&h); err != nil {
			reason := err.Error()
			_, _ = conn.Write(notAdmittedAnswer(reason)) // closing anyway
			level := slog.LevelDebug
			if t.shouldWarnRefusal(h.from, ackNotAdmitted, reason) {
				level = slog.LevelWarn
			}
			log.Log(t.ctx, level, "rejected peer connection: not admitted", "reason", reason,
				"directory_id", fmtDirID(h.dirID), "peer_addr", h.peerAddr, "version", h.wireVersion())
			return
		}
		var stale bool
		if r, in, held, stale = t.claim(&h, conn, log, gen); !stale {
			break
		}
	}
	if held != nil {
		t.refusedDuplicates.Add(1)
		_, _ = conn.Write([]byte{byte(ackDuplicateNode)}) // closing anyway
		attrs := []any{"incarnation", fmtIncarnation(h.incarnation),
			"connected_addr", held.addr, "connected_incarnation", fmtIncarnation(held.incarnation),
			"connected_silent_for", held.silent.Round(time.Millisecond)}
		if held.silent >= t.talkingWithin() {
			// The holder has gone quiet: most likely the node restarted and
			// its old connection's close has not reached us yet. Not an
			// alarm; the holder's stream expires at silentAfter.
			level := slog.LevelDebug
			if t.shouldWarnRefusal(h.from, refusalRestartPending) {
				level = slog.LevelInfo
			}
			log.Log(t.ctx, level, "refused peer connection for now: another process of this node id was connected until recently", attrs...)
			return
		}
		level := slog.LevelDebug
		if t.shouldWarnRefusal(h.from, ackDuplicateNode) {
			level = slog.LevelError
		}
		log.Log(t.ctx, level, "refused peer connection: another process is already connected as this node id; is a copy of that node (a copied data directory?) running?", attrs...)
		return
	}
	defer t.released(r, conn, in)
	if p := t.peerMap()[h.from]; p != nil && in != nil {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	if _, err := conn.Write([]byte{byte(ackOK)}); err != nil {
		log.Info("peer connection lost during handshake", "err", err)
		return
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return
	}
	log.Debug("accepted peer connection")
	if p := t.peerMap()[h.from]; p != nil {
		// Counted from here: the handshake is not the peer's traffic.
		cr.received = &p.counters.received
		conn = &countingConn{Conn: conn, sent: &p.counters.sent}
	}

	switch h.kind {
	case streamMessage:
		err = t.readMessages(br, &h, r, in)
	case streamSnapshot:
		// Every read gets a fresh deadline: a sender that stalls
		// mid-snapshot (or idles after one) frees this goroutine within
		// snapshotIOTimeout.
		cr.timeout = snapshotIOTimeout
		err = t.readSnapshots(conn, br, &h, r)
	case streamFetch:
		cr.timeout = snapshotIOTimeout
		err = t.serveFetch(conn, br, &h)
	case streamRequest:
		// Long-lived like a message stream: no read deadline.
		err = t.serveRequests(conn, br, &h)
	}
	switch {
	case t.ctx.Err() != nil, err == nil:
	case errors.Is(err, errProtocol):
		log.Warn("closing peer connection", "err", err)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		log.Debug("peer connection closed", "err", err)
	default:
		log.Info("peer connection lost", "err", err)
	}
}

// admit decides whether a hello may open a stream.
func (t *Transport) admit(h *hello) ack {
	switch {
	case h.clusterID != t.cfg.ClusterID:
		return ackClusterMismatch
	case h.to != t.cfg.NodeID, h.from == 0, h.from == t.cfg.NodeID:
		return ackBadNodeID
	}
	return ackOK
}

// runAdmit passes an admissible hello to Config.Admit.
func (t *Transport) runAdmit(h *hello) error {
	if t.cfg.Admit == nil {
		return nil
	}
	return t.cfg.Admit(h.from, h.dirID, h.peerAddr)
}

// revocations is how many times Revoke was called for id.
func (t *Transport) revocations(id uint64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.revoked[id]
}

// shouldWarnRefusal rate-limits refusal warnings to one per
// refusalWarnEvery for each (peer, reason, detail); detail is Admit's
// reason for ackNotAdmitted, "" otherwise.
func (t *Transport) shouldWarnRefusal(from uint64, a ack, detail ...string) bool {
	key := refusalKey{from: from, reason: a}
	if len(detail) > 0 {
		key.detail = detail[0]
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.refusalWarned[key]; ok && now.Sub(last) < refusalWarnEvery {
		return false
	}
	if len(t.refusalWarned) >= 1024 {
		clear(t.refusalWarned) // from ids are the peer's word; bound the map
	}
	t.refusalWarned[key] = now
	return true
}

// heldStream describes the live message stream that made claim refuse
// a hello.
type heldStream struct {
	addr        string
	incarnation uint64
	silent      time.Duration
}

// silentAfter is how long a message stream must have been silent before
// another incarnation of its node may take its place.
func (t *Transport) silentAfter() time.Duration {
	return max(minSilentAfter, 10*t.cfg.KeepaliveInterval)
}

// talkingWithin: a stream that delivered a frame this recently belongs to
// a process that is certainly alive, so a hello from another incarnation
// is a second process, not a restart.
func (t *Transport) talkingWithin() time.Duration {
	return max(500*time.Millisecond, 5*t.cfg.KeepaliveInterval)
}

// refusalRestartPending is not on the wire: it keys the rate limit of the
// log line for a refusal while the holder is merely quiet.
const refusalRestartPending ack = 255

// claim records what an admitted hello taught us about the peer, unless
// another incarnation of the same node holds a live message stream: then
// it refuses (held says which), so two processes claiming one node id
// cannot take turns replacing each other's streams. A holder silent for
// silentAfter is presumed gone (the process died without its connection
// closing, or is stopped), so a genuine restart is never locked out for
// long; a restart whose predecessor's connection closed gets in at once.
//
// A new message stream replaces (closes) an older one from the same peer:
// the peer keeps one at a time, so the old one is a leftover of a
// connection it already gave up on. in is the new message stream, nil for
// other kinds.
//
// stale reports, claiming nothing, that Revoke(h.from) ran since the hello
// was admitted (gen is revocations before Admit): it must be admitted
// again.
func (t *Transport) claim(h *hello, conn net.Conn, log *slog.Logger, gen uint64) (r *remote, in *inbound, held *heldStream, stale bool) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.revoked[h.from] != gen {
		return nil, nil, nil, true
	}
	r = t.remotes[h.from]
	if r == nil {
		r = &remote{}
		t.remotes[h.from] = r
	}
	old := r.msg
	if old != nil && old.incarnation != h.incarnation {
		silent := now.Sub(time.Unix(0, old.lastHeard.Load()))
		if silent < t.silentAfter() {
			return nil, nil, &heldStream{addr: old.conn.RemoteAddr().String(), incarnation: old.incarnation, silent: silent}, false
		}
	}
	if h.httpAddr != "" {
		r.httpAddr = h.httpAddr
	}
	// Set even when empty: a node restarted without --listen-kafka has none.
	r.kafkaAddr = h.kafkaAddr
	r.admitted, r.dirID, r.peerAddr = true, h.dirID, h.peerAddr
	if r.conns == nil {
		r.conns = make(map[net.Conn]struct{})
	}
	r.conns[conn] = struct{}{}
	if h.kind != streamMessage {
		return r, nil, nil, false
	}
	in = &inbound{conn: conn, incarnation: h.incarnation}
	in.lastHeard.Store(now.UnixNano())
	switch {
	case old == nil:
	case old.incarnation != h.incarnation:
		log.Info("peer restarted: replacing its silent message stream", "incarnation", fmtIncarnation(h.incarnation),
			"previous_addr", old.conn.RemoteAddr().String(), "previous_incarnation", fmtIncarnation(old.incarnation))
		old.conn.Close()
	default:
		log.Info("replacing older message stream from peer")
		old.conn.Close()
	}
	r.msg = in
	t.acceptedStreams.Add(1)
	return r, in, nil, false
}

// released forgets an inbound connection claim admitted.
func (t *Transport) released(r *remote, conn net.Conn, in *inbound) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(r.conns, conn)
	if in != nil && r.msg == in {
		r.msg = nil
	}
}

// fmtIncarnation formats an incarnation for logs.
func fmtIncarnation(inc uint64) string { return fmt.Sprintf("%016x", inc) }

// checkAddressed rejects a message that does not belong on a stream from
// h.from to us: raft never relays, so anything else is a bug or an attack.
func (t *Transport) checkAddressed(m *raftpb.Message, h *hello) error {
	if m.From != h.from || m.To != t.cfg.NodeID {
		return fmt.Errorf("%w: %s from %d to %d on a stream from %d to %d",
			errProtocol, m.Type, m.From, m.To, h.from, t.cfg.NodeID)
	}
	return nil
}

func (t *Transport) readMessages(br *bufio.Reader, h *hello, r *remote, in *inbound) error {
	fr := frameReader{r: br, maxFrame: maxFrameBytes}
	for {
		m, keepalive, err := fr.next()
		if err != nil {
			return err
		}
		now := time.Now().UnixNano()
		in.lastHeard.Store(now)
		r.lastHeard.Store(now)
		if keepalive {
			continue
		}
		if err := t.checkAddressed(&m, h); err != nil {
			return err
		}
		r.lastContact.Store(now)
		t.cfg.Handler(m)
	}
}

// readSnapshots reads snapshot records until the sender closes the
// stream. With a SnapshotSink the data streams into it (bounded memory)
// and Handler gets the sink's token as Snapshot.Data; without one it is
// read into memory. Each record is acked as soon as its data is stored and
// verified, before the Handler runs: the ack means "arrived intact", and
// the raft glue may hold a MsgSnap until its loop has room.
func (t *Transport) readSnapshots(conn net.Conn, br *bufio.Reader, h *hello, r *remote) error {
	fr := frameReader{r: br, maxFrame: maxFrameBytes}
	sink := t.cfg.SnapshotSink
	for {
		var m raftpb.Message
		var err error
		if sink == nil {
			m, err = fr.readSnapshot(maxSnapshotBytes)
			if err == nil {
				err = t.checkAddressed(&m, h)
			}
		} else {
			m, err = t.sinkSnapshot(&fr, h, sink)
		}
		if err != nil {
			return err
		}
		now := time.Now().UnixNano()
		r.lastContact.Store(now)
		r.lastHeard.Store(now)
		if err := conn.SetWriteDeadline(time.Now().Add(snapshotIOTimeout)); err != nil {
			return err
		}
		if _, err := conn.Write([]byte{byte(ackOK)}); err != nil {
			return err
		}
		t.cfg.Handler(m)
	}
}

// sinkSnapshot streams one snapshot record's data into sink and returns
// the message with the sink's token as Snapshot.Data.
func (t *Transport) sinkSnapshot(fr *frameReader, h *hello, sink func(raftpb.Message, io.Reader) ([]byte, error)) (raftpb.Message, error) {
	m, n, err := fr.readSnapshotHeader(maxStreamedSnapshotBytes)
	if err != nil {
		return m, err
	}
	if err := t.checkAddressed(&m, h); err != nil {
		return m, err
	}
	dr := &dataReader{r: fr.r, remain: n}
	token, err := sink(m, dr)
	if err == nil {
		err = dr.verify()
	}
	if err != nil {
		// A damaged or cut stream (dr's error) is the sender's fault, a
		// sink error (disk full) ours; either way the sender gets no ack
		// and reports the send failed.
		return m, fmt.Errorf("receive snapshot at index %d: %w", m.Snapshot.Metadata.Index, err)
	}
	m.Snapshot.Data = token
	return m, nil
}

// connReader reads conn, first pushing the read deadline timeout ahead
// when timeout is set: a deadline on progress, not on the whole stream.
// Message streams leave it zero: they may idle for as long as raft has
// nothing to say, and TCP keepalive notices a vanished peer.
type connReader struct {
	conn     net.Conn
	timeout  time.Duration
	received *atomic.Uint64 // counts the bytes read when set
}

func (c *connReader) Read(p []byte) (int, error) {
	if c.timeout > 0 {
		if err := c.conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
			return 0, err
		}
	}
	n, err := c.conn.Read(p)
	if c.received != nil {
		c.received.Add(uint64(n))
	}
	return n, err
}
