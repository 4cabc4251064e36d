package api

import (
	"net/http"
	"strconv"

	"github.com/yakt/yakt/contract"
)

// Configs of topics, brokers and the cluster-wide broker default (Kafka's
// ConfigRecord): GET describes, with ?name= (repeatable) to pick configs;
// PATCH applies an AlterConfigsRequest's ops in one atomic batch.

func (s *Server) serveGetTopicConfigs(w http.ResponseWriter, r *http.Request) {
	s.describeConfigs(w, r, contract.ConfigResource{Type: contract.ConfigResourceTopic, Name: r.PathValue("name")})
}

func (s *Server) servePatchTopicConfigs(w http.ResponseWriter, r *http.Request) {
	s.alterConfigs(w, r, contract.ConfigResource{Type: contract.ConfigResourceTopic, Name: r.PathValue("name")})
}

func (s *Server) serveGetBrokerConfigs(w http.ResponseWriter, r *http.Request) {
	if res, ok := s.brokerConfigResource(w, r); ok {
		s.describeConfigs(w, r, res)
	}
}

func (s *Server) servePatchBrokerConfigs(w http.ResponseWriter, r *http.Request) {
	if res, ok := s.brokerConfigResource(w, r); ok {
		s.alterConfigs(w, r, res)
	}
}

func (s *Server) serveGetClusterConfigs(w http.ResponseWriter, r *http.Request) {
	s.describeConfigs(w, r, contract.ConfigResource{Type: contract.ConfigResourceBroker})
}

func (s *Server) servePatchClusterConfigs(w http.ResponseWriter, r *http.Request) {
	s.alterConfigs(w, r, contract.ConfigResource{Type: contract.ConfigResourceBroker})
}

// brokerConfigResource is the broker resource of the path's brokerId,
// named in canonical decimal ("007" and "7" are one broker).
func (s *Server) brokerConfigResource(w http.ResponseWriter, r *http.Request) (contract.ConfigResource, bool) {
	id, err := pathID(r, "brokerId")
	if err != nil {
		s.writeError(w, r, err)
		return contract.ConfigResource{}, false
	}
	return contract.ConfigResource{Type: contract.ConfigResourceBroker, Name: strconv.FormatInt(int64(id), 10)}, true
}

func (s *Server) describeConfigs(w http.ResponseWriter, r *http.Request, res contract.ConfigResource) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	out, err := s.ctrl.DescribeConfigs(ctx, res, r.URL.Query()["name"], isStale(r))
	s.replyRead(w, r, out, err)
}

func (s *Server) alterConfigs(w http.ResponseWriter, r *http.Request, res contract.ConfigResource) {
	var req contract.AlterConfigsRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	out, offset, err := s.ctrl.AlterConfigs(ctx, res, req)
	s.replyWrite(w, r, http.StatusOK, out, offset, err)
}
