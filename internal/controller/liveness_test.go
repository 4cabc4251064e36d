package controller

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/metadata"
)

// TestSessionFoldKeepsEveryHeartbeat: brokers first heard after the table
// was built go to its overflow; folding them into a new table of the
// same term keeps each broker's last heartbeat, and a later heartbeat
// never moves a session back.
func TestSessionFoldKeepsEveryHeartbeat(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &Controller{}
	tab := &sessionTable{term: 3, base: base, fixed: map[int32]*atomic.Int64{}}
	c.live.table.Store(tab)
	for id := int32(1); id <= 200; id++ {
		tab.touch(id, base.Add(time.Duration(id)*time.Millisecond))
	}
	if !tab.crowded() {
		t.Fatalf("200 overflow entries over an empty table are not crowded")
	}
	c.foldSessions(tab)
	next := c.live.table.Load()
	if next == tab || next.term != 3 || len(next.fixed) != 200 || next.extraN.Load() != 0 {
		t.Fatalf("fold: new=%v term=%d fixed=%d extra=%d", next != tab, next.term, len(next.fixed), next.extraN.Load())
	}
	for id := int32(1); id <= 200; id++ {
		got, ok := next.lastSeen(id)
		if want := base.Add(time.Duration(id) * time.Millisecond); !ok || !got.Equal(want) {
			t.Fatalf("broker %d: last seen %v (%v), want %v", id, got, ok, want)
		}
	}
	next.touch(7, base) // an older time: ignored
	if got, _ := next.lastSeen(7); !got.Equal(base.Add(7 * time.Millisecond)) {
		t.Fatalf("an older heartbeat moved broker 7's session back to %v", got)
	}
}

// TestUnsettledBrokers finds the brokers a departure or return left half
// done, and no others.
func TestUnsettledBrokers(t *testing.T) {
	const u = "uuid-a"
	img := imageOf(t,
		broker(1, metadata.StatusFenced, 1), broker(2, metadata.StatusAlive, 0), broker(3, metadata.StatusAlive, 0),
		broker(4, metadata.StatusClosed, 1), broker(5, metadata.StatusFenced, 1), broker(6, metadata.StatusAlive, 0),
		bodies(top("a", u),
			prt(u, 0, 0, ids(1, 2), ids(1, 2), 2), // 1 FENCED, still in sync with 2
			prt(u, 1, 0, ids(4, 3), ids(4), 4),    // 4 CLOSED, still leads
			prt(u, 2, 0, ids(5), ids(5), -1),      // 5 FENCED, offline: as it should be
			prt(u, 3, 0, ids(6, 5), ids(6), -1),   // 6 ALIVE in an offline ISR: not regained
			prt(u, 4, 0, ids(2, 3), ids(2, 3), 2), // settled
		),
	)
	if got := fmt.Sprint(unsettledBrokers(img)); got != "[1 4 6]" {
		t.Fatalf("unsettled = %s, want [1 4 6]", got)
	}
}
