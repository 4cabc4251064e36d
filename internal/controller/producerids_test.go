package controller

import (
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

func TestOverlappingBlock(t *testing.T) {
	blocks := []metadata.ProducerIdsRecord{{BrokerID: 1, ProducerID: 0}, {BrokerID: 2, ProducerID: 5000}, {BrokerID: 3, ProducerID: 6500}}
	tests := []struct {
		name  string
		first int64
		want  int64 // first id of the overlapped block, -1 for none
	}{
		{"same start", 5000, 5000},
		{"inside", 5999, 5000},
		{"ends inside", 4001, 5000},
		{"touches the end", 1000, -1},
		{"touches the start", 4000, -1},
		{"touches one block, overlaps the next", 6000, 6500},
		{"after every block", 7500, -1},
		{"far beyond", 1 << 40, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := overlappingBlock(blocks, tt.first)
			if !ok {
				got.ProducerID = -1
			}
			if got.ProducerID != tt.want {
				t.Fatalf("overlappingBlock(%d) = %d, want %d", tt.first, got.ProducerID, tt.want)
			}
		})
	}
	if _, ok := overlappingBlock(nil, 0); ok {
		t.Fatal("no blocks, yet an overlap")
	}
}

func TestNextFreeBlock(t *testing.T) {
	if got, err := nextFreeBlock(9000); err != nil || got != 9000 {
		t.Fatalf("nextFreeBlock(9000) = %d, %v; want 9000", got, err)
	}
	if got, err := nextFreeBlock(maxFirstProducerID); err != nil || got != maxFirstProducerID {
		t.Fatalf("nextFreeBlock(last block) = %d, %v; want %d", got, err, int64(maxFirstProducerID))
	}
	if _, err := nextFreeBlock(maxFirstProducerID + 1); CodeOf(err) != contract.CodeProducerIDAlreadyAllocated {
		t.Fatalf("nextFreeBlock past the last block: err %v, want %s", err, metadata.ReasonProducerIDAlreadyAllocated)
	}
}

func TestBuildAllocateProducerIDs(t *testing.T) {
	img := imageOf(t,
		broker(1, metadata.StatusAlive, 3), broker(2, metadata.StatusFenced, 1), broker(3, metadata.StatusClosed, 1),
		bodies(&metadata.ProducerIdsRecord{BrokerID: 1, BrokerEpoch: 3, ProducerID: 5000}),
	)
	at := func(v int64) *int64 { return &v }
	nextFree := func(imageNext int64) (int64, error) { return imageNext + 7000, nil } // a reservation ahead of the image
	tests := []struct {
		name     string
		broker   int32
		first    *int64
		wantCode contract.Code
		want     []metadata.Body
	}{
		{name: "next free block at the broker's epoch", broker: 1,
			want: bodies(&metadata.ProducerIdsRecord{BrokerID: 1, BrokerEpoch: 3, ProducerID: 13000})},
		{name: "chosen block", broker: 1, first: at(4000),
			want: bodies(&metadata.ProducerIdsRecord{BrokerID: 1, BrokerEpoch: 3, ProducerID: 4000})},
		{name: "chosen block overlaps", broker: 1, first: at(5500), wantCode: contract.CodeProducerIDAlreadyAllocated},
		{name: "unknown broker", broker: 9, wantCode: contract.CodeBrokerNotFound},
		{name: "FENCED broker", broker: 2, wantCode: contract.CodeBrokerNotActive},
		{name: "CLOSED broker", broker: 3, wantCode: contract.CodeBrokerNotActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := buildAllocateProducerIDs(img, tt.broker, tt.first, nextFree)
			checkResult(t, img, recs, err, tt.wantCode, tt.want)
		})
	}
}
