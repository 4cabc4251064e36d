//go:build !linux

package storage

import "os"

// lockDirShared is a no-op off Linux, as lockDir is.
func lockDirShared(string) (*os.File, error) { return nil, nil }
