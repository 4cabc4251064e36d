package controller

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// Leader elections, as Kafka's ElectLeaders has them. A broker is alive
// when it is registered and ALIVE (not FENCED, not CLOSED); the preferred
// replica is a partition's first replica (during a reassignment, the
// first of the target replicas, which lead the replica list).
//
//   - PREFERRED moves leadership to the preferred replica when it is alive
//     and in the ISR; the ISR stays as it is.
//   - UNCLEAN picks the preferred replica if it is alive and in the ISR,
//     else keeps a leader that is alive and in the ISR, else the first
//     alive ISR member (replica order), else the first
//     alive replica out of the ISR, whose ISR then becomes that replica
//     alone: records it never had may be lost, which is what an unclean
//     election accepts to bring an offline partition back.
//
// Per partition, ELECTION_NOT_NEEDED when the partition already has the
// leader the election would pick, PREFERRED_LEADER_NOT_AVAILABLE or
// ELIGIBLE_LEADERS_NOT_AVAILABLE when it cannot pick one,
// TOPIC_NOT_FOUND / PARTITION_NOT_FOUND for a partition that does not
// exist. Every change is partitionEpoch + 1.

// ElectLeaders runs a preferred or unclean leader election on the
// partitions asked for (all when none are named). Each partition has its
// own result; the changes commit in as few atomic batches as the batch
// limit allows (MaxPartitionsPerRequest each). A topic named without
// partitions stands for all of its partitions; when it does not exist its
// result is TOPIC_NOT_FOUND with partition -1. For every partition of
// the cluster (req.Partitions nil) the answer lists only the partitions
// whose leader changed or could not be elected. Refused as a whole with
// INVALID_REQUEST for an unknown type and MIGRATION_IN_PROGRESS while
// ZooKeeper is the authority.
func (c *Controller) ElectLeaders(ctx context.Context, req contract.ElectLeadersRequest) (contract.ElectLeadersResponse, error) {
	typ := strings.ToUpper(req.Type)
	if typ != contract.ElectionPreferred && typ != contract.ElectionUnclean {
		return contract.ElectLeadersResponse{}, contract.Errorf(contract.CodeInvalidRequest,
			"type must be %s or %s, got %q", contract.ElectionPreferred, contract.ElectionUnclean, clip(req.Type))
	}
	for _, tp := range req.Partitions {
		if tp.Topic == "" {
			return contract.ElectLeadersResponse{}, contract.Errorf(contract.CodeInvalidRequest, "every entry of partitions needs a topic")
		}
	}
	img, err := c.Image(ctx, false)
	if err != nil {
		return contract.ElectLeadersResponse{}, err
	}
	if err := refuseWhileZkAuthoritative(img); err != nil {
		return contract.ElectLeadersResponse{}, err
	}
	all := req.Partitions == nil
	var (
		refs    []partitionRef
		missing []contract.PartitionResult
	)
	if all {
		refs = allPartitions(img)
	} else {
		refs, missing = namedPartitions(img, req.Partitions)
	}
	results, offset, err := c.partitionWrites(ctx, dedupRefs(refs), MaxPartitionsPerRequest, func(img metadata.Reader, ref partitionRef) partitionDecision {
		return decideElection(img, typ, ref)
	})
	if err != nil {
		return contract.ElectLeadersResponse{}, err
	}
	if all {
		// A partition deleted since the list was made, or already led by
		// its choice, is no news when nothing was named.
		results = slices.DeleteFunc(results, func(r contract.PartitionResult) bool {
			return r.Error != nil && (r.Error.Code == contract.CodeElectionNotNeeded ||
				r.Error.Code == contract.CodeTopicNotFound || r.Error.Code == contract.CodePartitionNotFound)
		})
	}
	return contract.ElectLeadersResponse{Results: append(append([]contract.PartitionResult{}, missing...), results...), Offset: offset}, nil
}

// allPartitions names every partition of img, in image order.
func allPartitions(img metadata.Reader) []partitionRef {
	var refs []partitionRef
	for _, t := range img.Topics() {
		for _, p := range img.Partitions(t.TopicUUID) {
			refs = append(refs, partitionRef{t.Name, p.PartitionID})
		}
	}
	return refs
}

