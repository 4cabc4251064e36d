//go:build linux

package storage

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

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
	err = flockWithGrace(f)
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("storage: data directory %s is in use (locked by another Open)", dir)
		}
		return nil, fmt.Errorf("storage: lock data directory: %w", err)
	}
	return f, nil
}

// lockGrace is how long taking a data directory's lock waits out a holder.
const lockGrace = time.Second

// flockWithGrace takes f's exclusive flock, waiting up to lockGrace for a
// holder to let go. A lock can outlive its owner's Close by a moment: a
// process that forks (to start any child process) gives the child every
// open file until the child execs, so the lock a node just released while
// formatting or stopping stays held by that copy. A node still running
// holds it for good and is refused after the grace.
func flockWithGrace(f *os.File) error {
	deadline := time.Now().Add(lockGrace)
	for {
		err := vfs.Flock(f)
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond) // waiting on another process, not on our code
	}
}
