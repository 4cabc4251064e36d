package testcluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/yakt/yakt/contract"
)

// LeaderView is what one node says about leadership: in term Term the
// leader is Leader (0: unknown).
type LeaderView struct{ Term, Leader uint64 }

// Monitor watches a cluster while faults run, for violations of what must
// hold at every moment:
//   - at most one leader per term, as seen by any node;
//   - broker epochs and partition epochs never go backwards in a node's
//     view (each node's linearizable reads, one after the other).
type Monitor struct {
	mu         sync.Mutex
	leaders    map[uint64]uint64           // term -> leader
	brokers    map[uint64]map[int32]int64  // node -> broker -> highest epoch seen
	partitions map[uint64]map[string]int64 // node -> partition -> highest epoch seen
	violations []string
	polls      int

	cancel context.CancelFunc
	wg     sync.WaitGroup
	onStop func() // after the watchers ended; may be nil
}

// MonitorConfig says how to observe the nodes.
type MonitorConfig struct {
	IDs []uint64
	// Leadership returns what node id says about leadership; ok false
	// while it is down.
	Leadership func(ctx context.Context, id uint64) (LeaderView, bool)
	// URL is node id's HTTP base URL ("" while it is down).
	URL func(id uint64) string
	// EpochTopic's partitions are watched, besides every broker.
	EpochTopic string
	// TLS, if set, is the HTTPS configuration of the monitor's requests.
	TLS *tls.Config
}

// StartMonitor starts watching; Stop ends it and returns what it found.
func StartMonitor(cfg MonitorConfig) *Monitor {
	ctx, cancel := context.WithCancel(context.Background())
	m := &Monitor{
		leaders: map[uint64]uint64{}, brokers: map[uint64]map[int32]int64{},
		partitions: map[uint64]map[string]int64{}, cancel: cancel,
	}
	for _, id := range cfg.IDs {
		m.brokers[id] = map[int32]int64{}
		m.partitions[id] = map[string]int64{}
	}
	for _, id := range cfg.IDs { // after the maps: the watchers read them
		m.wg.Add(2)
		go func() { defer m.wg.Done(); m.watchLeadership(ctx, cfg, id) }()
		go func() { defer m.wg.Done(); m.watchEpochs(ctx, cfg, id) }()
	}
	return m
}

// StartMonitor watches the in-process nodes: leadership straight from
// each running node's raft status, epochs over HTTP.
func (c *Cluster) StartMonitor(epochTopic string) *Monitor {
	return StartMonitor(MonitorConfig{
		IDs: c.IDs(), EpochTopic: epochTopic, TLS: c.ClientTLS("admin"),
		Leadership: func(ctx context.Context, id uint64) (LeaderView, bool) {
			s := c.Server(id)
			if s == nil {
				return LeaderView{}, false
			}
			sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			st, err := s.Node.Status(sctx)
			return LeaderView{Term: st.Term, Leader: st.Leader}, err == nil
		},
		URL: func(id uint64) string {
			if c.Server(id) == nil {
				return ""
			}
			return c.URL(id)
		},
	})
}

// StartMonitor watches the processes over HTTP: leadership from each
// node's own view (GET /v1/quorum?stale=true), epochs by linearizable
// reads. It sends raw requests rather than using package client on
// purpose: each poll must be that one node's answer, tried once with a
// short timeout, never retried on or redirected to another node.
func (p *Processes) StartMonitor(epochTopic string) *Monitor {
	client := httpClient(300*time.Millisecond, p.clientTLS("admin"))
	m := StartMonitor(MonitorConfig{
		IDs: p.IDs(), EpochTopic: epochTopic, TLS: p.clientTLS("admin"),
		Leadership: func(ctx context.Context, id uint64) (LeaderView, bool) {
			if !p.Running(id) {
				return LeaderView{}, false
			}
			resp, err := Do(ctx, client, p.URL(id), http.MethodGet, "/v1/quorum?stale=true", nil)
			var q contract.Quorum
			if err != nil || resp.Status != http.StatusOK || resp.JSON(&q) != nil || q.LeaderID < 0 {
				return LeaderView{}, false
			}
			return LeaderView{Term: uint64(q.LeaderEpoch), Leader: uint64(q.LeaderID)}, true
		},
		URL: func(id uint64) string {
			if !p.Running(id) {
				return ""
			}
			return p.URL(id)
		},
	})
	if p.sec != nil {
		m.onStop = client.CloseIdleConnections // its own transport's
	}
	return m
}

