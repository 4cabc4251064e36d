package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// ErrClusterMismatch is the reason a dial fails when the peer at the
// dialed address was formatted for another cluster. The acceptor closes
// such connections before reading a single message and logs both cluster
// ids; the dialer logs this error and retries with backoff (the peer may
// be re-provisioned), so it reaches callers only through the logs.
var ErrClusterMismatch = errors.New("transport: peer belongs to another cluster")

// ErrDuplicateNode is the reason a dial fails when the peer already has a
// live connection from another process claiming this node id (another
// Incarnation): a second copy of this node is running, for example on a
// copied data directory. Both sides log it with both processes' addresses
// and incarnations; the dialer keeps retrying with backoff, so the real
// node's peers take over this one once the other process is gone.
var ErrDuplicateNode = errors.New("transport: peer is connected to another process with this node id")

// ErrNotAdmitted is the reason a dial fails when the peer's Config.Admit
// refused this node (for example: its directory id is not the member's
// the peer knows, as after the disk was wiped). The error carries the
// reason the peer gave. The dialer keeps retrying with backoff: the
// peer's membership may change.
var ErrNotAdmitted = errors.New("transport: peer did not admit this node")

// notAdmittedError is a dial's ErrNotAdmitted with the peer's reason.
type notAdmittedError struct{ reason string }

func (e *notAdmittedError) Error() string {
	return fmt.Sprintf("%v: %q", ErrNotAdmitted, e.reason)
}

func (e *notAdmittedError) Unwrap() error { return ErrNotAdmitted }

// PeerTLS is the mutual TLS of peer connections (certs.PeerTLS).
type PeerTLS interface {
	// ServerConfig is the acceptor's: it requires and verifies a client
	// certificate.
	ServerConfig() *tls.Config
	// ClientConfig is the dialer's to node peer (0: any member, for a
	// snapshot fetch from an address).
	ClientConfig(peer uint64) *tls.Config
	// NodeID is the node id the verified peer certificate names.
	NodeID(cs *tls.ConnectionState) (uint64, error)
}

// Timeouts that are not worth a Config field. Each bounds how long one
// stuck peer can hold one goroutine.
const (
	// handshakeTimeout bounds an acceptor's wait for the hello.
	handshakeTimeout = 5 * time.Second
	// writeTimeout bounds one batch flush on a message stream; a peer that
	// stops reading for this long is treated as unreachable.
	writeTimeout = 5 * time.Second
	// snapshotIOTimeout bounds each snapshot chunk read or write and the
	// wait for the receiver's ack: a stall, not the whole transfer.
	snapshotIOTimeout = 10 * time.Second
	// snapshotAckTimeout bounds the sender's wait for the ack after the
	// last byte: the receiver's SnapshotSink may decode a large snapshot
	// before it returns.
	snapshotAckTimeout = 2 * time.Minute
	// keepAlivePeriod is the TCP keepalive on every peer connection, so a
	// peer host that vanished is noticed on idle connections.
	keepAlivePeriod = 15 * time.Second

	// versionRetryAfter is how long a dialer keeps speaking
	// previousProtocolVersion to a peer that refused protocolVersion before it
	// tries protocolVersion again (the peer may have been upgraded).
	versionRetryAfter = 5 * time.Minute

	// refusalWarnEvery rate-limits the acceptor's warning about a node it
	// refuses (other cluster, wrong id, duplicate), which redials with
	// backoff forever.
	refusalWarnEvery = time.Minute

	// defaultMaxInbound is Config.MaxInbound's default: far above what
	// any cluster's members open, far below a file descriptor limit.
	defaultMaxInbound = 256

	// minSilentAfter is the least time an inbound message stream must have
	// been silent (not even a keepalive) before a hello from another
	// incarnation of the same node may replace it. Keepalives come every
	// KeepaliveInterval, so only a peer process that is gone (or stopped,
	// or cut off) stays silent this long.
	minSilentAfter = 3 * time.Second

	backoffMin = 50 * time.Millisecond
	backoffMax = 2 * time.Second

	// maxBatch caps how many queued messages one flush carries, so the
	// write deadline is refreshed and Close is noticed regularly.
	maxBatch = 1024
	// snapshotQueueSize: raft sends one snapshot per follower and waits for
	// ReportSnapshot, so a short queue is plenty.
	snapshotQueueSize = 2
)

