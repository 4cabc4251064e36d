package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/yakt/yakt/contract"

	"github.com/google/uuid"

	"github.com/yakt/yakt/internal/defaults"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/raftnode"
	"github.com/yakt/yakt/internal/vfs"
)

// Clock is the time source for server-set timestamps and liveness.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Config configures a Controller.
type Config struct {
	Node      *raftnode.Node
	ClusterID string
	// FS is the file system the node's storage uses, for reading
	// snapshot files; nil: the real one.
	FS      vfs.FS
	State   *StateMachine
	Clock   Clock         // default SystemClock
	NewUUID func() string // default random v4 UUIDs
	// FullFetchAfter: a fetch by an older timestamp gets a snapshot
	// (default defaults.FullFetchAfter).
	FullFetchAfter time.Duration
	// BrokerSessionTimeout: an ALIVE broker silent for longer is FENCED
	// (default defaults.BrokerSessionTimeout).
	BrokerSessionTimeout time.Duration
	Logger               *slog.Logger
	// UnsafeReadsWithoutBarrier answers reads from this node's local state
	// even when the caller asked for a linearizable read. It is a
	// deliberate bug: the fault tests switch it on to prove that the
	// linearizability checker catches stale reads. Never set it otherwise.
	UnsafeReadsWithoutBarrier bool
}

// Controller runs API operations: reads against the local image after a
// read barrier, writes as proposals of record batches validated against
// the leader's forecast (speculation).
type Controller struct {
	node      *raftnode.Node
	clusterID string
	fs        vfs.FS
	state     *StateMachine
	clock     Clock
	newUUID   func() string
	log       *slog.Logger

	fullFetchAfter time.Duration
	sessionTimeout time.Duration
	live           liveness
	spec           speculation // the leader's forecast that writes validate against
	full           fullShares  // full fetch answers being encoded or read (fetch_share.go)
	placements     placementCache

	unsafeReadsWithoutBarrier bool

	forwarded forwardedHandlers // what runs the requests peers forward here (kafka.go)
}

// MaxPartitionsPerRequest caps the records one request may produce, so a
// single request can never exceed a raft entry.
const MaxPartitionsPerRequest = 10_000

// New returns a Controller.
func New(cfg Config) *Controller {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.FS == nil {
		cfg.FS = vfs.OS
	}
	if cfg.NewUUID == nil {
		cfg.NewUUID = func() string { return uuid.NewString() }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.FullFetchAfter <= 0 {
		cfg.FullFetchAfter = defaults.FullFetchAfter
	}
	if cfg.BrokerSessionTimeout <= 0 {
		cfg.BrokerSessionTimeout = defaults.BrokerSessionTimeout
	}
	return &Controller{node: cfg.Node, clusterID: cfg.ClusterID, fs: cfg.FS, state: cfg.State, clock: cfg.Clock, newUUID: cfg.NewUUID, log: cfg.Logger,
		fullFetchAfter: cfg.FullFetchAfter, sessionTimeout: cfg.BrokerSessionTimeout,
		unsafeReadsWithoutBarrier: cfg.UnsafeReadsWithoutBarrier}
}

// Image returns the state to read from: after a linearizable read barrier,
// or this node's latest applied state when stale is true.
func (c *Controller) Image(ctx context.Context, stale bool) (*metadata.Image, error) {
	if stale || c.unsafeReadsWithoutBarrier {
		return c.state.Image(), nil
	}
	return c.linearizableImage(ctx)
}

// linearizableImage returns the state after a read barrier: everything
// committed before the call is applied here.
func (c *Controller) linearizableImage(ctx context.Context) (*metadata.Image, error) {
	if err := c.node.ReadBarrier(ctx); err != nil {
		return nil, nodeError(err)
	}
	return c.state.Image(), nil
}

// outcome is a write's answer from its proposal's outcome: the applied
// records and answer, the first answer of its idempotency key (replayed),
// or the error that apply or the node gave.
func (c *Controller) outcome(ctx context.Context, res raftnode.Result, err error, answer []byte) (applied []metadata.Record, _ []byte, replayed bool, _ error) {
	if errors.Is(err, raftnode.ErrStopped) || errors.Is(err, raftnode.ErrOutcomeUnknown) {
		// The entry may already be on a quorum: the outcome is unknown, and
		// NOT_READY (503) would tell the client a retry is safe.
		return nil, nil, false, contract.Errorf(contract.CodeTimeout, "the write may or may not have taken effect (%v); read before retrying", err)
	}
	if err != nil {
		return nil, nil, false, nodeError(err)
	}
	switch v := res.Value.(type) {
	case *metadata.Error:
		return nil, nil, false, v
	case Applied:
		return v.Records, answer, false, nil
	case Replayed:
		markReplayed(ctx)
		return v.Entry.Records, v.Entry.Answer, true, nil
	default:
		return nil, nil, false, fmt.Errorf("controller: unexpected apply result %T", res.Value)
	}
}

// nodeError maps raftnode's errors to the API's codes; anything else is
// returned as is (an internal error).
func nodeError(err error) error {
	switch {
	case errors.Is(err, raftnode.ErrNoLeader), errors.Is(err, raftnode.ErrNotLeader),
		errors.Is(err, raftnode.ErrProposalDropped):
		return contract.Errorf(contract.CodeNoLeader, "no leader: the write was not applied; retry")
	case errors.Is(err, raftnode.ErrStopped):
		return contract.Errorf(contract.CodeNotReady, "node is shutting down")
	case errors.Is(err, raftnode.ErrTooLarge):
		return contract.Errorf(contract.CodePayloadTooLarge, "request produces too many records")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return contract.Errorf(contract.CodeTimeout, "not committed in time; the write may still commit")
	}
	return err
}
