package api

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/yakt/yakt/contract"
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
	out := s.ctrl.Readiness(ctx)
	status := http.StatusOK
	if out.Status != contract.Ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, out)
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
	if !s.ctrl.IsLeader() && !isStale(r) && r.Header.Get(headerForwarded) == "" {
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
	lead := s.ctrl.Leader()
	addr, ok := s.ctrl.PeerHTTPAddr(lead)
	if lead == 0 || !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), min(quorumForwardTimeout, s.cfg.RequestTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, nodeScheme(s.cfg.NodeTLS)+"://"+addr+"/v1/quorum", nil)
	if err != nil {
		return false
	}
	req.Header.Set(headerForwarded, strconv.FormatUint(s.ctrl.NodeID(), 10))
	req.Header.Set(HeaderRequestID, requestID(r))
	if v := r.Header.Get("Authorization"); v != "" && s.cfg.NodeTLS == nil {
		// Without a node certificate the caller's own credential asks.
		req.Header.Set("Authorization", v)
	}
	tr := &http.Transport{DisableKeepAlives: true, TLSClientConfig: s.cfg.NodeTLS}
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
	q, err := s.ctrl.Quorum(ctx)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, q)
}