// Config configures a Transport. Zero optional fields take the defaults
// documented on them; Validate fills them in.
type Config struct {
	NodeID    uint64
	ClusterID string
	Listener  net.Listener      // already bound; required. Close closes it.
	Peers     map[uint64]string // node id -> peer address host:port, may include self (ignored)
	HTTPAddr  string            // this node's advertised HTTP address, sent in the handshake so peers can forward HTTP requests to the leader
	// DirectoryID is this node's data directory id, sent in every hello
	// so peers can tell a member from a node that reuses its id on a wiped
	// disk (Admit). Zero means unknown.
	DirectoryID [16]byte
	// PeerAddr is this node's advertised peer address, sent in every hello
	// (at most 1024 bytes); may be empty.
	PeerAddr string
	// KafkaAddr is this node's advertised Kafka address (host:port of
	// its --listen-kafka listener), sent in every hello so every node can
	// list every other in Kafka's Metadata; empty: none.
	KafkaAddr string
	// Admit (optional) decides whether a peer may open a stream to this
	// node: every inbound hello that passed the cluster and node id
	// checks, of every stream kind, is passed to it, with the directory id
	// and peer address the peer sent (zero and "" from a version 4 peer).
	// A non-nil error refuses the connection; its text (cut to 256 bytes)
	// is sent to the peer as the reason. It runs on the connection's
	// goroutine, before anything from the connection is delivered, and
	// must be fast. It may call the Transport's methods, except Revoke for
	// the node it is admitting: a hello admitted across a Revoke is
	// admitted again, so that would never end.
	Admit func(from uint64, dir [16]byte, peerAddr string) error
	// Handler is called for each received message, in order per
	// connection, from one goroutine per inbound connection (so
	// concurrently across peers and between a peer's message and snapshot
	// streams). It must be fast (the raft glue queues it); while it runs,
	// that connection is not read.
	Handler func(raftpb.Message)
	// OnUnreachable (optional) is called when a send to peer failed, a
	// connection to it was lost or refused, or its queue overflowed (raft:
	// ReportUnreachable). It may run on Send's goroutine and must not
	// block.
	OnUnreachable func(peer uint64)
	// OnSnapshotStatus (optional) reports the outcome of sending a MsgSnap
	// (raft: ReportSnapshot): failed=false once the peer acknowledged
	// receiving all of the data intact, failed=true otherwise. It may run on
	// Send's goroutine (snapshot queue full) and must not block.
	OnSnapshotStatus func(peer uint64, failed bool)
	// TLS (optional) runs every peer connection, in both directions and of
	// every stream kind, over mutual TLS. The acceptor refuses a hello
	// whose node id is not the one the peer's certificate names (logged);
	// the dialer accepts only the certificate of the node it dials. nil:
	// plain TCP.
	TLS PeerTLS
	// MaxInbound bounds the open inbound connections. Members need a few
	// each (message, snapshot and request streams); beyond the bound a
	// new connection is closed at once (logged, rate-limited) so that a
	// flood of connections, each held until its handshake times out,
	// cannot exhaust the node's file descriptors. Default
	// defaultMaxInbound.
	MaxInbound int
	// OnTLSRefused (optional) is called for each inbound connection
	// refused for its TLS credentials: a failed TLS handshake (no
	// certificate, one of another CA, expired, plain TCP) or a certificate
	// naming another node than the hello. For metrics; must not block.
	OnTLSRefused func()
	// SnapshotSource (optional) answers a peer's FetchSnapshot: the
	// snapshot to send, and the leader this node knows of (0 if none) as a
	// hint for the asker. A snapshot older than minIndex, or an error, is
	// answered "unavailable" (Metadata.Index says what this node has). The
	// transport closes Data. It runs on the requesting connection's
	// goroutine and must give up when ctx ends.
	SnapshotSource func(ctx context.Context, from, minIndex uint64) (snap SnapshotFile, leader uint64, err error)
	// OpenSnapshot (optional) opens the data of a snapshot raft sends
	// with no data in memory (a MsgSnap whose Snapshot.Data is empty):
	// storage keeps snapshots on disk. The transport streams it on the
	// snapshot stream and closes it. Without it, Snapshot.Data is sent.
	OpenSnapshot func(md raftpb.SnapshotMetadata) (SnapshotFile, error)
	// SnapshotSink (optional) stores the data of a received MsgSnap: it
	// must read data to io.EOF, which data returns only once all of it
	// arrived with a matching CRC-32C (an error otherwise: the sink must
	// then discard what it stored and return an error). It may also check
	// or decode what it stored (an error refuses the snapshot: the sender
	// reports it failed). The transport acks the sender once it returned
	// nil (within 2 minutes of the last byte), then calls Handler with the message
	// whose Snapshot.Data is the returned token (for example a file name).
	// It runs on the connection's goroutine, like Handler. Without it, the
	// data is read into memory (at most 1 GiB) and Handler gets it as
	// Snapshot.Data.
	SnapshotSink func(m raftpb.Message, data io.Reader) (token []byte, err error)
	Logger       *slog.Logger  // default slog.Default()
	DialTimeout  time.Duration // dial and, again, handshake; default 1s
	QueueSize    int           // per-peer message queue, default 4096; on overflow drop + OnUnreachable (raft retransmits)
	// Incarnation identifies this run of the node, sent in every hello; 0
	// draws a random one in Validate. It must differ between any two
	// processes that may claim the same node id, so it is never stored:
	// a copied data directory must not copy it.
	Incarnation uint64
	// KeepaliveInterval is how long a message stream may stay idle before
	// the sender writes a keepalive frame; default 1s. An inbound stream
	// silent for max(10 × KeepaliveInterval, 3s) counts as dead when
	// another incarnation of its node dials in.
	KeepaliveInterval time.Duration

	// redialMin and redialMax bound the redial backoff; zero: backoffMin
	// and backoffMax. Tests stretch them.
	redialMin, redialMax time.Duration
}

