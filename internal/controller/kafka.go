package controller

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/yakt/yakt/internal/raftnode"
	"github.com/yakt/yakt/internal/transport"
)

// KafkaMethod is the transport.Request Method of a Kafka request a
// follower forwards to the leader: its Body is the request frame (header
// and body, without the size), the answer's Body the response body. Such
// requests reach only the handler ServeForwardedKafka sets, never the
// HTTP API, which has no route for that method either.
const KafkaMethod = "KAFKA"

// forwardedHandlers dispatches the requests peers forward here by kind:
// Kafka requests to the Kafka listener, every other one to the HTTP API.
// The node holds one handler; each front door sets and clears its own.
type forwardedHandlers struct {
	mu          sync.Mutex
	http, kafka transport.RequestHandler
}

func (f *forwardedHandlers) set(node *raftnode.Node, slot *transport.RequestHandler, h transport.RequestHandler) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*slot = h
	if f.http == nil && f.kafka == nil {
		node.ServeForwarded(nil)
		return
	}
	node.ServeForwarded(f.serve)
}

func (f *forwardedHandlers) serve(ctx context.Context, from uint64, req *transport.Request) (*transport.Response, error) {
	f.mu.Lock()
	h := f.http
	if req.Method == KafkaMethod {
		h = f.kafka
	}
	f.mu.Unlock()
	if h == nil {
		return nil, fmt.Errorf("%w: %s requests", transport.ErrNotServed, req.Method)
	}
	return h(ctx, from, req)
}

// ServeForwardedKafka sets the handler of the Kafka requests peers
// forward here (Method KafkaMethod); nil refuses them unrun.
func (c *Controller) ServeForwardedKafka(h transport.RequestHandler) {
	c.forwarded.set(c.node, &c.forwarded.kafka, h)
}

// PeerKafkaAddr is the Kafka address node id advertised (this node's
// own for its id); ok is false when it has no Kafka listener or has not
// connected to this node yet.
func (c *Controller) PeerKafkaAddr(id uint64) (string, bool) { return c.node.PeerKafkaAddr(id) }

// KafkaNode is a quorum member with a Kafka listener.
type KafkaNode struct {
	ID   uint64
	Addr string // advertised host:port
}

// KafkaNodes lists the quorum's members (voters and observers) whose
// Kafka address this node knows, by id: the brokers of Kafka's Metadata.
func (c *Controller) KafkaNodes() []KafkaNode {
	var out []KafkaNode
	seen := map[uint64]bool{}
	add := func(id uint64) {
		if seen[id] {
			return
		}
		seen[id] = true
		if addr, ok := c.node.PeerKafkaAddr(id); ok {
			out = append(out, KafkaNode{ID: id, Addr: addr})
		}
	}
	add(c.node.ID())
	for _, m := range c.node.Members() {
		add(m.NodeID)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
