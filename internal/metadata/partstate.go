package metadata

import (
	"cmp"
	"slices"
)

// partState is one partition as an image keeps it: 48 bytes plus its
// broker ids, where a PartitionRecord takes 136 plus its ids plus, when it
// was decoded, its own copy of the topic UUID. With millions of
// partitions this is most of an image. The partition id is the map key
// and the topic UUID is the topic's, so neither is stored. Immutable once
// in a map; accessors build PartitionRecords from it.
type partState struct {
	// ids holds Replicas, then the ISR unless isr < 0, then
	// RemovingReplicas, then AddingReplicas, in one exact allocation
	// (newPartState) or, for a partition loaded from a snapshot, as a
	// capped view of its topic's slab of ids (snapshot.go).
	ids    []int32
	epoch  int64
	leader int32
	nrep   int32
	isr    int32 // ISR length; -1: the ISR is the replica list itself
	nrem   int32
}

// newPartState copies r's lists. An ISR equal to the replicas (the usual
// case) is not stored twice.
func newPartState(r *PartitionRecord) *partState {
	p := &partState{epoch: r.PartitionEpoch, leader: r.Leader, nrep: int32(len(r.Replicas)), isr: -1, nrem: int32(len(r.RemovingReplicas))}
	n := len(r.Replicas) + len(r.RemovingReplicas) + len(r.AddingReplicas)
	shared := slices.Equal(r.ISR, r.Replicas)
	if !shared {
		p.isr = int32(len(r.ISR))
		n += len(r.ISR)
	}
	ids := make([]int32, 0, n)
	ids = append(ids, r.Replicas...)
	if !shared {
		ids = append(ids, r.ISR...)
	}
	ids = append(ids, r.RemovingReplicas...)
	p.ids = append(ids, r.AddingReplicas...)
	return p
}

// lists returns the four lists as views of p.ids, each capped so an
// append copies. Callers must not modify them.
func (p *partState) lists() (replicas, isr, removing, adding []int32) {
	i := int(p.nrep)
	replicas = p.ids[:i:i]
	isr = replicas
	if p.isr >= 0 {
		isr = p.ids[i : i+int(p.isr) : i+int(p.isr)]
		i += int(p.isr)
	}
	removing = p.ids[i : i+int(p.nrem) : i+int(p.nrem)]
	i += int(p.nrem)
	adding = p.ids[i:len(p.ids):len(p.ids)]
	return
}

// idCount is the length of the four lists together.
func (p *partState) idCount() int {
	if p.isr < 0 {
		return len(p.ids) + int(p.nrep)
	}
	return len(p.ids)
}

// record is p as partition id of topicUUID. Its lists are views of p's:
// read-only; clone it to hand it out.
func (p *partState) record(id int32, topicUUID string) PartitionRecord {
	r := PartitionRecord{PartitionID: id, TopicUUID: topicUUID, Leader: p.leader, PartitionEpoch: p.epoch}
	r.Replicas, r.ISR, r.RemovingReplicas, r.AddingReplicas = p.lists()
	return r
}

func (p *partState) equal(q *partState) bool {
	if p.epoch != q.epoch || p.leader != q.leader {
		return false
	}
	a1, a2, a3, a4 := p.lists()
	b1, b2, b3, b4 := q.lists()
	return slices.Equal(a1, b1) && slices.Equal(a2, b2) && slices.Equal(a3, b3) && slices.Equal(a4, b4)
}

// partRef is a partition in a topic's sorted listing.
type partRef struct {
	id int32
	p  *partState
}

func (t *topicImage) sortedParts() []partRef {
	return t.sorted.get(func() []partRef {
		out := make([]partRef, 0, t.parts.Len())
		t.parts.each(func(id int32, p *partState) { out = append(out, partRef{id, p}) })
		slices.SortFunc(out, func(a, b partRef) int { return cmp.Compare(a.id, b.id) })
		return out
	})
}

// sortedPartitions returns the topic's partitions by id as records built
// afresh on every call (nothing is cached). Their lists are views of the
// image's: read-only, as image records always were; deep copies come
// from appendPartitions.
func (t *topicImage) sortedPartitions() []*PartitionRecord {
	refs := t.sortedParts()
	recs := make([]PartitionRecord, len(refs))
	out := make([]*PartitionRecord, len(refs))
	for i, r := range refs {
		recs[i] = r.p.record(r.id, t.rec.TopicUUID)
		out[i] = &recs[i]
	}
	return out
}

// appendPartitions appends deep copies of the topic's partitions, by id,
// to out; their lists share one allocation, each capped so an append
// reallocates.
func (t *topicImage) appendPartitions(out []PartitionRecord) []PartitionRecord {
	refs := t.sortedParts()
	n := 0
	for _, r := range refs {
		n += r.p.idCount()
	}
	arena := make([]int32, 0, n)
	for _, r := range refs {
		c := r.p.record(r.id, t.rec.TopicUUID)
		c.Replicas, arena = carve(arena, c.Replicas)
		c.ISR, arena = carve(arena, c.ISR)
		c.RemovingReplicas, arena = carve(arena, c.RemovingReplicas)
		c.AddingReplicas, arena = carve(arena, c.AddingReplicas)
		out = append(out, c)
	}
	return out
}

// clonePartitions deep-copies ps into fresh records whose slices share one
// allocation, each capped so an append reallocates. (For readers holding
// records from sortedPartitions; the image's own copies come from
// appendPartitions.)
func clonePartitions(ps []*PartitionRecord) []PartitionRecord {
	n := 0
	for _, p := range ps {
		n += len(p.Replicas) + len(p.ISR) + len(p.RemovingReplicas) + len(p.AddingReplicas)
	}
	arena := make([]int32, 0, n)
	out := make([]PartitionRecord, len(ps))
	for i, p := range ps {
		c := *p
		c.Replicas, arena = carve(arena, p.Replicas)
		c.ISR, arena = carve(arena, p.ISR)
		c.RemovingReplicas, arena = carve(arena, p.RemovingReplicas)
		c.AddingReplicas, arena = carve(arena, p.AddingReplicas)
		out[i] = c
	}
	return out
}