// SnapshotFile is a snapshot's data to stream to a peer: Size bytes read
// from Data, which returns an error instead of io.EOF if they are damaged
// (so a damaged file is never acked as intact).
type SnapshotFile struct {
	Metadata raftpb.SnapshotMetadata
	Size     int64
	Data     io.ReadCloser // nil when there is nothing to send
}

// Validate fills defaults and checks the required fields.
func (c *Config) Validate() error {
	switch {
	case c.NodeID == 0:
		return errors.New("transport: node id must be > 0")
	case c.ClusterID == "":
		return errors.New("transport: cluster id is required")
	case len(c.ClusterID) > maxStringBytes:
		return fmt.Errorf("transport: cluster id longer than %d bytes", maxStringBytes)
	case len(c.HTTPAddr) > maxStringBytes:
		return fmt.Errorf("transport: http address longer than %d bytes", maxStringBytes)
	case len(c.PeerAddr) > maxStringBytes:
		return fmt.Errorf("transport: peer address longer than %d bytes", maxStringBytes)
	case len(c.KafkaAddr) > maxStringBytes:
		return fmt.Errorf("transport: kafka address longer than %d bytes", maxStringBytes)
	case c.Listener == nil:
		return errors.New("transport: listener is required")
	case c.Handler == nil:
		return errors.New("transport: handler is required")
	case c.DialTimeout < 0 || c.QueueSize < 0 || c.KeepaliveInterval < 0:
		return errors.New("transport: negative dial timeout, queue size or keepalive interval")
	}
	for id, addr := range c.Peers {
		if id == 0 || addr == "" {
			return fmt.Errorf("transport: bad peer %d at %q", id, addr)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxInbound <= 0 {
		c.MaxInbound = defaultMaxInbound
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = time.Second
	}
	if c.QueueSize == 0 {
		c.QueueSize = 4096
	}
	if c.KeepaliveInterval == 0 {
		c.KeepaliveInterval = time.Second
	}
	if c.redialMin == 0 {
		c.redialMin = backoffMin
	}
	if c.redialMax == 0 {
		c.redialMax = backoffMax
	}
	for c.Incarnation == 0 {
		c.Incarnation = rand.Uint64() // math/rand/v2's source is seeded per process from the OS
	}
	return nil
}

// Transport moves raft messages between this node and its peers over TCP.
// All methods are safe for concurrent use.
type Transport struct {
	cfg Config
	log *slog.Logger

	// ctx is cancelled by Close; every goroutine watches it, and dials
	// in progress are aborted by it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine this transport started

	// peers maps node id to its sender; self excluded. The map is never
	// modified once stored: SetPeer and RemovePeer store a new one (under
	// mu), so Send reads it without a lock.
	peers atomic.Pointer[map[uint64]*peer]

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	mu            sync.Mutex
	conns         map[net.Conn]struct{}    // guarded by mu; open connections, closed by Close
	inbound       int                      // guarded by mu; open inbound connections (MaxInbound)
	lastFullWarn  time.Time                // guarded by mu; last warning that MaxInbound was reached
	remotes       map[uint64]*remote       // guarded by mu; peers that connected to us
	warnedUnknown map[uint64]bool          // guarded by mu; unknown destinations already logged
	refusalWarned map[refusalKey]time.Time // guarded by mu; last refusal warning per peer and reason
	// revoked counts Revoke calls per node id (guarded by mu): a hello
	// admitted before a Revoke it did not see is admitted again.
	revoked map[uint64]uint64

	reqHandler atomic.Pointer[RequestHandler] // serves peers' forwarded requests; nil: answered "not run"

	acceptedStreams   atomic.Uint64 // message streams accepted (Stats)
	refusedDuplicates atomic.Uint64 // hellos refused as ackDuplicateNode (Stats)
	refusedTLS        atomic.Uint64 // connections refused for their TLS credentials (Stats)
}

type refusalKey struct {
	from   uint64
	reason ack
	detail string // Admit's reason for ackNotAdmitted
}

// remote is what inbound handshakes and messages taught us about a peer.
type remote struct {
	lastContact atomic.Int64 // unix nanoseconds of the last message; 0 if none
	lastHeard   atomic.Int64 // unix nanoseconds of the last frame, keepalives included; 0 if none
	httpAddr    string       // guarded by Transport.mu
	kafkaAddr   string       // guarded by Transport.mu; from the latest version 6 hello
	msg         *inbound     // guarded by Transport.mu; newest inbound message stream, nil if none
	// From the latest admitted hello, guarded by Transport.mu.
	admitted bool
	dirID    [16]byte
	peerAddr string
	// conns are the open admitted inbound connections of every kind
	// (guarded by Transport.mu), closed by Revoke.
	conns map[net.Conn]struct{}
}

// inbound is one accepted message stream.
type inbound struct {
	conn        net.Conn
	incarnation uint64
	lastHeard   atomic.Int64 // unix nanoseconds of the last frame on this stream, or of its handshake
}

// New starts the accept loop and, per peer, a message sender and a
// snapshot sender, and returns at once; connections are dialed in the
// background. The transport owns cfg.Listener from then on. On error
// nothing was started and the listener is left to the caller.
func New(cfg Config) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Transport{
		cfg:           cfg,
		log:           cfg.Logger.With("component", "transport", "node", cfg.NodeID),
		ctx:           ctx,
		cancel:        cancel,
		conns:         make(map[net.Conn]struct{}),
		remotes:       make(map[uint64]*remote),
		warnedUnknown: make(map[uint64]bool),
		refusalWarned: make(map[refusalKey]time.Time),
		revoked:       make(map[uint64]uint64),
	}
	peers := make(map[uint64]*peer, len(cfg.Peers))
	for id, addr := range cfg.Peers {
		if id != cfg.NodeID {
			peers[id] = t.newPeer(id, addr)
		}
	}
	t.peers.Store(&peers)
	t.wg.Add(1)
	go t.acceptLoop()
	t.mu.Lock()
	for _, p := range peers {
		p.start()
	}
	t.mu.Unlock()
	return t, nil
}

func (t *Transport) newPeer(id uint64, addr string) *peer {
	ctx, cancel := context.WithCancel(t.ctx)
	return &peer{
		t:      t,
		id:     id,
		addr:   addr,
		conns:  make(map[net.Conn]struct{}),
		ctx:    ctx,
		cancel: cancel,
		log:    t.log.With("peer", id),
		msgc:   make(chan raftpb.Message, t.cfg.QueueSize),
		snapc:  make(chan raftpb.Message, snapshotQueueSize),
		wake:   make(chan struct{}, 1),

		reqDial: make(chan struct{}, 1),
	}
}

// peerMap is the current peer set; never modify it.
func (t *Transport) peerMap() map[uint64]*peer { return *t.peers.Load() }

// SetPeer adds peer id at addr, starting its message and snapshot
// senders, or moves a known peer to addr: its outbound connections close
// and the next dial uses addr (messages queued meanwhile may be dropped;
// raft retransmits). Self, id 0 and an empty or overlong address are
// ignored (logged), as is everything after Close.
func (t *Transport) SetPeer(id uint64, addr string) {
	if id == t.cfg.NodeID {
		return
	}
	if id == 0 || addr == "" || len(addr) > maxStringBytes {
		t.log.Warn("ignoring bad peer", "peer", id, "addr", addr)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return
	}
	old := t.peerMap()
	if p := old[id]; p != nil {
		if p.addr == addr {
			return
		}
		p.log.Info("peer moved: reconnecting to its new address", "previous_addr", p.addr, "addr", addr)
		p.addr = addr
		// The senders notice their connections close and redial at once:
		// wake cuts the backoff short.
		for c := range p.conns {
			c.Close()
		}
		select {
		case p.wake <- struct{}{}:
		default:
		}
		return
	}
	p := t.newPeer(id, addr)
	peers := maps.Clone(old)
	peers[id] = p
	t.peers.Store(&peers)
	delete(t.warnedUnknown, id)
	p.start()
	p.log.Info("peer added", "addr", addr)
}

// RemovePeer stops peer id's senders and returns once their goroutines
// have exited; its queued messages are dropped and its outbound
// connections closed. Requests to it fail with ErrRequestNotRun, and Send
// drops messages for it as for any unknown node. Inbound connections from
// it stay until Revoke (and Admit) turn it away.
func (t *Transport) RemovePeer(id uint64) {
	t.mu.Lock()
	old := t.peerMap()
	p := old[id]
	if p == nil || t.ctx.Err() != nil {
		t.mu.Unlock()
		return
	}
	peers := maps.Clone(old)
	delete(peers, id)
	t.peers.Store(&peers)
	// NB: cancel under mu: goRun checks p.ctx under mu, so no goroutine of
	// p starts after this and the Wait below sees them all.
	p.cancel()
	for c := range p.conns {
		c.Close()
	}
	t.mu.Unlock()
	p.wg.Wait()
	for drained := false; !drained; {
		select {
		case <-p.msgc:
		case <-p.snapc:
		default:
			drained = true
		}
	}
	p.log.Info("peer removed")
}

// Peers returns a copy of the current peer set: node id to peer address.
func (t *Transport) Peers() map[uint64]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[uint64]string, len(t.peerMap()))
	for id, p := range t.peerMap() {
		out[id] = p.addr
	}
	return out
}

