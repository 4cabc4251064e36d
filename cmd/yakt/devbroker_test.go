package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

// TestSimulatedBrokerActsLikeABroker runs one simulated broker against a
// real cluster whose first endpoint is down, and checks it stays ALIVE
// across several session timeouts, registers again when unregistered, is
// unfenced when fenced, outlives the leader, and stops with its context.
func TestSimulatedBrokerActsLikeABroker(t *testing.T) {
	t.Parallel()
	// Long enough that a busy machine does not fence a broker that
	// heartbeats every 200 ms.
	const session = 2 * time.Second
	c := testcluster.New(t, testcluster.Options{BrokerSessionTimeout: session, LivenessInterval: 100 * time.Millisecond})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close() // nothing answers there: the broker must move on to the next node

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	b := &simBroker{
		id: 1, port: 9092, rack: "r1", endpoints: append([]string{down}, c.URLs()...),
		interval: 200 * time.Millisecond, httpc: &http.Client{Transport: tr},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan struct{})
	go func() { defer close(done); b.run(ctx, ready) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the simulated broker did not stop within 10 s of its context ending")
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the simulated broker did not register within 30 s")
	}

	// An observation over time, not a wait for a condition: three session
	// timeouts without a fence (the epoch would have moved).
	time.Sleep(3 * session)
	if got := brokerState(t, c, 1); got.BrokerStatus != "ALIVE" || got.Epoch != 0 {
		t.Fatalf("after 3 session timeouts broker 1 is %s at epoch %d, want ALIVE at epoch 0", got.BrokerStatus, got.Epoch)
	}

	first := brokerState(t, c, 1)
	send(t, c, http.MethodDelete, "/v1/brokers/1", "")
	waitBroker(t, c, "registers again after being unregistered", func(b brokerView) bool {
		return b.BrokerStatus == "ALIVE" && b.Epoch >= 2
	})
	if again := brokerState(t, c, 1); again.InternalUUID == first.InternalUUID {
		t.Errorf("re-registered with the old internalUUID %s, want a new one", again.InternalUUID)
	}

	before := brokerState(t, c, 1)
	send(t, c, http.MethodPatch, "/v1/brokers/1", `{"brokerStatus":"FENCED"}`)
	waitBroker(t, c, "is unfenced by its heartbeats", func(b brokerView) bool {
		return b.BrokerStatus == "ALIVE" && b.Epoch >= before.Epoch+2
	})

	leader := c.MustLeader()
	c.Kill(leader)
	lctx, lcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer lcancel()
	if _, err := c.Leader(lctx); err != nil {
		t.Fatalf("no new leader after killing %d: %v", leader, err)
	}
	afterKill := brokerState(t, c, 1)
	time.Sleep(3 * session) // again an observation: the new leader must hear it
	if got := brokerState(t, c, 1); got.BrokerStatus != "ALIVE" || got.Epoch != afterKill.Epoch {
		t.Fatalf("3 session timeouts after leader %d died broker 1 is %s at epoch %d, want ALIVE at epoch %d",
			leader, got.BrokerStatus, got.Epoch, afterKill.Epoch)
	}
}

type brokerStateView struct {
	brokerView
	InternalUUID string `json:"internalUUID"`
}

// brokerState reads broker id from the first node that answers.
func brokerState(t *testing.T, c *testcluster.Cluster, id int32) brokerStateView {
	t.Helper()
	var lastErr error
	for _, nid := range c.IDs() {
		if c.Server(nid) == nil {
			continue
		}
		resp, err := c.Client.Get(fmt.Sprintf("%s/v1/brokers/%d", c.URL(nid), id))
		if err != nil {
			lastErr = err
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			lastErr = fmt.Errorf("%d %s", resp.StatusCode, body)
			continue
		}
		var b brokerStateView
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatalf("GET /v1/brokers/%d: %v: %s", id, err, body)
		}
		return b
	}
	t.Fatalf("GET /v1/brokers/%d: no node answered: %v", id, lastErr)
	return brokerStateView{}
}

func waitBroker(t *testing.T, c *testcluster.Cluster, what string, ok func(brokerView) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b := brokerState(t, c, 1)
		if ok(b.brokerView) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the simulated broker never %s: it is %s at epoch %d", what, b.BrokerStatus, b.Epoch)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func send(t *testing.T, c *testcluster.Cluster, method, path, body string) {
	t.Helper()
	req, err := http.NewRequest(method, c.URL(c.IDs()[1])+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
}
