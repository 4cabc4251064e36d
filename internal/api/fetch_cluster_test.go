package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

// A BrokerMgmt full fetch sent to a follower is answered by the follower
// itself: it succeeds while the leader refuses every full fetch for its
// limit, and the broker's heartbeat still reaches the leader.
func TestBrokerFullFetchServedByTheFollower(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{RequestTimeout: 30 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	lead := c.MustLeader()
	f := followerOf(c, lead)
	for b := 1; b <= 3; b++ {
		c.Must(t, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": b, "brokerHost": "10.0.0.1", "brokerPort": 9092}, http.StatusCreated, "")
	}
	// Large enough (about 11 MB of JSON) that an answer nobody reads
	// fills the sockets' buffers (the reader's is kept small below) and
	// holds its slot.
	for i := range 6 {
		c.Must(t, lead, http.MethodPost, "/v1/topics", map[string]any{"name": fmt.Sprintf("big-%02d", i), "partitions": 10000, "replicationFactor": 1}, http.StatusCreated, "")
	}
	// Broker 4 leads nothing, so its unfencing is small.
	c.Must(t, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": 4, "brokerHost": "10.0.0.4", "brokerPort": 9092}, http.StatusCreated, "")
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}

	// Fill the leader's full-fetch slots (the default 4) with plain
	// answers whose bodies are never read.
	smallRcvBuf := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10) })
		return errors.Join(err, serr)
	}}
	plain := &http.Client{Transport: &http.Transport{DisableCompression: true, DialContext: smallRcvBuf.DialContext}}
	defer plain.CloseIdleConnections()
	for i := range 4 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(lead)+"/v1/metadata", nil)
		resp, err := plain.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("held fetch %d: %v %v", i, err, resp)
		}
		defer resp.Body.Close()
	}
	resp := c.Must(t, lead, http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": 1}, http.StatusServiceUnavailable, "TOO_MANY_FULL_FETCHES")
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("503 TOO_MANY_FULL_FETCHES without Retry-After: %v", resp.Header)
	}

	// Fence broker 4 on the leader; a fetch through the follower with a
	// caught-up offset is its heartbeat and unfences it there.
	c.Must(t, lead, http.MethodPatch, "/v1/brokers/4", map[string]any{"brokerStatus": "FENCED"}, http.StatusOK, "")
	var full struct {
		Mode     string `json:"mode"`
		Snapshot struct {
			Brokers []struct {
				BrokerID     int32  `json:"brokerId"`
				BrokerStatus string `json:"brokerStatus"`
			} `json:"brokers"`
			Partitions []struct{} `json:"partitions"`
		} `json:"snapshot"`
	}
	if err := c.Must(t, f, http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": 1}, http.StatusOK, "").JSON(&full); err != nil {
		t.Fatal(err)
	}
	if full.Mode != "snapshot" || len(full.Snapshot.Partitions) != 60_000 {
		t.Fatalf("follower's full answer: mode %q with %d partitions, want a snapshot of 60000", full.Mode, len(full.Snapshot.Partitions))
	}
	applied := c.Server(lead).Node.AppliedIndex()
	var diff struct {
		Mode    string `json:"mode"`
		Records []struct {
			Name string `json:"name"`
		} `json:"records"`
	}
	body := map[string]any{"brokerId": 4, "offset": applied}
	if err := c.Must(t, f, http.MethodPost, "/v1/metadata/fetch", body, http.StatusOK, "").JSON(&diff); err != nil {
		t.Fatal(err)
	}
	// The follower answers after it applied the unfencing the leader
	// committed for this heartbeat: the diff holds it.
	if diff.Mode != "diff" || len(diff.Records) == 0 || diff.Records[0].Name != "BrokerRegistrationChangeBrokerRecord" {
		t.Fatalf("diff after the heartbeat that unfenced broker 4: %+v", diff)
	}
	var b struct {
		BrokerStatus string `json:"brokerStatus"`
	}
	if err := c.Must(t, lead, http.MethodGet, "/v1/brokers/4", nil, http.StatusOK, "").JSON(&b); err != nil || b.BrokerStatus != "ALIVE" {
		t.Fatalf("broker 4 after heartbeating through the follower: %+v %v, want ALIVE", b, err)
	}
}

// When the heartbeat cannot reach a leader, a BrokerMgmt fetch fails
// with 503 as a forwarded one did, even when its read could be served
// (stale); a ClientMgmt fetch, which has no heartbeat, is answered.
func TestBrokerFetchFailsWhenItsHeartbeatFindsNoLeader(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{RequestTimeout: time.Second})
	lead := c.MustLeader()
	f := followerOf(c, lead)
	c.Must(t, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": 1, "brokerHost": "10.0.0.1", "brokerPort": 9092}, http.StatusCreated, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range c.IDs() {
		if id != f {
			c.Kill(id)
		}
	}
	resp, err := c.Do(ctx, f, http.MethodPost, "/v1/metadata/fetch?stale=true", map[string]any{"brokerId": 1})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusServiceUnavailable {
		t.Fatalf("broker fetch without a reachable leader: %d %s, want 503", resp.Status, resp.Body)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(f)+"/v1/metadata?stale=true", nil)
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer hr.Body.Close()
	if _, err := io.Copy(io.Discard, hr.Body); err != nil || hr.StatusCode != http.StatusOK {
		t.Fatalf("stale client fetch on the lone follower: %d %v", hr.StatusCode, err)
	}
}