// Revoke closes every inbound connection from node id, of every stream
// kind, so the node's next hello goes through Config.Admit again. A hello
// being admitted concurrently is admitted again too. Call it when
// membership changes what Admit answers.
func (t *Transport) Revoke(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return
	}
	t.revoked[id]++
	r := t.remotes[id]
	if r == nil {
		return
	}
	for c := range r.conns {
		c.Close()
	}
	if len(r.conns) > 0 {
		t.log.Info("revoked peer's connections: it must be admitted again", "peer", id, "connections", len(r.conns))
	}
}

// PeerInfo returns what peer id sent in its latest admitted inbound hello:
// its directory id and peer address (zero and "" from a version 4 peer),
// and its HTTP address (as PeerHTTPAddr). ok is false if no hello from it
// was ever admitted.
func (t *Transport) PeerInfo(id uint64) (dir [16]byte, peerAddr, httpAddr string, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.remotes[id]
	if r == nil || !r.admitted {
		return dir, "", "", false
	}
	return r.dirID, r.peerAddr, r.httpAddr, true
}

// Send queues msgs for their destinations (m.To) and returns without
// blocking. A message for this node or an unknown node is dropped (the
// latter logged once per id). A full queue drops the message and reports
// OnUnreachable; a MsgSnap that cannot be queued reports
// OnSnapshotStatus(failed). MsgSnap travels on the peer's snapshot stream,
// everything else on its message stream in the order given. After Close,
// Send drops everything silently.
func (t *Transport) Send(msgs []raftpb.Message) {
	if t.closed.Load() {
		return
	}
	peers := t.peerMap()
	for i := range msgs {
		m := &msgs[i]
		p := peers[m.To]
		if p == nil {
			if m.To != t.cfg.NodeID {
				t.warnUnknown(m.To)
			}
			continue
		}
		if m.Type == raftpb.MsgSnap {
			select {
			case p.snapc <- *m:
			default:
				p.log.Warn("snapshot queue full, dropping snapshot", "index", snapIndex(m))
				t.snapshotStatus(p.id, true)
			}
			continue
		}
		select {
		case p.msgc <- *m:
		default:
			t.unreachable(p.id)
		}
	}
}

