package defaults

import (
	"testing"
	"time"
)

// TestTiming: the election timeout is a whole number of ticks, more than
// one (raft needs election ticks > heartbeat ticks).
func TestTiming(t *testing.T) {
	if ElectionTicks < 2 || HeartbeatInterval*time.Duration(ElectionTicks) != ElectionTimeout {
		t.Fatalf("election timeout %v is not a whole number (>= 2) of %v ticks", ElectionTimeout, HeartbeatInterval)
	}
}
