package api

import (
	"net/http"

	"github.com/yakt/yakt/internal/ui"
)

// newDashboard builds the dashboard (internal/ui) this node serves at /ui
// and registers its routes on mux. They go through the same middleware as
// the API (headers, request ids, the in-flight bound) but are not in the
// API's route table: they are a page for people, not the contract.
func (s *Server) newDashboard(mux *http.ServeMux) {
	s.dash = ui.New(ui.Config{Controller: s.ctrl, Logger: s.log})
	for _, rt := range s.dash.Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
}
