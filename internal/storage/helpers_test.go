package storage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// logRecorder is a slog.Handler that keeps records for assertions and
// forwards them to t.Log, so they show only when a test fails.
type logRecorder struct {
	tb   testing.TB
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	if h.tb != nil {
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
		h.tb.Log(b.String())
	}
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// warnings returns the messages of the records at Warn or above.
func (h *logRecorder) warnings() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		if r.Level >= slog.LevelWarn {
			out = append(out, r.Message)
		}
	}
	return out
}

// attr returns the value of key in the first warning with message msg.
func (h *logRecorder) attr(msg, key string) (slog.Value, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		if r.Message != msg {
			continue
		}
		var v slog.Value
		found := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				v, found = a.Value, true
				return false
			}
			return true
		})
		return v, found
	}
	return slog.Value{}, false
}

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func testConfig(t testing.TB, dir string) (Config, *logRecorder) {
	rec := &logRecorder{tb: t}
	return Config{
		Dir:              dir,
		ClusterID:        "test-cluster",
		NodeID:           1,
		SegmentSizeBytes: 64 << 10,
		Logger:           slog.New(rec),
	}, rec
}

// mustOpen opens cfg and closes the storage when the test ends.
func mustOpen(t testing.TB, cfg Config) *Storage {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustClose(t testing.TB, s *Storage) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// entry builds the entry at index for term, with size bytes of data that
// depend on both, none of them zero.
func entry(index, term uint64, size int) raftpb.Entry {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte('a' + (int(index)*7+int(term)*3+i)%26)
	}
	return raftpb.Entry{Index: index, Term: term, Type: raftpb.EntryNormal, Data: data}
}

// ents builds entries lo..hi (inclusive) of term.
func ents(lo, hi, term uint64, size int) []raftpb.Entry {
	var out []raftpb.Entry
	for i := lo; i <= hi; i++ {
		out = append(out, entry(i, term, size))
	}
	return out
}

func mustSave(t testing.TB, s *Storage, hs raftpb.HardState, es []raftpb.Entry) {
	t.Helper()
	if err := s.Save(hs, es, true); err != nil {
		t.Fatalf("Save(%v, %d entries): %v", hs, len(es), err)
	}
}

func entryString(e raftpb.Entry) string {
	return fmt.Sprintf("{i=%d t=%d type=%v data=%q}", e.Index, e.Term, e.Type, e.Data)
}

// checkLog asserts s's first and last index and that its entries are want.
func checkLog(t testing.TB, s *Storage, want []raftpb.Entry) {
	t.Helper()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if len(want) > 0 && (first != want[0].Index || last != want[len(want)-1].Index) {
		t.Fatalf("log spans [%d, %d], want [%d, %d]", first, last, want[0].Index, want[len(want)-1].Index)
	}
	if len(want) == 0 {
		if last+1 != first {
			t.Fatalf("log spans [%d, %d], want empty", first, last)
		}
		return
	}
	got, err := s.Entries(first, last+1, ^uint64(0))
	if err != nil {
		t.Fatalf("Entries(%d, %d): %v", first, last+1, err)
	}
	checkEntries(t, got, want)
}

func checkEntries(t testing.TB, got, want []raftpb.Entry) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = entryString(got[i])
		}
		if i < len(want) {
			w = entryString(want[i])
		}
		if g != w {
			t.Fatalf("entry #%d:\n-want %s\n+got  %s", i, w, g)
		}
	}
}

func checkHardState(t testing.TB, s *Storage, want raftpb.HardState) {
	t.Helper()
	got, _, err := s.InitialState()
	if err != nil {
		t.Fatalf("InitialState: %v", err)
	}
	if got != want {
		t.Fatalf("hard state:\n-want %+v\n+got  %+v", want, got)
	}
}

func segmentPaths(t testing.TB, dir string) []string {
	t.Helper()
	segs, err := listSegments(filepath.Join(dir, "wal"))
	if err != nil {
		t.Fatalf("list segments: %v", err)
	}
	var out []string
	for _, s := range segs {
		out = append(out, s.path)
	}
	return out
}

type frameAt struct {
	off, size int
	typ       byte
}

// framesOf decodes the valid frames of a segment file.
func framesOf(t testing.TB, path string) []frameAt {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []frameAt
	if _, _, err := scanSegment(data, func(off int, f frame) error {
		out = append(out, frameAt{off: off, size: f.size(), typ: f.typ})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// patchFile overwrites path at off with b.
func patchFile(t testing.TB, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t testing.TB, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	patchFile(t, path, off, []byte{b[off] ^ 0x40})
}

// copyDir copies a closed data directory (regular files, one level of
// subdirectories) to a fresh temp dir.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func snapshotPaths(t testing.TB, dir string) []string {
	t.Helper()
	files, err := listSnapshotFiles(filepath.Join(dir, "snap"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		out = append(out, f.path)
	}
	return out
}

func indexes(infos []SnapshotInfo) []uint64 {
	var out []uint64
	for _, i := range infos {
		out = append(out, i.Index)
	}
	return out
}

func equalIndexes(a, b []uint64) bool { return slices.Equal(a, b) }

// snapTime is a fixed creation time for snapshot files written by tests.
var snapTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func patchFileSize(t testing.TB, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t testing.TB, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// readSnapshotData returns the state machine data of snap, the storage's
// current snapshot.
func readSnapshotData(t testing.TB, s *Storage, snap raftpb.Snapshot) string {
	t.Helper()
	sr, err := s.OpenSnapshot(snap.Metadata)
	if err != nil {
		t.Fatalf("OpenSnapshot(%d): %v", snap.Metadata.Index, err)
	}
	defer sr.Close()
	b, err := io.ReadAll(sr)
	if err != nil {
		t.Fatalf("read snapshot %d: %v", snap.Metadata.Index, err)
	}
	return string(b)
}
