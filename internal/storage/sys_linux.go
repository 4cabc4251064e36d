//go:build linux

package storage

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/yakt/yakt/internal/vfs"
)

// lockDir takes an exclusive flock on dir/LOCK so that two processes (or two
// Opens in one process) never write the same WAL. The lock dies with the
// process; the file is never deleted.
func lockDir(dir string) (*os.File, error) {
	path := dir + string(os.PathSeparator) + "LOCK"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("storage: open lock file: %w", err)
	}
	err = vfs.Flock(f)
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("storage: data directory %s is in use (locked by another Open)", dir)
		}
		return nil, fmt.Errorf("storage: lock data directory: %w", err)
	}
	return f, nil
}
