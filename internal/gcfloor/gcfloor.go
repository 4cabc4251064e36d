// Package gcfloor keeps the Go garbage collector's heap goal from falling
// below a floor.
//
// Go's collector starts a cycle when the heap has grown by GOGC percent
// (100 by default) over what the last cycle found live. A node whose live
// heap is small (a few tens of MB: a cluster of ordinary size) but which
// allocates quickly (every write builds a request, records and copied map
// nodes on three nodes) therefore collects many times a second: profiles
// of three nodes under a write load showed a quarter to a third of their
// CPU in the collector. Raising the goal to a floor while the live heap is
// small collects far less often for a bounded cost in memory (at most the
// floor); once the live heap is large the floor no longer matters and
// GOGC applies as usual. This is the "GC tuner" that large Go services use
// in place of the older heap ballast.
//
// The floor is applied after every cycle: a sentinel object's finalizer
// runs once per collection, reads the live heap from runtime/metrics and
// sets the percent that puts the next goal at the floor. GOMEMLIMIT still
// bounds the heap (the runtime enforces it whatever the percent), and
// GOGC=off turns the floor off.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
)

// maxPercent bounds the percent set for a tiny live heap: a floor of a few
// hundred MB over a live heap of a few KB needs no more.
const maxPercent = 1_000_000

const liveMetric = "/gc/heap/live:bytes"

// Floor is a running floor; Stop ends it.
type Floor struct {
	floor   uint64
	base    int
	stopped atomic.Bool
	percent atomic.Int64 // last percent set
	tunes   atomic.Uint64

	mu     sync.Mutex // the finalizer goroutine and Stop both set the percent
	sample []metrics.Sample
}

// sentinel is large enough to be its own allocation (the tiny allocator
// batches pointer-free objects under 16 bytes, whose finalizers may then
// never run).
type sentinel struct {
	_ [32]byte
	f *Floor
}

// Start keeps the heap goal at or above floor bytes until Stop. A floor
// of 0, or GOGC=off, leaves the collector alone (Stop is still safe).
func Start(floor uint64) *Floor {
	f := &Floor{floor: floor, base: basePercent(os.Getenv("GOGC")), sample: []metrics.Sample{{Name: liveMetric}}}
	f.percent.Store(int64(f.base))
	if floor == 0 || f.base < 0 {
		f.stopped.Store(true)
		return f
	}
	f.arm()
	return f
}

// basePercent is the percent GOGC asks for: what the runtime read at
// start, so the floor only ever raises it.
func basePercent(gogc string) int {
	switch gogc {
	case "":
		return 100
	case "off":
		return -1
	}
	p, err := strconv.Atoi(gogc)
	if err != nil {
		return 100 // the runtime ignores a bad GOGC the same way
	}
	return p
}

func (f *Floor) arm() {
	s := &sentinel{f: f}
	runtime.SetFinalizer(s, func(s *sentinel) {
		if s.f.stopped.Load() {
			return
		}
		s.f.tune()
		s.f.arm()
	})
}

// tune sets the percent for the cycle that just ended.
func (f *Floor) tune() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped.Load() {
		return
	}
	metrics.Read(f.sample)
	var live uint64
	if f.sample[0].Value.Kind() == metrics.KindUint64 {
		live = f.sample[0].Value.Uint64()
	}
	p := PercentFor(live, f.floor, f.base)
	if int64(p) != f.percent.Load() {
		debug.SetGCPercent(p)
		f.percent.Store(int64(p))
	}
	f.tunes.Add(1)
}

// PercentFor is the GC percent that puts the next heap goal at floor for
// a live heap of live bytes, never below base.
func PercentFor(live, floor uint64, base int) int {
	if live == 0 {
		return maxPercent
	}
	if live >= floor {
		return base
	}
	p := (floor - live) * 100 / live
	if p > maxPercent {
		return maxPercent
	}
	if int(p) < base {
		return base
	}
	return int(p)
}

// Percent is the GC percent the floor set last (the base until the first
// collection after Start).
func (f *Floor) Percent() int { return int(f.percent.Load()) }

// Tunes counts the collections the floor has reacted to.
func (f *Floor) Tunes() uint64 { return f.tunes.Load() }

// Stop ends the floor and gives the collector back its base percent.
func (f *Floor) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped.Swap(true) {
		return
	}
	if f.base >= 0 {
		debug.SetGCPercent(f.base)
	}
	f.percent.Store(int64(f.base))
}
