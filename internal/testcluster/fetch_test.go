package testcluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

type fetchAnswer struct {
	Mode          string `json:"mode"`
	HighWatermark int64  `json:"highWatermark"`
	Records       []struct {
		Name   string          `json:"name"`
		Offset int64           `json:"offset"`
		Fields json.RawMessage `json:"fields"`
	} `json:"records"`
	Snapshot *struct {
		Offset int64 `json:"offset"`
		Topics []struct {
			Name string `json:"name"`
		} `json:"topics"`
		ProducerIDs *json.RawMessage `json:"producerIds"`
	} `json:"snapshot"`
}

func clientFetch(t *testing.T, c *testcluster.Cluster, id uint64, query string) fetchAnswer {
	t.Helper()
	resp, err := c.Do(context.Background(), id, http.MethodGet, "/v1/metadata"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /v1/metadata%s: %d %s", query, resp.Status, resp.Body)
	}
	var a fetchAnswer
	if err := resp.JSON(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

func mustCreate(t *testing.T, c *testcluster.Cluster, id uint64, name string) int64 {
	t.Helper()
	resp, err := c.Do(context.Background(), id, http.MethodPost, "/v1/topics", map[string]any{"name": name})
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("create %s: %v %v", name, err, resp)
	}
	off, _ := strconv.ParseInt(resp.Header.Get("X-Yakt-Offset"), 10, 64)
	return off
}

func TestFetchDiffSnapshotAndTimestampRules(t *testing.T) {
	clock := testcluster.NewFakeClock(time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC))
	c := testcluster.New(t, testcluster.Options{Clock: clock})
	lead := c.MustLeader()
	f := followers(c, lead)[0]
	offA := mustCreate(t, c, lead, "a")
	clock.Advance(time.Minute)
	offB := mustCreate(t, c, lead, "b")

	for _, id := range []uint64{lead, f} {
		t.Run(fmt.Sprintf("node%d", id), func(t *testing.T) {
			snap := clientFetch(t, c, id, "")
			if snap.Mode != "snapshot" || snap.Snapshot == nil || len(snap.Snapshot.Topics) != 2 || snap.HighWatermark < offB {
				t.Fatalf("no offset: want a snapshot with 2 topics, got %+v", snap)
			}
			diff := clientFetch(t, c, id, fmt.Sprintf("?offset=%d", offA))
			if diff.Mode != "diff" || len(diff.Records) != 1 || diff.Records[0].Name != "TopicRecord" || diff.Records[0].Offset != offB {
				t.Fatalf("offset %d: want the diff [TopicRecord@%d], got %+v", offA, offB, diff)
			}
			if diff.HighWatermark < offB {
				t.Fatalf("highWatermark %d < %d", diff.HighWatermark, offB)
			}
			// 30 s before b was created: b only, as a diff.
			ts := url.QueryEscape(clock.Now().Add(-30 * time.Second).Format(time.RFC3339Nano))
			byTime := clientFetch(t, c, id, "?timestamp="+ts)
			if byTime.Mode != "diff" || len(byTime.Records) != 1 || byTime.Records[0].Offset != offB {
				t.Fatalf("recent timestamp: want the diff [b], got %+v", byTime)
			}
		})
	}

	// The same timestamp becomes older than --full-fetch-after (10 min).
	ts := url.QueryEscape(clock.Now().Add(-30 * time.Second).Format(time.RFC3339Nano))
	clock.Advance(10 * time.Minute)
	if got := clientFetch(t, c, f, "?timestamp="+ts); got.Mode != "snapshot" {
		t.Fatalf("timestamp older than 10 minutes: want a snapshot, got %+v", got)
	}

	// Bad input.
	for _, q := range []string{"?offset=x", "?offset=1&timestamp=" + ts, "?timestamp=yesterday", "?maxWaitMs=-1", "?offset=-4"} {
		resp, err := c.Do(context.Background(), f, http.MethodGet, "/v1/metadata"+q, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusBadRequest || resp.ErrorCode() != "INVALID_REQUEST" {
			t.Errorf("GET /v1/metadata%s = %d %s, want 400 INVALID_REQUEST", q, resp.Status, resp.Body)
		}
	}
}

func TestFetchCompactedOffsetGetsSnapshotAndLog410(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	for i := range 5 {
		mustCreate(t, c, lead, fmt.Sprintf("t%d", i))
	}
	f := followers(c, lead)[0]
	ctx := ctxFor(t, 10*time.Second)
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(ctx, f, http.MethodPost, "/v1/snapshots", nil)
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("POST /v1/snapshots: %v %v", err, resp)
	}
	var entry contract.Snapshot
	if err := resp.JSON(&entry); err != nil || entry.Offset == 0 || entry.SizeBytes == 0 || entry.Checksum == "" {
		t.Fatalf("snapshot entry %s: %v", resp.Body, err)
	}
	// Before the restart the follower still holds every record.
	resp, err = c.Do(ctx, f, http.MethodGet, "/v1/log?fromOffset=1&limit=2", nil)
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("GET /v1/log: %v %v", err, resp)
	}
	var page contract.LogPage
	if err := resp.JSON(&page); err != nil || len(page.Records) == 0 || page.NextOffset != page.Records[len(page.Records)-1].Offset+1 {
		t.Fatalf("log page %s: %v", resp.Body, err)
	}

	// Restarted from its snapshot, the follower no longer holds the
	// records before it.
	c.Kill(f)
	c.Start(f)
	c.MustLeader()
	if got := clientFetch(t, c, f, "?offset=1"); got.Mode != "snapshot" || len(got.Snapshot.Topics) != 5 {
		t.Fatalf("compacted offset: want a snapshot with 5 topics, got %+v", got)
	}
	resp, err = c.Do(ctx, f, http.MethodGet, "/v1/log?fromOffset=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	var gone contract.ErrorBody
	if resp.Status != http.StatusGone || resp.ErrorCode() != "OFFSET_COMPACTED" || resp.JSON(&gone) != nil || gone.SnapshotOffset == nil || *gone.SnapshotOffset != int64(entry.Offset) {
		t.Fatalf("GET /v1/log?fromOffset=1 after compaction = %d %s, want 410 with snapshotOffset %d", resp.Status, resp.Body, entry.Offset)
	}

	// The snapshot list and download.
	resp, err = c.Do(ctx, f, http.MethodGet, "/v1/snapshots", nil)
	var list []contract.Snapshot
	if err != nil || resp.Status != http.StatusOK || resp.JSON(&list) != nil || len(list) == 0 || list[0].Offset != entry.Offset {
		t.Fatalf("GET /v1/snapshots = %v %v", err, resp)
	}
	resp, err = c.Do(ctx, f, http.MethodGet, "/v1/snapshots/latest", nil)
	if err != nil || resp.Status != http.StatusOK || int64(len(resp.Body)) != entry.SizeBytes ||
		resp.Header.Get("X-Yakt-Snapshot-Checksum") != entry.Checksum {
		t.Fatalf("GET /v1/snapshots/latest: %v status %d, %d bytes", err, resp.Status, len(resp.Body))
	}
}

func TestLongPollFetchWakesOnCommit(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	f := followers(c, lead)[0]
	hw := mustCreate(t, c, lead, "before")

	// No commit: the poll returns an empty diff after maxWaitMs.
	start := time.Now()
	empty := clientFetch(t, c, f, fmt.Sprintf("?offset=%d&maxWaitMs=150", hw))
	if empty.Mode != "diff" || len(empty.Records) != 0 || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("idle long poll returned %+v after %v", empty, time.Since(start))
	}

	type result struct {
		a   fetchAnswer
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.Do(context.Background(), f, http.MethodGet, fmt.Sprintf("/v1/metadata?offset=%d&maxWaitMs=10000", hw), nil)
		r := result{err: err, at: time.Now()}
		if err == nil {
			r.err = resp.JSON(&r.a)
		}
		done <- r
	}()
	mustCreate(t, c, lead, "after")
	committed := time.Now()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.a.Records) != 1 || r.a.Records[0].Name != "TopicRecord" {
		t.Fatalf("long poll answered %+v", r.a)
	}
	if lag := r.at.Sub(committed); lag > 100*time.Millisecond {
		t.Fatalf("long poll returned %v after the commit, want < 100ms", lag)
	}
}
