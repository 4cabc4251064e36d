package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// MaxFetchWait caps a long poll's maxWaitMs.
const MaxFetchWait = 60 * time.Second

// FetchRequest is BrokerMgmt's POST /v1/metadata/fetch body and ClientMgmt's
// GET /v1/metadata query. At most one of Offset and Timestamp is set.
type FetchRequest struct {
	BrokerID  *int32     // BrokerMgmt only
	Offset    *int64     // records after this offset
	Timestamp *time.Time // records after this time
	MaxWait   time.Duration
	// Client marks ClientMgmt: broker, topic and partition information
	// only, never producer ids.
	Client bool
	Stale  bool
	// Heartbeat delivers a BrokerMgmt fetch's heartbeat to the leader and
	// returns once it is handled there (nil: this node handles it with
	// BrokerHeartbeat, which needs it to lead). The API passes one that
	// forwards a small message when this node follows, so the fetch
	// itself is served here.
	Heartbeat func(ctx context.Context, brokerID int32, offset *int64) error
}

// FetchResponse is a diff (Records) or a full answer (Mode "snapshot"):
// the image it shows, to be streamed (OpenFull, WriteFullJSON) rather
// than built in memory. Its JSON (MarshalJSON, AppendDiffJSON,
// WriteFullJSON) is contract.FetchResponse's, written by hand for speed.
type FetchResponse struct {
	Mode          string // contract.ModeDiff or contract.ModeSnapshot
	HighWatermark int64

	// A diff's records are one of these. encoded is how Fetch has them:
	// the tail's entries with their shared JSON, which AppendDiffJSON
	// copies instead of encoding each record again for every broker.
	// Records builds the plain list only when asked, since at thousands
	// of heartbeats a second copying every diff's records was most of
	// what a node allocated (and so of its collector's work).
	encoded []metadata.TailRecord
	recs    []metadata.Record

	img    *metadata.Image // a full answer's image
	client bool            // a full answer for ClientMgmt: no producer ids
}

// Records returns a diff's records (never nil for a diff); each call
// makes a new slice.
func (r FetchResponse) Records() []metadata.Record {
	if r.encoded == nil {
		return r.recs
	}
	out := make([]metadata.Record, len(r.encoded))
	for i, e := range r.encoded {
		out[i] = e.Record()
	}
	return out
}

// Full reports whether r is a full answer (Mode "snapshot"), which is
// streamed from its image.
func (r FetchResponse) Full() bool { return r.img != nil }

