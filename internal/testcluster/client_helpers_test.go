package testcluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

// answer is a client write's outcome: ok(cl.CreateTopic(...)).must(t).
type answer[T any] struct {
	v   T
	err error
}

func ok[T any](v T, _ client.Meta, err error) answer[T] { return answer[T]{v, err} }

// must fails the test on an error; the client has already retried what a
// retry could fix.
func (a answer[T]) must(t *testing.T) T {
	t.Helper()
	if a.err != nil {
		t.Fatal(a.err)
	}
	return a.v
}

// wantAPIError fails the test unless err is the API's answer with status
// and code.
func wantAPIError(t *testing.T, err error, status int, code contract.Code) {
	t.Helper()
	apiErr, isAPI := errors.AsType[*client.Error](err)
	if !isAPI || apiErr.Status != status || apiErr.Code != code {
		t.Fatalf("got %v, want %d %s", err, status, code)
	}
}

// apiCtx bounds one client call of a test.
func apiCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// registerBrokersAPI registers brokers 1..n (rack "r") through the cluster's
// client.
func registerBrokersAPI(t *testing.T, c *testcluster.Cluster, n int) {
	t.Helper()
	for id := int32(1); id <= int32(n); id++ {
		ok(c.API().RegisterBroker(apiCtx(t), contract.RegisterBrokerRequest{BrokerID: &id, BrokerHost: "h",
			BrokerPort: contract.PortNumber(9092), RackID: "r"})).must(t)
	}
}
