//go:build !linux

package storage

import "os"

// lockDir is a no-op off Linux.
func lockDir(string) (*os.File, error) { return nil, nil }