// MarshalJSON writes a diff with its records always present ("records":[]
// when empty), so a client never has to tell a missing field from an
// empty diff, and a full answer as WriteFullJSON streams it.
func (r FetchResponse) MarshalJSON() ([]byte, error) {
	if r.Full() {
		var b bytes.Buffer
		if err := WriteFullJSON(&b, r.img, !r.client); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	return r.AppendDiffJSON(nil)
}

// AppendDiffJSON appends a diff's JSON (as MarshalJSON has it) to b. The
// records' encodings are copied as they are: from the tail's cache
// when Fetch made r (each record is encoded once for all brokers), else
// made here. Going through encoding/json around them would re-validate
// and re-compact every record's bytes at each level, which at thousands
// of broker fetches a second was most of a node's CPU.
func (r FetchResponse) AppendDiffJSON(b []byte) ([]byte, error) {
	if r.Full() {
		return nil, errors.New("controller: AppendDiffJSON of a full answer")
	}
	b = append(b, `{"mode":`...)
	if r.Mode == contract.ModeDiff {
		b = append(b, `"diff"`...)
	} else {
		mode, err := json.Marshal(r.Mode)
		if err != nil {
			return nil, err
		}
		b = append(b, mode...)
	}
	b = append(b, `,"highWatermark":`...)
	b = strconv.AppendInt(b, r.HighWatermark, 10)
	b = append(b, `,"records":[`...)
	var err error
	for i, e := range r.encoded {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = e.AppendJSON(b); err != nil {
			return nil, err
		}
	}
	for i := range r.recs {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = r.recs[i].AppendJSON(b); err != nil {
			return nil, err
		}
	}
	return append(b, "]}"...), nil
}

// OutOfRangeError is OFFSET_OUT_OF_RANGE with the high watermark the
// fetch offset went past.
type OutOfRangeError struct {
	Err           *contract.Error
	HighWatermark int64
}

func (e *OutOfRangeError) Error() string { return e.Err.Error() }

// Unwrap exposes the coded error.
func (e *OutOfRangeError) Unwrap() error { return e.Err }

// Fetch answers a metadata fetch under docs/api.md's rules: a snapshot when
// neither offset nor timestamp is given, when the timestamp is older than
// FullFetchAfter, or when the records after the offset were compacted;
// otherwise the records after it, waiting up to MaxWait for some when
// there are none yet (long poll). An offset beyond the high watermark is
// OFFSET_OUT_OF_RANGE (*OutOfRangeError): the caller holds offsets this
// cluster never gave out (another incarnation's, or a bug) and must start
// over from a snapshot. A stale read is not checked: a node that lags
// cannot tell a bad offset from one it has not applied yet, so it answers
// an empty diff (or waits).
func (c *Controller) Fetch(ctx context.Context, req FetchRequest) (FetchResponse, error) {
	if req.Offset != nil && req.Timestamp != nil {
		return FetchResponse{}, contract.Errorf(contract.CodeInvalidRequest, "give offset or timestamp, not both")
	}
	if req.Offset != nil && *req.Offset < 0 {
		return FetchResponse{}, contract.Errorf(contract.CodeInvalidRequest, "offset must be >= 0")
	}
	if req.MaxWait < 0 || req.MaxWait > MaxFetchWait {
		return FetchResponse{}, contract.Errorf(contract.CodeInvalidRequest, "maxWaitMs must be 0..%d", MaxFetchWait.Milliseconds())
	}
	if req.BrokerID != nil && req.Heartbeat == nil && c.node != nil && c.node.IsLeader() {
		// On the leader the session is refreshed before the read barrier,
		// so a slow barrier (a busy raft loop) cannot make a live broker
		// look silent. Only the session: unfencing waits for the checks
		// below, so an offset from elsewhere still cannot unfence.
		c.Heartbeat(*req.BrokerID)
	}
	img, err := c.Image(ctx, req.Stale)
	if err != nil {
		return FetchResponse{}, err
	}
	// Before the heartbeat: an offset from elsewhere must not unfence.
	if req.Offset != nil && !req.Stale && *req.Offset > c.knownOffset(img) {
		return FetchResponse{}, &OutOfRangeError{
			Err: contract.Errorf(contract.CodeOffsetOutOfRange, "offset %d is beyond the high watermark %d; fetch without an offset for a snapshot",
				*req.Offset, img.Offset()),
			HighWatermark: img.Offset(),
		}
	}
	if req.BrokerID != nil {
		if _, ok := img.Broker(*req.BrokerID); !ok {
			return FetchResponse{}, contract.Errorf(contract.CodeBrokerNotFound, "broker %d is not registered", *req.BrokerID)
		}
		// BrokerMgmt fetches are the broker's heartbeat.
		heartbeat := req.Heartbeat
		if heartbeat == nil {
			heartbeat = func(ctx context.Context, id int32, offset *int64) error {
				_, err := c.BrokerHeartbeat(ctx, id, offset)
				return err
			}
		}
		if err := heartbeat(ctx, *req.BrokerID, req.Offset); err != nil {
			return FetchResponse{}, err
		}
	}
	if req.Offset == nil && req.Timestamp == nil {
		return c.snapshotResponse(req.Client), nil
	}
	if req.Timestamp != nil && c.clock.Now().Sub(*req.Timestamp) > c.fullFetchAfter {
		return c.snapshotResponse(req.Client), nil
	}
	deadline := c.clock.Now().Add(req.MaxWait)
	for {
		changed := c.state.Tail().Changed() // before reading: a commit after this wakes us
		img := c.state.Image()
		var recs []metadata.TailRecord
		var err error
		if req.Offset != nil {
			recs, err = c.state.Tail().SinceEncoded(*req.Offset, 0)
		} else {
			recs, err = c.state.Tail().SinceTimeEncoded(*req.Timestamp, 0)
		}
		if errors.Is(err, metadata.ErrOffsetCompacted) {
			return c.snapshotResponse(req.Client), nil
		}
		if err != nil {
			return FetchResponse{}, err
		}
		if req.Client {
			recs = withoutProducerIDs(recs)
		}
		hw := img.Offset()
		if n := len(recs); n > 0 {
			hw = max(hw, recs[n-1].Record().Offset)
		}
		if len(recs) > 0 || req.MaxWait == 0 {
			return diffResponse(hw, recs), nil
		}
		wait := deadline.Sub(c.clock.Now())
		if wait <= 0 {
			return FetchResponse{Mode: contract.ModeDiff, HighWatermark: hw, recs: []metadata.Record{}}, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-changed:
			t.Stop()
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return FetchResponse{Mode: contract.ModeDiff, HighWatermark: hw, recs: []metadata.Record{}}, nil
		}
	}
}

// knownOffset is the highest offset a client may hold after a read barrier
// that gave img: the image's high watermark or, when raft entries without
// records (leader no-ops, configuration changes) followed it, this node's
// applied index, which a client may also have been told.
func (c *Controller) knownOffset(img *metadata.Image) int64 {
	known := img.Offset()
	if c.node != nil {
		known = max(known, int64(c.node.AppliedIndex()))
	}
	return known
}

// snapshotResponse is a full answer of the newest applied image (which a
// heartbeat's unfencing may have moved past the barrier's).
func (c *Controller) snapshotResponse(client bool) FetchResponse {
	img := c.state.Image()
	return FetchResponse{Mode: contract.ModeSnapshot, HighWatermark: img.Offset(), img: img, client: client}
}

// diffResponse is a diff of the tail's recs.
func diffResponse(hw int64, recs []metadata.TailRecord) FetchResponse {
	if recs == nil {
		return FetchResponse{Mode: contract.ModeDiff, HighWatermark: hw, recs: []metadata.Record{}}
	}
	return FetchResponse{Mode: contract.ModeDiff, HighWatermark: hw, encoded: recs}
}

// withoutProducerIDs keeps what ClientMgmt is shown: brokers, topics and
// partitions (no producer-id blocks, no migration state).
func withoutProducerIDs(recs []metadata.TailRecord) []metadata.TailRecord {
	out := make([]metadata.TailRecord, 0, len(recs)) // recs is the tail's own
	for _, r := range recs {
		switch r.Record().Body.(type) {
		case *metadata.ProducerIdsRecord, *metadata.ZkMigrationStateRecord:
		default:
			out = append(out, r)
		}
	}
	return out
}

func nonNilRecords(recs []metadata.Record) []metadata.Record {
	if recs == nil {
		return []metadata.Record{}
	}
	return recs
}

// CompactedError is OFFSET_COMPACTED with the offset of the snapshot that
// covers the compacted records.
type CompactedError struct {
	Err            *contract.Error
	SnapshotOffset int64
}

func (e *CompactedError) Error() string { return e.Err.Error() }

// Unwrap exposes the coded error.
func (e *CompactedError) Unwrap() error { return e.Err }

// Log returns up to limit records from fromOffset on.
func (c *Controller) Log(ctx context.Context, fromOffset int64, limit int, stale bool) (contract.LogPage, error) {
	if _, err := c.Image(ctx, stale); err != nil {
		return contract.LogPage{}, err
	}
	recs, err := c.state.Tail().Since(fromOffset-1, limit)
	if errors.Is(err, metadata.ErrOffsetCompacted) {
		first := c.state.Tail().FirstOffset()
		return contract.LogPage{}, &CompactedError{
			Err:            contract.Errorf(contract.CodeOffsetCompacted, "offset %d was compacted; records from %d on are held, older state is in the snapshot", fromOffset, first),
			SnapshotOffset: first - 1,
		}
	}
	if err != nil {
		return contract.LogPage{}, err
	}
	next := fromOffset
	if n := len(recs); n > 0 {
		next = recs[n-1].Offset + 1
	}
	return contract.LogPage{Records: nonNilRecords(recs), NextOffset: next}, nil
}
