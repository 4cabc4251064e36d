package api

import (
	"net/http"

	"github.com/yakt/yakt/contract"
)

// Leader elections and partition reassignments (docs/api.md, "Configs,
// elections and reassignments"). Both writes answer 200 with a result per
// partition, each with its own error when it failed: like Kafka's
// ElectLeaders and AlterPartitionReassignments, one partition's problem
// does not refuse the others. Only a request that is wrong as a whole (an
// unknown election type, a body that is not the contract's) or a write
// the cluster refuses as a whole (MIGRATION_IN_PROGRESS, NO_LEADER) is an
// error answer.

func (s *Server) serveElectLeaders(w http.ResponseWriter, r *http.Request) {
	var req contract.ElectLeadersRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	out, err := s.ctrl.ElectLeaders(ctx, req)
	s.replyWrite(w, r, http.StatusOK, out, out.Offset, err)
}

func (s *Server) serveAlterReassignments(w http.ResponseWriter, r *http.Request) {
	var req contract.ReassignRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Partitions == nil {
		s.writeError(w, r, invalid("partitions is required"))
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	out, err := s.ctrl.AlterReassignments(ctx, req)
	s.replyWrite(w, r, http.StatusOK, out, out.Offset, err)
}

// serveListReassignments lists the reassignments in progress; ?topic=
// keeps one topic's.
func (s *Server) serveListReassignments(w http.ResponseWriter, r *http.Request) {
	var filter []contract.TopicPartitions
	if topic := r.URL.Query().Get("topic"); topic != "" {
		filter = []contract.TopicPartitions{{Topic: topic}}
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	out, err := s.ctrl.ListReassignments(ctx, filter, isStale(r))
	if err == nil {
		setOffset(w, out.Offset)
	}
	s.replyRead(w, r, out, err)
}
