//go:build !linux

package storage

import "os"

func fdatasync(f *os.File) error { return f.Sync() }

func preallocate(f *os.File, size int64) error { return extend(f, size) }

// lockDir is a no-op off Linux.
func lockDir(string) (*os.File, error) { return nil, nil }
