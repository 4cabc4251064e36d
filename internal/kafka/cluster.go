package kafka

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/yakt/yakt/contract"
)

func init() {
	register(&api{key: kmsg.DescribeCluster.Int16(), minVersion: 0, maxVersion: 1, serve: serveDescribeCluster})
	// Kafka answers DescribeQuorum on the quorum's leader only; a
	// follower forwards it there, so the answer is always the live view.
	register(&api{key: kmsg.DescribeQuorum.Int16(), minVersion: 0, maxVersion: 2, controller: true, serve: serveDescribeQuorum})
}

// kafkaBroker is a node with a Kafka listener as Kafka lists a broker.
type kafkaBroker struct {
	id   int32
	host string
	port int32
}

// brokers lists the nodes with a Kafka listener this node knows.
func (s *Server) brokers() []kafkaBroker {
	var out []kafkaBroker
	for _, n := range s.ctrl.KafkaNodes() {
		host, portStr, err := net.SplitHostPort(n.Addr)
		if err != nil {
			continue
		}
		port, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil {
			continue
		}
		out = append(out, kafkaBroker{id: int32(n.ID), host: host, port: int32(port)})
	}
	return out
}

// controllerID is the leader's id for Kafka, -1 when none is known.
func (s *Server) controllerID() int32 {
	if lead := s.ctrl.Leader(); lead != 0 {
		return int32(lead)
	}
	return -1
}

// serveDescribeCluster lists the same brokers as Metadata, for either
// endpoint type (v1): a YAKt node is broker and controller in one.
func serveDescribeCluster(ctx context.Context, s *Server, h Header, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.DescribeClusterRequest)
	resp := kmsg.NewPtrDescribeClusterResponse()
	resp.EndpointType = req.EndpointType
	if h.APIVersion >= 1 && req.EndpointType != 1 && req.EndpointType != 2 {
		resp.ErrorCode = errUnsupportedEndpointType
		resp.ErrorMessage = strp(fmt.Sprintf("endpoint type %d is neither brokers (1) nor controllers (2)", req.EndpointType))
		return resp, nil
	}
	resp.ClusterID = s.ctrl.ClusterID()
	resp.ControllerID = s.controllerID()
	for _, b := range s.brokers() {
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port = b.id, b.host, b.port
		resp.Brokers = append(resp.Brokers, rb)
	}
	return resp, nil
}

// metadataTopicName and partition are KRaft's metadata log, the one
// partition DescribeQuorum describes.
const metadataTopicName = "__cluster_metadata"

// serveDescribeQuorum answers the raft quorum (controller.Quorum) as
// KRaft describes its metadata log's: leader, epoch (the raft term),
// high watermark (the commit index), voters and observers with their log
// end offsets and, from v1, when the leader last heard from them.
func serveDescribeQuorum(ctx context.Context, s *Server, h Header, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.DescribeQuorumRequest)
	resp := kmsg.NewPtrDescribeQuorumResponse()
	var q contract.Quorum
	var qerr error
	asked := false
	for _, t := range req.Topics {
		rt := kmsg.NewDescribeQuorumResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDescribeQuorumResponseTopicPartition()
			rp.Partition = p.Partition
			if t.Topic != metadataTopicName || p.Partition != 0 {
				rp.ErrorCode = errUnknownTopicOrPartition
				rp.ErrorMessage = strp("only __cluster_metadata partition 0 has a quorum")
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			if !asked {
				q, qerr = s.ctrl.Quorum(ctx)
				asked = true
			}
			switch {
			case qerr != nil:
				rp.ErrorCode, rp.ErrorMessage = errorMessage(qerr)
			case q.Stale:
				// This node lost the leadership after the request reached
				// it: the client asks the new controller.
				rp.ErrorCode, rp.ErrorMessage = errNotLeaderOrFollower, strp("this node does not lead the quorum")
			default:
				fillQuorum(&rp, q)
				if h.APIVersion >= 2 {
					resp.Nodes = quorumNodes(s)
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

func fillQuorum(rp *kmsg.DescribeQuorumResponseTopicPartition, q contract.Quorum) {
	rp.LeaderID = int32(q.LeaderID)
	rp.LeaderEpoch = int32(min(q.LeaderEpoch, 1<<31-1))
	rp.HighWatermark = q.HighWatermark
	now := time.Now()
	state := func(v contract.Voter) kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
		st := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		st.ReplicaID = int32(v.NodeID)
		if d, err := uuid.Parse(v.DirectoryID); err == nil {
			st.ReplicaDirectoryID = d
		}
		st.LogEndOffset, st.LastFetchTimestamp, st.LastCaughtUpTimestamp = -1, -1, -1
		if v.LogEndOffset != nil {
			st.LogEndOffset = *v.LogEndOffset
		}
		if v.LastContactMs != nil {
			st.LastFetchTimestamp = now.Add(-time.Duration(*v.LastContactMs) * time.Millisecond).UnixMilli()
			if v.Lag != nil && *v.Lag == 0 {
				st.LastCaughtUpTimestamp = st.LastFetchTimestamp
			}
		}
		return st
	}
	rp.CurrentVoters = []kmsg.DescribeQuorumResponseTopicPartitionReplicaState{}
	for _, v := range q.Voters {
		rp.CurrentVoters = append(rp.CurrentVoters, state(v))
	}
	rp.Observers = []kmsg.DescribeQuorumResponseTopicPartitionReplicaState{}
	for _, v := range q.Observers {
		rp.Observers = append(rp.Observers, state(v))
	}
}

// quorumNodes lists the members' Kafka listeners (v2's Nodes).
func quorumNodes(s *Server) []kmsg.DescribeQuorumResponseNode {
	var out []kmsg.DescribeQuorumResponseNode
	for _, b := range s.brokers() {
		n := kmsg.NewDescribeQuorumResponseNode()
		n.NodeID = b.id
		l := kmsg.NewDescribeQuorumResponseNodeListener()
		l.Name, l.Host, l.Port = "PLAINTEXT", b.host, uint16(b.port)
		n.Listeners = append(n.Listeners, l)
		out = append(out, n)
	}
	return out
}
