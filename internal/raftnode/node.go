package raftnode

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/defaults"
	"github.com/yakt/yakt/internal/storage"
	"github.com/yakt/yakt/internal/transport"
	"github.com/yakt/yakt/internal/vfs"
)

// Errors returned by Propose, ReadBarrier and friends. Callers branch on them
// with errors.Is.
var (
	// ErrNotLeader: this node does not lead; nothing was proposed.
	ErrNotLeader = errors.New("raftnode: not leader")
	// ErrNoLeader: no leader is known right now; nothing was proposed or read.
	ErrNoLeader = errors.New("raftnode: no leader")
	// ErrProposalDropped: the proposal was not and will never be committed
	// (raft refused it, or a new leader overwrote its entry). Safe to retry.
	ErrProposalDropped = errors.New("raftnode: proposal dropped")
	// ErrStopped: the node is stopping or stopped; the outcome of an
	// in-flight proposal is unknown.
	ErrStopped = errors.New("raftnode: stopped")
	// ErrOutcomeUnknown: the proposal's entry may or may not have
	// committed (a snapshot from a new leader replaced this node's log
	// before it learned which). Not safe to retry blindly.
	ErrOutcomeUnknown = errors.New("raftnode: proposal outcome unknown")
	// ErrTooLarge: a payload larger than Config.MaxEntryBytes.
	ErrTooLarge = errors.New("raftnode: proposal too large")
)

// Committed is one proposal's payload as committed at Index.
type Committed struct {
	Index   uint64
	Payload []byte
}

// StateMachine is what the node replicates. Apply, CaptureSnapshot and
// SwapIn are called on the node's single apply goroutine, in log order,
// never concurrently with each other; the raft loop runs on meanwhile, so
// a slow Apply delays commits' acknowledgements, not heartbeats (until
// the apply queue fills). The slow halves of snapshotting run on other
// goroutines: the writer CaptureSnapshot returns, and PrepareRestore.
type StateMachine interface {
	// Apply applies the payloads committed in one Ready, in log order, and
	// returns one result per payload; each result is handed to the waiting
	// Propose call, if any. A non-nil error means the state machine cannot
	// go on (for example an undecodable committed record): the node stops.
	Apply(batch []Committed) ([]any, error)
	// CaptureSnapshot captures the state as of index, the last applied
	// index, without copying it (an immutable state is just referenced),
	// and returns a func that writes it. The func runs later on another
	// goroutine, concurrently with Apply and SwapIn, and must write the
	// state as captured; its writer is buffered, and it should return
	// the writer's error promptly (the node aborts it when stopping).
	CaptureSnapshot(index uint64) (write func(w io.Writer) error, err error)
	// PrepareRestore decodes a snapshot taken at index, read from r, into
	// a state for SwapIn, without touching the live state. It runs off the
	// raft goroutine, concurrently with Apply, and a prepared state may be
	// dropped unused.
	PrepareRestore(index uint64, r io.Reader) (prepared any, err error)
	// SwapIn replaces the state with one PrepareRestore returned for
	// index, at once.
	SwapIn(index uint64, prepared any) error
}

// Result is what Propose returns: the index the payload committed at and
// the StateMachine's result for it.
type Result struct {
	Index uint64
	Value any
}

