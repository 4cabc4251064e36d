package server

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
)

// TestWildcardHTTPAddressNeedsAnAdvertisedOne: a node bound to every
// interface cannot tell its peers "[::]:port" (to them that is
// themselves), so it refuses to start without --advertise-http, and with
// one it gives its peers that address. (Insecure: without TLS, a
// listener on every interface is refused before that.)
func TestWildcardHTTPAddressNeedsAnAdvertisedOne(t *testing.T) {
	peerAddr := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	peer := peerAddr()
	_, err := Start(Config{NodeID: 1, ClusterID: "advertise", DataDir: t.TempDir(), Voters: map[uint64]string{1: peer},
		ListenPeer: peer, ListenHTTP: "0.0.0.0:0", TickInterval: 20 * time.Millisecond, Insecure: true})
	if err == nil || !strings.Contains(err.Error(), "--advertise-http") {
		t.Fatalf("start on 0.0.0.0 without an advertised address: %v, want a refusal naming --advertise-http", err)
	}
	// The refusal released the peer port: a node can start on it now.
	httpL, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(httpL.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	advertised := net.JoinHostPort("127.0.0.1", port)
	s, err := Start(Config{NodeID: 1, ClusterID: "advertise", DataDir: t.TempDir(), Voters: map[uint64]string{1: peer},
		ListenPeer: peer, HTTPListener: httpL, AdvertiseHTTP: advertised, TickInterval: 20 * time.Millisecond, Insecure: true})
	if err != nil {
		t.Fatalf("start with --advertise-http: %v", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Stop(ctx)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		q, err := quorumAt(advertised)
		if err == nil && q.LeaderID == 1 && len(q.Voters) == 1 {
			if got := q.Voters[0].HTTPAddress; got != advertised {
				t.Fatalf("the voter's HTTP address is %q, want the advertised %q", got, advertised)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no single-node quorum led by node 1 within 20s: %+v, %v", q, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func quorumAt(addr string) (contract.Quorum, error) {
	var q contract.Quorum
	resp, err := http.Get("http://" + addr + "/v1/quorum")
	if err != nil {
		return q, err
	}
	defer resp.Body.Close()
	return q, json.NewDecoder(resp.Body).Decode(&q)
}
