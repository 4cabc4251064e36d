package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/yakt/yakt/contract"
)

// ElectLeaders (43): preferred (type 0, and every v0 request) or unclean
// (type 1) leader elections, for the partitions named or, with a null
// topic list, every partition.

func init() {
	register(&api{key: 43, minVersion: 0, maxVersion: 2, controller: true, serve: serveElectLeaders})
}

func serveElectLeaders(ctx context.Context, s *Server, h Header, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.ElectLeadersRequest)
	resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
	creq := contract.ElectLeadersRequest{}
	switch r.ElectionType {
	case 0:
		creq.Type = contract.ElectionPreferred
	case 1:
		creq.Type = contract.ElectionUnclean
	default:
		msg := fmt.Sprintf("election type %d is not 0 (preferred) or 1 (unclean)", r.ElectionType)
		failElection(resp, r, errInvalidRequest, &msg)
		return resp, nil
	}
	if r.Topics != nil {
		creq.Partitions = []contract.TopicPartitions{}
		for _, t := range r.Topics {
			// A topic with no partitions names none (in YAKt's contract it
			// would name all of them).
			if len(t.Partitions) > 0 {
				creq.Partitions = append(creq.Partitions, contract.TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
			}
		}
		if len(creq.Partitions) == 0 {
			return resp, nil
		}
	}
	out, err := s.ctrl.ElectLeaders(ctx, creq)
	if err != nil {
		code, msg := errorMessage(err)
		failElection(resp, r, code, msg)
		return resp, nil
	}
	byTopic := map[string]int{}
	for _, res := range out.Results {
		i, ok := byTopic[res.Topic]
		if !ok {
			i = len(resp.Topics)
			byTopic[res.Topic] = i
			t := kmsg.NewElectLeadersResponseTopic()
			t.Topic = res.Topic
			resp.Topics = append(resp.Topics, t)
		}
		p := kmsg.NewElectLeadersResponseTopicPartition()
		p.Partition = res.Partition
		p.ErrorCode, p.ErrorMessage = detailCode(res.Error)
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, p)
	}
	return resp, nil
}

// failElection answers a request that failed as a whole: the top-level
// error (v1+) and the same error on every partition named, as v0 has
// only those.
func failElection(resp *kmsg.ElectLeadersResponse, r *kmsg.ElectLeadersRequest, code int16, msg *string) {
	resp.ErrorCode = code
	for _, t := range r.Topics {
		rt := kmsg.NewElectLeadersResponseTopic()
		rt.Topic = t.Topic
		for _, id := range t.Partitions {
			p := kmsg.NewElectLeadersResponseTopicPartition()
			p.Partition, p.ErrorCode, p.ErrorMessage = id, code, msg
			rt.Partitions = append(rt.Partitions, p)
		}
		resp.Topics = append(resp.Topics, rt)
	}
}

// detailCode is errorMessage for an error a multi-partition result
// carries.
func detailCode(d *contract.ErrorDetail) (int16, *string) {
	if d == nil {
		return errNone, nil
	}
	return errorMessage(&contract.Error{Code: d.Code, Message: d.Message})
}
