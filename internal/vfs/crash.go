package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// ErrCrashed is returned (inside an *os.PathError where a path is known)
// by every operation on a Crashable, and on every file opened through it,
// after Crash: the node that was using it is dead and must not write
// again. Restart gives the restarted node a usable FS.
var ErrCrashed = errors.New("vfs: file system crashed")

// stashPrefix names the hidden files in which a removed or replaced file
// waits until the removal is durable; ReadDir does not list them.
const stashPrefix = ".crashable-stash-"

// Crashable passes every operation through to a base FS and remembers what
// is not durable yet, so that Crash can put the disk back in a state a
// power cut could have left.
//
// What it models:
//
//   - File data and size. Every write, Truncate and Preallocate since the
//     file's last successful Sync or Datasync is undoable: before the first
//     change to a range it saves the range's old bytes (only the bytes the
//     change overwrites, and none when they are zeros, as in a
//     preallocated WAL segment) and the old size. A sync drops the saved
//     bytes; nothing is ever copied whole. Sync and Datasync are the same
//     here: both make data and size durable.
//   - Names. A create (OpenFile with O_CREATE of a missing file), Rename or
//     Remove of a file is undoable until SyncDir has been called on every
//     directory it touched (one for a create or remove, both for a rename)
//     after it. A removed file, and a file a rename replaces, is moved to a
//     hidden stash name in its directory until then, so undoing costs a
//     rename, not a copy.
//   - Crash. Crash reverts data first, each file's changes newest first,
//     then names, newest first, so a file created, written and renamed
//     without SyncDir vanishes. With tornTail, the newest write of all is
//     torn: its file's earlier unsynced writes are assumed to have reached
//     the disk in the order issued and survive whole, the torn write keeps
//     a random strict prefix, and everything else not durable is reverted.
//
// What it simplifies:
//
//   - Unsynced data is all lost (or, with tornTail, kept in order up to the
//     tear); a real disk may keep any subset of pages, in any order. The
//     storage package treats holes before valid frames as corruption on
//     purpose, so that case is tested with hand-made files instead.
//   - Directories: MkdirAll, and Remove or Rename of a directory, are
//     durable at once; directories never vanish in a crash. Renames of
//     directories are not tracked (files inside keep stale paths).
//   - A sync that succeeds makes the file's data durable at once, even if
//     another handle keeps writing; a SyncDir covers every name operation
//     in that directory issued before it, across directories too.
//   - Errors are all-or-nothing: an injected write error writes nothing,
//     an injected sync error makes nothing durable (Linux may instead
//     drop the dirty pages; either way the data is not on disk).
//
// Every operation, including Crash, holds one mutex, so Crash may run
// concurrently with writers: each operation happens wholly before or after
// it.
type Crashable struct {
	base FS

	mu       sync.Mutex
	crashed  bool
	syncErr  error // injected by FailSyncs; nil: syncs reach base
	writeErr error // injected by FailWrites
	seq      uint64
	files    map[string]*fileState // by current path (cleaned)
	ops      []*nameOp             // name changes not yet durable, oldest first
	lost     CrashLoss             // what Crash discarded
}

// CrashLoss is what a Crash discarded, so a test can tell a power cut that
// lost something from one that found everything synced.
type CrashLoss struct {
	Writes int   // unsynced writes, truncations and preallocations undone, wholly or (torn) in part
	Bytes  int64 // bytes written but lost: every undone write's, all but the kept prefix of the torn one
	Names  int   // creates, removes and renames undone
}

// fileState is what Crashable knows about one file (inode), wherever it is
// named now.
type fileState struct {
	path string       // current name on base; a stash name after Remove
	undo []undoRecord // changes since the last sync, oldest first
}

// undoRecord undoes one change: set the size back to size, then write old
// (zeros when old is nil) over [off, off+oldLen).
type undoRecord struct {
	seq    uint64
	off    int64
	old    []byte // nil when the bytes were all zero
	oldLen int64
	size   int64 // the file size before the change
	n      int64 // bytes written; 0 for a size change, which is never torn
}