// Stop ends the watch and returns the violations found (nil if none) and
// how many observations were made.
func (m *Monitor) Stop() ([]string, int) {
	m.cancel()
	m.wg.Wait()
	if m.onStop != nil {
		m.onStop()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.violations, m.polls
}

func (m *Monitor) violate(format string, args ...any) {
	if len(m.violations) < 50 {
		m.violations = append(m.violations, fmt.Sprintf(format, args...))
	}
}

func (m *Monitor) watchLeadership(ctx context.Context, cfg MonitorConfig, id uint64) {
	for ctx.Err() == nil {
		v, ok := cfg.Leadership(ctx, id)
		if ok && v.Leader != 0 {
			m.mu.Lock()
			m.polls++
			if prev, seen := m.leaders[v.Term]; seen && prev != v.Leader {
				m.violate("two leaders in term %d: %d and %d (node %d's view)", v.Term, prev, v.Leader, id)
			}
			m.leaders[v.Term] = v.Leader
			m.mu.Unlock()
		}
		_ = Pace(ctx, 5*time.Millisecond)
	}
}

func (m *Monitor) watchEpochs(ctx context.Context, cfg MonitorConfig, id uint64) {
	client := httpClient(2*time.Second, cfg.TLS)
	if cfg.TLS != nil {
		defer client.CloseIdleConnections() // its own transport's
	}
	for ctx.Err() == nil {
		if base := cfg.URL(id); base != "" {
			m.pollEpochs(ctx, client, base, cfg.EpochTopic, id)
		}
		_ = Pace(ctx, 20*time.Millisecond)
	}
}

func (m *Monitor) pollEpochs(ctx context.Context, client *http.Client, base, topic string, id uint64) {
	var brokers contract.BrokerList
	if resp, err := Do(ctx, client, base, http.MethodGet, "/v1/brokers?status=all", nil); err == nil && resp.Status == http.StatusOK && resp.JSON(&brokers) == nil {
		m.mu.Lock()
		m.polls++
		for _, b := range brokers.Brokers {
			if prev, ok := m.brokers[id][b.BrokerID]; ok && b.Epoch < prev {
				m.violate("node %d: broker %d epoch went back from %d to %d", id, b.BrokerID, prev, b.Epoch)
			}
			m.brokers[id][b.BrokerID] = max(m.brokers[id][b.BrokerID], b.Epoch)
		}
		m.mu.Unlock()
	}
	if topic == "" {
		return
	}
	var parts contract.TopicDetail
	if resp, err := Do(ctx, client, base, http.MethodGet, "/v1/topics/"+topic, nil); err == nil && resp.Status == http.StatusOK && resp.JSON(&parts) == nil {
		m.mu.Lock()
		m.polls++
		for _, p := range parts.Partitions {
			key := fmt.Sprintf("%s-%d", topic, p.PartitionID)
			if prev, ok := m.partitions[id][key]; ok && p.PartitionEpoch < prev {
				m.violate("node %d: partition %s epoch went back from %d to %d", id, key, prev, p.PartitionEpoch)
			}
			m.partitions[id][key] = max(m.partitions[id][key], p.PartitionEpoch)
		}
		m.mu.Unlock()
	}
}

// Terms is how many terms had a leader observed.
func (m *Monitor) Terms() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.leaders)
}

// Elections is how many leaders of new terms were observed after the
// first one.
func (m *Monitor) Elections() int { return max(m.Terms()-1, 0) }

// CheckProducerIDBlocks checks the final producer-id state: every
// acknowledged block is there, and no two blocks overlap.
func CheckProducerIDBlocks(acked [][2]int64, blocks [][2]int64) []string {
	var bad []string
	have := map[int64]int64{}
	sorted := append([][2]int64(nil), blocks...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i][0] < sorted[j][0] })
	for i, b := range sorted {
		have[b[0]] = b[1]
		if i > 0 && sorted[i-1][0]+sorted[i-1][1] > b[0] {
			bad = append(bad, fmt.Sprintf("producer-id blocks overlap: [%d,+%d) and [%d,+%d)", sorted[i-1][0], sorted[i-1][1], b[0], b[1]))
		}
	}
	for _, a := range acked {
		if have[a[0]] != a[1] {
			bad = append(bad, fmt.Sprintf("acknowledged producer-id block [%d,+%d) is missing", a[0], a[1]))
		}
	}
	return bad
}
