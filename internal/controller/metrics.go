package controller

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yakt/yakt/internal/metadata"
)

// Controller metrics, named after KRaft's controller metrics
// (ActiveBrokerCount, OfflinePartitionsCount, ...).
var (
	descActiveBrokers = prometheus.NewDesc("yakt_controller_active_brokers", "Registered brokers that are ALIVE (KRaft's ActiveBrokerCount).", nil, nil)
	descFencedBrokers = prometheus.NewDesc("yakt_controller_fenced_brokers", "Registered brokers that are FENCED (KRaft's FencedBrokerCount).", nil, nil)
	descTopics        = prometheus.NewDesc("yakt_controller_topics", "Topics (KRaft's GlobalTopicCount).", nil, nil)
	descPartitions    = prometheus.NewDesc("yakt_controller_partitions", "Partitions of all topics (KRaft's GlobalPartitionCount).", nil, nil)
	descOffline       = prometheus.NewDesc("yakt_controller_offline_partitions",
		"Partitions without a leader, or led by a broker that is not ALIVE (KRaft's OfflinePartitionsCount).", nil, nil)
	descUnderReplicated = prometheus.NewDesc("yakt_controller_under_replicated_partitions",
		"Partitions whose ISR is smaller than their replica list.", nil, nil)
	descImbalance = prometheus.NewDesc("yakt_controller_preferred_replica_imbalance",
		"Partitions not led by their first (preferred) replica (KRaft's PreferredReplicaImbalanceCount).", nil, nil)
	descHealthOffset = prometheus.NewDesc("yakt_controller_metrics_offset",
		"Metadata offset the partition and broker gauges were computed at (they are refreshed now and then, not per record).", nil, nil)
	descTimedOut = prometheus.NewDesc("yakt_controller_timed_out_broker_heartbeats_total",
		"Brokers this node, leading, fenced because no heartbeat came within the session timeout (KRaft's TimedOutBrokerHeartbeatCount).", nil, nil)
	descRecordsApplied = prometheus.NewDesc("yakt_metadata_records_applied_total",
		"Metadata records applied to this node's state (KRaft's record rates: the leader's appends, a follower's fetches).", nil, nil)
)

// healthRefreshFactor bounds the share of time counting may take: a
// count runs again at most every healthRefreshFactor times the last
// one's duration. A count that walks only changed topics takes well under
// a millisecond, so the gauges are fresh at every scrape; a full walk of
// 2 million partitions (after a broker change) takes about a second, and
// the next count waits a minute or so.
const healthRefreshFactor = 50

// MetricsCollector returns the controller's gauges and counters for a
// Prometheus registry. The partition counts come from the applied image,
// counted on the scraping goroutine (never the raft loop) by a
// metadata.HealthCounter, which walks only the topics that changed since
// its last count; a count runs only when the image changed and its cost
// allows (healthRefreshFactor). yakt_controller_metrics_offset says how
// fresh they are.
func (c *Controller) MetricsCollector() prometheus.Collector {
	return &metricsCollector{c: c}
}

type metricsCollector struct {
	c *Controller

	mu      sync.Mutex // one walk at a time; guards the fields below
	counter metadata.HealthCounter
	img     *metadata.Image
	health  metadata.Health
	next    time.Time // no walk before this
}

func (m *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descActiveBrokers, descFencedBrokers, descTopics, descPartitions, descOffline,
		descUnderReplicated, descImbalance, descHealthOffset, descTimedOut, descRecordsApplied} {
		ch <- d
	}
}

func (m *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	img, h := m.refresh()
	gauge := func(d *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	gauge(descActiveBrokers, h.ActiveBrokers)
	gauge(descFencedBrokers, h.FencedBrokers)
	gauge(descTopics, h.Topics)
	gauge(descPartitions, h.Partitions)
	gauge(descOffline, h.OfflinePartitions)
	gauge(descUnderReplicated, h.UnderReplicatedPartitions)
	gauge(descImbalance, h.PreferredReplicaImbalance)
	ch <- prometheus.MustNewConstMetric(descHealthOffset, prometheus.GaugeValue, float64(img.Offset()))
	ch <- prometheus.MustNewConstMetric(descTimedOut, prometheus.CounterValue, float64(m.c.live.timedOut.Load()))
	ch <- prometheus.MustNewConstMetric(descRecordsApplied, prometheus.CounterValue, float64(m.c.state.recordsApplied.Load()))
}

// refresh returns the cached counts, walking the current image first
// when it changed and the last walk is long enough ago.
func (m *metricsCollector) refresh() (*metadata.Image, metadata.Health) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.c.state.Image()
	now := time.Now()
	if m.img == nil || (cur != m.img && !now.Before(m.next)) {
		h := m.counter.Count(cur)
		took := time.Since(now)
		m.img, m.health, m.next = cur, h, now.Add(healthRefreshFactor*took)
	}
	return m.img, m.health
}
