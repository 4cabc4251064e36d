package storage

import (
	"fmt"
	"log/slog"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// BenchmarkSaveSync measures one WAL batch appended and fdatasync'ed, with
// 1 and 64 entries of 200 bytes per batch (one Ready's worth).
func BenchmarkSaveSync(b *testing.B) {
	for _, per := range []int{1, 64} {
		b.Run(fmt.Sprintf("entries=%d", per), func(b *testing.B) {
			s, err := Open(Config{Dir: b.TempDir(), ClusterID: "bench", NodeID: 1, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			payload := make([]byte, 200)
			ents := make([]raftpb.Entry, per)
			next := uint64(1)
			b.SetBytes(int64(per * len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				for i := range ents {
					ents[i] = raftpb.Entry{Index: next, Term: 1, Data: payload}
					next++
				}
				if err := s.Save(raftpb.HardState{Term: 1, Commit: next - 1}, ents, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
