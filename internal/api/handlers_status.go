package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/yakt/yakt/internal/raftnode"
)

// readyBarrierTimeout bounds the read barrier /readyz runs. A barrier
// takes one heartbeat round trip when a leader with a quorum is there;
// one that takes longer means reads here would fail or stall as well.
const readyBarrierTimeout = 2 * time.Second

// serveReadyz is ready exactly when this node can serve a linearizable
// read: it runs a read barrier (ReadIndex, then wait until applied) with a
// short timeout. Probes arriving together share one ReadIndex round (the
// raft loop batches them), so probing costs about a heartbeat.
func (s *Server) serveReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), min(readyBarrierTimeout, s.cfg.RequestTimeout))
	defer cancel()
	err := s.node.ReadBarrier(ctx)
	body := map[string]any{"leaderId": s.node.Leader(), "appliedOffset": s.node.AppliedIndex(), "commitOffset": s.node.CommitIndex()}
	if err != nil {
		body["status"] = "not ready"
		body["reason"] = notReadyReason(err)
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	body["status"] = "ready"
	writeJSON(w, http.StatusOK, body)
}

func notReadyReason(err error) string {
	switch {
	case errors.Is(err, raftnode.ErrNoLeader):
		return "no leader is known: this node cannot reach a quorum"
	case errors.Is(err, context.DeadlineExceeded):
		return "read barrier timed out: the leader did not confirm its leadership in time"
	case errors.Is(err, raftnode.ErrStopped):
		return "node is stopping"
	}
	return "read barrier failed: " + err.Error()
}

// Voter statuses in GET /v1/quorum (docs/api.md).
const (
	voterLeader      = "leader"      // leads (the live answer), or is the leader this node follows
	voterFollower    = "follower"    // live answer: reachable, replicating; stale answer: this node, following a leader
	voterLagging     = "lagging"     // live answer: reachable but being probed or sent a snapshot
	voterCandidate   = "candidate"   // stale answer: this node, knowing no leader, trying to get elected
	voterUnreachable = "unreachable" // not heard from within the election timeout
	voterUnknown     = "unknown"     // stale answer: reachable from this node, progress unknown here
)

type quorumVoter struct {
	NodeID        uint64  `json:"nodeId"`
	PeerAddress   string  `json:"peerAddress"`
	HTTPAddress   string  `json:"httpAddress,omitempty"`
	LogEndOffset  *uint64 `json:"logEndOffset"`  // null: unknown to the answering node
	Lag           *uint64 `json:"lag"`           // null: unknown
	LastContactMs *int64  `json:"lastContactMs"` // null: never heard from
	Status        string  `json:"status"`
}

type quorumResponse struct {
	ClusterID string `json:"clusterId"`
	NodeID    uint64 `json:"nodeId"` // whose view this is
	// Stale is false only in the current leader's own view; true when the
	// answering node does not lead (asked with ?stale=true, or no leader
	// could be reached), in which case values are its last known ones.
	Stale   bool   `json:"stale"`
	StaleMs *int64 `json:"staleMs"` // since the values were last confirmed by a live leader; null: never
	// LeaderID is the current leader, -1 when the answering node knows none.
	LeaderID      int64         `json:"leaderId"`
	LastLeaderID  *uint64       `json:"lastLeaderId"` // the most recent leader known, itself included; null: none
	LeaderEpoch   uint64        `json:"leaderEpoch"`
	HighWatermark uint64        `json:"highWatermark"`
	Voters        []quorumVoter `json:"voters"`
	Observers     []quorumVoter `json:"observers"`
}

// quorumForwardTimeout bounds asking the leader for its view; past it (or
// on any failure) a follower answers its own view, marked stale.
const quorumForwardTimeout = 2 * time.Second

// serveQuorum describes the quorum like kafka-metadata-quorum describe.
// Voters' replication progress is the leader's knowledge, so a follower
// asks the leader, unless the caller accepts the local view; when no
// leader is known or it cannot be reached, the follower answers its own
// last known values marked stale rather than failing: this is the call an
// operator makes exactly when the quorum is in trouble.
func (s *Server) serveQuorum(w http.ResponseWriter, r *http.Request) {
	if !s.node.IsLeader() && !isStale(r) && r.Header.Get(headerForwarded) == "" {
		if s.relayLeaderQuorum(w, r) {
			return
		}
	}
	s.serveQuorumLocal(w, r)
}

