package storage

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/vfs"
)

// crashConfig is testConfig on a Crashable over the real file system, with
// small segments so that the script rotates.
func crashConfig(t *testing.T) (Config, *vfs.Crashable) {
	cfg, _ := testConfig(t, t.TempDir())
	cfg.SegmentSizeBytes = minSegmentSizeBytes
	fs := vfs.NewCrashable(vfs.OS)
	cfg.FS = fs
	return cfg, fs
}

// crash crashes fs and closes s (whose files now fail), like a power cut
// followed by the process dying; it returns the FS for the restarted node.
func crash(t *testing.T, fs *vfs.Crashable, s *Storage, torn bool, seed uint64) *vfs.Crashable {
	t.Helper()
	if err := fs.Crash(torn, rand.New(rand.NewPCG(seed, 1))); err != nil {
		t.Fatalf("Crash: %v", err)
	}
	s.Close() // fails with ErrCrashed; only releases the lock and fds
	return fs.Restart()
}

// checkPrefixOf asserts that s holds exactly want[:n] for some n >= min,
// i.e. a valid prefix of what was saved that keeps every synced entry.
func checkPrefixOf(t *testing.T, s *Storage, want []raftpb.Entry, min int) {
	t.Helper()
	last, _ := s.LastIndex()
	n := int(last - want[0].Index + 1)
	if n < min || n > len(want) {
		t.Fatalf("last index %d after crash; want %d..%d (every synced entry, at most every saved one)",
			last, want[min-1].Index, want[len(want)-1].Index)
	}
	checkLog(t, s, want[:n])
}

// TestCrashKeepsSyncedWrites saves synced batches (rotating segments), then
// batches without mustSync, crashes, and reopens: every synced entry and
// the synced hard state are there, the unsynced tail may be cut anywhere
// but leaves a valid prefix, and the reopened WAL takes appends.
func TestCrashKeepsSyncedWrites(t *testing.T) {
	tests := []struct {
		name string
		torn bool
	}{
		{name: "unsynced writes lost", torn: false},
		{name: "last write torn", torn: true},
	}
	for _, tt := range tests {
		for seed := range uint64(8) {
			t.Run(fmt.Sprintf("%s/seed=%d", tt.name, seed), func(t *testing.T) {
				cfg, fs := crashConfig(t)
				s := mustOpen(t, cfg)
				all := ents(1, 60, 1, 300) // 60 x ~310 bytes: rotates 4 KiB segments
				synced := 40
				for i := 0; i < synced; i += 8 {
					mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: uint64(i)}, all[i:i+8])
				}
				syncedHS := raftpb.HardState{Term: 1, Vote: 1, Commit: 32}
				for i := synced; i < len(all); i += 5 {
					hs := raftpb.HardState{Term: 1, Vote: 1, Commit: uint64(i)}
					if err := s.Save(hs, all[i:i+5], false); err != nil {
						t.Fatal(err)
					}
				}
				cfg.FS = crash(t, fs, s, tt.torn, seed)

				s = mustOpen(t, cfg)
				checkPrefixOf(t, s, all, synced)
				last, _ := s.LastIndex()
				hs, _, _ := s.InitialState()
				// NB: a rotation fdatasyncs the segment it leaves, so some
				// batches saved without mustSync are durable too; the last
				// one, in the new segment, is not.
				if !tt.torn && last == uint64(len(all)) {
					t.Fatalf("without a torn write the last, unsynced batch survived (last index %d)", last)
				}
				t.Logf("after crash: last index %d, hard state %+v", last, hs)
				if hs.Term != syncedHS.Term || hs.Vote != syncedHS.Vote || hs.Commit < syncedHS.Commit || hs.Commit > last {
					t.Fatalf("hard state after crash %+v; want term 1 vote 1, commit in [%d, %d]", hs, syncedHS.Commit, last)
				}
				// The repaired WAL takes appends and replays cleanly.
				more := ents(last+1, last+10, 2, 300)
				mustSave(t, s, raftpb.HardState{Term: 2, Vote: 1, Commit: last}, more)
				mustClose(t, s)
				s = mustOpen(t, cfg)
				checkLog(t, s, append(all[:last:last], more...))
				checkHardState(t, s, raftpb.HardState{Term: 2, Vote: 1, Commit: last})
			})
		}
	}
}

