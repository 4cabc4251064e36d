package api

import (
	"strings"
	"testing"

	"github.com/yakt/yakt/internal/auth"
)

// TestRouteAccess pins who may call what (docs/api.md, "Authentication
// and limits"): reads need reader, the broker's own writes are
// broker-scoped, the internal routes are the nodes', everything else that
// writes is admin's, and only the health checks are open.
func TestRouteAccess(t *testing.T) {
	broker := map[string]bool{
		"POST /v1/brokers": true, "POST /v1/brokers/{brokerId}/shutdown": true, "POST /v1/producer-ids": true,
		"POST /v1/topics/{name}/partitions/{partitionId}/isr": true,
	}
	for _, rt := range routes {
		var want accessClass
		switch {
		case rt.pattern == "GET /healthz" || rt.pattern == "GET /readyz":
			want = accessOpen
		case strings.HasPrefix(rt.pattern, "GET "):
			want = accessRead
		case strings.Contains(rt.pattern, "/v1/internal/"):
			want = accessNode
		case rt.pattern == "POST /v1/metadata/fetch":
			want = accessFetch
		case broker[rt.pattern]:
			want = accessBroker
		default:
			want = accessAdmin
		}
		if rt.access != want {
			t.Errorf("%s: access %s, want %s", rt.pattern, rt.access, want)
		}
	}
}

func TestAccessClassAllows(t *testing.T) {
	reader := auth.Principal{Name: "r", Roles: []auth.Role{auth.RoleReader}}
	b1 := auth.Principal{Name: "b", Roles: []auth.Role{auth.BrokerRole(1)}}
	admin := auth.Principal{Name: "a", Roles: []auth.Role{auth.RoleAdmin}}
	node := auth.Principal{Name: "node:1", Node: 1}
	none := auth.Principal{Name: "x"}
	tests := []struct {
		c                             accessClass
		reader, b1, admin, node, none bool
	}{
		{accessOpen, true, true, true, true, true},
		{accessRead, true, false, true, true, false},
		{accessBroker, false, true, true, true, false},
		{accessFetch, true, true, true, true, false},
		{accessAdmin, false, false, true, true, false},
		{accessNode, false, false, false, true, false},
	}
	for _, tt := range tests {
		got := []bool{tt.c.allows(reader), tt.c.allows(b1), tt.c.allows(admin), tt.c.allows(node), tt.c.allows(none)}
		want := []bool{tt.reader, tt.b1, tt.admin, tt.node, tt.none}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s allows reader,broker:1,admin,node,none = %v, want %v", tt.c, got, want)
				break
			}
		}
	}
	if (auth.Principal{}).IsAdmin() || accessRead.allows(auth.Principal{}) {
		t.Error("the zero principal (no authentication ran) may do something")
	}
}