// Config configures a Node. Zero fields take the defaults in Validate.
type Config struct {
	NodeID    uint64
	ClusterID string
	// Peers bootstraps a new cluster: on an empty log (and without Join)
	// they become its voters, node id -> peer address. On a node with a
	// log, the log's membership wins; Peers only supply the address of a
	// member whose record has none (a cluster bootstrapped before member
	// records) and the first peers a joining node dials.
	Peers map[uint64]string
	// Join starts a node with an empty log without bootstrapping: it waits
	// for the leader to add it (as an observer) and send it a snapshot.
	Join         bool
	PeerListener net.Listener // bound peer listener (required)
	PeerAddr     string       // advertised to peers as where to dial this node; default Peers[NodeID]
	// PeerDialAddrs, when set, are where this node dials those peers
	// instead of the addresses the membership records: for a network
	// that routes each pair of nodes differently (the fault tests'
	// proxies). Members it does not name are dialed as recorded.
	PeerDialAddrs map[uint64]string
	// PeerTLS (optional) secures the peer port with mutual TLS (see
	// transport.Config.TLS).
	PeerTLS      transport.PeerTLS
	HTTPAddr     string // advertised to peers for request forwarding
	KafkaAddr    string // advertised Kafka listener address, sent to peers in every hello; "" none
	DataDir      string
	StateMachine StateMachine

	TickInterval    time.Duration // default defaults.HeartbeatInterval
	ElectionTicks   int           // default defaults.ElectionTicks
	HeartbeatTicks  int           // default 1
	SnapshotEntries uint64        // snapshot after this many applied entries; default defaults.SnapshotEntries
	// SnapshotBytes: snapshot after this many bytes of applied entry data
	// too; default defaults.SnapshotBytes. A few hundred large entries (a
	// fill of topics with thousands of partitions) never reach
	// SnapshotEntries, yet without a snapshot a restart replays them all
	// and memory holds them all.
	SnapshotBytes    uint64
	SnapshotInterval time.Duration // snapshot on this timer when anything changed; default defaults.SnapshotInterval
	CompactionMargin uint64        // entries kept before a snapshot for slow followers; default defaults.CompactionMargin
	// CompactionMarginBytes bounds that margin by entry data bytes;
	// default SnapshotBytes (a follower further behind than one
	// snapshot's worth of log is as well served by the snapshot).
	CompactionMarginBytes uint64
	SegmentSizeBytes      int64    // WAL segment size; default storage's
	FS                    vfs.FS   // storage's file system; nil: the real one (vfs.OS)
	MaxEntryBytes         int      // max bytes per raft entry (batched proposals); default 1 MiB
	Metrics               *Metrics // default: unregistered metrics
	Logger                *slog.Logger
}

