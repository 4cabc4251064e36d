package testcluster

import (
	"crypto/tls"
	"sync"
	"testing"

	"github.com/yakt/yakt/client"
)

// clients hands out the Go clients a test talks to a cluster with; each
// is closed when the test ends.
type clients struct {
	mu     sync.Mutex
	all    *client.Client
	byNode map[uint64]*client.Client
}

// get is the client of node id (0: every node) at endpoints, made with
// tlsCfg (nil: plain) on first use.
func (cs *clients) get(t testing.TB, id uint64, endpoints []string, tlsCfg *tls.Config) *client.Client {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if id == 0 && cs.all != nil {
		return cs.all
	}
	if cl, ok := cs.byNode[id]; ok && id != 0 {
		return cl
	}
	cl, err := client.New(client.Config{Endpoints: endpoints, TLS: tlsCfg})
	if err != nil {
		t.Fatalf("client for %v: %v", endpoints, err)
	}
	t.Cleanup(cl.Close)
	if id == 0 {
		cs.all = cl
	} else {
		if cs.byNode == nil {
			cs.byNode = map[uint64]*client.Client{}
		}
		cs.byNode[id] = cl
	}
	return cl
}

// API is a client of the whole cluster: it finds the leader and retries
// as package client does (writes with an idempotency key until answered).
// Tests use it to get things done; Do and Must remain for checking one
// node's raw answer (its status, headers and error body).
func (c *Cluster) API() *client.Client {
	return c.clients.get(c.t, 0, c.URLs(), c.ClientTLS("admin"))
}

// NodeAPI is a client that sends every request to node id only, so a
// follower's forwarding is exercised as a client talking to it would.
func (c *Cluster) NodeAPI(id uint64) *client.Client {
	return c.clients.get(c.t, id, []string{c.URL(id)}, c.ClientTLS("admin"))
}
