package raftnode

import (
	"context"

	"github.com/yakt/yakt/internal/transport"
)

// ForwardRequest sends req to peer to on the peer connection and waits for
// its answer (transport.Transport.Request: errors wrapping
// transport.ErrRequestNotRun prove it did not run there).
func (n *Node) ForwardRequest(ctx context.Context, to uint64, req *transport.Request) (*transport.Response, error) {
	return n.transport.Request(ctx, to, req)
}

// ServeForwarded sets the handler for the requests peers forward to this
// node; nil refuses them unrun. The API server registers itself here once
// it exists, which is after the node started.
func (n *Node) ServeForwarded(h transport.RequestHandler) { n.transport.SetRequestHandler(h) }