// Validate fills defaults and checks required fields.
func (c *Config) Validate() error {
	if c.NodeID == 0 {
		return errors.New("raftnode: node id must be > 0")
	}
	if c.ClusterID == "" {
		return errors.New("raftnode: cluster id is required")
	}
	if c.PeerAddr == "" {
		c.PeerAddr = c.Peers[c.NodeID]
	}
	if c.PeerListener == nil || c.StateMachine == nil || c.DataDir == "" {
		return errors.New("raftnode: PeerListener, StateMachine and DataDir are required")
	}
	if c.TickInterval <= 0 {
		c.TickInterval = defaults.HeartbeatInterval
	}
	if c.ElectionTicks <= 0 {
		c.ElectionTicks = defaults.ElectionTicks
	}
	if c.HeartbeatTicks <= 0 {
		c.HeartbeatTicks = 1
	}
	if c.ElectionTicks <= c.HeartbeatTicks {
		return errors.New("raftnode: election ticks must exceed heartbeat ticks")
	}
	if c.SnapshotEntries == 0 {
		c.SnapshotEntries = defaults.SnapshotEntries
	}
	if c.SnapshotInterval <= 0 {
		c.SnapshotInterval = defaults.SnapshotInterval
	}
	if c.CompactionMargin == 0 {
		c.CompactionMargin = defaults.CompactionMargin
	}
	if c.SnapshotBytes == 0 {
		c.SnapshotBytes = defaults.SnapshotBytes
	}
	if c.CompactionMarginBytes == 0 {
		c.CompactionMarginBytes = c.SnapshotBytes
	}
	if c.MaxEntryBytes <= 0 {
		c.MaxEntryBytes = 1 << 20
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

type proposeReq struct {
	ctx     context.Context
	payload []byte
	done    chan proposeOutcome // buffered(1)
}

type proposeOutcome struct {
	res Result
	err error
}

// waiter tracks one proposal from Propose until its entry is applied.
type waiter struct {
	req         *proposeReq
	index, term uint64    // where its entry was appended; 0 until seen in a Ready
	proposedAt  time.Time // when its entry was proposed to raft (commit latency)
}

type readReq struct {
	ctx  context.Context // the caller's; a read it ended is not asked again
	done chan error      // buffered(1); nil error: applied >= read index
}

// readBatch is reads waiting for one read-index answer. keys are the
// contexts it was asked under (retryReadIndex adds one per retry); ticks
// counts raft ticks since the newest.
type readBatch struct {
	reqs  []*readReq
	keys  []string
	ticks int
}

// termStart is where a leader's term begins in the log: the index of the
// first entry it appended in term (the empty entry raft appends on
// election).
type termStart struct{ term, index uint64 }

type pendingRead struct {
	index uint64
	reqs  []*readReq
}

// Node is a running raft member. Create it with Start; stop it with Stop.
type Node struct {
	cfg       Config
	log       *slog.Logger
	storage   *storage.Storage
	transport *transport.Transport
	metrics   *Metrics

	propc     chan *proposeReq
	readc     chan *readReq
	recvc     chan raftpb.Message
	reports   *reports
	statusc   chan chan Status
	snapc     chan chan snapshotOutcome
	snapResc  chan snapshotResult    // buffered(1): the snapshot run's outcome
	snapInc   chan *incomingSnapshot // received snapshots, decoded
	snapAbort chan struct{}          // closed when the loop exits: cuts a snapshot write short
	snapWG    sync.WaitGroup         // the snapshot run
	transferc chan uint64

	receivedMu sync.Mutex
	received   map[string]receivedSnapshot // by temp path; guarded by receivedMu

	stopOnce sync.Once
	stopc    chan struct{}
	donec    chan struct{}
	err      error // why run stopped; set before donec closes

	// Published by the loop for lock-free readers.
	leader  atomic.Uint64
	term    atomic.Uint64
	applied atomic.Uint64
	// termStart is set by the loop while this node leads (LeaderReady),
	// nil otherwise.
	termStart atomic.Pointer[termStart]
	commit    atomic.Uint64

	appliedMu     sync.Mutex
	appliedNotify chan struct{} // closed and replaced whenever applied moves; guarded by appliedMu
	readsPending  []pendingRead // sorted by index; waiting for applied; guarded by appliedMu

	// The apply goroutine (apply.go) and its channels.
	applyc    chan applyJob
	applyErrc chan struct{} // buffered(1): the apply goroutine failed, with applyErr
	applyErr  error         // set by the apply goroutine before it signals applyErrc
	applyStop chan struct{} // closed by the loop as it exits
	applyDone chan struct{} // closed when the apply goroutine has returned

	// Proposal waiters: the loop adds them and fails dropped ones, the
	// apply goroutine finishes them.
	waitMu    sync.Mutex
	waiters   map[uint64]*waiter  // guarded by waitMu
	waitersAt map[uint64][]uint64 // entry index -> proposal ids appended there; guarded by waitMu

	// Owned by the run goroutine.
	rn        *raft.RawNode
	leading   bool // raft's state is leader, as of the last Ready's SoftState
	confState raftpb.ConfState
	snapIndex uint64
	// appliedBytes counts the entry data applied since start (loop only);
	// snapBytesAt is its value at the applied index of the newest
	// snapshot, so their difference is what SnapshotBytes compares.
	appliedBytes, snapBytesAt uint64
	// handed is the index of the last entry or snapshot handed to the
	// apply goroutine: snapshots are captured there, raft counts it as
	// applied. Node.applied trails it.
	handed        uint64
	lastSnapAt    time.Time
	snapRun       *snapshotRun // nil unless a snapshot is being written
	snapRetryAt   time.Time    // no automatic snapshot before this (one failed)
	snapWaiters   []snapshotWaiter
	incoming      *incomingSnapshot // stepped into raft, not yet installed
	nextPropID    uint64
	readCtxSeq    uint64
	readsInFlight map[string]*readBatch // by read-index context
	memory        statusMemory          // what Status reports once the live view is gone
	commitClocks  []commitClock         // this node's entries not yet committed, by index (metrics)
	leaderLostAt  time.Time             // when the leader was lost; zero while one is known (metrics)

	// For metrics, read off the loop: heartbeat clocks per peer
	// (uint64 -> *heartbeatClock) and the leader's latest view of the voters.
	heartbeats sync.Map
	progress   atomic.Pointer[progressView]

	// Membership (membership.go). dirID is this node's directory id;
	// members, confWaiters and confPending are the loop's;
	// membersView is what readers off the loop see.
	dirID       storage.DirectoryID
	members     map[uint64]memberRecord
	membersView atomic.Pointer[membersView]
	confc       chan *confReq
	confWaiters map[uint64]*confWaiter
	confPending uint64 // index of the newest membership change in the leader's log
	// membersFrom: the table was built on start from the committed log
	// up to here (loadMembers); replayed changes up to it leave it alone.
	membersFrom uint64
	// leaving: removed members still peers of the transport, since when
	// (dropLeftPeers).
	leaving map[uint64]time.Time
	// foreignWarnedAt: when a heartbeat meant for another log was last
	// logged (loop only).
	foreignWarnedAt time.Time
	// legacyMembers: the snapshot the table came from had no member
	// records (written before them), so configuration members without a
	// record are listed with the addresses Config.Peers gives.
	legacyMembers bool
	// snapForMember is the index of the last change that added a member:
	// a snapshot at least that new is taken at once, since raft sends a
	// node that must catch up by snapshot only one whose configuration
	// includes it.
	snapForMember uint64
}

// Start is StartContext without a deadline.
func Start(cfg Config) (*Node, error) { return StartContext(context.Background(), cfg) }

// StartContext opens storage, starts the transport and the raft loop. On a
// fresh data directory it bootstraps the cluster with Config.Peers as
// voters. When the data directory's snapshot is lost (damaged, and the WAL
// was compacted past the older ones) it first fetches a replacement from a
// peer, retrying until one can serve it or ctx ends (see recover.go); ctx
// bounds only that, not the running node.
func StartContext(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("node", cfg.NodeID)
	opening := time.Now()
	st, err := openStorage(ctx, cfg, log, storage.Config{
		Dir:              cfg.DataDir,
		ClusterID:        cfg.ClusterID,
		NodeID:           cfg.NodeID,
		SegmentSizeBytes: cfg.SegmentSizeBytes,
		Logger:           log,
		OnFsync:          cfg.Metrics.observeFsync,
		FS:               cfg.FS,
		RetainEntries:    cfg.CompactionMargin,
		RetainBytes:      cfg.CompactionMarginBytes,

		OnSegmentRemoveFailure: cfg.Metrics.walRemoveFailures.Inc,
	})
	if err != nil {
		return nil, fmt.Errorf("open storage: %w", err)
	}
	n := &Node{
		cfg:           cfg,
		log:           log,
		storage:       st,
		metrics:       cfg.Metrics,
		propc:         make(chan *proposeReq, 4096),
		readc:         make(chan *readReq, 4096),
		recvc:         make(chan raftpb.Message, 8192),
		reports:       newReports(),
		statusc:       make(chan chan Status),
		snapc:         make(chan chan snapshotOutcome),
		snapResc:      make(chan snapshotResult, 1),
		snapInc:       make(chan *incomingSnapshot),
		snapAbort:     make(chan struct{}),
		received:      make(map[string]receivedSnapshot),
		transferc:     make(chan uint64),
		stopc:         make(chan struct{}),
		donec:         make(chan struct{}),
		appliedNotify: make(chan struct{}),
		applyc:        make(chan applyJob, applyQueue),
		applyErrc:     make(chan struct{}, 1),
		applyStop:     make(chan struct{}),
		applyDone:     make(chan struct{}),
		waiters:       make(map[uint64]*waiter),
		waitersAt:     make(map[uint64][]uint64),
		readsInFlight: make(map[string]*readBatch),
		nextPropID:    randomUint64(),
		lastSnapAt:    time.Now(),
		dirID:         st.Identity().DirectoryID,
		members:       make(map[uint64]memberRecord),
		confc:         make(chan *confReq),
		confWaiters:   make(map[uint64]*confWaiter),
		leaving:       make(map[uint64]time.Time),
	}
	opened := time.Now()
	if err := n.restore(); err != nil {
		st.Close()
		return nil, err
	}
	// Restart time is mostly these two steps at scale; operators sizing a
	// cluster read them here.
	last, _ := st.LastIndex()
	log.Info("storage opened and state restored", "open", opened.Sub(opening).Round(time.Millisecond),
		"restore", time.Since(opened).Round(time.Millisecond), "snapshot_index", n.snapIndex, "last_index", last)
	peers := make(map[uint64]string)
	for id, addr := range cfg.Peers {
		peers[id] = addr // a joining node's first contacts; a bootstrapping node's voters
	}
	if view := n.membersView.Load(); view.known {
		clear(peers)
		for _, m := range view.list {
			if m.PeerAddr != "" {
				peers[m.NodeID] = m.PeerAddr
			}
		}
	}
	for id, addr := range cfg.PeerDialAddrs {
		if _, ok := peers[id]; ok {
			peers[id] = addr
		}
	}
	delete(peers, cfg.NodeID)
	n.transport, err = transport.New(transport.Config{
		NodeID:      cfg.NodeID,
		ClusterID:   cfg.ClusterID,
		DirectoryID: n.dirID,
		Listener:    cfg.PeerListener,
		Peers:       peers,
		PeerAddr:    cfg.PeerAddr,
		HTTPAddr:    cfg.HTTPAddr,
		KafkaAddr:   cfg.KafkaAddr,
		Admit:       n.admit,
		TLS:         cfg.PeerTLS,
		OnTLSRefused: func() {
			n.metrics.refusedPeers.Inc()
		},
		Handler: n.receive,
		OnUnreachable: func(peer uint64) {
			n.reportUnreachable(peer)
		},
		OnSnapshotStatus: func(peer uint64, failed bool) {
			n.reportSnapshot(peer, failed)
		},
		SnapshotSource: n.serveSnapshot,
		OpenSnapshot:   n.openSnapshot,
		SnapshotSink:   n.receiveSnapshotData,
		Logger:         cfg.Logger, // transport adds the node id itself
		// A keepalive per heartbeat interval lets every node tell which
		// peers are up even when raft sends them nothing (Status.LastHeard).
		KeepaliveInterval: cfg.TickInterval * time.Duration(cfg.HeartbeatTicks),
	})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("start transport: %w", err)
	}
	n.metrics.logEndOffset.Set(float64(last))
	n.metrics.node.Store(n)
	go n.applyLoop()
	go n.run()
	return n, nil
}

// restore builds the RawNode from storage and the state machine from the
// newest snapshot; committed entries after it are re-applied by the loop.
func (n *Node) restore() error {
	snap, err := n.storage.Snapshot()
	if err != nil {
		return fmt.Errorf("load snapshot: %w", err)
	}
	if !raft.IsEmptySnap(snap) {
		sr, err := n.storage.OpenSnapshot(snap.Metadata)
		if err == nil {
			n.members, err = decodeMembers(sr.Members)
			n.legacyMembers = sr.Members == nil
			if err != nil {
				sr.Close()
			}
		}
		var prepared any
		if err == nil {
			prepared, err = n.prepareRestore(sr, nil)
		}
		if err == nil {
			err = n.cfg.StateMachine.SwapIn(snap.Metadata.Index, prepared)
		}
		if err != nil {
			return fmt.Errorf("restore state machine from snapshot at index %d: %w", snap.Metadata.Index, err)
		}
		n.confState = snap.Metadata.ConfState
		n.snapIndex = snap.Metadata.Index
		n.handed = snap.Metadata.Index
		n.applied.Store(snap.Metadata.Index)
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                        n.cfg.NodeID,
		ElectionTick:              n.cfg.ElectionTicks,
		HeartbeatTick:             n.cfg.HeartbeatTicks,
		Storage:                   n.storage,
		Applied:                   n.snapIndex,
		MaxSizePerMsg:             1 << 20,
		MaxCommittedSizePerReady:  4 << 20,
		MaxUncommittedEntriesSize: 64 << 20,
		MaxInflightMsgs:           256,
		CheckQuorum:               true,
		PreVote:                   true,
		DisableProposalForwarding: true,
		StepDownOnRemoval:         true,
		Logger:                    newRaftLogger(n.log),
	})
	if err != nil {
		return fmt.Errorf("create raft node: %w", err)
	}
	last, err := n.storage.LastIndex()
	if err != nil {
		return fmt.Errorf("read last index: %w", err)
	}
	if hs, _, err := n.storage.InitialState(); err == nil {
		n.metrics.votedFor.Set(float64(hs.Vote))
		n.metrics.term.Set(float64(hs.Term))
	}
	switch {
	case last > 0 || !raft.IsEmptySnap(snap):
	case n.cfg.Join:
		n.log.Info("joining: waiting for the leader to add this node", "cluster", n.cfg.ClusterID, "directory_id", n.dirID.String())
	default:
		if err := n.bootstrap(rn); err != nil {
			return err
		}
	}
	n.rn = rn
	return n.loadMembers(n.confState)
}

