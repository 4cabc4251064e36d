package api

import "net/http"

func (s *Server) serveRegisterBroker(w http.ResponseWriter, r *http.Request)   { s.notYet(w, r) }
func (s *Server) serveListBrokers(w http.ResponseWriter, r *http.Request)      { s.notYet(w, r) }
func (s *Server) serveGetBroker(w http.ResponseWriter, r *http.Request)        { s.notYet(w, r) }
func (s *Server) servePatchBroker(w http.ResponseWriter, r *http.Request)      { s.notYet(w, r) }
func (s *Server) serveUnregisterBroker(w http.ResponseWriter, r *http.Request) { s.notYet(w, r) }
