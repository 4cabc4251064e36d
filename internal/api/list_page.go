package api

import (
	"math"
	"net/http"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
)

// listLimit reads a list's page size: limit when given (1..contract.MaxListLimit),
// else contract.DefaultListLimit when after is given (a page was asked for), else
// 0, the unpaged answer that lists everything as before paging existed.
func listLimit(r *http.Request) (int, error) {
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := queryInt("limit", v, 1, contract.MaxListLimit)
		return int(n), err
	}
	if q.Has("after") {
		return contract.DefaultListLimit, nil
	}
	return 0, nil
}

func (s *Server) serveListTopics(w http.ResponseWriter, r *http.Request) {
	limit, err := listLimit(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	out, err := s.ctrl.ListTopics(ctx, isStale(r), controller.TopicPage{Limit: limit, After: r.URL.Query().Get("after")})
	s.replyRead(w, r, out, err)
}

func (s *Server) serveListBrokers(w http.ResponseWriter, r *http.Request) {
	limit, err := listLimit(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page := controller.BrokerPage{Limit: limit}
	if v := r.URL.Query().Get("after"); v != "" {
		id, err := queryInt("after", v, 0, math.MaxInt32)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		after := int32(id)
		page.After = &after
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	out, err := s.ctrl.ListBrokers(ctx, r.URL.Query().Get("status"), isStale(r), page)
	s.replyRead(w, r, out, err)
}