// bootstrap starts a new cluster with Config.Peers as its voters. Every
// node of the new cluster writes the same first entries, so their member
// records hold only what all of them know: ids and peer addresses; the
// leader records directory ids and HTTP addresses as it learns them.
func (n *Node) bootstrap(rn *raft.RawNode) error {
	if _, ok := n.cfg.Peers[n.cfg.NodeID]; !ok {
		return fmt.Errorf("raftnode: bootstrapping a new cluster, but node %d is not among the voters", n.cfg.NodeID)
	}
	peers := make([]raft.Peer, 0, len(n.cfg.Peers))
	for id, addr := range n.cfg.Peers {
		cx, err := json.Marshal(confContext{Member: &memberRecord{NodeID: id, PeerAddr: addr}})
		if err != nil {
			return err
		}
		peers = append(peers, raft.Peer{ID: id, Context: cx})
	}
	sort.Slice(peers, func(i, j int) bool { return peers[i].ID < peers[j].ID })
	if err := rn.Bootstrap(peers); err != nil {
		return fmt.Errorf("bootstrap raft: %w", err)
	}
	n.log.Info("bootstrapped new cluster", "voters", len(peers), "cluster", n.cfg.ClusterID, "directory_id", n.dirID.String())
	return nil
}

func randomUint64() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return uint64(time.Now().UnixNano())
	}
	return binary.LittleEndian.Uint64(b[:])
}

