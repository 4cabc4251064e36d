package controller

import (
	"reflect"
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

func TestListTopics(t *testing.T) {
	img := imageOf(t, broker(1, metadata.StatusAlive, 0),
		bodies(top("orders", "u1"), top("audit", "u2"), top("zeta", "u3"),
			prt("u1", 0, 0, ids(1), ids(1), 1), prt("u1", 1, 0, ids(1), ids(1), 1), prt("u3", 0, 0, ids(1), ids(1), 1)))
	want := contract.TopicList{Topics: []metadata.TopicView{
		{Name: "audit", TopicUUID: "u2", Partitions: 0},
		{Name: "orders", TopicUUID: "u1", Partitions: 2},
		{Name: "zeta", TopicUUID: "u3", Partitions: 1},
	}}
	if got := listTopics(img); !reflect.DeepEqual(got, want) {
		t.Fatalf("-want %+v\n+got  %+v", want, got)
	}
	if got := listTopics(metadata.Empty); got.Topics == nil || len(got.Topics) != 0 {
		t.Fatalf("empty image: %#v, want an empty, non-nil list", got)
	}
}

func TestBuildDeleteTopic(t *testing.T) {
	img := imageOf(t, broker(1, metadata.StatusAlive, 0), bodies(top("orders", "u1"), prt("u1", 0, 0, ids(1), ids(1), 1)))
	tests := []struct {
		name     string
		topic    string
		wantCode contract.Code
		want     []metadata.Body
	}{
		{name: "removes it", topic: "orders", want: bodies(&metadata.RemoveTopicRecord{TopicUUID: "u1", Name: "orders"})},
		{name: "unknown", topic: "nope", wantCode: contract.CodeTopicNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := buildDeleteTopic(img, tt.topic)
			after := checkResult(t, img, recs, err, tt.wantCode, tt.want)
			if tt.wantCode == "" && (after.PartitionCount("u1") != 0 || len(after.Topics()) != 0) {
				t.Fatalf("topic or partitions survive: %+v", after.View(false))
			}
		})
	}
}
