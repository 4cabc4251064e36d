package raftnode

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Metrics are the node's Prometheus metrics, named after etcd's (and,
// where etcd has none, KRaft's) so existing dashboards translate.
type Metrics struct {
	hasLeader           prometheus.Gauge
	isLeader            prometheus.Gauge
	leaderChanges       prometheus.Counter
	term                prometheus.Gauge
	commitIndex         prometheus.Gauge
	appliedIndex        prometheus.Gauge
	proposalsCommitted  prometheus.Counter
	proposalsFailed     prometheus.Counter
	readBarriers        prometheus.Counter
	proposalsPending    prometheus.Gauge
	droppedMessages     prometheus.Counter
	walFsync            prometheus.Histogram
	snapshotDuration    prometheus.Histogram
	snapshotsInProgress prometheus.Gauge
	snapshotsInstalled  prometheus.Counter
	snapshotsSent       prometheus.Counter
	snapshotSendFails   prometheus.Counter
	walRemoveFailures   prometheus.Counter

	leaderID         prometheus.Gauge
	state            *prometheus.GaugeVec
	votedFor         prometheus.Gauge
	logEndOffset     prometheus.Gauge
	entriesAppended  prometheus.Counter
	bytesAppended    prometheus.Counter
	entriesApplied   prometheus.Counter
	commitDuration   prometheus.Histogram
	electionDuration prometheus.Histogram
	peerRTT          *prometheus.HistogramVec
	voters           prometheus.Gauge
	observers        prometheus.Gauge
	refusedPeers     prometheus.Counter

	// node is what the scrape-time collector reads (storage, transport,
	// the leader's view of the voters); nil until the node starts.
	node atomic.Pointer[Node]
}

// raftStates are the values of yakt_raft_state's state label.
var raftStates = []raft.StateType{raft.StateFollower, raft.StateCandidate, raft.StatePreCandidate, raft.StateLeader}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, for tests that run many nodes in one process).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		hasLeader:          prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_raft_has_leader", Help: "1 if this node knows a leader."}),
		isLeader:           prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_raft_is_leader", Help: "1 if this node is the leader."}),
		leaderChanges:      prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_raft_leader_changes_seen_total", Help: "Leader changes seen by this node."}),
		term:               prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_raft_term", Help: "Current raft term."}),
		commitIndex:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_raft_commit_index", Help: "Highest index known committed (KRaft's high watermark)."}),
		appliedIndex:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_raft_applied_index", Help: "Highest index applied to the metadata state."}),
		proposalsCommitted: prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_raft_proposals_committed_total", Help: "Proposals from this node committed and applied."}),
		proposalsFailed:    prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_raft_proposals_failed_total", Help: "Proposals from this node that failed."}),
		readBarriers: prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_raft_read_barriers_total",
			Help: "Read barriers (raft ReadIndex) run on this node: linearizable reads, and writes the leader's forecast refused."}),
		proposalsPending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_raft_proposals_pending", Help: "Proposals appended but not yet applied."}),
		droppedMessages:  prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_raft_dropped_messages_total", Help: "Inbound peer messages dropped because the raft loop was busy."}),
		walFsync: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "yakt_wal_fsync_duration_seconds", Help: "WAL fdatasync latency.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		snapshotDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "yakt_snapshot_save_duration_seconds", Help: "Time to encode, write and fsync a snapshot, off the raft loop.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		snapshotsInProgress: prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_snapshot_in_progress",
			Help: "1 while this node writes a snapshot (off the raft loop)."}),
		snapshotsInstalled: prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_snapshot_installed_total", Help: "Snapshots received from the leader and installed."}),
		snapshotsSent:      prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_snapshot_sent_total", Help: "Snapshots this node sent to a lagging follower and the follower received."}),
		snapshotSendFails:  prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_snapshot_send_failures_total", Help: "Snapshots this node failed to send to a follower."}),
		walRemoveFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_wal_segment_remove_failures_total",
			Help: "Failed attempts to delete obsolete WAL segments after compaction (retried later)."}),

		leaderID: prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_raft_leader_id", Help: "Node id of the leader this node knows; 0 if none (KRaft's current-leader)."}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "yakt_raft_state",
			Help: "1 for this node's current raft state (follower, pre-candidate, candidate, leader), 0 for the others."}, []string{"state"}),
		votedFor:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_raft_voted_for", Help: "Node id this node voted for in the current term; 0 if none (KRaft's current-vote)."}),
		logEndOffset: prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_raft_log_end_offset", Help: "Index of the last entry in this node's log (KRaft's log-end-offset)."}),
		entriesAppended: prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_raft_log_entries_appended_total",
			Help: "Raft entries written to this node's log: proposals on the leader, entries fetched from the leader on a follower."}),
		bytesAppended:  prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_raft_log_bytes_appended_total", Help: "Entry data bytes written to this node's log."}),
		entriesApplied: prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_raft_entries_applied_total", Help: "Committed raft entries applied to the metadata state."}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "yakt_raft_commit_duration_seconds",
			Help:    "On the leader, time from proposing an entry to raft to learning it committed (KRaft's commit-latency).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		electionDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "yakt_raft_election_duration_seconds",
			Help:    "Time from losing the leader (or last hearing from it) to knowing a new one.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12)}),
		peerRTT: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "yakt_peer_round_trip_time_seconds",
			Help:    "On the leader, time from sending a raft heartbeat to a peer to receiving its answer.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}, []string{"peer"}),
		refusedPeers: prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_peer_connections_refused_total",
			Help: "Peer connections refused because the peer is not a member, presents another directory id than its member's (a wiped or replaced node), or fails mutual TLS (no certificate, another CA, expired, or a certificate of another node than it claims)."}),
		voters:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_quorum_voters", Help: "Voters in the membership this node has applied."}),
		observers: prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_quorum_observers", Help: "Observers (non-voting members) in the membership this node has applied."}),
	}
	m.setState(raft.StateFollower)
	if reg != nil {
		reg.MustRegister(m.hasLeader, m.isLeader, m.leaderChanges, m.term, m.commitIndex, m.appliedIndex,
			m.proposalsCommitted, m.proposalsFailed, m.readBarriers, m.proposalsPending, m.droppedMessages, m.walFsync,
			m.snapshotDuration, m.snapshotsInProgress, m.snapshotsInstalled, m.snapshotsSent, m.snapshotSendFails,
			m.walRemoveFailures,
			m.leaderID, m.state, m.votedFor, m.logEndOffset, m.entriesAppended, m.bytesAppended, m.entriesApplied,
			m.commitDuration, m.electionDuration, m.peerRTT, m.voters, m.observers, m.refusedPeers,
			nodeCollector{m})
	}
	return m
}

