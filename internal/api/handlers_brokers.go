package api

import (
	"net/http"
	"strconv"

	"github.com/yakt/yakt/contract"
)

func (s *Server) serveRegisterBroker(w http.ResponseWriter, r *http.Request) {
	var req contract.RegisterBrokerRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	// Without a brokerId the controller refuses it, proposing nothing.
	if req.BrokerID != nil && !s.actForBroker(w, r, *req.BrokerID) {
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	rec, offset, err := s.ctrl.RegisterBroker(ctx, req)
	s.replyWrite(w, r, http.StatusCreated, rec, offset, err)
}

func (s *Server) serveGetBroker(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "brokerId")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	out, err := s.ctrl.Broker(ctx, id, isStale(r))
	s.replyRead(w, r, out, err)
}

func (s *Server) servePatchBroker(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "brokerId")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req contract.PatchBrokerRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	rec, offset, err := s.ctrl.PatchBroker(ctx, id, req)
	s.replyWrite(w, r, http.StatusOK, rec, offset, err)
}

func (s *Server) serveUnregisterBroker(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "brokerId")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	rec, offset, err := s.ctrl.UnregisterBroker(ctx, id)
	s.replyWrite(w, r, http.StatusOK, rec, offset, err)
}

// pathID parses the path wildcard name as a broker or partition id: a
// decimal int32 >= 0, else INVALID_REQUEST naming it.
func pathID(r *http.Request, name string) (int32, error) {
	v := r.PathValue(name)
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 0 {
		return 0, contract.Errorf(contract.CodeInvalidRequest, "%s in the path must be an integer 0..2147483647, got %q", name, v)
	}
	return int32(n), nil
}

// replyRead answers a read: err, or v with 200.
func (s *Server) replyRead(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// replyWrite answers a write: err, or v with status and the offset its
// records committed at in X-Yakt-Offset.
func (s *Server) replyWrite(w http.ResponseWriter, r *http.Request, status int, v any, offset int64, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	setOffset(w, offset)
	writeJSON(w, status, v)
}

func (s *Server) serveShutdownBroker(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "brokerId")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !s.actForBroker(w, r, id) {
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	out, offset, err := s.ctrl.ControlledShutdown(ctx, id)
	s.replyWrite(w, r, http.StatusOK, out, offset, err)
}
