package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
)

// A write whose time runs out while a connection is still being dialed
// was never sent: its error is not "outcome unknown", and it names what
// the attempts before met (here: a refused connection), not only the
// deadline.
func TestWriteCutOffWhileDialingWasNotSent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close() // nothing listens there now: dials are refused

	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		// Every later dial hangs until the call's time is up, as a dial
		// to a host that drops SYNs, or on a starved machine, does.
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	defer tr.CloseIdleConnections()
	c, err := client.New(client.Config{Endpoints: []string{"http://" + closed}, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, _, err = c.DeleteTopic(ctx, "orders")
	if err == nil {
		t.Fatal("a write to nowhere succeeded")
	}
	if dials.Load() < 2 {
		t.Fatalf("%d dials: the test needs a refused one and a cut-off one", dials.Load())
	}
	if errors.Is(err, client.ErrUnknownOutcome) {
		t.Fatalf("a write that never got a connection is reported as maybe applied: %v", err)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("the error does not name the refused connection the first attempt met: %v", err)
	}
}