func (t *Transport) warnUnknown(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.warnedUnknown[id] {
		t.warnedUnknown[id] = true
		t.log.Warn("dropping messages for unknown peer", "peer", id)
	}
}

// PeerHTTPAddr returns the HTTP address peer id advertised in its most
// recent inbound handshake; ok is false if it never connected to us or
// advertised none.
func (t *Transport) PeerHTTPAddr(id uint64) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.remotes[id]; r != nil && r.httpAddr != "" {
		return r.httpAddr, true
	}
	return "", false
}

// PeerKafkaAddr returns the Kafka address peer id advertised in its most
// recent inbound handshake; ok is false if it never connected to us or
// advertised none (no Kafka listener, or a peer of an older release).
func (t *Transport) PeerKafkaAddr(id uint64) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.remotes[id]; r != nil && r.kafkaAddr != "" {
		return r.kafkaAddr, true
	}
	return "", false
}

// Incarnation is this transport's incarnation (Config.Incarnation).
func (t *Transport) Incarnation() uint64 { return t.cfg.Incarnation }

// Stats are counters for metrics and tests.
type Stats struct {
	// AcceptedStreams counts inbound message streams accepted. A peer keeps
	// one open, so it grows only when a peer (re)connects.
	AcceptedStreams uint64
	// RefusedDuplicates counts hellos refused because another incarnation
	// of the same node id holds a live message stream (ErrDuplicateNode).
	RefusedDuplicates uint64
	// RefusedTLS counts inbound connections refused for their TLS
	// credentials (Config.OnTLSRefused).
	RefusedTLS uint64
}

