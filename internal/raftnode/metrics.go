package raftnode

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the node's Prometheus metrics, named after etcd's so existing
// dashboards translate.
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
	snapshotBytes       prometheus.Gauge
	snapshotsInProgress prometheus.Gauge
	snapshotsInstalled  prometheus.Counter
	snapshotsSent       prometheus.Counter
	snapshotSendFails   prometheus.Counter
	walRemoveFailures   prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, for tests that run many nodes in one process).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		hasLeader:          prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_raft_has_leader", Help: "1 if this node knows a leader."}),
		isLeader:           prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_raft_is_leader", Help: "1 if this node is the leader."}),
		leaderChanges:      prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_raft_leader_changes_seen_total", Help: "Leader changes seen by this node."}),
		term:               prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_raft_term", Help: "Current raft term."}),
		commitIndex:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_raft_commit_index", Help: "Highest index known committed."}),
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
		snapshotBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_snapshot_size_bytes", Help: "Size of the newest local snapshot's file."}),
		snapshotsInProgress: prometheus.NewGauge(prometheus.GaugeOpts{Name: "yakt_snapshot_in_progress",
			Help: "1 while this node writes a snapshot (off the raft loop)."}),
		snapshotsInstalled: prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_snapshot_installed_total", Help: "Snapshots received from the leader and installed."}),
		snapshotsSent:      prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_snapshot_sent_total", Help: "Snapshots this node sent to a lagging follower and the follower received."}),
		snapshotSendFails:  prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_snapshot_send_failures_total", Help: "Snapshots this node failed to send to a follower."}),
		walRemoveFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "yakt_wal_segment_remove_failures_total",
			Help: "Failed attempts to delete obsolete WAL segments after compaction (retried later)."}),
	}
	if reg != nil {
		reg.MustRegister(m.hasLeader, m.isLeader, m.leaderChanges, m.term, m.commitIndex, m.appliedIndex,
			m.proposalsCommitted, m.proposalsFailed, m.readBarriers, m.proposalsPending, m.droppedMessages, m.walFsync,
			m.snapshotDuration, m.snapshotBytes, m.snapshotsInProgress, m.snapshotsInstalled, m.snapshotsSent, m.snapshotSendFails,
			m.walRemoveFailures)
	}
	return m
}

func (m *Metrics) observeFsync(d time.Duration) { m.walFsync.Observe(d.Seconds()) }

func (m *Metrics) setLeader(lead, self uint64) {
	m.hasLeader.Set(b2f(lead != 0))
	m.isLeader.Set(b2f(lead == self))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