// receive is the transport's handler for inbound peer messages.
func (n *Node) receive(m raftpb.Message) {
	if m.Type == raftpb.MsgHeartbeatResp {
		n.heartbeatAnswered(m.From)
	}
	if m.Type == raftpb.MsgSnap {
		// Decoded here, off the loop; a snapshot is expensive to resend,
		// so this waits for the loop instead of dropping it.
		n.receiveSnapshot(m)
		return
	}
	select {
	case n.recvc <- m:
	default:
		n.metrics.droppedMessages.Inc() // raft retransmits
	}
}

// ID is this node's id.
func (n *Node) ID() uint64 { return n.cfg.NodeID }

// Leader is the leader this node knows of, 0 if none.
func (n *Node) Leader() uint64 { return n.leader.Load() }

// IsLeader reports whether this node leads right now.
func (n *Node) IsLeader() bool { return n.leader.Load() == n.cfg.NodeID }

// Term is the current raft term.
func (n *Node) Term() uint64 { return n.term.Load() }

// AppliedIndex is the highest index applied to the state machine.
func (n *Node) AppliedIndex() uint64 { return n.applied.Load() }

// CommitIndex is the highest index this node knows to be committed.
func (n *Node) CommitIndex() uint64 { return n.commit.Load() }

// AppliedNotify returns the applied index and a channel closed when it next
// moves. Long-polling readers wait on it without blocking the raft loop.
func (n *Node) AppliedNotify() (uint64, <-chan struct{}) {
	n.appliedMu.Lock()
	defer n.appliedMu.Unlock()
	return n.applied.Load(), n.appliedNotify
}

