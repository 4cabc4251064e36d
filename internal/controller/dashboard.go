package controller

import "time"

// LastHeartbeat reports when this node, as leader, last heard from broker
// id (a heartbeat or registration; a new leader counts every broker as
// heard from when it took over). ok is false when this node does not lead
// or keeps no session for the broker: heartbeats live only in the
// leader's memory.
func (c *Controller) LastHeartbeat(id int32) (last time.Time, ok bool) {
	if c.node == nil || !c.node.IsLeader() {
		return time.Time{}, false
	}
	t := c.live.table.Load()
	if t == nil || t.term != c.node.Term() {
		return time.Time{}, false
	}
	return t.lastSeen(id)
}
