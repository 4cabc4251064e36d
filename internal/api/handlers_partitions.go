package api

import "net/http"

func (s *Server) serveCreatePartition(w http.ResponseWriter, r *http.Request) { s.notYet(w, r) }
func (s *Server) serveGetPartition(w http.ResponseWriter, r *http.Request)    { s.notYet(w, r) }
func (s *Server) serveAddReplica(w http.ResponseWriter, r *http.Request)      { s.notYet(w, r) }
func (s *Server) serveRemoveReplica(w http.ResponseWriter, r *http.Request)   { s.notYet(w, r) }
func (s *Server) serveListTopics(w http.ResponseWriter, r *http.Request)      { s.notYet(w, r) }
func (s *Server) serveDeleteTopic(w http.ResponseWriter, r *http.Request)     { s.notYet(w, r) }
func (s *Server) serveAllocateProducerIDs(w http.ResponseWriter, r *http.Request) {
	s.notYet(w, r)
}
