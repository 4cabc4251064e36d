package vfs_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/yakt/yakt/internal/vfs"
)

// fixture is a Crashable over a fresh temp dir.
type fixture struct {
	t   *testing.T
	dir string
	fs  *vfs.Crashable
}

func newFixture(t *testing.T) *fixture {
	return &fixture{t: t, dir: t.TempDir(), fs: vfs.NewCrashable(vfs.OS)}
}

func (x *fixture) path(name string) string { return filepath.Join(x.dir, name) }

// create creates name through the Crashable and returns it open.
func (x *fixture) create(name string) vfs.File {
	x.t.Helper()
	f, err := x.fs.OpenFile(x.path(name), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		x.t.Fatal(err)
	}
	x.t.Cleanup(func() { f.Close() })
	return f
}

// durable creates name holding data, synced and dir-synced.
func (x *fixture) durable(name, data string) vfs.File {
	x.t.Helper()
	f := x.create(name)
	x.writeAt(f, data, 0)
	x.must(f.Sync())
	x.must(x.fs.SyncDir(x.dir))
	return f
}

func (x *fixture) writeAt(f vfs.File, data string, off int64) {
	x.t.Helper()
	if _, err := f.WriteAt([]byte(data), off); err != nil {
		x.t.Fatal(err)
	}
}

func (x *fixture) must(err error) {
	x.t.Helper()
	if err != nil {
		x.t.Fatal(err)
	}
}

func (x *fixture) crash(torn bool, seed uint64) {
	x.t.Helper()
	if err := x.fs.Crash(torn, rand.New(rand.NewPCG(seed, seed))); err != nil {
		x.t.Fatalf("Crash: %v", err)
	}
}

// content reads name from the real disk; "<missing>" if it does not exist.
func (x *fixture) content(name string) string {
	x.t.Helper()
	b, err := os.ReadFile(x.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		x.t.Fatal(err)
	}
	return string(b)
}

func (x *fixture) wantContent(name, want string) {
	x.t.Helper()
	if got := x.content(name); got != want {
		x.t.Errorf("%s after crash:\n-want %q\n+got  %q", name, want, got)
	}
}

func TestCrashLosesUnsyncedWrites(t *testing.T) {
	tests := []struct {
		name string
		do   func(x *fixture, f vfs.File)
		want string
	}{
		{
			name: "synced write stays",
			do:   func(x *fixture, f vfs.File) { x.writeAt(f, "more", 5); x.must(f.Datasync()) },
			want: "hellomore",
		},
		{
			name: "unsynced append vanishes",
			do:   func(x *fixture, f vfs.File) { x.writeAt(f, " world", 5) },
			want: "hello",
		},
		{
			name: "overwrite of synced data is restored",
			do:   func(x *fixture, f vfs.File) { x.writeAt(f, "HELLO, WORLD", 0) },
			want: "hello",
		},
		{
			name: "several overwrites undo newest first",
			do: func(x *fixture, f vfs.File) {
				x.writeAt(f, "J", 0)
				x.writeAt(f, "ELLY!", 1)
				x.writeAt(f, "xx", 3)
			},
			want: "hello",
		},
		{
			name: "writes after the last sync vanish, earlier ones stay",
			do: func(x *fixture, f vfs.File) {
				x.writeAt(f, "HE", 0)
				x.must(f.Sync())
				x.writeAt(f, "LLO", 2)
			},
			want: "HEllo",
		},
		{
			name: "truncate is undone",
			do:   func(x *fixture, f vfs.File) { x.must(f.Truncate(2)) },
			want: "hello",
		},
		{
			name: "preallocate is undone",
			do:   func(x *fixture, f vfs.File) { x.must(f.Preallocate(1 << 20)) },
			want: "hello",
		},
		{
			name: "sequential Write is undone",
			do: func(x *fixture, f vfs.File) {
				if _, err := f.Write([]byte("HELLO again")); err != nil {
					x.t.Fatal(err)
				}
			},
			want: "hello",
		},
		{
			name: "sync through another handle makes the data durable",
			do: func(x *fixture, f vfs.File) {
				x.writeAt(f, "H", 0)
				g, err := x.fs.OpenFile(x.path("f"), os.O_RDWR, 0)
				x.must(err)
				defer g.Close()
				x.must(g.Sync())
			},
			want: "Hello",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newFixture(t)
			f := x.durable("f", "hello")
			tt.do(x, f)
			x.crash(false, 1)
			x.wantContent("f", tt.want)
		})
	}
}