type nameOpKind int

const (
	opCreate nameOpKind = iota
	opRemove
	opRename
)

// nameOp is a create, remove or rename that is not durable yet.
type nameOp struct {
	kind  nameOpKind
	path  string // the created or removed file, or the rename's source
	to    string // the rename's target
	stash string // where the removed file, or the file the rename replaced, waits; "" if none
	dirs  map[string]bool
}

var _ FS = (*Crashable)(nil)

// NewCrashable returns a Crashable over base that treats what base holds
// now as durable.
func NewCrashable(base FS) *Crashable {
	return &Crashable{base: base, files: map[string]*fileState{}}
}

// Restart returns a fresh Crashable over the same base, for the node that
// restarts after Crash: it treats what is on disk now as durable. The
// receiver stays crashed, fencing off the dead node's last goroutines.
// Called before Crash, whatever was not durable becomes durable.
func (c *Crashable) Restart() *Crashable { return NewCrashable(c.base) }

// FailSyncs makes every later Sync, Datasync and SyncDir return err
// (wrapped in an *os.PathError, so errors.Is(err, syscall.EIO) holds)
// without making anything durable; nil restores normal syncs. What was
// written stays undoable, so a Crash after a failed sync loses it.
func (c *Crashable) FailSyncs(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncErr = err
}

// FailWrites makes every later write, Truncate and Preallocate return err
// without changing the file; nil restores normal writes.
func (c *Crashable) FailWrites(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeErr = err
}

// Crash reverts every change that is not durable, as described on
// Crashable, and makes every later operation fail with ErrCrashed. With
// tornTail the newest unsynced write keeps a prefix of rng.Int64N(n)
// bytes of its n. It returns an error when base refused to undo something
// (the disk may then hold more than a real crash would leave) or when
// called twice.
func (c *Crashable) Crash(tornTail bool, rng *rand.Rand) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crashed {
		return ErrCrashed
	}
	c.crashed = true

	// The torn write: the newest write of all.
	var torn *fileState
	tornAt, keep := -1, int64(0)
	if tornTail {
		var newest uint64
		for _, st := range c.files {
			for i, u := range st.undo {
				if u.n > 0 && u.seq > newest {
					torn, tornAt, newest = st, i, u.seq
				}
			}
		}
		if torn != nil {
			keep = rng.Int64N(torn.undo[tornAt].n)
		}
	}

	var errs []error
	c.lost.Names = len(c.ops)
	paths := make([]string, 0, len(c.files))
	for p, st := range c.files {
		if len(st.undo) > 0 {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths) // deterministic order for a given history
	for _, p := range paths {
		st := c.files[p]
		first, k := 0, int64(0)
		if st == torn {
			first, k = tornAt, keep // earlier writes reached the disk in order
		}
		for i, u := range st.undo[first:] {
			c.lost.Writes++
			c.lost.Bytes += u.n
			if i == 0 {
				c.lost.Bytes -= min(k, u.n)
			}
		}
		if err := c.revertData(st, first, k); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(c.ops) - 1; i >= 0; i-- {
		if err := c.revertName(c.ops[i]); err != nil {
			errs = append(errs, err)
		}
	}
	c.ops, c.files = nil, nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("vfs: crash: %w", err)
	}
	return nil
}

