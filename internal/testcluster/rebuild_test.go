package testcluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/internal/testcluster"
)

// mixedWorkload drives every record type through the API and fails the
// test on any unexpected answer.
func mixedWorkload(t *testing.T, c *testcluster.Cluster, via uint64, round int) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	do := func(method, path string, body any, want int) {
		t.Helper()
		resp, err := c.Do(ctx, via, method, path, body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != want {
			t.Fatalf("%s %s = %d %s, want %d", method, path, resp.Status, resp.Body, want)
		}
	}
	base := int32(round * 10)
	for i := range int32(4) {
		do(http.MethodPost, "/v1/brokers", map[string]any{"brokerId": base + i, "brokerHost": fmt.Sprintf("10.0.%d.%d", round, i),
			"brokerPort": 9092, "rackId": fmt.Sprintf("r%d", i%2)}, http.StatusCreated)
	}
	do(http.MethodPatch, fmt.Sprintf("/v1/brokers/%d", base+1), map[string]any{"brokerHost": "moved"}, http.StatusOK)
	for i := range 3 {
		do(http.MethodPost, "/v1/topics", map[string]any{"name": fmt.Sprintf("r%d-t%d", round, i), "partitions": 4, "replicationFactor": 2}, http.StatusCreated)
	}
	do(http.MethodPost, fmt.Sprintf("/v1/topics/r%d-t0/partitions", round), map[string]any{"replicas": []int32{base, base + 2}}, http.StatusCreated)
	do(http.MethodPost, fmt.Sprintf("/v1/topics/r%d-t1/partitions/0/replicas", round), map[string]any{"brokerId": base + 3}, http.StatusOK)
	do(http.MethodDelete, fmt.Sprintf("/v1/topics/r%d-t1/partitions/0/replicas/%d", round, base+3), nil, http.StatusOK)
	do(http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": base}, http.StatusCreated)
	do(http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": base + 1, "producerId": 1_000_000 * (round + 1)}, http.StatusCreated)
	do(http.MethodDelete, fmt.Sprintf("/v1/topics/r%d-t2", round), nil, http.StatusOK)
	do(http.MethodDelete, fmt.Sprintf("/v1/brokers/%d", base+3), nil, http.StatusOK)
}

// views returns each running node's full snapshot JSON.
func views(t *testing.T, c *testcluster.Cluster) map[uint64]string {
	t.Helper()
	out := map[uint64]string{}
	for _, id := range c.IDs() {
		if s := c.Server(id); s != nil {
			b, err := json.Marshal(s.State.Image().View(true))
			if err != nil {
				t.Fatal(err)
			}
			out[id] = string(b)
		}
	}
	return out
}

func assertSameState(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	v := views(t, c)
	var first uint64
	for id, s := range v {
		if first == 0 {
			first = id
			continue
		}
		if s != v[first] {
			t.Fatalf("node %d and node %d differ:\n%s\n---\n%s", id, first, s, v[first])
		}
	}
}

// TestRebuildFromEmptyDirectoryConverges replaces a node whose data
// directory was lost, the way docs/operations.md says, while the other
// two serve: the wiped node comes back with a new directory id (so it is
// a new member, never the old one with its log and vote forgotten), the
// old member is removed, the new one joins as an observer, catches up
// from the others' snapshot (their log is compacted) and is promoted; it
// then holds exactly the others' state.
func TestRebuildFromEmptyDirectoryConverges(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{SnapshotEntries: 15, CompactionMargin: 3})
	lead := c.MustLeader()
	f := followers(c, lead)[0]
	mixedWorkload(t, c, f, 0)
	ctx := ctxFor(t, 60*time.Second)
	if err := c.WaitDirectoryIDs(ctx); err != nil {
		t.Fatal(err)
	}
	var oldDir string
	for _, m := range c.Server(lead).Node.Members() {
		if m.NodeID == f {
			oldDir = m.DirectoryID.String()
		}
	}
	c.Kill(f)
	mixedWorkload(t, c, lead, 1) // enough entries for the others to snapshot and compact
	c.WipeDataDir(f)

	if _, _, err := c.API().RemoveMember(ctx, f, oldDir); err != nil {
		t.Fatalf("remove the lost member: %v", err)
	}
	c.StartJoining(f)
	newDir := c.Server(f).Node.DirectoryID().String()
	if newDir == oldDir {
		t.Fatal("the wiped node came back with its old directory id")
	}
	// It asks to be added as an observer as it starts.
	if err := testcluster.WaitFor(ctx, func() bool {
		q, err := c.API().Quorum(ctx)
		return err == nil && slices.ContainsFunc(q.Observers, func(v client.Voter) bool { return v.NodeID == f && v.DirectoryID == newDir })
	}); err != nil {
		t.Fatalf("the replacement never became an observer: %v", err)
	}
	// The leader waits for the replacement to catch up only within its
	// request timeout; a snapshot install on a slow machine can take
	// longer, and NOT_CAUGHT_UP then says to retry.
	var promoteErr error
	if err := testcluster.WaitFor(ctx, func() bool {
		_, _, promoteErr = c.API().PromoteVoter(ctx, client.PromoteVoterRequest{NodeID: f, DirectoryID: newDir, WaitMs: 20_000})
		if promoteErr != nil && !errors.Is(promoteErr, client.ErrNotCaughtUp) {
			t.Fatalf("promote the replacement: %v", promoteErr)
		}
		return promoteErr == nil
	}); err != nil {
		t.Fatalf("promote the replacement: %v (last: %v)", err, promoteErr)
	}
	assertSameState(t, c)

	st, err := c.Server(f).Node.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.SnapshotIndex == 0 {
		t.Fatal("the wiped node rebuilt without a snapshot although the log was compacted")
	}
	// It votes now, and keeps up with new writes.
	if !c.Server(f).Node.Self().Voter {
		t.Fatal("the replacement is not a voter")
	}
	mixedWorkload(t, c, f, 2)
	assertSameState(t, c)
}

// TestClientFetchNeverReturnsProducerIDs: ClientMgmt strips producer-id
// records from diffs and producer-id state from snapshots; BrokerMgmt
// returns both.
func TestClientFetchNeverReturnsProducerIDs(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	f := followers(c, lead)[0]
	mixedWorkload(t, c, lead, 0)
	ctx := ctxFor(t, 10*time.Second)

	for _, id := range []uint64{lead, f} {
		diff := clientFetch(t, c, id, "?offset=0")
		snap := clientFetch(t, c, id, "")
		if diff.Mode != "diff" || len(diff.Records) == 0 {
			t.Fatalf("node %d: ClientMgmt diff from 0: %+v", id, diff)
		}
		for _, r := range diff.Records {
			if r.Name == "ProducerIdsRecord" {
				t.Fatalf("node %d: ClientMgmt diff returned a ProducerIdsRecord", id)
			}
		}
		if snap.Snapshot == nil || snap.Snapshot.ProducerIDs != nil {
			t.Fatalf("node %d: ClientMgmt snapshot carries producerIds", id)
		}

		resp, err := c.Do(ctx, id, http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": 0, "offset": 0})
		if err != nil || resp.Status != http.StatusOK {
			t.Fatalf("BrokerMgmt fetch: %v %v", err, resp)
		}
		var bdiff fetchAnswer
		if err := resp.JSON(&bdiff); err != nil {
			t.Fatal(err)
		}
		pids := 0
		for _, r := range bdiff.Records {
			if r.Name == "ProducerIdsRecord" {
				pids++
			}
		}
		if pids != 2 {
			t.Fatalf("node %d: BrokerMgmt diff holds %d ProducerIdsRecords, want 2", id, pids)
		}
		resp, err = c.Do(ctx, id, http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": 0})
		var bsnap fetchAnswer
		if err != nil || resp.JSON(&bsnap) != nil || bsnap.Snapshot == nil || bsnap.Snapshot.ProducerIDs == nil {
			t.Fatalf("node %d: BrokerMgmt snapshot lacks producerIds: %v %v", id, err, resp)
		}
	}
	resp, err := c.Do(ctx, f, http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": 999})
	if err != nil || resp.Status != http.StatusNotFound || resp.ErrorCode() != "BROKER_NOT_FOUND" {
		t.Fatalf("BrokerMgmt fetch of an unknown broker: %v %v", err, resp)
	}
	resp, err = c.Do(ctx, f, http.MethodPost, "/v1/metadata/fetch", map[string]any{"offset": 0})
	if err != nil || resp.Status != http.StatusBadRequest {
		t.Fatalf("BrokerMgmt fetch without brokerId: %v %v", err, resp)
	}

	// After the leader dies the survivors answer the same diff: the new
	// leader's no-op entry carries no records.
	before := clientFetch(t, c, f, "?offset=0")
	c.Kill(c.MustLeader()) // the leader now, should an election have moved it
	c.MustLeader()
	if got := clientFetch(t, c, f, "?offset=0"); got.Mode != "diff" || len(got.Records) != len(before.Records) {
		t.Fatalf("fetch after leader failover: %d records (mode %s), want the %d from before", len(got.Records), got.Mode, len(before.Records))
	}
}
