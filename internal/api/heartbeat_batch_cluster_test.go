package api_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

// Heartbeats a follower receives at once travel to the leader in a batch,
// and each is still answered on its own: every fenced broker heartbeating
// through the follower at the same moment is unfenced, and its fetch waits
// until the follower shows that.
func TestConcurrentHeartbeatsThroughFollowerUnfenceEachBroker(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{RequestTimeout: 30 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	lead := c.MustLeader()
	f := followerOf(c, lead)
	const n = 20
	for b := 1; b <= n; b++ {
		c.Must(t, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": b, "brokerHost": "10.0.0.1", "brokerPort": 9000 + b}, http.StatusCreated, "")
	}
	for b := 1; b <= n; b++ {
		c.Must(t, lead, http.MethodPatch, fmt.Sprintf("/v1/brokers/%d", b), map[string]any{"brokerStatus": "FENCED"}, http.StatusOK, "")
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	var hw struct {
		HighWatermark int64 `json:"highWatermark"`
	}
	if err := c.Must(t, f, http.MethodGet, "/v1/metadata?offset=0", nil, http.StatusOK, "").JSON(&hw); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for b := 1; b <= n; b++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Do(ctx, f, http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": b, "offset": hw.HighWatermark})
			if err != nil {
				errs <- fmt.Errorf("broker %d: %w", b, err)
				return
			}
			if resp.Status != http.StatusOK {
				errs <- fmt.Errorf("broker %d: fetch = %d %s", b, resp.Status, resp.Body)
				return
			}
			// The fetch waited for the unfencing to apply on the
			// follower: a stale read there already shows it.
			var got struct {
				BrokerStatus string `json:"brokerStatus"`
			}
			r, err := c.Do(ctx, f, http.MethodGet, fmt.Sprintf("/v1/brokers/%d?stale=true", b), nil)
			if err != nil || r.JSON(&got) != nil || got.BrokerStatus != "ALIVE" {
				errs <- fmt.Errorf("broker %d after its fetch through the follower: %+v %v, want ALIVE", b, got, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// The leader answers a batch per heartbeat: an unknown broker fails only
// its own entry.
func TestHeartbeatBatchAnswersEachEntry(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	c.Must(t, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": 1, "brokerHost": "10.0.0.1", "brokerPort": 9092}, http.StatusCreated, "")
	var ans struct {
		Results []struct {
			WaitForOffset int64 `json:"waitForOffset"`
			Error         *struct {
				Code string `json:"code"`
			} `json:"error"`
		} `json:"results"`
	}
	body := map[string]any{"heartbeats": []map[string]any{{"brokerId": 1, "offset": 0}, {"brokerId": 999}}}
	if err := c.Must(t, lead, http.MethodPost, "/v1/internal/broker-heartbeats", body, http.StatusOK, "").JSON(&ans); err != nil {
		t.Fatal(err)
	}
	if len(ans.Results) != 2 || ans.Results[0].Error != nil || ans.Results[1].Error == nil || ans.Results[1].Error.Code != "BROKER_NOT_FOUND" {
		t.Fatalf("batch answer %+v, want broker 1 fine and broker 999 BROKER_NOT_FOUND", ans.Results)
	}
	c.Must(t, lead, http.MethodPost, "/v1/internal/broker-heartbeats", map[string]any{"heartbeats": []map[string]any{{"offset": 1}}}, http.StatusBadRequest, "INVALID_REQUEST")
}
