package kafka

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/yakt/yakt/internal/metadata"
)

func init() {
	// controller: the leader alone hands out ids, from blocks it takes
	// for itself, so a follower forwards every InitProducerId there.
	register(&api{key: kmsg.InitProducerID.Int16(), minVersion: 0, maxVersion: 4, controller: true, serve: serveInitProducerID})
}

// producerIDs hands out the ids of the block this node took last
// (controller.AllocateNodeProducerIDs), taking the next block when it is
// used up. Ids a node held when it lost the leadership, or stopped, are
// never handed out: a block is given once, whoever leads later takes
// another.
type producerIDs struct {
	mu        sync.Mutex
	next, end int64
}

func (p *producerIDs) take(ctx context.Context, s *Server) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.end {
		first, err := s.ctrl.AllocateNodeProducerIDs(ctx)
		if err != nil {
			return 0, err
		}
		p.next, p.end = first, first+metadata.ProducerIDBlockSize
	}
	id := p.next
	p.next++
	return id, nil
}

// serveInitProducerID gives an idempotent producer a new producer id at
// epoch 0. YAKt coordinates no transactions: a transactional id is
// refused with INVALID_REQUEST. A producer that names its current id and
// epoch (v3+, to bump its epoch) gets a new id instead, which an
// idempotent producer takes the same way.
func serveInitProducerID(ctx context.Context, s *Server, h Header, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.InitProducerIDRequest)
	resp := kmsg.NewPtrInitProducerIDResponse()
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = errInvalidRequest
		return resp, nil
	}
	id, err := s.pids.take(ctx, s)
	if err != nil {
		resp.ErrorCode, _ = errorCode(err)
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp, nil
}
