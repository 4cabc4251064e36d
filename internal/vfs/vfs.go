package vfs

import (
	"fmt"
	"io"
	"os"
)

// FS is the file-system operations storage uses. Paths are OS paths;
// errors are the underlying *os.PathError / *os.LinkError values, so
// errors.Is(err, os.ErrNotExist) and errors.Is(err, syscall.EIO) work.
type FS interface {
	// OpenFile is os.OpenFile.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Rename is os.Rename: atomic, replacing newpath if it exists.
	Rename(oldpath, newpath string) error
	// Remove is os.Remove.
	Remove(name string) error
	// MkdirAll is os.MkdirAll.
	MkdirAll(path string, perm os.FileMode) error
	// ReadDir is os.ReadDir: the entries sorted by name.
	ReadDir(name string) ([]os.DirEntry, error)
	// ReadFile is os.ReadFile.
	ReadFile(name string) ([]byte, error)
	// Stat is os.Stat.
	Stat(name string) (os.FileInfo, error)
	// SyncDir fsyncs directory dir, making the creates, renames and
	// removes of its entries durable.
	SyncDir(dir string) error
}

// File is an open file. A File is not safe for concurrent use unless the
// implementation says so; storage uses each from one goroutine at a time.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	// Name is the name the file was opened with.
	Name() string
	// Stat is (*os.File).Stat.
	Stat() (os.FileInfo, error)
	// Truncate changes the file's size; growing reads back as zeros.
	Truncate(size int64) error
	// Sync makes the file's data and metadata durable (fsync).
	Sync() error
	// Datasync makes the file's data durable, with the metadata needed to
	// read it back (size, extents) but not timestamps: fdatasync on
	// Linux, Sync elsewhere.
	Datasync() error
	// Preallocate makes the file at least size bytes long, reserving the
	// blocks where the platform can (fallocate mode 0 on Linux, falling
	// back to Truncate where that is unsupported). The new range reads as
	// zeros. Like any size change it is durable only after Sync.
	Preallocate(size int64) error
}

// OS is the real file system.
var OS FS = osFS{}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                     { return os.Remove(name) }
func (osFS) MkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }
func (osFS) ReadDir(name string) ([]os.DirEntry, error)   { return os.ReadDir(name) }
func (osFS) ReadFile(name string) ([]byte, error)         { return os.ReadFile(name) }
func (osFS) Stat(name string) (os.FileInfo, error)        { return os.Stat(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}

// osFile adds Datasync and Preallocate to *os.File.
type osFile struct{ *os.File }

func (f osFile) Datasync() error              { return datasync(f.File) }
func (f osFile) Preallocate(size int64) error { return preallocate(f.File, size) }

// extend grows f to size bytes (a sparse extension reads as zeros).
func extend(f *os.File, size int64) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() >= size {
		return nil
	}
	return f.Truncate(size)
}
