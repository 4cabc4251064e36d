package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"sync"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// TestFetchSnapshot asks a running transport for its snapshot over a
// fetch stream: served when new enough (data intact, bigger than one
// chunk), "unavailable" with the peer's index and leader hint otherwise,
// and refused for another cluster.
func TestFetchSnapshot(t *testing.T) {
	checkLeaks(t)
	data := bytes.Repeat([]byte("snapshot-data-"), snapshotChunkBytes/7) // two chunks
	src := raftpb.Snapshot{Data: data, Metadata: raftpb.SnapshotMetadata{Index: 42, Term: 7,
		ConfState: raftpb.ConfState{Voters: []uint64{1, 2}}}}
	ln := listen(t)
	var mu sync.Mutex
	var asked []uint64
	startNode(t, 1, ln, map[uint64]string{1: ln.Addr().String()}, func(cfg *Config) {
		cfg.SnapshotSource = func(_ context.Context, from, minIndex uint64) (SnapshotFile, uint64, error) {
			mu.Lock()
			asked = append(asked, from)
			mu.Unlock()
			return SnapshotFile{Metadata: src.Metadata, Size: int64(len(data)), Data: io.NopCloser(bytes.NewReader(data))}, 3, nil
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	fc := FetchConfig{NodeID: 2, ClusterID: testCluster, Peer: 1, Addr: ln.Addr().String()}

	var got bytes.Buffer
	sink := func(_ raftpb.SnapshotMetadata, r io.Reader) error {
		got.Reset()
		_, err := io.Copy(&got, r)
		return err
	}
	md, err := FetchSnapshot(ctx, fc, 40, sink)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(md, src.Metadata) || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("fetched %+v (%d bytes), want %+v (%d bytes)", md, got.Len(), src.Metadata, len(data))
	}

	_, err = FetchSnapshot(ctx, fc, 43, sink)
	var un *SnapshotUnavailableError
	if !errors.As(err, &un) || un.Have != 42 || un.Leader != 3 || un.Peer != 1 {
		t.Fatalf("fetch above the peer's snapshot = %v, want unavailable (have 42, leader 3)", err)
	}

	other := fc
	other.ClusterID = "other"
	if _, err := FetchSnapshot(ctx, other, 1, sink); !errors.Is(err, ErrClusterMismatch) {
		t.Fatalf("fetch from another cluster = %v, want ErrClusterMismatch", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 2 || asked[0] != 2 {
		t.Fatalf("source asked by %v, want twice by node 2", asked)
	}
}