func (m *Metrics) observeFsync(d time.Duration) { m.walFsync.Observe(d.Seconds()) }

func (m *Metrics) setLeader(lead, self uint64) {
	m.hasLeader.Set(b2f(lead != 0))
	m.isLeader.Set(b2f(lead == self))
	m.leaderID.Set(float64(lead))
}

func (m *Metrics) setState(s raft.StateType) {
	for _, st := range raftStates {
		m.state.WithLabelValues(stateLabel(st)).Set(b2f(st == s))
	}
}

func stateLabel(s raft.StateType) string {
	switch s {
	case raft.StateLeader:
		return "leader"
	case raft.StateCandidate:
		return "candidate"
	case raft.StatePreCandidate:
		return "pre-candidate"
	}
	return "follower"
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Metrics read at scrape time from where the data lives, so they cannot
// drift from it and are right from the first scrape after a restart.
var (
	descSnapshotBytes = prometheus.NewDesc("yakt_snapshot_size_bytes", "Size of the newest local snapshot's file.", nil, nil)
	descSnapshotIndex = prometheus.NewDesc("yakt_snapshot_index", "Raft index of the newest local snapshot.", nil, nil)
	descSnapshotAge   = prometheus.NewDesc("yakt_snapshot_age_seconds",
		"Seconds since the newest local snapshot was taken (from its file, so right after a restart too); absent while there is none.", nil, nil)
	descWALBytes = prometheus.NewDesc("yakt_wal_size_bytes", "Bytes of WAL segments on disk.", nil, nil)
	descLogBytes = prometheus.NewDesc("yakt_log_size_bytes", "Bytes the log takes on disk: WAL segments plus snapshot files.", nil, nil)
	descLag      = prometheus.NewDesc("yakt_raft_follower_lag_entries",
		"On the leader, entries each voter's log is behind the leader's last index.", []string{"voter"}, nil)
	descContact = prometheus.NewDesc("yakt_raft_follower_last_contact_seconds",
		"On the leader, seconds since each voter's last raft message reached it.", []string{"voter"}, nil)
	descPeerSent     = prometheus.NewDesc("yakt_peer_sent_bytes_total", "Bytes sent to each peer, all streams.", []string{"peer"}, nil)
	descPeerReceived = prometheus.NewDesc("yakt_peer_received_bytes_total", "Bytes received from each peer, all streams.", []string{"peer"}, nil)
	descPeerFailures = prometheus.NewDesc("yakt_peer_sent_failures_total",
		"Failed sends to each peer: failed dials, lost connections, messages dropped on a full queue, failed snapshot sends.", []string{"peer"}, nil)
)

// nodeCollector reads storage, the transport and the leader's progress
// view at scrape time. Every read is lock-free or a short read lock:
// nothing waits for the raft loop.
type nodeCollector struct{ m *Metrics }

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSnapshotBytes, descSnapshotIndex, descSnapshotAge, descWALBytes, descLogBytes, descLag, descContact,
		descPeerSent, descPeerReceived, descPeerFailures} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.m.node.Load()
	if n == nil {
		return
	}
	now := time.Now()
	if snaps, err := n.storage.Snapshots(); err == nil && len(snaps) > 0 {
		ch <- prometheus.MustNewConstMetric(descSnapshotBytes, prometheus.GaugeValue, float64(snaps[0].SizeBytes))
		ch <- prometheus.MustNewConstMetric(descSnapshotIndex, prometheus.GaugeValue, float64(snaps[0].Index))
		ch <- prometheus.MustNewConstMetric(descSnapshotAge, prometheus.GaugeValue, now.Sub(snaps[0].CreatedAt).Seconds())
	}
	if u, err := n.storage.DiskUsage(); err == nil {
		ch <- prometheus.MustNewConstMetric(descWALBytes, prometheus.GaugeValue, float64(u.WALBytes))
		ch <- prometheus.MustNewConstMetric(descLogBytes, prometheus.GaugeValue, float64(u.WALBytes+u.SnapshotBytes))
	}
	if p := n.progress.Load(); p != nil && n.IsLeader() {
		for _, v := range p.voters {
			if v.ID == n.cfg.NodeID {
				continue
			}
			voter := strconv.FormatUint(v.ID, 10)
			lag := uint64(0)
			if v.Match < p.last {
				lag = p.last - v.Match
			}
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(lag), voter)
			if !v.LastContact.IsZero() {
				ch <- prometheus.MustNewConstMetric(descContact, prometheus.GaugeValue, now.Sub(v.LastContact).Seconds(), voter)
			}
		}
	}
	for id, s := range n.transport.PeerStats() {
		peer := strconv.FormatUint(id, 10)
		ch <- prometheus.MustNewConstMetric(descPeerSent, prometheus.CounterValue, float64(s.SentBytes), peer)
		ch <- prometheus.MustNewConstMetric(descPeerReceived, prometheus.CounterValue, float64(s.ReceivedBytes), peer)
		ch <- prometheus.MustNewConstMetric(descPeerFailures, prometheus.CounterValue, float64(s.SendFailures), peer)
	}
}

