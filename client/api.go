package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/yakt/yakt/contract"
)

// RegisterBroker registers a broker; the answer is its RegisterBrokerRecord.
func (c *Client) RegisterBroker(ctx context.Context, req RegisterBrokerRequest) (Record, Meta, error) {
	var out Record
	meta, err := c.do(ctx, http.MethodPost, "/v1/brokers", req, &out)
	return out, meta, err
}

// Brokers lists brokers; status "" means ALIVE, "all" means every one.
// It follows the server's pages (Config.ListPageSize brokers each) to the end.
func (c *Client) Brokers(ctx context.Context, status string) ([]Broker, error) {
	out := []Broker{}
	after := ""
	for {
		q := url.Values{"limit": {strconv.Itoa(c.cfg.ListPageSize)}}
		if status != "" {
			q.Set("status", status)
		}
		if after != "" {
			q.Set("after", after)
		}
		var page contract.BrokerList
		if _, err := c.do(ctx, http.MethodGet, "/v1/brokers?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Brokers...)
		if page.Next == nil {
			return out, nil
		}
		after = strconv.FormatInt(int64(*page.Next), 10)
	}
}

// defaultListPageSize is Config.ListPageSize's default.
const defaultListPageSize = 5000

// Broker returns one broker.
func (c *Client) Broker(ctx context.Context, id int32) (Broker, error) {
	var out Broker
	_, err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/brokers/%d", id), nil, &out)
	return out, err
}

// PatchBroker changes a registration (epoch + 1).
func (c *Client) PatchBroker(ctx context.Context, id int32, p PatchBrokerRequest) (Record, Meta, error) {
	var out Record
	meta, err := c.do(ctx, http.MethodPatch, fmt.Sprintf("/v1/brokers/%d", id), p, &out)
	return out, meta, err
}

// UnregisterBroker marks a broker CLOSED.
func (c *Client) UnregisterBroker(ctx context.Context, id int32) (Record, Meta, error) {
	var out Record
	meta, err := c.do(ctx, http.MethodDelete, fmt.Sprintf("/v1/brokers/%d", id), nil, &out)
	return out, meta, err
}

// Topics lists all topics, by name. It follows the server's pages
// (Config.ListPageSize topics each) to the end; a topic that exists throughout
// is listed exactly once, whatever is created or deleted meanwhile.
func (c *Client) Topics(ctx context.Context) ([]TopicSummary, error) {
	out := []TopicSummary{}
	after := ""
	for {
		q := url.Values{"limit": {strconv.Itoa(c.cfg.ListPageSize)}}
		if after != "" {
			q.Set("after", after)
		}
		var page contract.TopicList
		if _, err := c.do(ctx, http.MethodGet, "/v1/topics?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Topics...)
		if page.Next == nil {
			return out, nil
		}
		after = *page.Next
	}
}

// DeleteTopic removes a topic and its partitions.
func (c *Client) DeleteTopic(ctx context.Context, name string) (Record, Meta, error) {
	var out Record
	meta, err := c.do(ctx, http.MethodDelete, "/v1/topics/"+url.PathEscape(name), nil, &out)
	return out, meta, err
}

// CreatePartition adds a partition to a topic.
func (c *Client) CreatePartition(ctx context.Context, topic string, req CreatePartitionRequest) (Record, Meta, error) {
	var out Record
	meta, err := c.do(ctx, http.MethodPost, "/v1/topics/"+url.PathEscape(topic)+"/partitions", req, &out)
	return out, meta, err
}

// Partition returns one partition's current state.
func (c *Client) Partition(ctx context.Context, topic string, id int32) (Partition, error) {
	var out Partition
	_, err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/topics/%s/partitions/%d", url.PathEscape(topic), id), nil, &out)
	return out, err
}

// AddReplica adds a broker to a partition's replicas (and addingReplicas).
func (c *Client) AddReplica(ctx context.Context, topic string, partition, broker int32) (Record, Meta, error) {
	var out Record
	meta, err := c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/topics/%s/partitions/%d/replicas", url.PathEscape(topic), partition),
		contract.AddReplicaRequest{BrokerID: &broker}, &out)
	return out, meta, err
}

// RemoveReplica removes a broker from a partition.
func (c *Client) RemoveReplica(ctx context.Context, topic string, partition, broker int32) (Record, Meta, error) {
	var out Record
	meta, err := c.do(ctx, http.MethodDelete, fmt.Sprintf("/v1/topics/%s/partitions/%d/replicas/%d", url.PathEscape(topic), partition, broker), nil, &out)
	return out, meta, err
}

// AllocateProducerIDs allocates a block to an ALIVE broker; first < 0
// asks for the next free block.
func (c *Client) AllocateProducerIDs(ctx context.Context, broker int32, first int64) (ProducerIDBlock, Meta, error) {
	body := contract.AllocateProducerIDsRequest{BrokerID: &broker}
	if first >= 0 {
		body.ProducerID = &first
	}
	var out ProducerIDBlock
	meta, err := c.do(ctx, http.MethodPost, "/v1/producer-ids", body, &out)
	return out, meta, err
}

// FetchOptions select what a fetch returns; zero values mean "not given".
type FetchOptions struct {
	Offset    *int64
	Timestamp *time.Time
	// MaxWait makes an empty diff wait up to this long for new records
	// (a long poll; at most 60 s). The attempt's deadline grows by it.
	MaxWait time.Duration
}

// BrokerFetch is BrokerMgmt's fetch, which is also the broker's heartbeat.
// It applies nothing, so it is retried as a read, without an idempotency
// key.
func (c *Client) BrokerFetch(ctx context.Context, broker int32, o FetchOptions) (FetchResult, error) {
	body := contract.BrokerFetchRequest{BrokerID: &broker, Offset: o.Offset, MaxWaitMs: o.MaxWait.Milliseconds()}
	if o.Timestamp != nil {
		ts := o.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00")
		body.Timestamp = &ts
	}
	var out FetchResult
	_, err := c.run(ctx, call{method: http.MethodPost, path: "/v1/metadata/fetch", in: body, out: &out, maxWait: o.MaxWait})
	return out, err
}

// ClientFetch is ClientMgmt's fetch (no producer-id data).
func (c *Client) ClientFetch(ctx context.Context, o FetchOptions) (FetchResult, error) {
	q := url.Values{}
	if o.Offset != nil {
		q.Set("offset", strconv.FormatInt(*o.Offset, 10))
	}
	if o.Timestamp != nil {
		q.Set("timestamp", o.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	}
	if o.MaxWait > 0 {
		q.Set("maxWaitMs", strconv.FormatInt(o.MaxWait.Milliseconds(), 10))
	}
	path := "/v1/metadata"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out FetchResult
	_, err := c.run(ctx, call{method: http.MethodGet, path: path, out: &out, maxWait: o.MaxWait})
	return out, err
}

// Log reads records from fromOffset on (limit 0: server default).
func (c *Client) Log(ctx context.Context, fromOffset int64, limit int) (LogPage, error) {
	path := "/v1/log?fromOffset=" + strconv.FormatInt(fromOffset, 10)
	if limit > 0 {
		path += "&limit=" + strconv.Itoa(limit)
	}
	var out LogPage
	_, err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}

// Quorum returns the leader's view of the quorum, or, when no leader can
// be reached, the answering node's last known view (Stale).
func (c *Client) Quorum(ctx context.Context) (Quorum, error) {
	var out Quorum
	_, err := c.do(ctx, http.MethodGet, "/v1/quorum", nil, &out)
	return out, err
}

// AlterISR reports a partition's in-sync replicas; broker must lead the
// partition and epoch be its current partitionEpoch.
func (c *Client) AlterISR(ctx context.Context, topic string, partition, broker int32, epoch int64, isr []int32) (Record, Meta, error) {
	var out Record
	body := contract.AlterISRRequest{BrokerID: &broker, PartitionEpoch: &epoch, ISR: isr}
	meta, err := c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/topics/%s/partitions/%d/isr", url.PathEscape(topic), partition), body, &out)
	return out, meta, err
}

// ControlledShutdown moves leadership and ISR membership off a broker
// and fences it; it returns how many partitions changed leader.
func (c *Client) ControlledShutdown(ctx context.Context, broker int32) (int32, Meta, error) {
	var out contract.ShutdownResponse
	meta, err := c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/brokers/%d/shutdown", broker), nil, &out)
	return out.PartitionsMoved, meta, err
}

// Snapshots lists the snapshot files of the node that answers, newest
// first.
func (c *Client) Snapshots(ctx context.Context) ([]Snapshot, error) {
	var out []Snapshot
	_, err := c.do(ctx, http.MethodGet, "/v1/snapshots", nil, &out)
	return out, err
}

// TakeSnapshot has the node that answers write a snapshot of everything it
// applied and returns its entry. It may take minutes on a large state:
// give ctx room, and a Config.RequestTimeout to match.
func (c *Client) TakeSnapshot(ctx context.Context) (Snapshot, error) {
	var out Snapshot
	_, err := c.do(ctx, http.MethodPost, "/v1/snapshots", nil, &out)
	return out, err
}
