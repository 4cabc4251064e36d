package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path/filepath"

	"github.com/yakt/yakt/internal/vfs"
)

// Meta file layout: see doc.go.
const (
	metaFileName = "meta"
	metaMagic    = "YAKTMETA"
	metaVersion1 = 1 // cluster id and node id; read, and upgraded by Open
	metaVersion  = 2 // version 1 plus the directory id
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

var (
	// ErrFormatted is returned (wrapped) by Format for a directory that
	// already has a meta file or holds WAL or snapshot files.
	ErrFormatted = errors.New("storage: data directory is already formatted")
	// ErrNotFormatted is returned (wrapped) by ReadIdentity for a
	// directory without a meta file.
	ErrNotFormatted = errors.New("storage: data directory is not formatted")
)

// Identity is what a data directory's meta file records: whose directory
// it is (ClusterID, NodeID), and which formatting of it (DirectoryID; zero
// for a directory formatted before directory ids and not yet opened).
type Identity struct {
	ClusterID   string
	NodeID      uint64
	DirectoryID DirectoryID
}

func (id Identity) String() string {
	return fmt.Sprintf("cluster %q node %d directory %q", id.ClusterID, id.NodeID, id.DirectoryID)
}

func (id Identity) validate() error {
	if id.NodeID == 0 {
		return errors.New("node id must not be 0")
	}
	if id.ClusterID == "" {
		return errors.New("cluster id is required")
	}
	if len(id.ClusterID) > maxClusterIDBytes {
		return fmt.Errorf("cluster id is %d bytes, at most %d allowed", len(id.ClusterID), maxClusterIDBytes)
	}
	return nil
}

func encodeMeta(id Identity) []byte {
	b := make([]byte, 0, len(metaMagic)+4+8+2+len(id.ClusterID)+len(id.DirectoryID)+4)
	b = append(b, metaMagic...)
	b = binary.LittleEndian.AppendUint32(b, metaVersion)
	b = binary.LittleEndian.AppendUint64(b, id.NodeID)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(id.ClusterID)))
	b = append(b, id.ClusterID...)
	b = append(b, id.DirectoryID[:]...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

// decodeMeta decodes either version and returns which one it read.
func decodeMeta(b []byte) (Identity, int, error) {
	const fixed = len(metaMagic) + 4 + 8 + 2
	if len(b) < fixed+4 {
		return Identity{}, 0, fmt.Errorf("%d bytes, too short", len(b))
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return Identity{}, 0, errors.New("checksum mismatch")
	}
	if string(body[:len(metaMagic)]) != metaMagic {
		return Identity{}, 0, errors.New("bad magic")
	}
	v := binary.LittleEndian.Uint32(body[8:])
	tail := 0
	switch v {
	case metaVersion1:
	case metaVersion:
		tail = len(DirectoryID{})
	default:
		return Identity{}, 0, fmt.Errorf("unsupported version %d", v)
	}
	id := Identity{NodeID: binary.LittleEndian.Uint64(body[12:])}
	n := int(binary.LittleEndian.Uint16(body[20:]))
	if len(body) != fixed+n+tail {
		return Identity{}, 0, fmt.Errorf("cluster id length %d does not match file size", n)
	}
	id.ClusterID = string(body[fixed : fixed+n])
	copy(id.DirectoryID[:], body[fixed+n:])
	return id, int(v), nil
}

// readMeta reads and decodes dir's meta file; a missing one wraps
// ErrNotFormatted.
func readMeta(d disk, dir string) (Identity, int, error) {
	path := filepath.Join(dir, metaFileName)
	b, err := d.fs.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Identity{}, 0, fmt.Errorf("%w: %s has no meta file", ErrNotFormatted, dir)
	}
	if err != nil {
		return Identity{}, 0, fmt.Errorf("storage: read meta: %w", err)
	}
	id, v, err := decodeMeta(b)
	if err != nil {
		return Identity{}, 0, fmt.Errorf("storage: meta file %s is damaged: %w", path, err)
	}
	return id, v, nil
}

// ReadIdentity returns the identity dir's meta file records, changing
// nothing: a tool's call, safe on a directory a node has open. A directory
// formatted before directory ids (meta version 1) has a zero DirectoryID
// until the next Open assigns one. A missing meta file wraps
// ErrNotFormatted. A nil fsys is vfs.OS.
func ReadIdentity(fsys vfs.FS, dir string) (Identity, error) {
	if fsys == nil {
		fsys = vfs.OS
	}
	id, _, err := readMeta(disk{fsys}, dir)
	return id, err
}