// Lost reports what Crash discarded (zero before Crash).
func (c *Crashable) Lost() CrashLoss {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// revertData undoes st's records from the newest down to first; the write
// at first keeps its first keep bytes (keep > 0 only for the torn file).
func (c *Crashable) revertData(st *fileState, first int, keep int64) error {
	f, err := c.base.OpenFile(st.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	for i := len(st.undo) - 1; i >= first; i-- {
		u := st.undo[i]
		k := int64(0)
		if i == first {
			k = min(keep, u.n)
		}
		size := u.size
		if u.n > 0 && u.off+k > size {
			size = u.off + k // a torn append keeps its prefix
		}
		if err := f.Truncate(size); err != nil {
			return err
		}
		if k < u.oldLen {
			old := u.old
			if old == nil {
				old = make([]byte, u.oldLen)
			}
			if _, err := f.WriteAt(old[k:u.oldLen], u.off+k); err != nil {
				return err
			}
		}
	}
	return f.Sync()
}

func (c *Crashable) revertName(op *nameOp) error {
	switch op.kind {
	case opCreate:
		if err := c.base.Remove(op.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	case opRemove:
		return c.base.Rename(op.stash, op.path)
	case opRename:
		if err := c.base.Rename(op.to, op.path); err != nil {
			return err
		}
		if op.stash != "" {
			return c.base.Rename(op.stash, op.to)
		}
	}
	return nil
}

// live reports ErrCrashed for op on path after Crash. Callers hold mu.
func (c *Crashable) live(op, path string) error {
	if c.crashed {
		return &os.PathError{Op: op, Path: path, Err: ErrCrashed}
	}
	return nil
}

// state returns the file state for path, creating an empty one. Callers
// hold mu.
func (c *Crashable) state(path string) *fileState {
	path = filepath.Clean(path)
	st, ok := c.files[path]
	if !ok {
		st = &fileState{path: path}
		c.files[path] = st
	}
	return st
}

// move renames the state at from (if any) to to. Callers hold mu.
func (c *Crashable) move(from, to string) {
	from, to = filepath.Clean(from), filepath.Clean(to)
	if st, ok := c.files[from]; ok {
		delete(c.files, from)
		st.path = to
		c.files[to] = st
	}
}

func (c *Crashable) pending(op *nameOp, paths ...string) {
	op.dirs = map[string]bool{}
	for _, p := range paths {
		op.dirs[filepath.Dir(filepath.Clean(p))] = true
	}
	c.ops = append(c.ops, op)
}

func (c *Crashable) stashName(path string) string {
	c.seq++
	return filepath.Join(filepath.Dir(path), fmt.Sprintf("%s%d", stashPrefix, c.seq))
}

// isFile reports whether path names an existing non-directory.
func (c *Crashable) isFile(path string) bool {
	fi, err := c.base.Stat(path)
	return err == nil && !fi.IsDir()
}

// OpenFile opens name on base. Creating a missing file is undone by Crash
// until its directory is synced; O_TRUNC of an existing file is undone
// like any write until the file is synced.
func (c *Crashable) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.live("open", name); err != nil {
		return nil, err
	}
	_, statErr := c.base.Stat(name)
	existed := statErr == nil
	// O_APPEND is emulated (the base file takes WriteAt); O_TRUNC is done
	// through truncate so it can be undone.
	f, err := c.base.OpenFile(name, flag&^(os.O_APPEND|os.O_TRUNC), perm)
	if err != nil {
		return nil, err
	}
	if !existed && flag&os.O_CREATE != 0 {
		c.pending(&nameOp{kind: opCreate, path: filepath.Clean(name)}, name)
		delete(c.files, filepath.Clean(name)) // a new inode
	}
	cf := &crashFile{c: c, f: f, st: c.state(name), name: name, append: flag&os.O_APPEND != 0}
	if existed && flag&os.O_TRUNC != 0 {
		if err := c.truncate(cf, 0); err != nil {
			f.Close()
			return nil, err
		}
	}
	return cf, nil
}

// Rename renames a file on base; Crash undoes it (and restores the file it
// replaced) until both directories are synced.
func (c *Crashable) Rename(oldpath, newpath string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.live("rename", oldpath); err != nil {
		return err
	}
	if !c.isFile(oldpath) {
		return c.base.Rename(oldpath, newpath) // a directory: durable at once
	}
	op := &nameOp{kind: opRename, path: filepath.Clean(oldpath), to: filepath.Clean(newpath)}
	if c.isFile(newpath) {
		op.stash = c.stashName(newpath)
		if err := c.base.Rename(newpath, op.stash); err != nil {
			return err
		}
		c.move(newpath, op.stash)
	}
	if err := c.base.Rename(oldpath, newpath); err != nil {
		if op.stash != "" {
			if rerr := c.base.Rename(op.stash, newpath); rerr == nil {
				c.move(op.stash, newpath)
			}
		}
		return err
	}
	c.move(oldpath, newpath)
	c.pending(op, oldpath, newpath)
	return nil
}

// Remove removes a file: it waits under a stash name, hidden from ReadDir,
// until its directory is synced, so that Crash can bring it back.
// Directories are removed at once.
func (c *Crashable) Remove(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.live("remove", name); err != nil {
		return err
	}
	if !c.isFile(name) {
		return c.base.Remove(name)
	}
	op := &nameOp{kind: opRemove, path: filepath.Clean(name), stash: c.stashName(name)}
	if err := c.base.Rename(name, op.stash); err != nil {
		return err
	}
	c.move(name, op.stash)
	c.pending(op, name)
	return nil
}

// MkdirAll creates directories on base; they are durable at once (see
// Crashable).
func (c *Crashable) MkdirAll(path string, perm os.FileMode) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.live("mkdir", path); err != nil {
		return err
	}
	return c.base.MkdirAll(path, perm)
}

// ReadDir lists name on base, without stashed files.
func (c *Crashable) ReadDir(name string) ([]os.DirEntry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.live("readdir", name); err != nil {
		return nil, err
	}
	ents, err := c.base.ReadDir(name)
	return slices.DeleteFunc(ents, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), stashPrefix) }), err
}