// PeerHTTPAddr is the HTTP address a peer advertises, for forwarding:
// what its latest connection said, else what the membership records.
func (n *Node) PeerHTTPAddr(id uint64) (string, bool) {
	if id == n.cfg.NodeID {
		return n.cfg.HTTPAddr, true
	}
	if addr, ok := n.transport.PeerHTTPAddr(id); ok && addr != "" {
		return addr, true
	}
	if m, ok := n.membersView.Load().get(id); ok && m.HTTPAddr != "" {
		return m.HTTPAddr, true
	}
	return "", false
}

// PeerKafkaAddr is the Kafka address node id advertises (its own for
// this node): what its latest connection to this node said. ok is false
// when it has no Kafka listener or has not connected yet.
func (n *Node) PeerKafkaAddr(id uint64) (string, bool) {
	if id == n.cfg.NodeID {
		return n.cfg.KafkaAddr, n.cfg.KafkaAddr != ""
	}
	return n.transport.PeerKafkaAddr(id)
}

// Done is closed when the node's loop has stopped; Err tells why.
func (n *Node) Done() <-chan struct{} { return n.donec }

// Err is the reason the loop stopped (nil after a clean Stop).
func (n *Node) Err() error {
	select {
	case <-n.donec:
		return n.err
	default:
		return nil
	}
}

