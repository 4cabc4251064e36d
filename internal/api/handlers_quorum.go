package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
)

// Quorum membership (docs/api.md, "Quorum membership"). The changes are
// writes: they run on the leader, forwarded there by a follower.

// membershipPatterns are the routes that change the quorum's membership
// or leadership. They take an Idempotency-Key's format but store no
// answer under it (the changes are not metadata records; adding or
// promoting a member twice is a no-op anyway), and a forward of one is
// never resent after it may have reached the leader: the change itself
// moves or removes the leader, and a resend to the next leader would
// repeat it (a transfer to "any other voter" would move the leadership
// on again).
var membershipPatterns = map[string]bool{
	"POST /v1/quorum/leader":             true,
	"DELETE /v1/quorum/members/{nodeId}": true,
	"POST /v1/quorum/observers":          true,
	"POST /v1/quorum/voters":             true,
}

// serveNode answers who this node is, from its own state: what an
// operator needs to add it to a quorum.
func (s *Server) serveNode(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.ctrl.Node())
}

func (s *Server) serveAddObserver(w http.ResponseWriter, r *http.Request) {
	var req contract.QuorumMember
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	q, err := s.ctrl.AddObserver(ctx, req)
	s.replyRead(w, r, q, err)
}

func (s *Server) servePromoteVoter(w http.ResponseWriter, r *http.Request) {
	var req contract.PromoteVoterRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	q, err := s.ctrl.PromoteVoter(ctx, req)
	s.replyRead(w, r, q, err)
}

func (s *Server) serveRemoveMember(w http.ResponseWriter, r *http.Request) {
	v := r.PathValue("nodeId")
	id, err := strconv.ParseUint(v, 10, 64)
	if err != nil || id == 0 {
		s.writeError(w, r, invalid("nodeId in the path must be a node id of 1 or more, got %q", clipInput(v)))
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	q, err := s.ctrl.RemoveMember(ctx, id, r.URL.Query().Get("directoryId"))
	if errors.Is(err, controller.ErrLeadershipHandedOver) {
		s.removeOnNewLeader(ctx, w, r)
		return
	}
	s.replyRead(w, r, q, err)
}

// removeOnNewLeader carries out a removal of this node, which has just
// handed its leadership over for it, on the new leader: it waits (within
// ctx) until another node leads and forwards the request there, so the
// caller need not retry. The forward is not resent after it may have
// reached the new leader, and if the leadership comes back here the
// answer is NO_LEADER: nothing is removed twice, and no two nodes pass
// the request back and forth.
func (s *Server) removeOnNewLeader(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	self := s.ctrl.NodeID()
	lead, err := s.waitOtherLeader(ctx, self)
	if err != nil {
		s.writeError(w, r, contract.Errorf(contract.CodeNoLeader,
			"node %d handed over its leadership to be removed, but no other node took it in time; retry", self))
		return
	}
	s.log.Info("quorum: removing this node on the new leader", "leader", lead, "request", requestID(r))
	w.Header().Set(HeaderLeader, strconv.FormatUint(lead, 10))
	s.fwd.serve(ctx, w, r, nil, false, func() {
		s.writeError(w, r, contract.Errorf(contract.CodeNoLeader,
			"the leadership came back to node %d before it could be removed; retry", self))
	})
}

// waitOtherLeader waits until a node other than self leads, polling as
// the forwarder watches leaders (there is no leader-change signal).
func (s *Server) waitOtherLeader(ctx context.Context, self uint64) (uint64, error) {
	t := time.NewTicker(leaderWatchInterval)
	defer t.Stop()
	for {
		if lead := s.ctrl.Leader(); lead != 0 && lead != self {
			return lead, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}

func (s *Server) serveTransferLeader(w http.ResponseWriter, r *http.Request) {
	var req contract.TransferLeaderRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	if err := s.ctrl.TransferLeader(ctx, req); err != nil {
		s.writeError(w, r, err)
		return
	}
	// The answer is the new leader's view, and names it.
	if lead := s.ctrl.Leader(); lead != 0 {
		w.Header().Set(HeaderLeader, strconv.FormatUint(lead, 10))
	}
	if !s.ctrl.IsLeader() && s.relayLeaderQuorum(w, r) {
		return
	}
	s.serveQuorumLocal(w, r)
}
