package controller

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/yakt/yakt/internal/defaults"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/raftnode"
)

// StateMachine is the replicated metadata state: it implements
// raftnode.StateMachine over metadata.Image. Readers use Image() and
// Tail() from any goroutine; the node's apply goroutine is the only writer.
type StateMachine struct {
	image atomic.Pointer[metadata.Image]
	tail  *metadata.Tail

	recordsApplied atomic.Uint64 // metrics
}

// NewStateMachine returns an empty state with a tail of tailRecords
// (0: defaults.TailRecords).
func NewStateMachine(tailRecords int) *StateMachine {
	if tailRecords <= 0 {
		tailRecords = defaults.TailRecords
	}
	sm := &StateMachine{tail: metadata.NewTail(tailRecords)}
	sm.image.Store(metadata.Empty)
	return sm
}

// Image is the newest applied image. Never nil.
func (sm *StateMachine) Image() *metadata.Image { return sm.image.Load() }

// Tail is the retained tail of applied records.
func (sm *StateMachine) Tail() *metadata.Tail { return sm.tail }

// Applied is what a proposer gets back for a batch that applied: the
// records with their offsets.
type Applied struct {
	Records []metadata.Record
}

// Replayed is what a proposer gets back for a batch whose idempotency key
// had already applied with the same request: nothing applied, and Entry
// is the first answer.
type Replayed struct {
	Entry metadata.IdempotencyEntry
}

// Apply implements raftnode.StateMachine. Each payload is one request's
// atomic record batch, with its idempotency key if it has one
// (metadata.Delta.ReplayEntry): a batch that no longer applies yields its
// *metadata.Error as the result and changes nothing; a repeat of a known
// key yields Replayed.
func (sm *StateMachine) Apply(batch []raftnode.Committed) ([]any, error) {
	delta := metadata.NewDelta(sm.image.Load())
	results := make([]any, len(batch))
	var applied []metadata.Record
	for i, c := range batch {
		b, err := metadata.DecodeBatch(c.Payload)
		if err != nil {
			return nil, fmt.Errorf("decode records at offset %d: %w", c.Index, err)
		}
		first, err := delta.ReplayEntry(int64(c.Index), b)
		if err != nil {
			var me *metadata.Error
			if !errors.As(err, &me) {
				return nil, fmt.Errorf("replay records at offset %d: %w", c.Index, err)
			}
			results[i] = me
			continue
		}
		if first != nil {
			results[i] = Replayed{Entry: *first}
			continue
		}
		results[i] = Applied{Records: b.Records}
		applied = append(applied, b.Records...)
	}
	img := delta.Apply(int64(batch[len(batch)-1].Index))
	// NB: tail before image. A fetch reads the image, then the tail; it
	// must never see an image whose newest records the tail lacks, or the
	// fetcher would skip them for good.
	sm.tail.Append(applied)
	sm.image.Store(img)
	sm.recordsApplied.Add(uint64(len(applied)))
	return results, nil
}

// CaptureSnapshot implements raftnode.StateMachine. The image is
// immutable, so capturing it is loading the pointer; the returned func
// encodes that image on the snapshot goroutine while Apply goes on.
func (sm *StateMachine) CaptureSnapshot(uint64) (func(io.Writer) error, error) {
	img := sm.image.Load()
	return func(w io.Writer) error { return metadata.WriteSnapshot(w, img) }, nil
}

// PrepareRestore implements raftnode.StateMachine: it decodes the image
// off the raft and apply goroutines; the live state is untouched until
// SwapIn.
func (sm *StateMachine) PrepareRestore(index uint64, r io.Reader) (any, error) {
	img, err := metadata.ReadSnapshot(r)
	if err != nil {
		return nil, fmt.Errorf("decode snapshot at index %d: %w", index, err)
	}
	// The image's offset is its last record's; raft's index may be higher
	// (no-op and configuration entries carry no records).
	if img.Offset() > int64(index) {
		return nil, fmt.Errorf("snapshot at index %d holds image at later offset %d", index, img.Offset())
	}
	return img, nil
}

// SwapIn implements raftnode.StateMachine.
func (sm *StateMachine) SwapIn(index uint64, prepared any) error {
	img, ok := prepared.(*metadata.Image)
	if !ok || img == nil {
		return fmt.Errorf("restore snapshot at index %d: prepared state is %T, not an image", index, prepared)
	}
	sm.tail.ResetAt(int64(index), img.MaxTimestamp()) // tail first: see Apply
	sm.image.Store(img)
	return nil
}