func TestCrashTornTailKeepsAPrefix(t *testing.T) {
	const synced, first, last = "synced|", "first unsynced|", "the torn write, a long one"
	lengths := map[int]bool{}
	for seed := range uint64(20) {
		x := newFixture(t)
		other := x.durable("other", "kept")
		x.writeAt(other, "lost", 4) // older than the torn write: reverted
		f := x.durable("wal", synced)
		x.writeAt(f, first, int64(len(synced)))
		x.writeAt(f, last, int64(len(synced+first)))
		x.crash(true, seed)

		got := x.content("wal")
		full := synced + first + last
		if len(got) < len(synced+first) || len(got) >= len(full) || got != full[:len(got)] {
			t.Fatalf("seed %d: wal = %q, want a strict prefix of %q at least %q long", seed, got, full, synced+first)
		}
		lengths[len(got)] = true
		x.wantContent("other", "kept")
	}
	if len(lengths) < 2 {
		t.Errorf("20 seeds tore at %d distinct lengths; want a random prefix", len(lengths))
	}
}

func TestCrashTornTailOverwriteKeepsOldBytesAfterTheTear(t *testing.T) {
	x := newFixture(t)
	f := x.durable("f", "0123456789")
	x.writeAt(f, "abcdefghij", 0)
	x.crash(true, 7)
	got := x.content("f")
	if len(got) != 10 {
		t.Fatalf("size %d, want 10", len(got))
	}
	k := 0
	for k < 10 && got[k] == "abcdefghij"[k] {
		k++
	}
	if got[k:] != "0123456789"[k:] || k == 10 {
		t.Errorf("got %q, want a strict prefix of the new bytes, then the old ones", got)
	}
}

func TestCrashUndoesNamesNotDirSynced(t *testing.T) {
	tests := []struct {
		name string
		do   func(x *fixture)
		want map[string]string // file -> content after crash
	}{
		{
			name: "created file, data synced, directory not synced, vanishes",
			do: func(x *fixture) {
				f := x.create("new")
				x.writeAt(f, "data", 0)
				x.must(f.Sync())
			},
			want: map[string]string{"new": "<missing>"},
		},
		{
			name: "created and dir-synced file stays",
			do: func(x *fixture) {
				f := x.create("new")
				x.writeAt(f, "data", 0)
				x.must(f.Sync())
				x.must(x.fs.SyncDir(x.dir))
			},
			want: map[string]string{"new": "data"},
		},
		{
			name: "dir-synced but data not synced: empty file",
			do: func(x *fixture) {
				f := x.create("new")
				x.writeAt(f, "data", 0)
				x.must(x.fs.SyncDir(x.dir))
			},
			want: map[string]string{"new": ""},
		},
		{
			name: "rename is undone",
			do:   func(x *fixture) { x.must(x.fs.Rename(x.path("old"), x.path("renamed"))) },
			want: map[string]string{"old": "old data", "renamed": "<missing>"},
		},
		{
			name: "rename over an existing file restores it",
			do: func(x *fixture) {
				f := x.create("tmp")
				x.writeAt(f, "new data", 0)
				x.must(f.Sync())
				x.must(x.fs.Rename(x.path("tmp"), x.path("old")))
			},
			want: map[string]string{"old": "old data", "tmp": "<missing>"},
		},
		{
			name: "atomic replace (write tmp, sync, rename, sync dir) is durable",
			do: func(x *fixture) {
				f := x.create("tmp")
				x.writeAt(f, "new data", 0)
				x.must(f.Sync())
				x.must(x.fs.Rename(x.path("tmp"), x.path("old")))
				x.must(x.fs.SyncDir(x.dir))
			},
			want: map[string]string{"old": "new data", "tmp": "<missing>"},
		},
		{
			name: "remove is undone",
			do:   func(x *fixture) { x.must(x.fs.Remove(x.path("old"))) },
			want: map[string]string{"old": "old data"},
		},
		{
			name: "dir-synced remove is durable",
			do: func(x *fixture) {
				x.must(x.fs.Remove(x.path("old")))
				x.must(x.fs.SyncDir(x.dir))
			},
			want: map[string]string{"old": "<missing>"},
		},
		{
			name: "removed file's unsynced writes are undone too",
			do: func(x *fixture) {
				f, err := x.fs.OpenFile(x.path("old"), os.O_RDWR, 0)
				x.must(err)
				defer f.Close()
				x.writeAt(f, "OLD", 0)
				x.must(x.fs.Remove(x.path("old")))
			},
			want: map[string]string{"old": "old data"},
		},
		{
			name: "O_TRUNC of a synced file is undone",
			do:   func(x *fixture) { x.create("old") },
			want: map[string]string{"old": "old data"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newFixture(t)
			x.durable("old", "old data")
			tt.do(x)
			x.crash(false, 1)
			for name, want := range tt.want {
				x.wantContent(name, want)
			}
			ents, err := os.ReadDir(x.dir)
			x.must(err)
			for _, e := range ents {
				if _, ok := tt.want[e.Name()]; !ok && e.Name() != "old" {
					t.Errorf("stray file %q after crash", e.Name())
				}
			}
		})
	}
}

