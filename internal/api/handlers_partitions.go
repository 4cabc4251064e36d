package api

import (
	"net/http"

	"github.com/yakt/yakt/contract"
)

func (s *Server) serveDeleteTopic(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	rec, offset, err := s.ctrl.DeleteTopic(ctx, r.PathValue("name"))
	s.replyWrite(w, r, http.StatusOK, rec, offset, err)
}

func (s *Server) serveCreatePartition(w http.ResponseWriter, r *http.Request) {
	var req contract.CreatePartitionRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	rec, offset, err := s.ctrl.CreatePartition(ctx, r.PathValue("name"), req)
	s.replyWrite(w, r, http.StatusCreated, rec, offset, err)
}

func (s *Server) serveGetPartition(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "partitionId")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	out, err := s.ctrl.Partition(ctx, r.PathValue("name"), id, isStale(r))
	s.replyRead(w, r, out, err)
}

func (s *Server) serveAddReplica(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "partitionId")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req contract.AddReplicaRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	rec, offset, err := s.ctrl.AddReplica(ctx, r.PathValue("name"), id, req)
	s.replyWrite(w, r, http.StatusOK, rec, offset, err)
}

func (s *Server) serveRemoveReplica(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "partitionId")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	broker, err := pathID(r, "brokerId")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	rec, offset, err := s.ctrl.RemoveReplica(ctx, r.PathValue("name"), id, broker)
	s.replyWrite(w, r, http.StatusOK, rec, offset, err)
}

func (s *Server) serveAllocateProducerIDs(w http.ResponseWriter, r *http.Request) {
	var req contract.AllocateProducerIDsRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.BrokerID != nil && !s.actForBroker(w, r, *req.BrokerID) {
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	out, offset, err := s.ctrl.AllocateProducerIDs(ctx, req)
	s.replyWrite(w, r, http.StatusCreated, out, offset, err)
}

func (s *Server) serveAlterISR(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "partitionId")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req contract.AlterISRRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	// brokerId is the partition leader's, which the controller checks
	// against the partition: a broker reports only its own partitions.
	if req.BrokerID != nil && !s.actForBroker(w, r, *req.BrokerID) {
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	rec, offset, err := s.ctrl.AlterISR(ctx, r.PathValue("name"), id, req)
	s.replyWrite(w, r, http.StatusOK, rec, offset, err)
}