// namedPartitions expands the request's topics: a topic without
// partitions is all of its partitions in img, or, when it does not
// exist, a TOPIC_NOT_FOUND result (partition -1).
func namedPartitions(img metadata.Reader, named []contract.TopicPartitions) (refs []partitionRef, missing []contract.PartitionResult) {
	for _, tp := range named {
		if tp.Partitions != nil {
			for _, p := range tp.Partitions {
				refs = append(refs, partitionRef{tp.Topic, p})
			}
			continue
		}
		t, ok := img.Topic(tp.Topic)
		if !ok {
			missing = append(missing, resultError(partitionRef{tp.Topic, -1}, topicNotFound(tp.Topic)))
			continue
		}
		for _, p := range img.Partitions(t.TopicUUID) {
			refs = append(refs, partitionRef{tp.Topic, p.PartitionID})
		}
	}
	return refs, missing
}

// decideElection decides one partition's election of type typ.
func decideElection(img metadata.Reader, typ string, ref partitionRef) partitionDecision {
	p, err := lookupPartition(img, ref.topic, ref.partition)
	if err != nil {
		return partitionDecision{result: resultError(ref, err)}
	}
	next, err := electionChange(p, typ, func(id int32) bool { return isAlive(img, id) })
	if err != nil {
		return partitionDecision{result: resultError(ref, err)}
	}
	leader := next.Leader
	return partitionDecision{next: &next, result: contract.PartitionResult{Topic: ref.topic, Partition: ref.partition, Leader: &leader}}
}

// electionChange is p's next state after an election of type typ
// (PREFERRED or UNCLEAN), or the partition's error.
func electionChange(p metadata.PartitionRecord, typ string, alive func(int32) bool) (metadata.PartitionRecord, error) {
	preferred := p.Replicas[0]
	preferredOK := alive(preferred) && slices.Contains(p.ISR, preferred)
	leader, isr := metadata.NoLeader, p.ISR
	switch {
	case typ == contract.ElectionPreferred:
		if p.Leader == preferred {
			return p, contract.Errorf(contract.CodeElectionNotNeeded, "preferred replica %d already leads partition %d", preferred, p.PartitionID)
		}
		if !preferredOK {
			return p, contract.Errorf(contract.CodePreferredLeaderNotAvailable,
				"preferred replica %d of partition %d is not alive or not in the ISR %v", preferred, p.PartitionID, p.ISR)
		}
		leader = preferred
	case preferredOK:
		leader = preferred
	case p.Leader != metadata.NoLeader && alive(p.Leader) && slices.Contains(p.ISR, p.Leader):
		leader = p.Leader // an in-sync leader is never replaced by another non-preferred one
	default:
		leader = electLeader(p.Replicas, p.ISR, alive)
		if leader == metadata.NoLeader {
			for _, r := range p.Replicas {
				if alive(r) {
					leader, isr = r, []int32{r}
					break
				}
			}
		}
	}
	if leader == metadata.NoLeader {
		return p, contract.Errorf(contract.CodeEligibleLeadersNotAvailable, "no replica of partition %d %v is alive", p.PartitionID, p.Replicas)
	}
	if leader == p.Leader {
		return p, contract.Errorf(contract.CodeElectionNotNeeded, "replica %d already leads partition %d", leader, p.PartitionID)
	}
	next := clonePartition(p)
	next.Leader, next.ISR = leader, slices.Clone(isr)
	next.PartitionEpoch++
	return next, nil
}

// Automatic preferred leader rebalance (Kafka's auto.leader.rebalance):
// leadership that moved away from a preferred replica (it was fenced,
// restarted, shut down) goes back once it is alive and in sync, so the
// load the operator spread by placing replicas stays spread.

// RebalanceConfig configures RunLeaderRebalance.
type RebalanceConfig struct {
	// Interval between checks (Kafka's
	// leader.imbalance.check.interval.seconds; default 5 minutes).
	Interval time.Duration
	// ImbalancePercent: a broker is imbalanced when more than this share
	// of the partitions it is preferred for are led by another broker
	// (Kafka's leader.imbalance.per.broker.percentage; default 10).
	ImbalancePercent int
}

