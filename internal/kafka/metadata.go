package kafka

import (
	"context"
	"encoding/base64"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/yakt/yakt/internal/metadata"
)

func init() {
	register(&api{key: kmsg.Metadata.Int16(), minVersion: 0, maxVersion: 12, serve: serveMetadata})
}

// serveMetadata answers Metadata from this node's state after a read
// barrier, so a topic created through any node is listed by every node
// once its creation was answered. When the barrier fails (no leader) the
// node answers from what it has applied, with controller id -1, so
// clients keep seeing the cluster and retry their admin requests.
//
// Brokers are the YAKt nodes with a Kafka listener (each under its raft
// node id at its advertised address), the controller the raft leader;
// partitions show the registered brokers' ids as leader, replicas and
// ISR. Topics are never created by Metadata.
func serveMetadata(ctx context.Context, s *Server, h Header, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.MetadataRequest)
	resp := kmsg.NewPtrMetadataResponse()
	img, err := s.ctrl.Image(ctx, false)
	resp.ControllerID = -1
	if err != nil {
		s.log.Debug("Metadata answered from local state: read barrier failed", "err", err)
		img, _ = s.ctrl.Image(ctx, true)
	} else if lead := s.ctrl.Leader(); lead != 0 {
		resp.ControllerID = int32(lead)
	}
	for _, k := range s.brokers() {
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = k.id, k.host, k.port
		resp.Brokers = append(resp.Brokers, b)
	}
	cluster := s.ctrl.ClusterID()
	resp.ClusterID = &cluster

	all := req.Topics == nil || (h.APIVersion == 0 && len(req.Topics) == 0)
	if all {
		for _, t := range img.Topics() {
			resp.Topics = append(resp.Topics, metadataTopic(img, t))
		}
		return resp, nil
	}
	for _, rt := range req.Topics {
		switch {
		case rt.Topic != nil && *rt.Topic != "":
			t, ok := img.Topic(*rt.Topic)
			if !ok {
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = rt.Topic
				mt.ErrorCode = errUnknownTopicOrPartition
				if metadata.ValidateTopicName(*rt.Topic) != nil {
					mt.ErrorCode = errInvalidTopicException
				}
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			resp.Topics = append(resp.Topics, metadataTopic(img, t))
		default:
			t, ok := img.TopicByUUID(uuid.UUID(rt.TopicID).String())
			if !ok {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = errUnknownTopicID
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			resp.Topics = append(resp.Topics, metadataTopic(img, t))
		}
	}
	return resp, nil
}

// metadataTopic is a topic with its partitions as Metadata lists it.
// LeaderEpoch is the partition epoch, which grows with every leader
// change (and with every other change of the partition). Offline
// replicas are those whose broker is not ALIVE.
func metadataTopic(img *metadata.Image, t metadata.TopicRecord) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = topicID(t.TopicUUID)
	for _, p := range img.Partitions(t.TopicUUID) {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.PartitionID
		mp.Leader = p.Leader
		mp.LeaderEpoch = int32(min(p.PartitionEpoch, 1<<31-1))
		mp.Replicas = nonNil(p.Replicas)
		mp.ISR = nonNil(p.ISR)
		mp.OfflineReplicas = []int32{}
		for _, id := range p.Replicas {
			if b, ok := img.Broker(id); !ok || b.BrokerStatus != metadata.StatusAlive {
				mp.OfflineReplicas = append(mp.OfflineReplicas, id)
			}
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	if mt.Partitions == nil {
		mt.Partitions = []kmsg.MetadataResponseTopicPartition{}
	}
	return mt
}

// topicID is a topic's UUID as Kafka's 16 bytes: a UUID the controller
// generated, or Kafka's own base64 form (a topic migrated from ZooKeeper
// keeps its Kafka id); zero when it is neither.
func topicID(s string) [16]byte {
	if u, err := uuid.Parse(s); err == nil {
		return u
	}
	var id [16]byte
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil && len(b) == 16 {
		copy(id[:], b)
	}
	return id
}

func nonNil(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return ids
}
