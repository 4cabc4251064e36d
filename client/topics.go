package client

import (
	"context"
	"net/http"
	"net/url"
)

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
