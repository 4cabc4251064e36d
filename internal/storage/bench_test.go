package storage

import (
	"fmt"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// BenchmarkWALAppendSync measures Save of one batch of ~200-byte entries
// with mustSync: frames appended, one fdatasync (group commit).
func BenchmarkWALAppendSync(b *testing.B) {
	for _, per := range []int{1, 64} {
		b.Run(fmt.Sprintf("entries=%d", per), func(b *testing.B) {
			s, err := Open(Config{Dir: b.TempDir(), ClusterID: "bench", NodeID: 1, Logger: discardLogger})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			data := make([]byte, 200)
			batch := make([]raftpb.Entry, per)
			next := uint64(1)
			b.SetBytes(int64(per * len(data)))
			b.ReportAllocs()
			for b.Loop() {
				for i := range batch {
					batch[i] = raftpb.Entry{Index: next, Term: 1, Data: data}
					next++
				}
				if err := s.Save(raftpb.HardState{}, batch, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
