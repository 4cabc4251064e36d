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

// Health counts the image's brokers and partitions, walking every
// partition. A HealthCounter counts successive images for less.
func (im *Image) Health() Health {
	var hc HealthCounter
	return hc.Count(im)
}

// HealthCounter counts Health for successive images of one history,
// walking only the topics an image does not share with the one counted
// before: images share every topic a change did not touch, and a topic is
// immutable, so its counts hold for as long as it is shared. A change to
// the brokers (registration, fencing) changes which leaders are alive,
// and the next count walks every partition again. A partition walk costs
// a few hundred ns at 2 million partitions (BenchmarkScaleHealth); a
// count that reuses every topic, a map lookup per topic. Not safe for
// concurrent use.
type HealthCounter struct {
	cluster *clusterImage // the brokers the cached counts assume
	alive   []bool        // by broker id, ids below 1<<20
	big     map[int32]bool
	gen     uint64
	topics  map[*topicImage]topicHealth
}

// topicHealth is one topic's share of Health.
type topicHealth struct {
	gen                                              uint64 // the count that last saw the topic
	partitions, offline, underReplicated, imbalanced int
}

// Count returns im's Health.
func (hc *HealthCounter) Count(im *Image) Health {
	var h Health
	if hc.topics == nil || im.cluster != hc.cluster {
		hc.setBrokers(im.cluster)
	}
	for _, b := range im.cluster.sortedBrokers() {
		switch b.BrokerStatus {
		case StatusAlive:
			h.ActiveBrokers++
		case StatusFenced:
			h.FencedBrokers++
		}
	}
	hc.gen++
	h.Topics = im.topics.byUUID.Len()
	im.topics.byUUID.each(func(_ string, t *topicImage) {
		th, ok := hc.topics[t]
		if !ok {
			th = hc.countTopic(t)
		}
		th.gen = hc.gen
		hc.topics[t] = th
		h.Partitions += th.partitions
		h.OfflinePartitions += th.offline
		h.UnderReplicatedPartitions += th.underReplicated
		h.PreferredReplicaImbalance += th.imbalanced
	})
	for t, th := range hc.topics {
		if th.gen != hc.gen { // gone, or replaced by a changed copy
			delete(hc.topics, t)
		}
	}
	return h
}

// setBrokers drops every cached count and takes the ALIVE set of c.
func (hc *HealthCounter) setBrokers(c *clusterImage) {
	hc.cluster, hc.topics, hc.big = c, map[*topicImage]topicHealth{}, nil
	brokers := c.sortedBrokers()
	maxID := int32(-1)
	if n := len(brokers); n > 0 {
		maxID = brokers[n-1].BrokerID
	}
	// Broker ids are small in practice: a slice lookup per partition,
	// where a map lookup would double a walk's cost.
	hc.alive = make([]bool, max(0, min(int(maxID)+1, 1<<20)))
	for _, b := range brokers {
		if b.BrokerStatus != StatusAlive {
			continue
		}
		if b.BrokerID >= 0 && int(b.BrokerID) < len(hc.alive) {
			hc.alive[b.BrokerID] = true
			continue
		}
		if hc.big == nil {
			hc.big = map[int32]bool{}
		}
		hc.big[b.BrokerID] = true
	}
}

func (hc *HealthCounter) isAlive(id int32) bool {
	if id >= 0 && int(id) < len(hc.alive) {
		return hc.alive[id]
	}
	return hc.big[id]
}

func (hc *HealthCounter) countTopic(t *topicImage) topicHealth {
	th := topicHealth{partitions: t.parts.Len()}
	t.parts.each(func(_ int32, p *partState) {
		if p.leader == NoLeader || !hc.isAlive(p.leader) {
			th.offline++
		}
		if p.isr >= 0 && p.isr < p.nrep {
			th.underReplicated++
		}
		if p.nrep == 0 || p.ids[0] != p.leader {
			th.imbalanced++
		}
	})
	return th
}