func TestReadDirHidesRemovedFiles(t *testing.T) {
	x := newFixture(t)
	x.durable("a", "1")
	x.durable("b", "2")
	x.must(x.fs.Remove(x.path("a")))
	ents, err := x.fs.ReadDir(x.dir)
	x.must(err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"b"}) {
		t.Errorf("ReadDir after Remove = %q, want [b]", names)
	}
	if _, err := x.fs.Stat(x.path("a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stat of a removed file: %v, want ErrNotExist", err)
	}
}

func TestAfterCrashEverythingFails(t *testing.T) {
	x := newFixture(t)
	f := x.durable("f", "hello")
	x.crash(false, 1)
	ops := map[string]error{
		"WriteAt":   func() error { _, err := f.WriteAt([]byte("x"), 0); return err }(),
		"Write":     func() error { _, err := f.Write([]byte("x")); return err }(),
		"ReadAt":    func() error { _, err := f.ReadAt(make([]byte, 1), 0); return err }(),
		"Sync":      f.Sync(),
		"Datasync":  f.Datasync(),
		"Truncate":  f.Truncate(0),
		"OpenFile":  func() error { _, err := x.fs.OpenFile(x.path("g"), os.O_RDWR|os.O_CREATE, 0o600); return err }(),
		"ReadFile":  func() error { _, err := x.fs.ReadFile(x.path("f")); return err }(),
		"Rename":    x.fs.Rename(x.path("f"), x.path("g")),
		"Remove":    x.fs.Remove(x.path("f")),
		"SyncDir":   x.fs.SyncDir(x.dir),
		"Crash":     x.fs.Crash(false, rand.New(rand.NewPCG(1, 1))),
		"File.Stat": func() error { _, err := f.Stat(); return err }(),
	}
	for op, err := range ops {
		if !errors.Is(err, vfs.ErrCrashed) {
			t.Errorf("%s after Crash: %v, want ErrCrashed", op, err)
		}
	}
	x.wantContent("f", "hello")
	if _, err := os.Stat(x.path("g")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a crashed FS created a file: %v", err)
	}

	// The restarted node gets a usable FS over the same files.
	re := x.fs.Restart()
	b, err := re.ReadFile(x.path("f"))
	if err != nil || string(b) != "hello" {
		t.Fatalf("ReadFile after Restart = %q, %v", b, err)
	}
	g, err := re.OpenFile(x.path("f"), os.O_RDWR, 0)
	x.must(err)
	defer g.Close()
	if _, err := g.WriteAt([]byte("J"), 0); err != nil {
		t.Fatal(err)
	}
	x.must(g.Sync())
	x.wantContent("f", "Jello")
}

