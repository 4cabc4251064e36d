package api

import (
	"net/http"

	"github.com/yakt/yakt/internal/ui"
)

// newDashboard builds the dashboard (internal/ui) this node serves at /ui
// and registers its routes on mux. They go through the same middleware as
// the API (headers, request ids, the in-flight bound, authentication) but
// are not in the API's route table: they are a page for people, not the
// contract. Reading it needs the reader role; an event stream is a long
// poll for as long as it is open.
func (s *Server) newDashboard(mux *http.ServeMux) {
	s.dash = ui.New(ui.Config{Controller: s.ctrl, Logger: s.log, RelayTLS: s.cfg.NodeTLS})
	for _, rt := range s.dash.Routes() {
		var h http.Handler = rt.Handler
		if rt.Pattern == dashboardEvents {
			h = s.limitLongPolls(h)
		}
		mux.Handle(rt.Pattern, s.authorize(accessRead, h))
	}
}

// dashboardEvents is the dashboard's event stream route.
const dashboardEvents = "GET /ui/events"
