package api

import (
	"net/http"
	"time"

	"github.com/yakt/yakt/internal/controller"
)

func (s *Server) serveHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) serveReadyz(w http.ResponseWriter, r *http.Request) {
	lead, applied, commit := s.node.Leader(), s.node.AppliedIndex(), s.node.CommitIndex()
	body := map[string]any{"leaderId": lead, "appliedOffset": applied, "commitOffset": commit}
	if lead == 0 || applied < commit {
		body["status"] = "not ready"
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	body["status"] = "ready"
	writeJSON(w, http.StatusOK, body)
}

type quorumVoter struct {
	NodeID        uint64 `json:"nodeId"`
	LogEndOffset  uint64 `json:"logEndOffset"`
	Lag           uint64 `json:"lag"`
	LastContactMs int64  `json:"lastContactMs"`
	Status        string `json:"status"`
}

type quorumResponse struct {
	ClusterID     string        `json:"clusterId"`
	LeaderID      uint64        `json:"leaderId"`
	LeaderEpoch   uint64        `json:"leaderEpoch"`
	HighWatermark uint64        `json:"highWatermark"`
	Voters        []quorumVoter `json:"voters"`
	Observers     []quorumVoter `json:"observers"`
}

// serveQuorum describes the quorum like kafka-metadata-quorum describe.
// Voters' replication progress is the leader's knowledge, so a follower
// forwards unless the caller accepts its stale local view.
func (s *Server) serveQuorum(w http.ResponseWriter, r *http.Request) {
	if !s.node.IsLeader() && !isStale(r) {
		s.onLeader(http.HandlerFunc(s.serveQuorumLocal)).ServeHTTP(w, r)
		return
	}
	s.serveQuorumLocal(w, r)
}

func (s *Server) serveQuorumLocal(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	st, err := s.node.Status(ctx)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := quorumResponse{ClusterID: s.cfg.ClusterID, LeaderID: st.Leader, LeaderEpoch: st.Term,
		HighWatermark: st.Commit, Voters: []quorumVoter{}, Observers: []quorumVoter{}}
	now := time.Now()
	for _, v := range st.Voters {
		qv := quorumVoter{NodeID: v.ID, LogEndOffset: v.Match, LastContactMs: -1}
		if st.LastIndex > v.Match {
			qv.Lag = st.LastIndex - v.Match
		}
		if !v.LastContact.IsZero() {
			qv.LastContactMs = now.Sub(v.LastContact).Milliseconds()
		}
		switch {
		case v.ID == st.Leader:
			qv.Status = "leader"
		case st.Leader != st.ID:
			qv.Status = "unknown" // only the leader tracks followers
		case v.Active:
			qv.Status = "follower"
		default:
			qv.Status = "unreachable"
		}
		resp.Voters = append(resp.Voters, qv)
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) serveCreateTopic(w http.ResponseWriter, r *http.Request) {
	var req controller.CreateTopicRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	out, offset, err := s.ctrl.CreateTopic(ctx, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	setOffset(w, offset)
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) serveGetTopic(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	out, err := s.ctrl.Topic(ctx, r.PathValue("name"), isStale(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