// Stats returns the transport's counters.
func (t *Transport) Stats() Stats {
	return Stats{AcceptedStreams: t.acceptedStreams.Load(), RefusedDuplicates: t.refusedDuplicates.Load(),
		RefusedTLS: t.refusedTLS.Load()}
}

// LastHeard returns when anything (a message or a keepalive) last arrived
// from peer id, or the zero time if nothing ever did. Unlike LastContact it
// shows that the peer's process is up and connected to us even when raft
// has nothing to send.
func (t *Transport) LastHeard(id uint64) time.Time {
	t.mu.Lock()
	r := t.remotes[id]
	t.mu.Unlock()
	if r == nil {
		return time.Time{}
	}
	if ns := r.lastHeard.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// LastContact returns when the last message from peer id arrived, or the
// zero time if none ever did.
func (t *Transport) LastContact(id uint64) time.Time {
	t.mu.Lock()
	r := t.remotes[id]
	t.mu.Unlock()
	if r == nil {
		return time.Time{}
	}
	if ns := r.lastContact.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Close closes the listener and every connection, and returns once every
// goroutine of the transport has exited, which includes waiting for
// Handler calls in progress: a Handler that blocks must give up when its
// owner shuts down. No callback runs after Close returns, except
// OnUnreachable from a Send racing with it. Queued messages are dropped.
// Later calls return the first call's result.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		t.cancel()
		err := t.cfg.Listener.Close()
		// Closing the connections unblocks every read and write on them;
		// NB: cancel came first, so track refuses any connection dialed or
		// accepted from here on.
		t.mu.Lock()
		for c := range t.conns {
			c.Close()
		}
		t.mu.Unlock()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
		t.wg.Wait()
		if err != nil {
			t.closeErr = fmt.Errorf("transport: close listener: %w", err)
		}
		t.log.Debug("transport closed")
	})
	return t.closeErr
}

