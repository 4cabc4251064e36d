package migration

import (
	"testing"

	"github.com/go-zookeeper/zk"
)

func newTestSession(root string) *zkSession {
	return &zkSession{root: root, armedData: map[string]bool{}, armedChild: map[string]bool{},
		dirty: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// The watch bookkeeping: an event spends the watches ZooKeeper spends and
// marks the path dirty (without the chroot); a lost session spends all.
func TestWatchBookkeeping(t *testing.T) {
	s := newTestSession("/kafka")
	for _, p := range []string{"/brokers/ids", "/brokers/ids/1", "/brokers/topics/a"} {
		s.arm(s.armedData, p)
		s.arm(s.armedChild, p)
	}
	if !s.arm(s.armedData, "/brokers/ids/1") {
		t.Fatalf("a set watch was not reported as set")
	}
	s.event(zk.Event{Type: zk.EventNodeChildrenChanged, Path: "/kafka/brokers/ids"})
	s.event(zk.Event{Type: zk.EventNodeDataChanged, Path: "/kafka/brokers/ids/1"})
	s.event(zk.Event{Type: zk.EventNodeDeleted, Path: "/kafka/brokers/topics/a"})
	s.event(zk.Event{Type: zk.EventNodeDataChanged, Path: "/elsewhere/x"})
	switch {
	case s.armedChild["/brokers/ids"] || !s.armedData["/brokers/ids"]:
		t.Fatalf("a child event spends the child watch only: %v %v", s.armedData, s.armedChild)
	case s.armedData["/brokers/ids/1"] || !s.armedChild["/brokers/ids/1"]:
		t.Fatalf("a data event spends the data watch only: %v %v", s.armedData, s.armedChild)
	case s.armedData["/brokers/topics/a"] || s.armedChild["/brokers/topics/a"]:
		t.Fatalf("a deletion spends every watch: %v %v", s.armedData, s.armedChild)
	}
	paths, first, full := s.takeDirty()
	if len(paths) != 3 || !paths["/brokers/ids"] || !paths["/brokers/ids/1"] || !paths["/brokers/topics/a"] || first.IsZero() || full {
		t.Fatalf("dirty %v first %v full %v", paths, first, full)
	}
	if paths, _, _ := s.takeDirty(); len(paths) != 0 {
		t.Fatalf("dirty paths taken twice: %v", paths)
	}

	s.event(zk.Event{Type: zk.EventSession, State: zk.StateHasSession})
	if _, _, full := s.takeDirty(); !full || !s.isConnected() {
		t.Fatalf("a new connection does not ask for a full read")
	}
	s.event(zk.Event{Type: zk.EventSession, State: zk.StateDisconnected})
	if s.isConnected() {
		t.Fatalf("connected after a disconnect")
	}
	s.event(zk.Event{Type: zk.EventSession, State: zk.StateExpired})
	if len(s.armedData)+len(s.armedChild) != 0 {
		t.Fatalf("watches left after the session expired: %v %v", s.armedData, s.armedChild)
	}
	if _, _, full := s.takeDirty(); !full {
		t.Fatalf("an expired session does not ask for a full read")
	}
	s.event(zk.Event{Type: zk.EventNotWatching, Path: "/kafka/brokers/ids"})
	if _, _, full := s.takeDirty(); !full {
		t.Fatalf("a dropped watch does not ask for a full read")
	}
}
