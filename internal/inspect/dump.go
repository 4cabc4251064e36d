package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/raftnode"
	"github.com/yakt/yakt/internal/storage"
)

// Entry types, Entry.Type.
const (
	EntrySnapshot    = "snapshot"    // the snapshot a dump starts from (see the package doc)
	EntryRecords     = "records"     // a normal entry with record batches
	EntryNoop        = "noop"        // the empty entry a leader appends when elected
	EntryConfChange  = "confChange"  // a raft membership change
	EntryUndecodable = "undecodable" // bytes that do not decode; Error says why
)

// Entry is one decoded log entry (or the snapshot a dump starts from).
type Entry struct {
	Offset uint64 `json:"offset"`
	Term   uint64 `json:"term"`
	Type   string `json:"type"`
	// Committed: the entry is at or below the commit index the node last
	// persisted. An uncommitted entry may still be replaced by a leader.
	Committed  bool        `json:"committed"`
	Batches    []Batch     `json:"batches,omitempty"`
	ConfChange *ConfChange `json:"confChange,omitempty"`
	Error      string      `json:"error,omitempty"`
}

// Batch is one write's records, applied atomically, in an entry.
type Batch struct {
	IdempotencyKey string            `json:"idempotencyKey,omitempty"`
	Records        []metadata.Record `json:"records"`
}

// ConfChange is a raft membership change.
type ConfChange struct {
	// Transition is a joint-consensus transition ("" for a simple change).
	Transition string             `json:"transition,omitempty"`
	Changes    []ConfChangeSingle `json:"changes"`
}

// ConfChangeSingle is one node's change.
type ConfChangeSingle struct {
	Type   string `json:"type"` // raft's name: ConfChangeAddNode, ConfChangeRemoveNode, ...
	NodeID uint64 `json:"nodeId"`
}

// DumpLog calls out with each entry of the log in dataDir from offset
// from on (0: all the node has), in order: the snapshot first when from
// is below the first entry held (see the package doc). It reads the
// directory without changing it, and refuses one a running node has open
// (storage.ErrDirInUse). An error from out stops the dump and is returned;
// so is ctx's error once it ends.
func DumpLog(ctx context.Context, dataDir string, from uint64, out func(Entry) error) error {
	v, err := storage.ReadDir(dataDir)
	if err != nil {
		return fmt.Errorf("read data directory: %w", err)
	}
	commit := max(v.HardState.Commit, v.SnapshotMetadata.Index)
	from = max(from, 1) // raft's first index
	ents := v.Entries
	firstHeld := v.SnapshotMetadata.Index + 1
	if len(ents) > 0 {
		firstHeld = min(firstHeld, ents[0].Index)
	}
	if from < firstHeld && v.Snapshot.Index > 0 {
		s, err := loadSnapshot(v.Snapshot.Path)
		if err != nil {
			return err
		}
		e := Entry{Offset: s.md.Index, Term: s.md.Term, Type: EntrySnapshot, Committed: true,
			Batches: []Batch{{Records: s.image.Records()}}}
		if err := out(e); err != nil {
			return err
		}
		from = s.md.Index + 1
	}
	for _, re := range ents {
		if re.Index < from {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		e := DecodeEntry(re)
		e.Committed = re.Index <= commit
		if err := out(e); err != nil {
			return err
		}
	}
	return nil
}

// DecodeEntry decodes one raft entry of YAKt's log. Bytes that do not
// decode give an EntryUndecodable entry, never an error: a dump shows
// them and goes on.
func DecodeEntry(re raftpb.Entry) Entry {
	e := Entry{Offset: re.Index, Term: re.Term}
	bad := func(err error) Entry {
		e.Type, e.Error = EntryUndecodable, err.Error()
		return e
	}
	switch re.Type {
	case raftpb.EntryNormal:
		if len(re.Data) == 0 {
			e.Type = EntryNoop
			return e
		}
		payloads, err := raftnode.EntryPayloads(re.Data)
		if err != nil {
			return bad(err)
		}
		e.Type = EntryRecords
		for _, p := range payloads {
			b, err := metadata.DecodeBatch(p)
			if err != nil {
				return bad(err)
			}
			batch := Batch{Records: b.Records}
			if b.Idempotency != nil {
				batch.IdempotencyKey = b.Idempotency.Key
			}
			for i := range batch.Records {
				batch.Records[i].Offset = int64(re.Index) // not in the encoding: the entry's index is the offset
			}
			e.Batches = append(e.Batches, batch)
		}
	case raftpb.EntryConfChange:
		var cc raftpb.ConfChange
		if err := cc.Unmarshal(re.Data); err != nil {
			return bad(fmt.Errorf("decode conf change: %w", err))
		}
		e.Type = EntryConfChange
		e.ConfChange = &ConfChange{Changes: []ConfChangeSingle{{Type: cc.Type.String(), NodeID: cc.NodeID}}}
	case raftpb.EntryConfChangeV2:
		var cc raftpb.ConfChangeV2
		if err := cc.Unmarshal(re.Data); err != nil {
			return bad(fmt.Errorf("decode conf change: %w", err))
		}
		e.Type = EntryConfChange
		e.ConfChange = &ConfChange{Changes: []ConfChangeSingle{}}
		if cc.Transition != raftpb.ConfChangeTransitionAuto || len(cc.Changes) > 1 {
			e.ConfChange.Transition = cc.Transition.String()
		}
		for _, c := range cc.Changes {
			e.ConfChange.Changes = append(e.ConfChange.Changes, ConfChangeSingle{Type: c.Type.String(), NodeID: c.NodeID})
		}
	default:
		return bad(fmt.Errorf("unknown entry type %d", re.Type))
	}
	return e
}

// WriteText writes e the way kafka-dump-log prints a batch: a header line,
// then one line per record with its name, timestamp and fields.
func (e Entry) WriteText(w io.Writer) error {
	var err error
	p := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, a...)
		}
	}
	p("offset: %d term: %d type: %s committed: %t", e.Offset, e.Term, e.Type, e.Committed)
	if e.Type == EntrySnapshot {
		n := 0
		for _, b := range e.Batches {
			n += len(b.Records)
		}
		p(" records: %d", n)
	}
	if e.Error != "" {
		p(" error: %q", e.Error)
	}
	p("\n")
	if e.ConfChange != nil {
		if e.ConfChange.Transition != "" {
			p("  | transition: %s\n", e.ConfChange.Transition)
		}
		for _, c := range e.ConfChange.Changes {
			p("  | %s nodeId: %d\n", c.Type, c.NodeID)
		}
	}
	for _, b := range e.Batches {
		if b.IdempotencyKey != "" {
			p("  | idempotencyKey: %s\n", b.IdempotencyKey)
		}
		for _, r := range b.Records {
			fields, ferr := json.Marshal(r.Body)
			if ferr != nil {
				return fmt.Errorf("encode %s at offset %d: %w", r.Body.RecordName(), e.Offset, ferr)
			}
			ts := "-"
			if !r.Timestamp.IsZero() {
				ts = metadata.FormatTime(r.Timestamp)
			}
			p("  | %s timestamp: %s payload: %s\n", r.Body.RecordName(), ts, fields)
		}
	}
	return err
}

