package testcluster_test

import (
	"strings"
	"testing"

	"github.com/yakt/yakt/internal/netfault"
	"github.com/yakt/yakt/internal/testcluster"
)

// The fault proof must be able to fail: each missing trace is reported.
func TestProveFaults(t *testing.T) {
	through := func(blackholed, delayed, resets int64) map[netfault.Link]netfault.Stats {
		links := map[netfault.Link]netfault.Stats{}
		for _, l := range []netfault.Link{{From: 1, To: 2}, {From: 2, To: 1}, {From: 1, To: 3}, {From: 3, To: 1}, {From: 2, To: 3}, {From: 3, To: 2}} {
			links[l] = netfault.Stats{Conns: 1, BytesForwarded: 100}
		}
		links[netfault.Link{From: 1, To: 2}] = netfault.Stats{Conns: 2, BytesForwarded: 100,
			BytesBlackholed: blackholed, BytesDelayed: delayed, LossResets: resets}
		return links
	}
	all := testcluster.FaultCounts{LeaderEnding: 4, Blackholes: 2, Delays: 1, Losses: 1, PowerCuts: 3, PowerCutsLost: 1, RequirePowerCutLoss: true}
	tests := []struct {
		name string
		f    testcluster.FaultCounts
		e    testcluster.Evidence
		want []string // substrings, one per failure
	}{
		{"every trace", all, testcluster.Evidence{Elections: 2, Links: through(1, 1, 1)}, nil},
		{"no fault, no network", testcluster.FaultCounts{}, testcluster.Evidence{}, nil},
		{"too few elections", all, testcluster.Evidence{Elections: 1, Links: through(1, 1, 1)}, []string{"only 1 elections"}},
		{"traffic bypassed the proxies", testcluster.FaultCounts{}, testcluster.Evidence{Links: func() map[netfault.Link]netfault.Stats {
			links := through(0, 0, 0)
			links[netfault.Link{From: 3, To: 1}] = netfault.Stats{}
			links[netfault.Link{From: 3, To: 2}] = netfault.Stats{}
			return links
		}()}, []string{"node 3's traffic bypassed the fault proxies"}},
		{"nothing blackholed", all, testcluster.Evidence{Elections: 2, Links: through(0, 1, 1)}, []string{"blackholed no byte"}},
		{"nothing delayed", all, testcluster.Evidence{Elections: 2, Links: through(1, 0, 1)}, []string{"delayed no byte"}},
		{"no loss reset", all, testcluster.Evidence{Elections: 2, Links: through(1, 1, 0)}, []string{"reset no connection"}},
		{"network faults without a network", testcluster.FaultCounts{Delays: 1}, testcluster.Evidence{}, []string{"without a fault network", "delayed no byte"}},
		{"power cuts lost nothing", testcluster.FaultCounts{PowerCuts: 5, RequirePowerCutLoss: true}, testcluster.Evidence{}, []string{"none of 5 power cuts"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := testcluster.ProveFaults(tc.f, tc.e)
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %d failures", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Fatalf("failure %q does not mention %q", got[i], w)
				}
			}
		})
	}
}
