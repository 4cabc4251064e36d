package api

import "net/http"

func (s *Server) serveBrokerFetch(w http.ResponseWriter, r *http.Request)    { s.notYet(w, r) }
func (s *Server) serveClientFetch(w http.ResponseWriter, r *http.Request)    { s.notYet(w, r) }
func (s *Server) serveLog(w http.ResponseWriter, r *http.Request)            { s.notYet(w, r) }
func (s *Server) serveListSnapshots(w http.ResponseWriter, r *http.Request)  { s.notYet(w, r) }
func (s *Server) serveTakeSnapshot(w http.ResponseWriter, r *http.Request)   { s.notYet(w, r) }
func (s *Server) serveLatestSnapshot(w http.ResponseWriter, r *http.Request) { s.notYet(w, r) }
