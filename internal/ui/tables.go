package ui

import (
	"context"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// Pages of the dashboard's tables. A page is counted on the server, so a
// table costs the browser at most a page whatever the cluster's size.
const (
	defaultTopicPage  = 50
	maxTopicPage      = 500
	defaultBrokerPage = 100
	maxBrokerPage     = 1000
)

// topicRow is a topic in GET /ui/api/topics.
type topicRow struct {
	Name            string `json:"name"`
	TopicUUID       string `json:"topicUUID"`
	Partitions      int    `json:"partitions"`
	UnderReplicated int    `json:"underReplicated"` // ISR smaller than the replicas
	Offline         int    `json:"offline"`         // no leader
}

type topicPage struct {
	NodeID        uint64     `json:"nodeId"`
	HighWatermark int64      `json:"highWatermark"` // the offset of the state shown
	Topics        []topicRow `json:"topics"`
	Next          *string    `json:"next,omitempty"` // after= for the next page; absent on the last
}

// serveTopics answers a page of topics by name (after, limit) from this
// node's applied state: a dashboard refreshes often and needs no read
// barrier, and a node that lags shows it through highWatermark.
func (h *Handler) serveTopics(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r, "after", "limit") {
		return
	}
	limit, ok := queryInt(w, r, "limit", defaultTopicPage, 1, maxTopicPage)
	if !ok {
		return
	}
	img, err := h.cfg.Controller.Image(r.Context(), true)
	if err != nil {
		writeError(w, contract.CodeNotReady, "this node's state is not available: "+err.Error())
		return
	}
	topics, more := img.TopicsAfter(r.URL.Query().Get("after"), int(limit))
	out := topicPage{NodeID: h.cfg.Controller.NodeID(), HighWatermark: img.Offset(), Topics: make([]topicRow, 0, len(topics))}
	for _, t := range topics {
		row := topicRow{Name: t.Name, TopicUUID: t.TopicUUID}
		img.EachPartition(t.TopicUUID, func(p *metadata.PartitionRecord) {
			row.Partitions++
			if len(p.ISR) < len(p.Replicas) {
				row.UnderReplicated++
			}
			if p.Leader == metadata.NoLeader {
				row.Offline++
			}
		})
		out.Topics = append(out.Topics, row)
	}
	if more && len(topics) > 0 {
		out.Next = &topics[len(topics)-1].Name
	}
	writeJSON(w, http.StatusOK, out)
}

// brokerRow is a broker in GET /ui/api/brokers.
type brokerRow struct {
	BrokerID         int32  `json:"brokerId"`
	BrokerHost       string `json:"brokerHost"`
	BrokerPort       string `json:"brokerPort"`
	SecurityProtocol string `json:"securityProtocol"`
	RackID           string `json:"rackId"`
	Status           string `json:"status"`
	Epoch            int64  `json:"epoch"`
	// LastHeartbeatMs is the time since the leader last heard from the
	// broker; null when the answer is not the leader's (heartbeats live
	// only in its memory) or the broker is CLOSED.
	LastHeartbeatMs *int64 `json:"lastHeartbeatMs"`
}

type brokerPage struct {
	NodeID uint64 `json:"nodeId"`
	// LeaderView: the leader answered, so heartbeat ages are known.
	LeaderView    bool        `json:"leaderView"`
	HighWatermark int64       `json:"highWatermark"`
	Brokers       []brokerRow `json:"brokers"`
	Next          *int32      `json:"next,omitempty"`
}

// headerForwarded marks the relayed request (the API's header of the same
// name), so the node asked never relays it again.
const headerForwarded = "X-Yakt-Forwarded-By"

// relayTimeout bounds asking the leader for the broker table; past it the
// node answers its own view without heartbeat ages.
const relayTimeout = 2 * time.Second

// serveBrokers answers a page of brokers by id (after, limit) with their
// heartbeat ages. Only the leader knows those, so a follower relays the
// leader's answer and falls back to its own state without them.
func (h *Handler) serveBrokers(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r, "after", "limit") {
		return
	}
	limit, ok := queryInt(w, r, "limit", defaultBrokerPage, 1, maxBrokerPage)
	if !ok {
		return
	}
	after, ok := queryInt(w, r, "after", -1, 0, math.MaxInt32)
	if !ok {
		return
	}
	node := h.cfg.Controller
	if !node.IsLeader() && r.Header.Get(headerForwarded) == "" && h.relayBrokers(w, r) {
		return
	}
	img, err := h.cfg.Controller.Image(r.Context(), true)
	if err != nil {
		writeError(w, contract.CodeNotReady, "this node's state is not available: "+err.Error())
		return
	}
	now := time.Now()
	out := brokerPage{NodeID: node.NodeID(), LeaderView: node.IsLeader(), HighWatermark: img.Offset(), Brokers: []brokerRow{}}
	for _, b := range img.Brokers() { // sorted by id
		if int64(b.BrokerID) <= after {
			continue
		}
		if len(out.Brokers) == int(limit) {
			out.Next = &out.Brokers[len(out.Brokers)-1].BrokerID
			break
		}
		row := brokerRow{BrokerID: b.BrokerID, BrokerHost: b.BrokerHost, BrokerPort: b.BrokerPort,
			SecurityProtocol: b.SecurityProtocol, RackID: b.RackID, Status: b.BrokerStatus, Epoch: b.Epoch}
		if b.BrokerStatus != metadata.StatusClosed {
			if last, ok := h.cfg.Controller.LastHeartbeat(b.BrokerID); ok {
				ms := max(0, now.Sub(last).Milliseconds())
				row.LastHeartbeatMs = &ms
			}
		}
		out.Brokers = append(out.Brokers, row)
	}
	writeJSON(w, http.StatusOK, out)
}

// relayBrokers relays the leader's answer to the same request. It
// reports false, having written nothing, when there is no leader to ask
// or it gave no 200 in time.
func (h *Handler) relayBrokers(w http.ResponseWriter, r *http.Request) bool {
	node := h.cfg.Controller
	lead := node.Leader()
	addr, ok := node.PeerHTTPAddr(lead)
	if lead == 0 || !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), relayTimeout)
	defer cancel()
	scheme := "http"
	if h.cfg.RelayTLS != nil {
		scheme = "https"
	}
	u := scheme + "://" + addr + "/ui/api/brokers"
	if q := r.URL.RawQuery; q != "" {
		u += "?" + q
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false
	}
	req.Header.Set(headerForwarded, strconv.FormatUint(node.NodeID(), 10))
	if v := r.Header.Get("Authorization"); v != "" && h.cfg.RelayTLS == nil {
		// Without a node certificate the caller's own credential asks.
		req.Header.Set("Authorization", v)
	}
	// No kept-alive connections: a refresh every few seconds does not
	// need them, and a stale one to a dead leader would only cost the
	// fallback.
	tr := &http.Transport{DisableKeepAlives: true, TLSClientConfig: h.cfg.RelayTLS}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		h.log.Debug("dashboard: leader unreachable, answering the local broker view", "leader", lead, "err", err)
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return true
}