// ReadFile reads name from base.
func (c *Crashable) ReadFile(name string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.live("read", name); err != nil {
		return nil, err
	}
	return c.base.ReadFile(name)
}

// Stat stats name on base.
func (c *Crashable) Stat(name string) (os.FileInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.live("stat", name); err != nil {
		return nil, err
	}
	return c.base.Stat(name)
}

// SyncDir syncs dir on base and makes the name operations whose
// directories are now all synced durable (a stashed file is then deleted
// for good). With FailSyncs set it returns that error and changes nothing.
func (c *Crashable) SyncDir(dir string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.live("fsync", dir); err != nil {
		return err
	}
	if c.syncErr != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, &os.PathError{Op: "fsync", Path: dir, Err: c.syncErr})
	}
	if err := c.base.SyncDir(dir); err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	var errs []error
	c.ops = slices.DeleteFunc(c.ops, func(op *nameOp) bool {
		delete(op.dirs, dir)
		if len(op.dirs) > 0 {
			return false
		}
		if op.stash != "" {
			if err := c.base.Remove(op.stash); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			delete(c.files, op.stash)
		}
		return true
	})
	return errors.Join(errs...)
}

// crashFile is a file opened through a Crashable. Its methods hold the
// Crashable's mutex, so it is safe for concurrent use.
type crashFile struct {
	c      *Crashable
	f      File
	st     *fileState
	name   string
	append bool
	pos    int64 // for Read and Write; guarded by c.mu
}

var _ File = (*crashFile)(nil)

func (f *crashFile) Name() string { return f.name }

func (f *crashFile) Read(p []byte) (int, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if err := f.c.live("read", f.name); err != nil {
		return 0, err
	}
	n, err := f.f.ReadAt(p, f.pos)
	f.pos += int64(n)
	if n > 0 && err == io.EOF {
		err = nil // the next Read reports it
	}
	return n, err
}

func (f *crashFile) ReadAt(p []byte, off int64) (int, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if err := f.c.live("read", f.name); err != nil {
		return 0, err
	}
	return f.f.ReadAt(p, off)
}