// Defaults of RebalanceConfig, Kafka's.
const (
	DefaultLeaderImbalanceInterval = 5 * time.Minute
	DefaultLeaderImbalancePercent  = 10
)

// RebalanceLeaders is one automatic rebalance check: for every broker
// whose imbalance (partitions it is the preferred replica of but does
// not lead, over partitions it is the preferred replica of) is above
// percent, it runs preferred elections on those of its partitions where
// it is alive and in the ISR. It returns the partitions moved. It does
// nothing on a follower, while ZooKeeper is the authority, or when no
// broker is imbalanced.
func (c *Controller) RebalanceLeaders(ctx context.Context, percent int) ([]contract.PartitionResult, error) {
	if !c.node.IsLeader() {
		return nil, nil
	}
	img, err := c.linearizableImage(ctx)
	if err != nil {
		return nil, err
	}
	if metadata.MigrationZkAuthoritative(migrationPhase(img)) {
		return nil, nil
	}
	refs := imbalancedPartitions(img, percent)
	if len(refs) == 0 {
		return nil, nil
	}
	results, _, err := c.partitionWrites(withoutIdempotency(ctx), refs, MaxPartitionsPerRequest, func(img metadata.Reader, ref partitionRef) partitionDecision {
		return decideElection(img, contract.ElectionPreferred, ref)
	})
	if err != nil {
		return nil, err
	}
	moved := slices.DeleteFunc(results, func(r contract.PartitionResult) bool { return r.Error != nil })
	return moved, nil
}

// imbalancedPartitions are the partitions a rebalance check elects: of
// each broker above the threshold, those it is preferred for, does not
// lead, and could lead (alive, in the ISR), in image order.
func imbalancedPartitions(img metadata.Reader, percent int) []partitionRef {
	type count struct{ preferred, notLed int }
	counts := map[int32]*count{}
	type candidate struct {
		ref       partitionRef
		preferred int32
	}
	var candidates []candidate
	for _, t := range img.Topics() {
		for _, p := range img.Partitions(t.TopicUUID) {
			pref := p.Replicas[0]
			n := counts[pref]
			if n == nil {
				n = &count{}
				counts[pref] = n
			}
			n.preferred++
			if p.Leader == pref {
				continue
			}
			n.notLed++
			if isAlive(img, pref) && slices.Contains(p.ISR, pref) {
				candidates = append(candidates, candidate{partitionRef{t.Name, p.PartitionID}, pref})
			}
		}
	}
	var refs []partitionRef
	for _, cand := range candidates {
		n := counts[cand.preferred]
		// notLed/preferred > percent/100, in integers.
		if n.notLed*100 > percent*n.preferred {
			refs = append(refs, cand.ref)
		}
	}
	return refs
}

// RunLeaderRebalance runs RebalanceLeaders every cfg.Interval until ctx
// ends. It acts only while this node leads; a check that fails is logged
// and the next one tries again.
func (c *Controller) RunLeaderRebalance(ctx context.Context, cfg RebalanceConfig) {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultLeaderImbalanceInterval
	}
	if cfg.ImbalancePercent < 0 {
		cfg.ImbalancePercent = DefaultLeaderImbalancePercent
	}
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cctx, cancel := context.WithTimeout(ctx, max(cfg.Interval, 30*time.Second))
			moved, err := c.RebalanceLeaders(cctx, cfg.ImbalancePercent)
			cancel()
			switch {
			case err != nil && ctx.Err() == nil:
				// Losing the leadership mid-check is no failure: the next
				// leader's own loop takes over.
				level := slog.LevelWarn
				if CodeOf(err) == contract.CodeNoLeader {
					level = slog.LevelDebug
				}
				c.log.Log(ctx, level, "leader rebalance check failed", slog.Any("err", err))
			case len(moved) > 0:
				c.log.Info("leader rebalance: preferred replicas lead again", "partitions", len(moved))
			}
		}
	}
}
