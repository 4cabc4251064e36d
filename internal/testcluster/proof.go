package testcluster

import (
	"fmt"
	"slices"

	"github.com/yakt/yakt/internal/netfault"
)

// A fault schedule that passes proves something only if its faults took
// effect: a kill that hit no leader, a partition on links no traffic
// used, or a power cut that found every write synced leaves the cluster
// as it was. FaultCounts is what a schedule injected that must leave a
// trace; Evidence is the trace; ProveFaults compares them.

// FaultCounts counts the injected faults that must leave a trace.
type FaultCounts struct {
	// LeaderEnding counts faults that end the leader's leadership: a
	// crash, power cut, SIGKILL or SIGSTOP of the node known to lead, or
	// its isolation from the majority for several election timeouts.
	LeaderEnding int
	Blackholes   int // link drops (isolation, partitions, one-way)
	Delays       int // periods with a delay above zero on some link
	Losses       int // periods with loss above zero on some link
	PowerCuts    int // power cuts of single nodes or of the whole cluster
	// PowerCutsLost counts the power cuts that discarded unsynced writes
	// (vfs.Crashable.Lost); RequirePowerCutLoss asks for at least one.
	PowerCutsLost       int
	RequirePowerCutLoss bool
}

// Evidence is what the cluster showed of the faults.
type Evidence struct {
	// Elections is how many leaders of new terms were observed after the
	// first (Monitor.Elections).
	Elections int
	// Links holds every fault-network link's counters, nil when the
	// schedule ran without a fault network.
	Links map[netfault.Link]netfault.Stats
}

// NetworkEvidence reads every link's counters from n.
func NetworkEvidence(n *netfault.Network) map[netfault.Link]netfault.Stats {
	out := map[netfault.Link]netfault.Stats{}
	for _, l := range n.Links() {
		out[l] = n.LinkStats(l.From, l.To)
	}
	return out
}

// ProveFaults returns what the evidence fails to show (nil when every
// fault took effect):
//   - half the leader-ending faults (rounded up) each saw a new leader
//     elected: a term the monitor did not catch may be missed, but never
//     most of them;
//   - with a fault network, every node reached its peers through its
//     proxies (they accepted connections from it and forwarded bytes) —
//     traffic that bypassed them would make every network fault a no-op;
//   - bytes were blackholed after drops, delayed after delays, and
//     connections reset after loss;
//   - a power cut discarded unsynced writes, if required.
func ProveFaults(f FaultCounts, e Evidence) []string {
	var bad []string
	if need := (f.LeaderEnding + 1) / 2; e.Elections < need {
		bad = append(bad, fmt.Sprintf("%d faults ended a leader's leadership but only %d elections were observed, want at least %d",
			f.LeaderEnding, e.Elections, need))
	}
	var total netfault.Stats
	if e.Links != nil {
		out := map[uint64]netfault.Stats{} // by the dialing node
		for l, s := range e.Links {
			o := out[l.From]
			o.Conns += s.Conns
			o.BytesForwarded += s.BytesForwarded
			out[l.From] = o
			total.BytesBlackholed += s.BytesBlackholed
			total.BytesDelayed += s.BytesDelayed
			total.LossResets += s.LossResets
		}
		var ids []uint64
		for id := range out {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if s := out[id]; s.Conns == 0 || s.BytesForwarded == 0 {
				bad = append(bad, fmt.Sprintf("node %d's traffic bypassed the fault proxies (%d connections, %d bytes through them)",
					id, s.Conns, s.BytesForwarded))
			}
		}
	} else if f.Blackholes+f.Delays+f.Losses > 0 {
		bad = append(bad, "network faults were injected without a fault network")
	}
	if f.Blackholes > 0 && total.BytesBlackholed == 0 {
		bad = append(bad, fmt.Sprintf("%d link drops blackholed no byte", f.Blackholes))
	}
	if f.Delays > 0 && total.BytesDelayed == 0 {
		bad = append(bad, fmt.Sprintf("%d periods of delay delayed no byte", f.Delays))
	}
	if f.Losses > 0 && total.LossResets == 0 {
		bad = append(bad, fmt.Sprintf("%d periods of loss reset no connection", f.Losses))
	}
	if f.RequirePowerCutLoss && f.PowerCutsLost == 0 {
		bad = append(bad, fmt.Sprintf("none of %d power cuts discarded an unsynced write", f.PowerCuts))
	}
	return bad
}