// Storage exposes snapshot listing for the HTTP layer.
func (n *Node) Snapshots() ([]storage.SnapshotInfo, error) { return n.storage.Snapshots() }

// Propose replicates payload and returns once it is committed and applied
// on this node. Only the leader accepts proposals (ErrNotLeader otherwise).
// If ctx ends first the proposal may still commit.
func (n *Node) Propose(ctx context.Context, payload []byte) (Result, error) {
	p, err := n.Enqueue(ctx, payload)
	if err != nil {
		return Result{}, err
	}
	return p.Wait(ctx)
}

// Proposal is a payload handed to the raft loop by Enqueue, waiting for
// its outcome.
type Proposal struct {
	n   *Node
	req *proposeReq
}

// Enqueue hands payload to the raft loop and returns without waiting for
// it to commit; Wait then gives its outcome as Propose would. Payloads
// enqueued one after another (by one goroutine, or under a lock of the
// caller's) enter the log in that order: a later one may commit while an
// earlier one is dropped, but never before it. ctx also bounds the wait
// for the loop to take the payload, and a payload whose ctx ended before
// the loop proposed it is never proposed.
func (n *Node) Enqueue(ctx context.Context, payload []byte) (*Proposal, error) {
	if len(payload) > n.cfg.MaxEntryBytes {
		return nil, ErrTooLarge
	}
	if !n.IsLeader() {
		if n.Leader() == 0 {
			return nil, ErrNoLeader
		}
		return nil, ErrNotLeader
	}
	req := &proposeReq{ctx: ctx, payload: payload, done: make(chan proposeOutcome, 1)}
	select {
	case n.propc <- req:
		return &Proposal{n: n, req: req}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-n.donec:
		return nil, ErrStopped
	}
}

// Wait returns the proposal's outcome: the state machine's result once
// its entry applied, or why it never will (or may not have).
func (p *Proposal) Wait(ctx context.Context) (Result, error) {
	select {
	case out := <-p.req.done:
		return out.res, out.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case <-p.n.donec:
		return Result{}, ErrStopped
	}
}

// LeaderReady reports whether this node leads and has applied its own
// first entry of the term: from then on its applied state holds every
// entry earlier leaders committed, and every later entry is one it
// proposed itself. term is the term it leads in.
func (n *Node) LeaderReady() (term uint64, ready bool) {
	ts := n.termStart.Load()
	if ts == nil || !n.IsLeader() || n.term.Load() != ts.term {
		return 0, false
	}
	return ts.term, n.applied.Load() >= ts.index
}

// ReadBarrier returns once this node has applied everything the leader had
// committed when the barrier started (raft ReadIndex), so reads of local
// state after it are linearizable.
func (n *Node) ReadBarrier(ctx context.Context) error {
	n.metrics.readBarriers.Inc()
	if n.Leader() == 0 {
		return ErrNoLeader
	}
	req := &readReq{ctx: ctx, done: make(chan error, 1)}
	select {
	case n.readc <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.donec:
		return ErrStopped
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.donec:
		return ErrStopped
	}
}

// WaitApplied returns once the applied index reaches index.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	for {
		applied, ch := n.AppliedNotify()
		if applied >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.donec:
			return ErrStopped
		}
	}
}

// Stop stops the loop, the transport and storage. In-flight proposals fail
// with ErrStopped. Safe to call more than once.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		close(n.stopc)
		<-n.donec
		if err := n.transport.Close(); err != nil {
			n.log.Warn("close transport", "err", err)
		}
		n.receivedMu.Lock()
		for path, rs := range n.received { // no Handler will take them now
			n.storage.DiscardReceived(rs.info)
			delete(n.received, path)
		}
		n.receivedMu.Unlock()
		if err := n.storage.Close(); err != nil {
			n.log.Warn("close storage", "err", err)
		}
	})
}
