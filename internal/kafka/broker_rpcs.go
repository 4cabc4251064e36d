package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// KRaft's broker-to-controller RPCs, for brokers that speak them:
// BrokerRegistration (62), BrokerHeartbeat (63), UnregisterBroker (64),
// AllocateProducerIds (67) and AlterPartition (56). Each ends in the
// controller operation the HTTP API's broker routes run.
//
// Broker epochs: Kafka keeps a broker's epoch for its whole registration;
// YAKt moves it on with every change of the registration (fencing,
// unfencing, PATCH). A Kafka broker only learns its epoch when it
// registers, so an epoch is stale here when the broker is CLOSED (it must
// register again) or when it is newer than YAKt's current one; an older
// one is accepted.

func init() {
	register(&api{key: 62, minVersion: 0, maxVersion: 4, controller: true, serve: serveBrokerRegistration})
	register(&api{key: 63, minVersion: 0, maxVersion: 2, controller: true, serve: serveBrokerHeartbeat})
	register(&api{key: 64, minVersion: 0, maxVersion: 0, controller: true, serve: serveUnregisterBroker})
	register(&api{key: 67, minVersion: 0, maxVersion: 0, controller: true, serve: serveAllocateProducerIDs})
	register(&api{key: 56, minVersion: 0, maxVersion: 3, controller: true, serve: serveAlterPartition})
}

// securityProtocols are Kafka's SecurityProtocol ids.
var securityProtocols = map[int16]string{0: "PLAINTEXT", 1: "SSL", 2: "SASL_PLAINTEXT", 3: "SASL_SSL"}

func msgf(format string, args ...any) *string {
	m := fmt.Sprintf(format, args...)
	return &m
}

func serveBrokerRegistration(ctx context.Context, s *Server, h Header, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.BrokerRegistrationRequest)
	resp := r.ResponseKind().(*kmsg.BrokerRegistrationResponse)
	resp.BrokerEpoch = -1
	ctrl := s.ctrl
	if r.ClusterID != ctrl.ClusterID() {
		resp.ErrorCode = errInconsistentClusterID
		return resp, nil
	}
	// YAKt keeps one address per broker: the first listener's.
	if len(r.Listeners) == 0 {
		resp.ErrorCode = errInvalidRequest
		return resp, nil
	}
	l := r.Listeners[0]
	proto, ok := securityProtocols[l.SecurityProtocol]
	if !ok {
		resp.ErrorCode = errInvalidRequest
		return resp, nil
	}
	var rack string
	if r.Rack != nil {
		rack = *r.Rack
	}
	id := r.BrokerID
	port := contract.PortNumber(int(l.Port))
	rec, _, err := ctrl.RegisterBroker(ctx, contract.RegisterBrokerRequest{
		BrokerID: &id, BrokerHost: l.Host, BrokerPort: port, SecurityProtocol: proto, RackID: rack,
	})
	if contract.CodeOf(err) == contract.CodeBrokerAlreadyRegistered {
		resp.BrokerEpoch, err = reregister(ctx, s, id, l.Host, port, proto, rack)
		if err != nil {
			resp.BrokerEpoch = -1
			resp.ErrorCode, _ = errorMessage(err)
		}
		return resp, nil
	}
	if err != nil {
		resp.ErrorCode, _ = errorMessage(err)
		return resp, nil
	}
	reg, ok := rec.Body.(*metadata.RegisterBrokerRecord)
	if !ok {
		return nil, fmt.Errorf("kafka: registering broker %d applied a %s, not a RegisterBrokerRecord", id, rec.Body.RecordName())
	}
	resp.BrokerEpoch = reg.Epoch
	return resp, nil
}

// reregister takes a restarted broker back whose old registration's
// session ended (FENCED), as Kafka takes a new incarnation once the old
// one is fenced: its new address, and a new epoch; it stays FENCED until
// its heartbeats show it caught up. An ALIVE broker's id is still in use
// (DUPLICATE_BROKER_REGISTRATION, which Kafka brokers retry until the old
// session times out), as is one registered with another rack.
func reregister(ctx context.Context, s *Server, id int32, host string, port contract.Port, proto, rack string) (int64, error) {
	b, err := s.ctrl.Broker(ctx, id, false)
	if err != nil {
		return -1, err
	}
	if b.BrokerStatus != metadata.StatusFenced || b.RackID != rack {
		return -1, contract.Errorf(contract.CodeBrokerAlreadyRegistered, "broker %d is registered (%s, rack %q)", id, b.BrokerStatus, b.RackID)
	}
	rec, _, err := s.ctrl.PatchBroker(ctx, id, contract.PatchBrokerRequest{BrokerHost: &host, BrokerPort: &port, SecurityProtocol: &proto})
	if err != nil {
		return -1, err
	}
	s.ctrl.Heartbeat(id) // its session starts again, as at registration
	change, ok := rec.Body.(*metadata.BrokerRegistrationChangeBrokerRecord)
	if !ok {
		return -1, fmt.Errorf("kafka: re-registering broker %d applied a %s, not a registration change", id, rec.Body.RecordName())
	}
	return change.Epoch, nil
}

