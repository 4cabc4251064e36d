package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// fileSink is a SnapshotSink that streams each snapshot into a file of
// dir and returns its path as the token, deleting the file when the data
// turns out damaged. Each call's outcome goes to done.
func fileSink(dir string, calls *atomic.Int32, done chan<- error) func(raftpb.Message, io.Reader) ([]byte, error) {
	return func(m raftpb.Message, r io.Reader) (_ []byte, err error) {
		defer func() { done <- err }()
		n := calls.Add(1)
		path := filepath.Join(dir, fmt.Sprintf("snap-%d-%d", m.Snapshot.Metadata.Index, n))
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return nil, err
		}
		return []byte(path), nil
	}
}

// damagedReader yields its data, then an error where io.EOF belongs, as a
// snapshot file whose checksum fails does.
type damagedReader struct{ r io.Reader }

func (d damagedReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err == io.EOF {
		err = errors.New("snapshot body checksum mismatch")
	}
	return n, err
}

// TestSnapshotStreamsFromFileToSink sends a MsgSnap whose data raft does
// not hold (Snapshot.Data empty): the sender streams it from OpenSnapshot,
// the receiver into its SnapshotSink, and the Handler gets the sink's
// token. A source that fails its own checksum at the end is never acked:
// the send is reported failed and nothing reaches the Handler.
func TestSnapshotStreamsFromFileToSink(t *testing.T) {
	checkLeaks(t)
	data := make([]byte, 3*snapshotChunkBytes+17)
	rand.NewChaCha8([32]byte{3}).Read(data)
	dir := t.TempDir()
	var sinkCalls atomic.Int32
	var damaged atomic.Bool
	sinkDone := make(chan error, 4)
	nodes := startCluster(t, 2, func(id uint64, c *Config) {
		switch id {
		case 1:
			c.OpenSnapshot = func(md raftpb.SnapshotMetadata) (SnapshotFile, error) {
				var r io.Reader = bytes.NewReader(data)
				if damaged.Load() {
					r = damagedReader{r}
				}
				return SnapshotFile{Metadata: md, Size: int64(len(data)), Data: io.NopCloser(r)}, nil
			}
		case 2:
			c.SnapshotSink = fileSink(dir, &sinkCalls, sinkDone)
		}
	})
	a, b := nodes[0], nodes[1]
	msg := raftpb.Message{Type: raftpb.MsgSnap, From: 1, To: 2, Term: 3, Snapshot: &raftpb.Snapshot{
		Metadata: raftpb.SnapshotMetadata{Index: 77, Term: 3, ConfState: raftpb.ConfState{Voters: []uint64{1, 2}}}}}

	a.tr.Send([]raftpb.Message{msg})
	got := recv(t, b.snaps, "snapshot")
	if got.Snapshot.Metadata.Index != 77 {
		t.Fatalf("snapshot metadata %+v", got.Snapshot.Metadata)
	}
	stored, err := os.ReadFile(string(got.Snapshot.Data))
	if err != nil {
		t.Fatalf("token %q: %v", got.Snapshot.Data, err)
	}
	if !bytes.Equal(stored, data) {
		t.Fatalf("stored %d bytes, want the %d sent", len(stored), len(data))
	}
	if st := recv(t, a.snapStatus, "snapshot status"); st.failed {
		t.Fatal("send reported failed")
	}
	if err := recv(t, sinkDone, "sink outcome"); err != nil {
		t.Fatal(err)
	}

	damaged.Store(true)
	a.tr.Send([]raftpb.Message{msg})
	if st := recv(t, a.snapStatus, "snapshot status"); !st.failed {
		t.Fatal("a damaged source was reported sent")
	}
	if err := recv(t, sinkDone, "sink outcome"); err == nil {
		t.Fatal("the sink stored a snapshot whose stream broke off before its checksum")
	}
	expectNone(t, b.snaps, "snapshot from a damaged source")
	if n := sinkCalls.Load(); n != 2 {
		t.Fatalf("sink called %d times, want 2", n)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 1 {
		t.Fatalf("files %v, want only the intact snapshot: the sink discards damaged data", left)
	}
}

// TestEmptySnapshotDataIsSent: an empty snapshot is legal (a state machine
// may have nothing to say), so its data is sent as zero bytes and a
// checksum that the reading side accepts.
func TestEmptySnapshotDataIsSent(t *testing.T) {
	var wire bytes.Buffer
	if err := writeSnapshotData(&wire, bytes.NewReader(nil), 0); err != nil {
		t.Fatalf("write empty snapshot data: %v", err)
	}
	dr := &dataReader{r: &wire, remain: 0}
	got, err := io.ReadAll(dr)
	if err != nil || len(got) != 0 {
		t.Fatalf("read back %d bytes, err %v; want 0 bytes and no error", len(got), err)
	}
	if wire.Len() != 0 {
		t.Fatalf("%d bytes left unread after the checksum", wire.Len())
	}
}
