package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/internal/metadata"
)

// watcher follows YAKt's committed records through the metadata fetch's
// long poll (ClientMgmt, as a Kafka client would) and notes when each
// first showed: the moment a ZooKeeper change became visible in YAKt.
type watcher struct {
	mu      sync.Mutex
	created map[string]time.Time // topic name -> its TopicRecord
	removed map[string]time.Time // topic name -> its RemoveTopicRecord
	// parts holds, per partition (topic id, partition id), the epochs of
	// its PartitionRecords in the order they arrived.
	parts map[partKey][]epochAt
	err   error
}

type partKey struct {
	topicID   string
	partition int32
}

type epochAt struct {
	epoch int64
	at    time.Time
}

// startWatcher starts following YAKt's records from now on; it stops when
// the test ends.
func startWatcher(ctx context.Context, t testing.TB, cl *client.Client) *watcher {
	t.Helper()
	st, err := migrationStatus(ctx, cl)
	if err != nil {
		t.Fatalf("migration status before the load: %v", err)
	}
	w := &watcher{created: map[string]time.Time{}, removed: map[string]time.Time{}, parts: map[partKey][]epochAt{}}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		w.run(ctx, cl, st.Offset)
	}()
	return w
}

func (w *watcher) run(ctx context.Context, cl *client.Client, offset int64) {
	for ctx.Err() == nil {
		off := offset
		res, err := cl.ClientFetch(ctx, client.FetchOptions{Offset: &off, MaxWait: 2 * time.Second})
		now := time.Now()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return
			}
			// A leader change or a busy node: the client already retried;
			// note it and go on (a lasting failure shows as unseen changes).
			w.mu.Lock()
			w.err = fmt.Errorf("metadata fetch from offset %d: %w", offset, err)
			w.mu.Unlock()
			continue
		}
		if res.Mode != "diff" {
			w.mu.Lock()
			w.err = fmt.Errorf("metadata fetch from offset %d answered %q, not a diff: the records were compacted", offset, res.Mode)
			w.mu.Unlock()
			return
		}
		w.mu.Lock()
		for _, r := range res.Records {
			switch b := r.Body.(type) {
			case *metadata.TopicRecord:
				if _, ok := w.created[b.Name]; !ok {
					w.created[b.Name] = now
				}
			case *metadata.RemoveTopicRecord:
				if _, ok := w.removed[b.Name]; !ok {
					w.removed[b.Name] = now
				}
			case *metadata.PartitionRecord:
				k := partKey{b.TopicUUID, b.PartitionID}
				w.parts[k] = append(w.parts[k], epochAt{b.PartitionEpoch, now})
			}
		}
		w.mu.Unlock()
		if res.HighWatermark > offset {
			offset = res.HighWatermark
		}
	}
}

func (w *watcher) topicCreated(name string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at, ok := w.created[name]
	return at, ok
}

func (w *watcher) topicRemoved(name string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at, ok := w.removed[name]
	return at, ok
}

// partitionAt is when YAKt first held partition (topicID, p) at epoch
// minEpoch or later: a later change may have been applied together with
// the one awaited (the driver applies ZooKeeper's state, not each write).
func (w *watcher) partitionAt(topicID string, p int32, minEpoch int64) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.parts[partKey{topicID, p}] {
		if e.epoch >= minEpoch {
			return e.at, true
		}
	}
	return time.Time{}, false
}

func (w *watcher) errText() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		return "(the metadata fetch had no errors)"
	}
	return "(last metadata fetch error: " + w.err.Error() + ")"
}