// TestCrashDuringWritesKeepsAcknowledged crashes while a writer saves
// (mixing synced and unsynced batches, with snapshots and compaction):
// every batch whose synced Save returned is there after the restart.
func TestCrashDuringWritesKeepsAcknowledged(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			cfg, fs := crashConfig(t)
			s := mustOpen(t, cfg)
			all := ents(1, 400, 1, 200)
			acked := make(chan int, len(all)) // entries durable so far, after each synced Save
			done := make(chan error, 1)
			go func() {
				for i := 0; i < len(all); i += 4 {
					sync := i%12 != 0
					if err := s.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: uint64(i)}, all[i:i+4], sync); err != nil {
						done <- err
						return
					}
					if sync {
						acked <- i + 4
					}
					if i > 0 && i%100 == 0 {
						if _, err := s.CreateSnapshot(uint64(i), &raftpb.ConfState{Voters: []uint64{1}}, []byte("state")); err != nil {
							done <- err
							return
						}
						if err := s.Compact(uint64(i - 20)); err != nil {
							done <- err
							return
						}
					}
				}
				done <- nil
			}()
			durable := 0
			for durable < 150 {
				durable = <-acked
			}
			restarted := crash(t, fs, s, seed%2 == 1, seed)
			// The writer stops on the crashed FS, or on the Close after
			// it, or finished first.
			if err := <-done; err != nil && !errors.Is(err, vfs.ErrCrashed) && !errors.Is(err, ErrClosed) {
				t.Fatalf("writer after crash: %v, want ErrCrashed or ErrClosed", err)
			}
			for len(acked) > 0 {
				durable = max(durable, <-acked)
			}

			cfg.FS = restarted
			s = mustOpen(t, cfg)
			first, _ := s.FirstIndex()
			last, _ := s.LastIndex()
			if int(last) < durable {
				t.Fatalf("last index %d after crash, but entries up to %d were acknowledged", last, durable)
			}
			got, err := s.Entries(first, last+1, ^uint64(0))
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, got, all[first-1:last])
		})
	}
}

// TestSyncFailureIsSticky injects fsync and write errors: Save returns an
// error that wraps the errno, every later write fails even once the disk
// recovers, and a crash loses the batch whose sync failed.
func TestSyncFailureIsSticky(t *testing.T) {
	tests := []struct {
		name   string
		inject func(fs *vfs.Crashable, err error)
		errno  syscall.Errno
	}{
		{name: "fsync EIO", inject: (*vfs.Crashable).FailSyncs, errno: syscall.EIO},
		{name: "fsync ENOSPC", inject: (*vfs.Crashable).FailSyncs, errno: syscall.ENOSPC},
		{name: "write ENOSPC", inject: (*vfs.Crashable).FailWrites, errno: syscall.ENOSPC},
		{name: "write EIO", inject: (*vfs.Crashable).FailWrites, errno: syscall.EIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, fs := crashConfig(t)
			s := mustOpen(t, cfg)
			all := ents(1, 20, 1, 100)
			hs := raftpb.HardState{Term: 1, Vote: 1, Commit: 10}
			mustSave(t, s, hs, all[:10])

			tt.inject(fs, tt.errno)
			err := s.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: 15}, all[10:15], true)
			if !errors.Is(err, tt.errno) {
				t.Fatalf("Save with %s injected = %v, want an error wrapping %v", tt.name, err, tt.errno)
			}
			tt.inject(fs, nil) // the disk recovers; the WAL must not
			later := map[string]error{
				"Save":           s.Save(raftpb.HardState{}, all[15:20], true),
				"unsynced Save":  s.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: 12}, nil, false),
				"CreateSnapshot": func() error { _, err := s.CreateSnapshot(5, nil, nil); return err }(),
				"Compact":        s.Compact(3),
			}
			for op, err := range later {
				if !errors.Is(err, tt.errno) {
					t.Errorf("%s after the failure = %v, want the sticky %v", op, err, tt.errno)
				}
			}
			// Readers keep answering from memory.
			if last, _ := s.LastIndex(); last != 10 && last != 15 {
				t.Errorf("LastIndex = %d after failed Save", last)
			}

			cfg.FS = crash(t, fs, s, false, 1)
			s = mustOpen(t, cfg)
			checkLog(t, s, all[:10])
			checkHardState(t, s, hs)
		})
	}
}