func (f *crashFile) Write(p []byte) (int, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	off := f.pos
	if f.append && !f.c.crashed {
		fi, err := f.f.Stat()
		if err != nil {
			return 0, err
		}
		off = fi.Size()
	}
	n, err := f.c.writeAt(f, p, off)
	f.pos = off + int64(n)
	return n, err
}

func (f *crashFile) WriteAt(p []byte, off int64) (int, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	return f.c.writeAt(f, p, off)
}

// writeAt saves the bytes p overwrites and the size, then writes. Callers
// hold mu.
func (c *Crashable) writeAt(f *crashFile, p []byte, off int64) (int, error) {
	if err := c.live("write", f.name); err != nil {
		return 0, err
	}
	if c.writeErr != nil {
		return 0, &os.PathError{Op: "write", Path: f.name, Err: c.writeErr}
	}
	if len(p) == 0 {
		return f.f.WriteAt(p, off)
	}
	if err := c.save(f, off, int64(len(p)), int64(len(p))); err != nil {
		return 0, err
	}
	return f.f.WriteAt(p, off)
}

// save records an undo record for a change of [off, off+length) (and of
// the size); n is the number of bytes written, 0 for a size change.
func (c *Crashable) save(f *crashFile, off, length, n int64) error {
	fi, err := f.f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	u := undoRecord{off: off, size: size, n: n, oldLen: max(0, min(length, size-off))}
	if u.oldLen > 0 {
		old := make([]byte, u.oldLen)
		if _, err := f.f.ReadAt(old, off); err != nil {
			return fmt.Errorf("vfs: save bytes before overwriting %s: %w", f.name, err)
		}
		if !allZero(old) {
			u.old = old
		}
	}
	c.seq++
	u.seq = c.seq
	f.st.undo = append(f.st.undo, u)
	return nil
}

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

var zeros = make([]byte, 4096)

func (f *crashFile) Truncate(size int64) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	return f.c.truncate(f, size)
}

// truncate saves what shrinking cuts off, then truncates. Callers hold mu.
func (c *Crashable) truncate(f *crashFile, size int64) error {
	if err := c.live("truncate", f.name); err != nil {
		return err
	}
	if c.writeErr != nil {
		return &os.PathError{Op: "truncate", Path: f.name, Err: c.writeErr}
	}
	fi, err := f.f.Stat()
	if err != nil {
		return err
	}
	if err := c.save(f, size, max(0, fi.Size()-size), 0); err != nil {
		return err
	}
	return f.f.Truncate(size)
}

func (f *crashFile) Preallocate(size int64) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if err := f.c.live("fallocate", f.name); err != nil {
		return err
	}
	if f.c.writeErr != nil {
		return &os.PathError{Op: "fallocate", Path: f.name, Err: f.c.writeErr}
	}
	if err := f.c.save(f, 0, 0, 0); err != nil {
		return err
	}
	return f.f.Preallocate(size)
}

func (f *crashFile) Sync() error     { return f.sync("fsync", f.f.Sync) }
func (f *crashFile) Datasync() error { return f.sync("fdatasync", f.f.Datasync) }

// sync makes the file's changes durable, unless FailSyncs injects an error.
func (f *crashFile) sync(op string, sync func() error) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if err := f.c.live(op, f.name); err != nil {
		return err
	}
	if f.c.syncErr != nil {
		return &os.PathError{Op: op, Path: f.name, Err: f.c.syncErr}
	}
	if err := sync(); err != nil {
		return err
	}
	f.st.undo = nil
	return nil
}

func (f *crashFile) Stat() (os.FileInfo, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if err := f.c.live("stat", f.name); err != nil {
		return nil, err
	}
	return f.f.Stat()
}

// Close closes the base file; after Crash it still does, and returns
// ErrCrashed.
func (f *crashFile) Close() error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	err := f.f.Close()
	if lerr := f.c.live("close", f.name); lerr != nil {
		return lerr
	}
	return err
}
