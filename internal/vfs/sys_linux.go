//go:build linux

package vfs

import (
	"errors"
	"os"
	"syscall"
)

func datasync(f *os.File) error {
	return control(f, "fdatasync", func(fd int) error { return syscall.Fdatasync(fd) })
}

func preallocate(f *os.File, size int64) error {
	err := control(f, "fallocate", func(fd int) error { return syscall.Fallocate(fd, 0, 0, size) })
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL) {
		return extend(f, size)
	}
	return err
}

// Flock takes an exclusive, non-blocking flock on f: the error wraps
// syscall.EWOULDBLOCK when another open file holds it. Storage locks its
// data directory with it on the real file system.
func Flock(f *os.File) error {
	return control(f, "flock", func(fd int) error { return syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) })
}

// control runs a raw syscall on f's descriptor, retrying on EINTR.
func control(f *os.File, op string, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) {
		for {
			opErr = fn(int(fd))
			if opErr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if opErr != nil {
		return &os.PathError{Op: op, Path: f.Name(), Err: opErr}
	}
	return nil
}
