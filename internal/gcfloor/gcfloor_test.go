package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, floor uint64
		base, want  int
	}{
		{live: 16 * mib, floor: 256 * mib, base: 100, want: 1500},
		{live: 200 * mib, floor: 256 * mib, base: 100, want: 100}, // 28% would lower the goal
		{live: 300 * mib, floor: 256 * mib, base: 100, want: 100},
		{live: 300 * mib, floor: 256 * mib, base: 50, want: 50},
		{live: 16 * mib, floor: 256 * mib, base: 2000, want: 2000},
		{live: 0, floor: 256 * mib, base: 100, want: maxPercent},
		{live: 1, floor: 256 * mib, base: 100, want: maxPercent},
	} {
		if got := PercentFor(c.live, c.floor, c.base); got != c.want {
			t.Errorf("PercentFor(%d, %d, %d) = %d, want %d", c.live, c.floor, c.base, got, c.want)
		}
	}
}

func TestBasePercentFollowsGOGC(t *testing.T) {
	for in, want := range map[string]int{"": 100, "off": -1, "50": 50, "junk": 100} {
		if got := basePercent(in); got != want {
			t.Errorf("basePercent(%q) = %d, want %d", in, got, want)
		}
	}
}

// heapGoal is the runtime's current heap goal.
func heapGoal() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// waitTunes waits for the floor to react to at least n collections,
// running one each time it looks.
func waitTunes(t *testing.T, f *Floor, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.Tunes() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the floor reacted to %d collections, want %d", f.Tunes(), n)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

// The floor raises the heap goal of a small heap to the floor after a
// collection, and Stop gives the base percent back.
func TestFloorRaisesTheHeapGoalUntilStopped(t *testing.T) {
	t.Setenv("GOGC", "")
	const floor = 512 << 20
	runtime.GC()
	if g := heapGoal(); g >= floor {
		t.Skipf("heap goal already %d before the floor (a large live heap)", g)
	}
	f := Start(floor)
	waitTunes(t, f, 1)
	runtime.GC() // a cycle under the percent the floor set
	if g := heapGoal(); g < floor*9/10 {
		t.Errorf("heap goal %d with a floor of %d (percent %d)", g, floor, f.Percent())
	}
	if f.Percent() <= 100 {
		t.Errorf("percent %d, want it raised above 100 for a small heap", f.Percent())
	}
	f.Stop()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("after Stop the GC percent was %d, want 100", p)
	}
	n := f.Tunes()
	runtime.GC()
	runtime.GC()
	if f.Tunes() != n {
		t.Errorf("the floor reacted to a collection after Stop")
	}
	runtime.GC()
	if g := heapGoal(); g >= floor/2 {
		t.Errorf("heap goal %d after Stop, want the ordinary goal of a small heap", g)
	}
}

func TestZeroFloorAndGOGCOffLeaveTheCollectorAlone(t *testing.T) {
	for _, gogc := range []string{"", "off"} {
		t.Setenv("GOGC", gogc)
		floor := uint64(0)
		if gogc == "off" {
			floor = 512 << 20
		}
		f := Start(floor)
		runtime.GC()
		runtime.GC()
		if f.Tunes() != 0 {
			t.Errorf("GOGC=%q floor %d: the floor reacted to a collection", gogc, floor)
		}
		f.Stop()
		if p := debug.SetGCPercent(100); p != 100 {
			t.Errorf("GOGC=%q floor %d: GC percent %d, want it untouched at 100", gogc, floor, p)
		}
	}
}
