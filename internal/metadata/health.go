package metadata

// Health is the cluster-wide counts operators alert on, as of one image.
type Health struct {
	ActiveBrokers int // ALIVE
	FencedBrokers int // FENCED (CLOSED brokers are neither)
	Topics        int
	Partitions    int
	// OfflinePartitions have no leader, or one that is not ALIVE.
	OfflinePartitions int
	// UnderReplicatedPartitions have an ISR smaller than their replicas.
	UnderReplicatedPartitions int
	// PreferredReplicaImbalance counts partitions not led by their first
	// replica (Kafka's PreferredReplicaImbalanceCount: leaderless ones too).
	PreferredReplicaImbalance int
}

// Health counts the image's brokers and partitions. It walks every
// partition without copying one, but still touches each (a few hundred
// ns apiece at 2 million partitions: BenchmarkScaleHealth), so it is meant
// for a cache refreshed now and then, not for every request.
func (im *Image) Health() Health {
	var h Health
	// Broker ids are small in practice: a slice lookup per partition,
	// where a map lookup would double the walk's cost.
	maxID := int32(-1)
	brokers := im.cluster.sortedBrokers()
	if n := len(brokers); n > 0 {
		maxID = brokers[n-1].BrokerID
	}
	alive := make([]bool, max(0, min(int(maxID)+1, 1<<20)))
	var aliveBig map[int32]bool // ids beyond the slice
	for _, b := range brokers {
		switch b.BrokerStatus {
		case StatusAlive:
			h.ActiveBrokers++
			if b.BrokerID >= 0 && int(b.BrokerID) < len(alive) {
				alive[b.BrokerID] = true
			} else {
				if aliveBig == nil {
					aliveBig = map[int32]bool{}
				}
				aliveBig[b.BrokerID] = true
			}
		case StatusFenced:
			h.FencedBrokers++
		}
	}
	isAlive := func(id int32) bool {
		if id >= 0 && int(id) < len(alive) {
			return alive[id]
		}
		return aliveBig[id]
	}
	h.Topics = im.topics.byUUID.Len()
	im.topics.byUUID.each(func(_ string, t *topicImage) {
		h.Partitions += t.parts.Len()
		t.parts.each(func(_ int32, p *partState) {
			if p.leader == NoLeader || !isAlive(p.leader) {
				h.OfflinePartitions++
			}
			if p.isr >= 0 && p.isr < p.nrep {
				h.UnderReplicatedPartitions++
			}
			if p.nrep == 0 || p.ids[0] != p.leader {
				h.PreferredReplicaImbalance++
			}
		})
	})
	return h
}
