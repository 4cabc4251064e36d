package inspect

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"text/tabwriter"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/storage"
)

// ErrCorruptSnapshot is wrapped by every error that says a snapshot file
// does not verify or decode (as opposed to one that cannot be read at all,
// such as a missing file).
var ErrCorruptSnapshot = errors.New("snapshot file is corrupt")

// SnapshotInfo is SnapshotStatus's report on a snapshot file.
type SnapshotInfo struct {
	Path string `json:"path"`
	// Offset and Term are the raft index and term the snapshot was taken
	// at: the log continues at Offset+1.
	Offset uint64 `json:"offset"`
	Term   uint64 `json:"term"`
	// FormatVersion is the file's format (1, 2 or 3, internal/storage);
	// EncodingVersion the image encoding inside it (1 or 2,
	// internal/metadata).
	FormatVersion   int       `json:"formatVersion"`
	EncodingVersion int       `json:"encodingVersion"`
	CreatedAt       time.Time `json:"createdAt"`
	SizeBytes       int64     `json:"sizeBytes"`
	// Checksum is the whole file's CRC-32C as GET /v1/snapshots lists it
	// and X-Yakt-Snapshot-Checksum sends it ("crc32c:%08x"); the file's
	// own checksums were verified.
	Checksum string `json:"checksum"`
	// Voters and Learners are the raft configuration the snapshot carries
	// (the cluster it was taken in).
	Voters   []uint64 `json:"voters"`
	Learners []uint64 `json:"learners"`
	Counts
}

// Counts is what an image holds.
type Counts struct {
	// ImageOffset is the offset of the newest record in the image (raft
	// entries without records, such as a leader's no-op, do not move it).
	ImageOffset int64 `json:"imageOffset"`
	// LastRecordTime is the newest record's timestamp; null for an image
	// without records.
	LastRecordTime *time.Time `json:"lastRecordTime"`
	Brokers        int        `json:"brokers"`
	AliveBrokers   int        `json:"aliveBrokers"`
	FencedBrokers  int        `json:"fencedBrokers"`
	ClosedBrokers  int        `json:"closedBrokers"`
	Topics         int        `json:"topics"`
	Partitions     int        `json:"partitions"`
	// OfflinePartitions have no leader; UnderReplicatedPartitions an ISR
	// smaller than their replica set.
	OfflinePartitions         int `json:"offlinePartitions"`
	UnderReplicatedPartitions int `json:"underReplicatedPartitions"`
	ProducerIDBlocks          int `json:"producerIdBlocks"`
	// NextProducerID is the producer-id high-water mark: the first id
	// after every block given so far.
	NextProducerID  int64 `json:"nextProducerId"`
	IdempotencyKeys int   `json:"idempotencyKeys"`
}

// CountImage counts what im holds.
func CountImage(im *metadata.Image) Counts {
	c := Counts{ImageOffset: im.Offset()}
	if t := im.MaxTimestamp(); !t.IsZero() {
		t = t.UTC()
		c.LastRecordTime = &t
	}
	for _, b := range im.Brokers() {
		c.Brokers++
		switch b.BrokerStatus {
		case metadata.StatusAlive:
			c.AliveBrokers++
		case metadata.StatusFenced:
			c.FencedBrokers++
		case metadata.StatusClosed:
			c.ClosedBrokers++
		}
	}
	for _, t := range im.Topics() {
		c.Topics++
		im.EachPartition(t.TopicUUID, func(p *metadata.PartitionRecord) {
			c.Partitions++
			if p.Leader == metadata.NoLeader {
				c.OfflinePartitions++
			}
			if len(p.ISR) < len(p.Replicas) {
				c.UnderReplicatedPartitions++
			}
		})
	}
	pids := im.ProducerIDs()
	c.ProducerIDBlocks = len(pids.Blocks)
	c.NextProducerID = pids.NextProducerID
	c.IdempotencyKeys = im.IdempotencyKeys()
	return c
}

// SnapshotStatus reads the snapshot file at path to its end, verifying
// its checksums and decoding the image, and reports on it. A file that
// does not verify or decode is an error wrapping ErrCorruptSnapshot.
func SnapshotStatus(path string) (SnapshotInfo, error) {
	s, err := loadSnapshot(path)
	if err != nil {
		return SnapshotInfo{}, err
	}
	return s.info(), nil
}