// Format makes dir (created if missing) a data directory of id: it writes
// the meta file (temp, fsync, rename, fsync dir). A zero id.DirectoryID is
// drawn at random. It refuses, changing nothing, a directory that already
// has a meta file or holds WAL or snapshot files (ErrFormatted): a
// directory's identity is chosen once, and a node started on it later
// (Open) checks it. A nil fsys is vfs.OS.
func Format(fsys vfs.FS, dir string, id Identity) error {
	if fsys == nil {
		fsys = vfs.OS
	}
	if err := id.validate(); err != nil {
		return fmt.Errorf("storage: format %s: %w", dir, err)
	}
	if id.DirectoryID.IsZero() {
		id.DirectoryID = NewDirectoryID()
	}
	d := disk{fsys}
	// Checked before taking the lock too, so a refusal does not even
	// leave a LOCK file behind.
	if err := checkUnformatted(d, dir); err != nil {
		return err
	}
	if err := fsys.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("storage: create data directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return err
	}
	if lock != nil {
		defer lock.Close()
	}
	if err := checkUnformatted(d, dir); err != nil {
		return err
	}
	if err := d.writeFileAtomic(filepath.Join(dir, metaFileName), encodeMeta(id)); err != nil {
		return fmt.Errorf("storage: format %s: %w", dir, err)
	}
	return nil
}

// checkUnformatted returns an error wrapping ErrFormatted unless dir is
// missing or holds neither a meta file nor WAL or snapshot files.
func checkUnformatted(d disk, dir string) error {
	got, _, err := readMeta(d, dir)
	switch {
	case err == nil:
		return fmt.Errorf("%w: %s is formatted for %v", ErrFormatted, dir, got)
	case !errors.Is(err, ErrNotFormatted):
		return fmt.Errorf("%w: %s has a meta file: %w", ErrFormatted, dir, err)
	}
	segs, err := d.listSegments(filepath.Join(dir, "wal"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: list WAL segments: %w", err)
	}
	snaps, err := d.listSnapshotFiles(filepath.Join(dir, "snap"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: list snapshots: %w", err)
	}
	if len(segs) > 0 || len(snaps) > 0 {
		return fmt.Errorf("%w: %s has no meta file but holds %d WAL segments and %d snapshot files", ErrFormatted, dir, len(segs), len(snaps))
	}
	return nil
}

// checkIdentity formats the directory on first start and otherwise checks
// that it belongs to cfg's node and cluster, filling in cfg.ClusterID when
// it is empty. fresh says whether the directory holds no WAL or snapshot
// yet, so a missing meta file means "format". upgrade lets it give a
// version 1 meta file a directory id (Open does; InstallSnapshotFrom only
// checks).
func checkIdentity(cfg *Config, fresh, upgrade bool) (Identity, error) {
	d := disk{cfg.FS}
	path := filepath.Join(cfg.Dir, metaFileName)
	got, version, err := readMeta(d, cfg.Dir)
	if errors.Is(err, ErrNotFormatted) {
		if !fresh {
			return Identity{}, fmt.Errorf("storage: %s has WAL or snapshot files but no meta file; refusing to guess its identity", cfg.Dir)
		}
		if cfg.ClusterID == "" {
			return Identity{}, fmt.Errorf("storage: %s is not formatted and no cluster id is configured to format it with", cfg.Dir)
		}
		id := Identity{ClusterID: cfg.ClusterID, NodeID: cfg.NodeID, DirectoryID: NewDirectoryID()}
		if err := d.writeFileAtomic(path, encodeMeta(id)); err != nil {
			return Identity{}, fmt.Errorf("storage: format %s: %w", cfg.Dir, err)
		}
		// No node id here: Logger carries it (raftnode's does), and a
		// record must not hold a key twice.
		cfg.Logger.Info("storage: formatted data directory", "dir", cfg.Dir, "cluster", cfg.ClusterID,
			"directory_id", id.DirectoryID.String())
		return id, nil
	}
	if err != nil {
		return Identity{}, err
	}
	if got.NodeID != cfg.NodeID || (cfg.ClusterID != "" && got.ClusterID != cfg.ClusterID) {
		return Identity{}, &IdentityError{
			Dir:           cfg.Dir,
			DiskClusterID: got.ClusterID, DiskNodeID: got.NodeID,
			ClusterID: cfg.ClusterID, NodeID: cfg.NodeID,
		}
	}
	cfg.ClusterID = got.ClusterID
	if version == metaVersion1 && upgrade {
		// A directory from before directory ids gets one now, once: the
		// rewrite is atomic, so a crash leaves either version, and the
		// next Open assigns again only if it left version 1.
		got.DirectoryID = NewDirectoryID()
		if err := d.writeFileAtomic(path, encodeMeta(got)); err != nil {
			return Identity{}, fmt.Errorf("storage: upgrade meta file %s: %w", path, err)
		}
		cfg.Logger.Info("storage: assigned directory id to a data directory formatted before directory ids",
			"dir", cfg.Dir, "directory_id", got.DirectoryID.String())
	}
	return got, nil
}
