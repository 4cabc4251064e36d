package api

import (
	"net/http"

	"github.com/yakt/yakt/contract"
)

func (s *Server) serveHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, contract.Health{Status: "ok"})
}

func (s *Server) serveCreateTopic(w http.ResponseWriter, r *http.Request) {
	var req contract.CreateTopicRequest
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