func TestFailSyncs(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EIO, syscall.ENOSPC} {
		t.Run(errno.Error(), func(t *testing.T) {
			x := newFixture(t)
			f := x.durable("f", "hello")
			x.fs.FailSyncs(errno)
			x.writeAt(f, " world", 5)
			for name, err := range map[string]error{
				"Sync": f.Sync(), "Datasync": f.Datasync(), "SyncDir": x.fs.SyncDir(x.dir),
			} {
				if !errors.Is(err, errno) {
					t.Errorf("%s = %v, want %v", name, err, errno)
				}
			}
			g := x.create("g") // never made durable: its SyncDir fails
			x.writeAt(g, "data", 0)
			if err := g.Sync(); !errors.Is(err, errno) {
				t.Errorf("Sync of a new file = %v, want %v", err, errno)
			}
			if err := x.fs.SyncDir(x.dir); !errors.Is(err, errno) {
				t.Errorf("SyncDir = %v, want %v", err, errno)
			}
			x.crash(false, 1)
			x.wantContent("f", "hello")
			x.wantContent("g", "<missing>")
		})
	}
}

func TestFailSyncsCleared(t *testing.T) {
	x := newFixture(t)
	f := x.durable("f", "hello")
	x.fs.FailSyncs(syscall.EIO)
	x.writeAt(f, "J", 0)
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync = %v, want EIO", err)
	}
	x.fs.FailSyncs(nil)
	x.must(f.Sync())
	x.crash(false, 1)
	x.wantContent("f", "Jello")
}

func TestFailWrites(t *testing.T) {
	x := newFixture(t)
	f := x.durable("f", "hello")
	x.fs.FailWrites(syscall.ENOSPC)
	if _, err := f.WriteAt([]byte("world"), 5); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("WriteAt = %v, want ENOSPC", err)
	}
	if err := f.Preallocate(1 << 20); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Preallocate = %v, want ENOSPC", err)
	}
	x.wantContent("f", "hello")
	x.fs.FailWrites(nil)
	x.writeAt(f, "!", 5)
	x.wantContent("f", "hello!")
}

func TestOSPreallocateAndDatasync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := vfs.OS.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Preallocate(64 << 10); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("x"), 10); err != nil {
		t.Fatal(err)
	}
	if err := f.Datasync(); err != nil {
		t.Fatal(err)
	}
	if err := vfs.OS.SyncDir(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	b, err := vfs.OS.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 64<<10)
	want[10] = 'x'
	if !bytes.Equal(b, want) {
		t.Errorf("file is %d bytes, want 64 KiB of zeros with an x at 10", len(b))
	}
}

func TestCrashReportsWhatItLost(t *testing.T) {
	t.Run("nothing unsynced", func(t *testing.T) {
		x := newFixture(t)
		x.durable("f", "synced")
		x.crash(false, 1)
		if got := x.fs.Lost(); got != (vfs.CrashLoss{}) {
			t.Errorf("Lost() = %+v after a crash with everything synced, want zero", got)
		}
	})
	t.Run("writes and a name", func(t *testing.T) {
		x := newFixture(t)
		f := x.durable("f", "synced")
		x.writeAt(f, "12345", 6)
		x.writeAt(f, "abc", 0)
		x.create("new") // not dir-synced
		if got := x.fs.Lost(); got != (vfs.CrashLoss{}) {
			t.Errorf("Lost() = %+v before Crash, want zero", got)
		}
		x.crash(false, 1)
		if got, want := x.fs.Lost(), (vfs.CrashLoss{Writes: 2, Bytes: 8, Names: 1}); got != want {
			t.Errorf("Lost() = %+v, want %+v", got, want)
		}
	})
	t.Run("torn write keeps its prefix", func(t *testing.T) {
		x := newFixture(t)
		f := x.durable("f", "synced")
		x.writeAt(f, "0123456789", 6)
		x.crash(true, 3)
		kept := int64(len(x.content("f")) - len("synced"))
		if got, want := x.fs.Lost(), (vfs.CrashLoss{Writes: 1, Bytes: 10 - kept}); got != want {
			t.Errorf("Lost() = %+v with %d bytes kept by the tear, want %+v", got, kept, want)
		}
	})
}