// track registers an open connection for Close to close. It returns
// false, leaving conn to the caller to close, once Close has begun.
// Every tracked connection must be untracked by its owner.
// track registers an inbound connection, or refuses it when the
// transport is closing or MaxInbound are open already.
func (t *Transport) track(conn net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return false
	}
	if t.inbound >= t.cfg.MaxInbound {
		if now := time.Now(); now.Sub(t.lastFullWarn) >= refusalWarnEvery {
			t.lastFullWarn = now
			t.log.Warn("peer port at its connection limit: closed a new connection at once",
				"addr", conn.RemoteAddr().String(), "limit", t.cfg.MaxInbound)
		}
		return false
	}
	t.inbound++
	t.conns[conn] = struct{}{}
	return true
}

func (t *Transport) untrack(conn net.Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inbound--
	delete(t.conns, conn)
}

// unreachable and snapshotStatus run the optional callbacks, never after
// Close began.
func (t *Transport) unreachable(id uint64) {
	if p := t.peerMap()[id]; p != nil {
		p.counters.failures.Add(1)
	}
	if f := t.cfg.OnUnreachable; f != nil && t.ctx.Err() == nil {
		f(id)
	}
}

func (t *Transport) snapshotStatus(id uint64, failed bool) {
	if f := t.cfg.OnSnapshotStatus; f != nil && t.ctx.Err() == nil {
		f(id, failed)
	}
}

// wait sleeps for d unless the transport closes first; it reports whether
// the transport is still open.
func (t *Transport) wait(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-t.ctx.Done():
		return false
	}
}

func snapIndex(m *raftpb.Message) uint64 {
	if m.Snapshot == nil {
		return 0
	}
	return m.Snapshot.Metadata.Index
}
