package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestOperatorCallsAskOneNode checks the per-endpoint calls against a
// real cluster: each answer comes from the node asked, and a snapshot
// downloads whole, as announced.
func TestOperatorCallsAskOneNode(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	var given []string
	for _, u := range c.URLs() {
		given = append(given, strings.TrimPrefix(u, "http://")+"/")
	}
	cl, err := client.New(client.Config{Endpoints: given})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if eps := cl.Endpoints(); !slices.Equal(eps, c.URLs()) {
		t.Fatalf("Endpoints() = %v, want the normalised %v", eps, c.URLs())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, _, err := cl.CreateTopic(ctx, client.CreateTopicRequest{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	for i, ep := range cl.Endpoints() {
		id := uint64(i + 1)
		meta, err := cl.PingAt(ctx, ep)
		if err != nil || meta.Node != id || meta.Leader != lead {
			t.Errorf("PingAt(%s) = %+v, %v; want node %d following %d", ep, meta, err, id, lead)
		}
		q, _, err := cl.QuorumAt(ctx, ep)
		if err != nil || q.NodeID != id || q.LeaderID != int64(lead) || q.HighWatermark == 0 {
			t.Errorf("QuorumAt(%s) = %+v, %v; want node %d's own view", ep, q, err, id)
		}
		r, _, err := cl.ReadyAt(ctx, ep)
		if err != nil || r.Status != contract.Ready || r.LeaderID != lead || r.AppliedOffset == 0 {
			t.Errorf("ReadyAt(%s) = %+v, %v", ep, r, err)
		}
		m, err := cl.MetricsAt(ctx, ep)
		if err != nil || !bytes.Contains(m, []byte("\nyakt_build_info{")) {
			t.Errorf("MetricsAt(%s): %v, yakt_build_info in it: %v", ep, err, bytes.Contains(m, []byte("yakt_build_info")))
		}
	}

	ep := c.URL(lead)
	if _, err := cl.LatestSnapshotAt(ctx, ep); !errors.Is(err, client.ErrNotReady) {
		t.Fatalf("LatestSnapshotAt before any snapshot: %v, want NOT_READY", err)
	}
	taken, err := cl.TakeSnapshotAt(ctx, ep)
	if err != nil || taken.Offset == 0 || !strings.HasPrefix(taken.Checksum, "crc32c:") {
		t.Fatalf("TakeSnapshotAt = %+v, %v", taken, err)
	}
	list, err := cl.SnapshotsAt(ctx, ep)
	if err != nil || len(list) == 0 || list[0] != taken {
		t.Fatalf("SnapshotsAt = %+v, %v; want %+v first", list, err, taken)
	}
	dl, err := cl.LatestSnapshotAt(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(dl.Body)
	dl.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum := fmt.Sprintf("crc32c:%08x", crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	if dl.Node != lead || dl.Offset != taken.Offset || dl.Size != int64(len(data)) || dl.Size != taken.SizeBytes || dl.Checksum != sum || sum != taken.Checksum {
		t.Fatalf("download %+v of %d bytes with %s; want node %d's snapshot %+v", dl, len(data), sum, lead, taken)
	}

	// A node that is down is an error of that endpoint alone.
	down := uint64(1)
	if down == lead {
		down = 2
	}
	c.Kill(down)
	if _, err := cl.PingAt(ctx, c.URL(down)); err == nil {
		t.Fatalf("PingAt a stopped node answered")
	}
	if _, _, err := cl.ReadyAt(ctx, c.URL(down)); err == nil {
		t.Fatalf("ReadyAt a stopped node answered")
	}
}