// brokerAt returns broker id if it is registered, not CLOSED, and epoch
// (-1: not checked) is not stale (see above); else the Kafka error.
func brokerAt(ctx context.Context, s *Server, id int32, epoch int64) (metadata.RegisterBrokerRecord, int16, *string) {
	ctrl := s.ctrl
	// The leader's own image first: a heartbeat must not wait on a read
	// barrier. Only a broker missing there needs one (it may have
	// registered a moment ago).
	b, err := ctrl.Broker(ctx, id, true)
	if contract.CodeOf(err) == contract.CodeBrokerNotFound {
		b, err = ctrl.Broker(ctx, id, false)
	}
	if err != nil {
		code, msg := errorMessage(err)
		return b, code, msg
	}
	switch {
	case b.BrokerStatus == metadata.StatusClosed:
		return b, errStaleBrokerEpoch, msgf("broker %d is unregistered (CLOSED); it must register again", id)
	case epoch != -1 && epoch > b.Epoch:
		return b, errStaleBrokerEpoch, msgf("broker %d: epoch %d is newer than its current epoch %d", id, epoch, b.Epoch)
	}
	return b, errNone, nil
}

func serveBrokerHeartbeat(ctx context.Context, s *Server, h Header, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.BrokerHeartbeatRequest)
	resp := r.ResponseKind().(*kmsg.BrokerHeartbeatResponse)
	resp.IsFenced = true
	ctrl := s.ctrl
	b, code, _ := brokerAt(ctx, s, r.BrokerID, r.BrokerEpoch)
	if code != errNone {
		resp.ErrorCode = code
		return resp, nil
	}
	// A broker that asks to be fenced or to shut down is not unfenced
	// by its heartbeat (nil offset); its session is kept all the same.
	offset := &r.CurrentMetadataOffset
	if r.WantFence || r.WantShutdown {
		offset = nil
	}
	if _, err := ctrl.BrokerHeartbeat(ctx, r.BrokerID, offset); err != nil {
		resp.ErrorCode, _ = errorMessage(err)
		return resp, nil
	}
	if b.BrokerStatus == metadata.StatusAlive {
		var err error
		switch {
		case r.WantShutdown:
			// YAKt's controlled shutdown moves every leadership off the
			// broker and fences it in one go, so it may stop at once.
			_, _, err = ctrl.ControlledShutdown(ctx, r.BrokerID)
		case r.WantFence:
			fenced := metadata.StatusFenced
			_, _, err = ctrl.PatchBroker(ctx, r.BrokerID, contract.PatchBrokerRequest{BrokerStatus: &fenced})
		}
		if err != nil {
			resp.ErrorCode, _ = errorMessage(err)
			return resp, nil
		}
	}
	now, err := ctrl.Broker(ctx, r.BrokerID, true)
	if err != nil {
		resp.ErrorCode, _ = errorMessage(err)
		return resp, nil
	}
	resp.IsFenced = now.BrokerStatus != metadata.StatusAlive
	resp.ShouldShutdown = r.WantShutdown && resp.IsFenced
	resp.IsCaughtUp = ctrl.BrokerCaughtUp(r.BrokerID, r.CurrentMetadataOffset)
	return resp, nil
}

func serveUnregisterBroker(ctx context.Context, s *Server, h Header, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.UnregisterBrokerRequest)
	resp := r.ResponseKind().(*kmsg.UnregisterBrokerResponse)
	_, _, err := s.ctrl.UnregisterBroker(ctx, r.BrokerID)
	resp.ErrorCode, resp.ErrorMessage = errorMessage(err)
	if contract.CodeOf(err) == contract.CodeBrokerNotActive {
		// Already unregistered: to Kafka that is not registered.
		resp.ErrorCode = errBrokerIDNotRegistered
	}
	return resp, nil
}

func serveAllocateProducerIDs(ctx context.Context, s *Server, h Header, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.AllocateProducerIDsRequest)
	resp := r.ResponseKind().(*kmsg.AllocateProducerIDsResponse)
	if _, code, _ := brokerAt(ctx, s, r.BrokerID, r.BrokerEpoch); code != errNone {
		resp.ErrorCode = code
		return resp, nil
	}
	id := r.BrokerID
	out, _, err := s.ctrl.AllocateProducerIDs(ctx, contract.AllocateProducerIDsRequest{BrokerID: &id})
	if err != nil {
		resp.ErrorCode, _ = errorMessage(err)
		return resp, nil
	}
	resp.ProducerIDStart, resp.ProducerIDLen = out.FirstProducerID, int32(out.Size)
	return resp, nil
}

