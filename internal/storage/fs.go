package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/yakt/yakt/internal/vfs"
)

const tmpSuffix = ".tmp"

// disk is the file system storage does its I/O on (Config.FS), with the
// helpers that need it.
type disk struct{ fs vfs.FS }

// syncDir fsyncs a directory so that creates, renames and removes in it are
// durable.
func (d disk) syncDir(dir string) error {
	if err := d.fs.SyncDir(dir); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	return nil
}

// writeFileAtomic makes path hold data or leave it untouched: write a temp
// file, fsync it, rename it over path, fsync the directory.
func (d disk) writeFileAtomic(path string, data []byte) error {
	tmp := path + tmpSuffix
	f, err := d.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = d.fs.Rename(tmp, path)
	}
	if err != nil {
		d.fs.Remove(tmp)
		return err
	}
	return d.syncDir(filepath.Dir(path))
}

// removeTemps deletes leftover temp files of interrupted atomic writes.
func (d disk) removeTemps(dir string) error {
	names, err := d.readDirNames(dir)
	if err != nil {
		return err
	}
	removed := false
	for _, name := range names {
		if strings.HasSuffix(name, tmpSuffix) {
			if err := d.fs.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
				return err
			}
			removed = true
		}
	}
	if removed {
		return d.syncDir(dir)
	}
	return nil
}

func (d disk) readDirNames(dir string) ([]string, error) {
	ents, err := d.fs.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
