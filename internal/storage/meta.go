package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
)

const (
	metaFileName = "meta"
	metaMagic    = "YAKTMETA"
	metaVersion  = 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type identity struct {
	clusterID string
	nodeID    uint64
}

func encodeMeta(id identity) []byte {
	b := make([]byte, 0, len(metaMagic)+4+8+2+len(id.clusterID)+4)
	b = append(b, metaMagic...)
	b = binary.LittleEndian.AppendUint32(b, metaVersion)
	b = binary.LittleEndian.AppendUint64(b, id.nodeID)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(id.clusterID)))
	b = append(b, id.clusterID...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

func decodeMeta(b []byte) (identity, error) {
	const fixed = len(metaMagic) + 4 + 8 + 2
	if len(b) < fixed+4 {
		return identity{}, fmt.Errorf("%d bytes, too short", len(b))
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return identity{}, errors.New("checksum mismatch")
	}
	if string(body[:len(metaMagic)]) != metaMagic {
		return identity{}, errors.New("bad magic")
	}
	if v := binary.LittleEndian.Uint32(body[8:]); v != metaVersion {
		return identity{}, fmt.Errorf("unsupported version %d", v)
	}
	id := identity{nodeID: binary.LittleEndian.Uint64(body[12:])}
	n := int(binary.LittleEndian.Uint16(body[20:]))
	if len(body) != fixed+n {
		return identity{}, fmt.Errorf("cluster id length %d does not match file size", n)
	}
	id.clusterID = string(body[fixed:])
	return id, nil
}

// checkIdentity formats the directory on first start and otherwise checks
// that it belongs to cfg's node and cluster. fresh says whether the directory
// holds no WAL or snapshot yet, so a missing meta file means "format".
func checkIdentity(cfg *Config, path string, fresh bool) error {
	want := identity{clusterID: cfg.ClusterID, nodeID: cfg.NodeID}
	d := disk{cfg.FS}
	b, err := d.fs.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if !fresh {
			return fmt.Errorf("storage: %s has WAL or snapshot files but no meta file; refusing to guess its identity", cfg.Dir)
		}
		if err := d.writeFileAtomic(path, encodeMeta(want)); err != nil {
			return fmt.Errorf("storage: format %s: %w", cfg.Dir, err)
		}
		// No node id here: Logger carries it (raftnode's does), and a
		// record must not hold a key twice.
		cfg.Logger.Info("storage: formatted data directory", "dir", cfg.Dir, "cluster", cfg.ClusterID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("storage: read meta: %w", err)
	}
	got, err := decodeMeta(b)
	if err != nil {
		return fmt.Errorf("storage: meta file %s is damaged: %w", path, err)
	}
	if got != want {
		return &IdentityError{
			Dir:           cfg.Dir,
			DiskClusterID: got.clusterID, DiskNodeID: got.nodeID,
			ClusterID: want.clusterID, NodeID: want.nodeID,
		}
	}
	return nil
}
