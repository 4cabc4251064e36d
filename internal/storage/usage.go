package storage

import (
	"errors"
	"fmt"
	"os"
)

// DiskUsage is the bytes the data directory's log takes on disk.
type DiskUsage struct {
	WALBytes      int64 // WAL segments (preallocated, so whole segments)
	SnapshotBytes int64 // snapshot files, older kept ones included
}

// DiskUsage sums the sizes of the files in the WAL and snapshot
// directories (temporary files included: they take the space too). Safe
// from any goroutine; it reads only directory listings and file sizes, so
// a metrics scrape never waits for a WAL write.
func (s *Storage) DiskUsage() (DiskUsage, error) {
	if s.closed.Load() {
		return DiskUsage{}, ErrClosed
	}
	var u DiskUsage
	var err error
	if u.WALBytes, err = s.dirBytes(s.walDir); err != nil {
		return DiskUsage{}, err
	}
	if u.SnapshotBytes, err = s.dirBytes(s.snapDir); err != nil {
		return DiskUsage{}, err
	}
	return u, nil
}

func (s *Storage) dirBytes(dir string) (int64, error) {
	ents, err := s.disk.fs.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("storage: list %s: %w", dir, err)
	}
	var n int64
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue // removed since the listing (compaction, pruning)
		}
		if err != nil {
			return 0, fmt.Errorf("storage: size of %s: %w", e.Name(), err)
		}
		n += info.Size()
	}
	return n, nil
}
