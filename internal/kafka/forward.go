package kafka

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/transport"
)

// maxForwardFrameBytes bounds a request frame a follower forwards: the
// peer transport's request frames hold at most 2 MiB with the rest of
// the envelope.
const maxForwardFrameBytes = 2<<20 - 64<<10

// Pauses between forwarding attempts: short, because the usual wait is
// for an election that takes one election timeout.
const (
	forwardMinBackoff = 10 * time.Millisecond
	forwardMaxBackoff = 200 * time.Millisecond
)

// forward runs a controller request on the leader, as KRaft brokers
// forward them to the controller (KIP-590), and relays its answer:
//
//   - while no leader is known, or this node leads by now, or the leader
//     has no Kafka listener, the request runs here, where the controller
//     refuses a write with NO_LEADER, answered NOT_CONTROLLER (41) so the
//     client retries;
//   - an attempt the transport proves did not run on the leader (it was
//     not written, or the leader refused it unrun) is sent again, to
//     whichever node leads by then, until the request's deadline;
//   - an attempt that may have run there and got no answer closes the
//     client's connection, as a broker that died mid-request would: the
//     client cannot know the outcome, and its retry of, say, a
//     CreateTopics answers TOPIC_ALREADY_EXISTS when the first one took.
func (s *Server) forward(ctx context.Context, req request, frame []byte) ([]byte, error) {
	if len(frame) > maxForwardFrameBytes {
		return nil, fmt.Errorf("%s request of %d bytes is too large to forward to the leader (at most %d)",
			kmsg.NameForKey(req.APIKey), len(frame), maxForwardFrameBytes)
	}
	backoff := forwardMinBackoff
	for {
		lead := s.ctrl.Leader()
		// A leader without a Kafka listener (the nodes configured
		// differently) cannot run it either: answered here, so the client
		// hears NOT_CONTROLLER rather than a closed connection.
		_, leaderServes := s.ctrl.PeerKafkaAddr(lead)
		if lead == 0 || lead == s.ctrl.NodeID() || !leaderServes {
			resp, err := s.run(ctx, req)
			if err != nil {
				return nil, err
			}
			return appendResponse(nil, req.CorrelationID, resp), nil
		}
		ans, err := s.ctrl.ForwardRequest(ctx, lead, &transport.Request{Method: controller.KafkaMethod, URI: "/", Body: frame})
		if err == nil {
			if ans.Status != http.StatusOK {
				return nil, fmt.Errorf("leader %d answered the forwarded %s with status %d: %s", lead, kmsg.NameForKey(req.APIKey), ans.Status, ans.Body)
			}
			kind := req.req.ResponseKind()
			kind.SetVersion(req.APIVersion)
			return appendEncodedResponse(nil, req.CorrelationID, kind.IsFlexible(), ans.Body), nil
		}
		if !errors.Is(err, transport.ErrRequestNotRun) || ctx.Err() != nil {
			return nil, fmt.Errorf("forward %s to leader %d: the outcome is unknown: %w", kmsg.NameForKey(req.APIKey), lead, err)
		}
		s.log.Debug("forward to leader not run; retrying", "leader", lead, "api", kmsg.NameForKey(req.APIKey), "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("forward %s: no leader took it in time: %w", kmsg.NameForKey(req.APIKey), err)
		}
		backoff = min(2*backoff, forwardMaxBackoff)
	}
}

// serveForwarded runs a Kafka request a follower forwarded (its frame,
// Method controller.KafkaMethod) and answers the encoded response body.
// Only controller APIs are taken: the peer port is no way around the
// Kafka port. It runs here whether or not this node still leads: a node
// that lost the leadership answers NOT_CONTROLLER through the controller.
func (s *Server) serveForwarded(ctx context.Context, from uint64, treq *transport.Request) (*transport.Response, error) {
	req, err := parseRequest(treq.Body)
	if err != nil {
		return &transport.Response{Status: http.StatusBadRequest, Body: []byte(err.Error())}, nil
	}
	if !req.supported || !req.api.controller {
		return &transport.Response{Status: http.StatusBadRequest,
			Body: fmt.Appendf(nil, "%s v%d is not forwarded", kmsg.NameForKey(req.APIKey), req.APIVersion)}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	resp, err := s.run(ctx, req)
	if err != nil {
		return nil, err
	}
	s.log.Debug("ran a forwarded Kafka request", "from", from, "api", kmsg.NameForKey(req.APIKey))
	return &transport.Response{Status: http.StatusOK, Body: resp.AppendTo(nil)}, nil
}