// loadedSnapshot is a verified, decoded snapshot file.
type loadedSnapshot struct {
	path     string
	md       raftpb.SnapshotMetadata
	file     storage.SnapshotInfo
	format   int
	encoding int
	image    *metadata.Image
}

func (s *loadedSnapshot) info() SnapshotInfo {
	return SnapshotInfo{
		Path:            s.path,
		Offset:          s.md.Index,
		Term:            s.md.Term,
		FormatVersion:   s.format,
		EncodingVersion: s.encoding,
		CreatedAt:       s.file.CreatedAt.UTC(),
		SizeBytes:       s.file.SizeBytes,
		Checksum:        s.file.Checksum,
		Voters:          sortedIDs(s.md.ConfState.Voters),
		Learners:        sortedIDs(s.md.ConfState.Learners),
		Counts:          CountImage(s.image),
	}
}

func sortedIDs(ids []uint64) []uint64 {
	out := slices.Clone(ids)
	if out == nil {
		out = []uint64{}
	}
	slices.Sort(out)
	return out
}

// loadSnapshot opens, verifies and decodes a snapshot file.
func loadSnapshot(path string) (*loadedSnapshot, error) {
	sr, err := storage.OpenSnapshotPath(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("snapshot file: %w", err)
		}
		return nil, fmt.Errorf("%w: %v", ErrCorruptSnapshot, err)
	}
	defer sr.Close()
	s := &loadedSnapshot{path: path, md: sr.Metadata, format: sr.Version()}
	br := bufio.NewReader(sr)
	if head, err := br.Peek(5); err == nil && bytes.Equal(head[:4], []byte("YKSN")) {
		s.encoding = int(head[4])
	}
	s.image, err = metadata.ReadSnapshot(br)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptSnapshot, path, err)
	}
	// The file's own checksum is checked when its data has been read to
	// the end; the image may end before the reader has seen io.EOF.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptSnapshot, path, err)
	}
	if s.image.Offset() > int64(s.md.Index) {
		return nil, fmt.Errorf("%w: %s: the image is at offset %d, after the snapshot's index %d",
			ErrCorruptSnapshot, path, s.image.Offset(), s.md.Index)
	}
	s.file = sr.Info()
	return s, nil
}

// WriteTable writes the report as a two-column table, one field a line.
func (i SnapshotInfo) WriteTable(w io.Writer) error {
	tw, row := newTable(w)
	row("Path", i.Path)
	row("Offset", i.Offset)
	row("Term", i.Term)
	row("Format", fmt.Sprintf("file v%d, image encoding v%d", i.FormatVersion, i.EncodingVersion))
	row("CreatedAt", i.CreatedAt.Format(time.RFC3339))
	row("Size", fmt.Sprintf("%d bytes", i.SizeBytes))
	row("Checksum", i.Checksum+" (verified)")
	row("Voters", formatIDs(i.Voters))
	if len(i.Learners) > 0 {
		row("Learners", formatIDs(i.Learners))
	}
	i.Counts.writeRows(row)
	return tw.Flush()
}

// newTable returns a writer of two-column tables, one field a line with
// the values aligned, and the func that writes a row; Flush it at the end.
func newTable(w io.Writer) (*tabwriter.Writer, func(key string, value any)) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	return tw, func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
}

func (c Counts) writeRows(row func(string, any)) {
	row("ImageOffset", c.ImageOffset)
	if c.LastRecordTime != nil {
		row("LastRecordTime", metadata.FormatTime(*c.LastRecordTime))
	} else {
		row("LastRecordTime", "-")
	}
	row("Brokers", fmt.Sprintf("%d (alive %d, fenced %d, closed %d)", c.Brokers, c.AliveBrokers, c.FencedBrokers, c.ClosedBrokers))
	row("Topics", c.Topics)
	row("Partitions", fmt.Sprintf("%d (offline %d, under-replicated %d)", c.Partitions, c.OfflinePartitions, c.UnderReplicatedPartitions))
	row("ProducerIdBlocks", c.ProducerIDBlocks)
	row("NextProducerId", c.NextProducerID)
	row("IdempotencyKeys", c.IdempotencyKeys)
}

func formatIDs(ids []uint64) string {
	if len(ids) == 0 {
		return "-"
	}
	b := make([]byte, 0, 4*len(ids))
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, "%d", id)
	}
	return string(b)
}
