package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// api is one Kafka API this listener serves.
type api struct {
	key        int16
	minVersion int16
	maxVersion int16
	// controller is set for the writes only the controller (the raft
	// leader) runs; a follower forwards them to it.
	controller bool
	// serve answers a decoded request. Errors a Kafka client should see
	// go into the response's error codes; a returned error is a protocol
	// failure and closes the connection.
	serve func(ctx context.Context, s *Server, h Header, req kmsg.Request) (kmsg.Response, error)
}

// apis holds every served API by key; files register theirs in init.
var apis = map[int16]*api{}

func register(a *api) {
	if _, dup := apis[a.key]; dup {
		panic("kafka: API registered twice: " + kmsg.NameForKey(a.key))
	}
	apis[a.key] = a
}

// Header is a request's header (request header v1, or v2 with its tag
// section for flexible versions).
type Header struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	ClientID      *string
}
