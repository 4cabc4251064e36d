package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

func TestClientFindsLeaderRetriesAndTypesErrors(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	var eps []string
	for _, id := range c.IDs() {
		eps = append(eps, c.URL(id))
	}
	cl, err := client.New(client.Config{Endpoints: eps})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	d, meta, err := cl.CreateTopic(ctx, client.CreateTopicRequest{Name: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Topic.Name != "orders" || d.Topic.TopicUUID == "" || meta.Offset == 0 {
		t.Fatalf("CreateTopic = %+v %+v", d, meta)
	}
	_, _, err = cl.CreateTopic(ctx, client.CreateTopicRequest{Name: "orders"})
	var apiErr *client.Error
	if !errors.Is(err, client.ErrTopicAlreadyExists) || !errors.As(err, &apiErr) || apiErr.Status != 409 {
		t.Fatalf("duplicate create: %v", err)
	}
	if _, err := cl.Topic(ctx, "missing"); !errors.Is(err, client.ErrTopicNotFound) {
		t.Fatalf("missing topic: %v", err)
	}
	if _, _, err := cl.CreateTopic(ctx, client.CreateTopicRequest{Name: "bad/name"}); !errors.Is(err, client.ErrInvalidTopicName) {
		t.Fatalf("bad name: %v", err)
	}

	// With the leader gone, the client retries across the survivors until
	// one of them leads.
	c.Kill(lead)
	if _, _, err := cl.CreateTopic(ctx, client.CreateTopicRequest{Name: "after-failover"}); err != nil {
		t.Fatalf("create after the leader was killed: %v", err)
	}
	got, err := cl.Topic(ctx, "after-failover")
	if err != nil || got.Topic.Name != "after-failover" {
		t.Fatalf("read after failover: %+v %v", got, err)
	}
	q, err := cl.Quorum(ctx)
	if err != nil || q.Stale || q.LeaderID <= 0 || q.LeaderID == int64(lead) || len(q.Voters) != 3 {
		t.Fatalf("quorum after failover: %+v %v", q, err)
	}
	res, err := cl.ClientFetch(ctx, client.FetchOptions{})
	if err != nil || res.Mode != "snapshot" || res.HighWatermark == 0 {
		t.Fatalf("ClientFetch: %+v %v", res, err)
	}
	var snap contract.MetadataSnapshot
	if err := json.Unmarshal(res.Snapshot, &snap); err != nil || len(snap.Topics) != 2 {
		t.Fatalf("ClientFetch's snapshot: %+v %v", snap, err)
	}

	// Snapshots: take one on whichever node answers, then find it listed
	// there (the client sends both to the leader it knows).
	taken, err := cl.TakeSnapshot(ctx)
	if err != nil || taken.Offset == 0 || taken.Checksum == "" {
		t.Fatalf("TakeSnapshot: %+v %v", taken, err)
	}
	list, err := cl.Snapshots(ctx)
	if err != nil || !slices.Contains(list, taken) {
		t.Fatalf("Snapshots = %+v %v, want %+v among them", list, err, taken)
	}
}