// relayLeaderQuorum relays the leader's GET /v1/quorum answer. It reports
// false, having written nothing, when there is no leader to ask or the
// leader gave no 200 in time. A read needs none of the write forwarding's
// care about outcomes, so it uses a plain client without kept-alive
// connections (a stale one to a dead leader would only cost a fallback).
func (s *Server) relayLeaderQuorum(w http.ResponseWriter, r *http.Request) bool {
	lead := s.node.Leader()
	addr, ok := s.node.PeerHTTPAddr(lead)
	if lead == 0 || !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), min(quorumForwardTimeout, s.cfg.RequestTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/quorum", nil)
	if err != nil {
		return false
	}
	req.Header.Set(headerForwarded, strconv.FormatUint(s.node.ID(), 10))
	req.Header.Set(HeaderRequestID, requestID(r))
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		s.log.Info("quorum: leader unreachable, answering the local view", "leader", lead, "err", err)
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		s.log.Info("quorum: no answer from the leader, answering the local view", "leader", lead, "status", resp.StatusCode, "err", err)
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return true
}

func (s *Server) serveQuorumLocal(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	st, err := s.node.Status(ctx)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, describeQuorum(s.cfg.ClusterID, st, time.Now()))
}

// describeQuorum turns a node's Status into the /v1/quorum answer.
func describeQuorum(clusterID string, st raftnode.Status, now time.Time) quorumResponse {
	live := st.State == "leader"
	resp := quorumResponse{ClusterID: clusterID, NodeID: st.ID, Stale: !live, LeaderID: -1,
		LeaderEpoch: st.Term, HighWatermark: st.Commit, Voters: []quorumVoter{}, Observers: []quorumVoter{}}
	if st.Leader != 0 {
		resp.LeaderID = int64(st.Leader)
	}
	if st.LastLeader != 0 {
		resp.LastLeaderID = ptr(st.LastLeader)
	}
	if !st.FreshAt.IsZero() {
		resp.StaleMs = ptr(max(0, now.Sub(st.FreshAt).Milliseconds()))
	}
	if live {
		resp.StaleMs = ptr(int64(0))
	}
	for _, v := range st.Voters {
		qv := quorumVoter{NodeID: v.ID, PeerAddress: v.PeerAddr, HTTPAddress: v.HTTPAddr}
		// The leader judges reachability by raft messages (a follower whose
		// raft loop is wedged does not answer them); other nodes by
		// anything, keepalives included, as voters send each other no raft
		// messages while a leader is in charge.
		heard := v.LastHeard
		if live {
			heard = v.LastContact
		}
		if !heard.IsZero() {
			qv.LastContactMs = ptr(max(0, now.Sub(heard).Milliseconds()))
		}
		reachable := !heard.IsZero() && now.Sub(heard) < st.ElectionTimeout
		if v.MatchKnown {
			qv.LogEndOffset = ptr(v.Match)
			if !st.ProgressAt.IsZero() && (live || v.ID != st.ID) {
				qv.Lag = ptr(st.ProgressLastIndex - min(v.Match, st.ProgressLastIndex))
			}
		}
		switch {
		case v.ID == st.ID && live:
			qv.Status = voterLeader
		case v.ID == st.ID && st.Leader != 0:
			qv.Status = voterFollower
		case v.ID == st.ID:
			qv.Status = voterCandidate
		case !reachable:
			qv.Status = voterUnreachable
		case v.ID == st.Leader:
			qv.Status = voterLeader
		case !live:
			qv.Status = voterUnknown
		case v.State == "replicate":
			qv.Status = voterFollower
		default:
			qv.Status = voterLagging
		}
		resp.Voters = append(resp.Voters, qv)
	}
	return resp
}

func ptr[T any](v T) *T { return &v }
