package testcluster_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

// The invariant checks must be able to fail: fed a violation, they report it.

func TestMonitorReportsTwoLeadersInOneTerm(t *testing.T) {
	var polls atomic.Int64
	mon := testcluster.StartMonitor(testcluster.MonitorConfig{
		IDs: []uint64{1, 2},
		// Each node claims to lead term 7.
		Leadership: func(_ context.Context, id uint64) (testcluster.LeaderView, bool) {
			polls.Add(1)
			return testcluster.LeaderView{Term: 7, Leader: id}, true
		},
		URL: func(uint64) string { return "" },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := testcluster.WaitFor(ctx, func() bool { return polls.Load() >= 4 }); err != nil {
		t.Fatal(err)
	}
	violations, _ := mon.Stop()
	if len(violations) == 0 || !strings.Contains(violations[0], "two leaders in term 7") {
		t.Fatalf("violations = %q, want two leaders in term 7", violations)
	}
}

func TestCheckProducerIDBlocks(t *testing.T) {
	tests := []struct {
		name          string
		acked, blocks [][2]int64
		want          []string // substrings, one per violation
	}{
		{"all there, disjoint", [][2]int64{{0, 1000}, {2000, 1000}}, [][2]int64{{2000, 1000}, {0, 1000}, {1000, 1000}}, nil},
		{"overlap", nil, [][2]int64{{0, 1000}, {999, 1000}}, []string{"overlap"}},
		{"acknowledged block missing", [][2]int64{{0, 1000}, {1000, 1000}}, [][2]int64{{0, 1000}}, []string{"[1000,+1000) is missing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := testcluster.CheckProducerIDBlocks(tc.acked, tc.blocks)
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %d violations", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Fatalf("violation %q does not mention %q", got[i], w)
				}
			}
		})
	}
}
