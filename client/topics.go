package client

import (
	"context"
	"net/http"
	"net/url"
)

// Topic is a TopicRecord.
type Topic struct {
	TopicUUID string `json:"topicUUID"`
	Name      string `json:"name"`
}

// Partition is a PartitionRecord: a partition's full current state.
type Partition struct {
	PartitionID      int32   `json:"partitionId"`
	TopicUUID        string  `json:"topicUUID"`
	Replicas         []int32 `json:"replicas"`
	ISR              []int32 `json:"ISR"`
	RemovingReplicas []int32 `json:"removingReplicas"`
	AddingReplicas   []int32 `json:"addingReplicas"`
	Leader           int32   `json:"leader"`
	PartitionEpoch   int64   `json:"partitionEpoch"`
}

// TopicDetail is a topic with its partitions.
type TopicDetail struct {
	Topic      Topic       `json:"topic"`
	Partitions []Partition `json:"partitions"`
}

// CreateTopicRequest is POST /v1/topics; Partitions and ReplicationFactor
// are optional.
type CreateTopicRequest struct {
	Name              string `json:"name"`
	Partitions        *int32 `json:"partitions,omitempty"`
	ReplicationFactor *int32 `json:"replicationFactor,omitempty"`
}

// CreateTopic creates a topic (and its partitions when asked).
func (c *Client) CreateTopic(ctx context.Context, req CreateTopicRequest) (TopicDetail, Meta, error) {
	var out TopicDetail
	meta, err := c.do(ctx, http.MethodPost, "/v1/topics", req, &out)
	return out, meta, err
}

// Topic returns a topic and its partitions (a linearizable read).
func (c *Client) Topic(ctx context.Context, name string) (TopicDetail, error) {
	var out TopicDetail
	_, err := c.do(ctx, http.MethodGet, "/v1/topics/"+url.PathEscape(name), nil, &out)
	return out, err
}
