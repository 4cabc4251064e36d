package storage

import (
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/vfs"
)

// The helpers older tests call, on the real file system.

var osDisk = disk{vfs.OS}

func listSegments(dir string) ([]segment, error) { return osDisk.listSegments(dir) }

func listSnapshotFiles(dir string) ([]snapFile, error) { return osDisk.listSnapshotFiles(dir) }

func readSnapshotFile(path string) (raftpb.Snapshot, SnapshotInfo, error) {
	return osDisk.readSnapshotFile(path)
}

func writeSnapshotFile(dir string, snap *raftpb.Snapshot, now time.Time) (SnapshotInfo, error) {
	return osDisk.writeSnapshotFile(dir, snap, now)
}