// LogInfo describes a data directory's log: LogStatus's report.
type LogInfo struct {
	DataDir   string `json:"dataDir"`
	NodeID    uint64 `json:"nodeId"`
	ClusterID string `json:"clusterId"`
	// Term, Vote and Commit are the raft hard state as last persisted.
	Term   uint64 `json:"term"`
	Vote   uint64 `json:"vote"`
	Commit uint64 `json:"commit"`
	// SnapshotOffset 0: the node has no snapshot.
	SnapshotOffset   uint64 `json:"snapshotOffset"`
	SnapshotTerm     uint64 `json:"snapshotTerm"`
	SnapshotChecksum string `json:"snapshotChecksum,omitempty"`
	// Voters is the raft configuration: the snapshot's, with the
	// membership changes in the log after it.
	Voters []uint64 `json:"voters"`
	// FirstOffset and LastOffset bound the entries held (0, 0: none).
	FirstOffset uint64 `json:"firstOffset"`
	LastOffset  uint64 `json:"lastOffset"`
	// TornTail is a damaged end of the WAL a restart would cut off.
	TornTail string `json:"tornTail,omitempty"`
	// BadSnapshots are snapshot files that do not verify, with why.
	BadSnapshots []string `json:"badSnapshots,omitempty"`
}

// LogStatus reads dataDir as DumpLog does and describes it.
func LogStatus(dataDir string) (LogInfo, error) {
	v, err := storage.ReadDir(dataDir)
	if err != nil {
		return LogInfo{}, fmt.Errorf("read data directory: %w", err)
	}
	li := LogInfo{
		DataDir: dataDir, NodeID: v.NodeID, ClusterID: v.ClusterID,
		Term: v.HardState.Term, Vote: v.HardState.Vote, Commit: max(v.HardState.Commit, v.SnapshotMetadata.Index),
		SnapshotOffset: v.SnapshotMetadata.Index, SnapshotTerm: v.SnapshotMetadata.Term,
		SnapshotChecksum: v.Snapshot.Checksum,
		TornTail:         v.TornTail,
	}
	voters := map[uint64]bool{}
	for _, id := range v.SnapshotMetadata.ConfState.Voters {
		voters[id] = true
	}
	for _, re := range v.Entries {
		if re.Index <= v.SnapshotMetadata.Index || re.Type == raftpb.EntryNormal {
			continue
		}
		if e := DecodeEntry(re); e.ConfChange != nil {
			for _, c := range e.ConfChange.Changes {
				switch c.Type {
				case raftpb.ConfChangeAddNode.String():
					voters[c.NodeID] = true
				case raftpb.ConfChangeRemoveNode.String(), raftpb.ConfChangeAddLearnerNode.String():
					delete(voters, c.NodeID)
				}
			}
		}
	}
	li.Voters = sortedIDs(slices.Collect(maps.Keys(voters)))
	if n := len(v.Entries); n > 0 {
		li.FirstOffset, li.LastOffset = v.Entries[0].Index, v.Entries[n-1].Index
	}
	for _, b := range v.BadSnapshots {
		li.BadSnapshots = append(li.BadSnapshots, fmt.Sprintf("%s: %v", b.Path, b.Err))
	}
	return li, nil
}

// WriteTable writes the report as a two-column table.
func (li LogInfo) WriteTable(w io.Writer) error {
	tw, row := newTable(w)
	row("DataDir", li.DataDir)
	row("NodeId", li.NodeID)
	row("ClusterId", li.ClusterID)
	row("Term", li.Term)
	row("Vote", li.Vote)
	row("Commit", li.Commit)
	if li.SnapshotOffset > 0 {
		row("Snapshot", fmt.Sprintf("offset %d term %d %s", li.SnapshotOffset, li.SnapshotTerm, li.SnapshotChecksum))
	} else {
		row("Snapshot", "-")
	}
	row("Voters", formatIDs(li.Voters))
	if li.LastOffset > 0 {
		row("Entries", fmt.Sprintf("%d..%d", li.FirstOffset, li.LastOffset))
	} else {
		row("Entries", "-")
	}
	if li.TornTail != "" {
		row("TornTail", li.TornTail)
	}
	for _, b := range li.BadSnapshots {
		row("BadSnapshot", b)
	}
	return tw.Flush()
}
