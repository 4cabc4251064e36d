//go:build linux

package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// lockDirShared takes dir/LOCK like lockDir but without creating it or
// needing write access: a directory no node ever opened has no LOCK, and
// a read-only copy of one can still be read.
func lockDirShared(dir string) (*os.File, error) {
	f, err := os.Open(filepath.Join(dir, "LOCK"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: open lock file: %w", err)
	}
	if err := flockWithGrace(f); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked (stop the node, or read a copy of the directory)", ErrDirInUse, dir)
		}
		return nil, fmt.Errorf("storage: lock data directory: %w", err)
	}
	return f, nil
}