// leaderEpoch is the Kafka leader epoch YAKt reports for p. YAKt has no
// leader epoch of its own; the partition epoch moves with every leader
// change, so it is one.
func leaderEpoch(p metadata.PartitionRecord) int32 { return int32(p.PartitionEpoch) }

func serveAlterPartition(ctx context.Context, s *Server, h Header, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.AlterPartitionRequest)
	resp := r.ResponseKind().(*kmsg.AlterPartitionResponse)
	ctrl := s.ctrl
	img, err := ctrl.Image(ctx, false)
	if err != nil {
		resp.ErrorCode, _ = errorMessage(err)
		return resp, nil
	}
	if _, code, _ := brokerAt(ctx, s, r.BrokerID, r.BrokerEpoch); code != errNone {
		resp.ErrorCode = code
		return resp, nil
	}
	var byID map[[16]byte]string
	if r.Version >= 2 {
		byID = map[[16]byte]string{}
		for _, t := range img.Topics() {
			byID[topicID(t.TopicUUID)] = t.Name
		}
	}
	for _, t := range r.Topics {
		rt := kmsg.NewAlterPartitionResponseTopic()
		rt.Topic, rt.TopidID = t.Topic, t.TopicID
		name, known := t.Topic, true
		if r.Version >= 2 {
			name, known = byID[t.TopicID]
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewAlterPartitionResponseTopicPartition()
			rp.Partition, rp.LeaderID = p.Partition, -1
			if !known {
				rp.ErrorCode = errUnknownTopicID
			} else {
				alterPartition(ctx, s, img, r, name, p, &rp)
			}
			if rp.ErrorCode == errNotController {
				// The rest would fail alike: the broker retries the
				// whole request at the new controller.
				resp.ErrorCode, resp.Topics = errNotController, nil
				return resp, nil
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

// alterPartition applies one partition's new ISR and fills rp.
func alterPartition(ctx context.Context, s *Server, img *metadata.Image, r *kmsg.AlterPartitionRequest, topic string, p kmsg.AlterPartitionRequestTopicPartition, rp *kmsg.AlterPartitionResponseTopicPartition) {
	if p.LeaderRecoveryState != 0 {
		// YAKt's partitions are always RECOVERED; a leader cannot take
		// one back to RECOVERING.
		rp.ErrorCode = errInvalidRequest
		return
	}
	isr := p.NewISR
	if r.Version >= 3 {
		isr = make([]int32, 0, len(p.NewEpochISR))
		for _, m := range p.NewEpochISR {
			isr = append(isr, m.BrokerID)
			if b, ok := img.Broker(m.BrokerID); ok && m.BrokerEpoch != -1 && m.BrokerEpoch > b.Epoch {
				rp.ErrorCode = errIneligibleReplica // a member's registration YAKt does not know
				return
			}
		}
	}
	// Only ALIVE brokers may join an ISR; Kafka calls the others
	// ineligible (the controller refuses them as an invalid assignment).
	for _, id := range isr {
		if b, ok := img.Broker(id); !ok || b.BrokerStatus != metadata.StatusAlive {
			rp.ErrorCode = errIneligibleReplica
			return
		}
	}
	broker, epoch := r.BrokerID, int64(p.PartitionEpoch)
	rec, _, err := s.ctrl.AlterISR(ctx, topic, p.Partition, contract.AlterISRRequest{BrokerID: &broker, PartitionEpoch: &epoch, ISR: isr})
	if err != nil {
		rp.ErrorCode, _ = errorMessage(err)
		if contract.CodeOf(err) == contract.CodeInvalidReplicaAssignment {
			// An ISR that repeats a broker, names a non-replica or
			// lacks the leader: Kafka answers INVALID_REQUEST.
			rp.ErrorCode = errInvalidRequest
		}
		return
	}
	next, ok := rec.Body.(*metadata.PartitionRecord)
	if !ok {
		s.log.Error("AlterPartition: the ISR change applied an unexpected record", "topic", topic, "partition", p.Partition, "record", rec.Body.RecordName())
		rp.ErrorCode = errUnknownServerError
		return
	}
	rp.LeaderID, rp.LeaderEpoch, rp.PartitionEpoch = next.Leader, leaderEpoch(*next), int32(next.PartitionEpoch)
	rp.ISR = append([]int32{}, next.ISR...)
}