// progressView is the leader's view of the voters as of its last tick,
// published for the collector.
type progressView struct {
	last   uint64 // the leader's last index
	voters []VoterStatus
}

// heartbeatClock times heartbeat round trips to one peer: the send time
// of the oldest heartbeat not yet answered. Raft answers heartbeats in
// order on one connection each way, so the first answer belongs to the
// oldest one; a heartbeat lost with a connection is forgotten when the
// transport reports the peer unreachable, or after an election timeout.
type heartbeatClock struct {
	sentAt atomic.Int64 // unix nanoseconds; 0: none outstanding
}

// noteHeartbeats starts the clocks of the heartbeats among msgs (raft
// loop, right before they are handed to the transport).
func (n *Node) noteHeartbeats(msgs []raftpb.Message) {
	var now int64
	for i := range msgs {
		if msgs[i].Type != raftpb.MsgHeartbeat {
			continue
		}
		c := n.heartbeatClock(msgs[i].To, true)
		if now == 0 {
			now = time.Now().UnixNano()
		}
		if old := c.sentAt.Load(); old == 0 || time.Duration(now-old) > n.electionTimeout() {
			c.sentAt.Store(now)
		}
	}
}

// heartbeatAnswered stops peer's clock (transport goroutine).
func (n *Node) heartbeatAnswered(peer uint64) {
	c := n.heartbeatClock(peer, false)
	if c == nil {
		return
	}
	at := c.sentAt.Swap(0)
	if at == 0 {
		return
	}
	if rtt := time.Duration(time.Now().UnixNano() - at); rtt >= 0 && rtt <= n.electionTimeout() {
		n.metrics.peerRTT.WithLabelValues(strconv.FormatUint(peer, 10)).Observe(rtt.Seconds())
	}
}

