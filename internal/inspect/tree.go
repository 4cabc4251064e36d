package inspect

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/internal/metadata"
)

// Node is a directory or a file of the tree Shell browses.
type Node struct {
	Name string
	// Children are a directory's entries in listing order; nil for a
	// file.
	Children []*Node
	// Value is a file's content: cat prints it as indented JSON.
	Value any
	dir   bool
}

// IsDir reports whether n is a directory.
func (n *Node) IsDir() bool { return n.dir }

// Child returns the entry of a directory named name.
func (n *Node) Child(name string) (*Node, bool) {
	for _, c := range n.Children {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

// NewDir returns a directory node.
func NewDir(name string, children ...*Node) *Node {
	if children == nil {
		children = []*Node{}
	}
	return &Node{Name: name, Children: children, dir: true}
}

// NewFile returns a file node whose content is v.
func NewFile(name string, v any) *Node { return &Node{Name: name, Value: v} }

// ClusterInfo is /cluster's content: where the image came from, and what
// it holds.
type ClusterInfo struct {
	// Source is the snapshot file or the endpoints the image came from.
	Source string `json:"source"`
	// Offset is the raft index the image is as of (a snapshot's index, a
	// fetch's high watermark).
	Offset uint64 `json:"offset"`
	// Term is the raft term of Offset; 0 when unknown (a fetch).
	Term uint64 `json:"term,omitempty"`
	// Voters is the raft configuration, when known (a snapshot file).
	Voters []uint64 `json:"voters,omitempty"`
	Counts
}

// TreeFromImage builds the shell's tree over im:
//
//	/cluster                         ClusterInfo with im's counts
//	/brokers/<id>                    the broker's current registration
//	/topics/<name>/topic             the TopicRecord
//	/topics/<name>/partitions/<n>    the partition's current state
//	/producerIds                     next id and blocks (withProducerIDs)
//
// info's Counts are filled in from im.
func TreeFromImage(im *metadata.Image, info ClusterInfo, withProducerIDs bool) *Node {
	info.Counts = CountImage(im)
	brokers := NewDir("brokers")
	for _, b := range im.Brokers() {
		brokers.Children = append(brokers.Children, NewFile(strconv.Itoa(int(b.BrokerID)), b))
	}
	topics := NewDir("topics")
	for _, t := range im.Topics() {
		parts := NewDir("partitions")
		for _, p := range im.Partitions(t.TopicUUID) {
			parts.Children = append(parts.Children, NewFile(strconv.Itoa(int(p.PartitionID)), p))
		}
		topics.Children = append(topics.Children, NewDir(t.Name, NewFile("topic", t), parts))
	}
	root := NewDir("", NewFile("cluster", info), brokers, topics)
	if withProducerIDs {
		root.Children = append(root.Children, NewFile("producerIds", im.ProducerIDs()))
	}
	return root
}

// TreeFromSnapshotFile verifies and decodes a snapshot file (see
// SnapshotStatus) and builds the tree over its image.
func TreeFromSnapshotFile(path string) (*Node, error) {
	s, err := loadSnapshot(path)
	if err != nil {
		return nil, err
	}
	return TreeFromImage(s.image, ClusterInfo{Source: path, Offset: s.md.Index, Term: s.md.Term,
		Voters: sortedIDs(s.md.ConfState.Voters)}, true), nil
}

// TreeFromRecords replays records (an image's canonical records, or a
// whole log's) into an empty image as of offset and builds the tree over
// it. withProducerIDs says whether the records include the producer-id
// blocks (a ClientMgmt answer never does).
func TreeFromRecords(source string, recs []metadata.Record, offset int64, withProducerIDs bool) (*Node, error) {
	im, err := metadata.ImageFromRecords(recs, offset)
	if err != nil {
		return nil, fmt.Errorf("replay records: %w", err)
	}
	return TreeFromImage(im, ClusterInfo{Source: source, Offset: uint64(max(offset, 0))}, withProducerIDs), nil
}

// TreeFromFetch builds the tree from a full metadata fetch of a live
// cluster (client.ClientFetch, or BrokerFetch, without an offset, so
// the answer is in snapshot mode). source names where it came from, for
// /cluster. A diff is refused: it is not the whole state.
func TreeFromFetch(source string, res client.FetchResult) (*Node, error) {
	if res.Mode != "snapshot" {
		return nil, fmt.Errorf("a %q fetch answer is not the whole state: fetch without an offset or timestamp", res.Mode)
	}
	if len(res.Snapshot) == 0 {
		return nil, errors.New("the fetch answer has no snapshot")
	}
	var view metadata.SnapshotView
	if err := json.Unmarshal(res.Snapshot, &view); err != nil {
		return nil, fmt.Errorf("decode fetched snapshot: %w", err)
	}
	recs := make([]metadata.Record, 0, len(view.Brokers)+len(view.Topics)+len(view.Partitions))
	add := func(b metadata.Body) { recs = append(recs, metadata.Record{Offset: view.Offset, Body: b}) }
	for i := range view.Brokers {
		add(&view.Brokers[i])
	}
	for _, t := range view.Topics {
		add(&metadata.TopicRecord{TopicUUID: t.TopicUUID, Name: t.Name})
	}
	for i := range view.Partitions {
		add(&view.Partitions[i])
	}
	if view.ProducerIDs != nil {
		for i := range view.ProducerIDs.Blocks {
			add(&view.ProducerIDs.Blocks[i])
		}
	}
	im, err := metadata.ImageFromRecords(recs, view.Offset)
	if err != nil {
		return nil, fmt.Errorf("replay fetched snapshot: %w", err)
	}
	return TreeFromImage(im, ClusterInfo{Source: source, Offset: uint64(max(res.HighWatermark, 0))}, view.ProducerIDs != nil), nil
}