// heartbeatClock returns peer's clock, creating it when create is set
// (peers come and go with membership changes).
func (n *Node) heartbeatClock(peer uint64, create bool) *heartbeatClock {
	if c, ok := n.heartbeats.Load(peer); ok {
		return c.(*heartbeatClock)
	}
	if !create {
		return nil
	}
	c, _ := n.heartbeats.LoadOrStore(peer, &heartbeatClock{})
	return c.(*heartbeatClock)
}

// setMembers publishes the voter and observer counts (raft loop).
func (m *Metrics) setMembers(members []Member) {
	var voters, observers int
	for _, mb := range members {
		if mb.Voter {
			voters++
		} else {
			observers++
		}
	}
	m.voters.Set(float64(voters))
	m.observers.Set(float64(observers))
}

func (n *Node) electionTimeout() time.Duration {
	return n.cfg.TickInterval * time.Duration(n.cfg.ElectionTicks)
}

// commitClock is when this node, leading, proposed the entry at index.
type commitClock struct {
	index, term uint64
	at          time.Time
}

// observeCommits times the entries of ents (committed, contiguous) this
// node proposed; an entry another leader's replaced is dropped unseen.
func (n *Node) observeCommits(ents []raftpb.Entry) {
	if len(n.commitClocks) == 0 || len(ents) == 0 {
		return
	}
	first, last := ents[0].Index, ents[len(ents)-1].Index
	now := time.Now()
	i := 0
	for ; i < len(n.commitClocks) && n.commitClocks[i].index <= last; i++ {
		c := n.commitClocks[i]
		if c.index >= first && ents[c.index-first].Term == c.term {
			n.metrics.commitDuration.Observe(now.Sub(c.at).Seconds())
		}
	}
	n.commitClocks = n.commitClocks[i:]
	if len(n.commitClocks) == 0 {
		n.commitClocks = nil // let a long backlog's array go
	}
}

// observeLeader tracks elections on a leader change seen in a Ready
// (prev -> lead, both possibly raft.None).
func (n *Node) observeLeader(prev, lead uint64) {
	now := time.Now()
	switch {
	case lead == raft.None:
		if prev != raft.None {
			n.leaderLostAt = now
		}
	case lead != prev:
		lost := n.leaderLostAt
		if lost.IsZero() && prev != raft.None && prev != n.cfg.NodeID {
			// A new leader with no gap between: the old one was lost
			// when it was last heard from.
			lost = n.transport.LastContact(prev)
		}
		if !lost.IsZero() {
			n.metrics.electionDuration.Observe(now.Sub(lost).Seconds())
		}
		n.leaderLostAt = time.Time{}
	}
}
