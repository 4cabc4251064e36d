package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/yakt/yakt/contract"
)

// simRequestTimeout bounds one HTTP call of a simulated broker. A node that
// does not answer within it is taken for down and the next one is tried.
const simRequestTimeout = 5 * time.Second

// simBroker plays one Kafka broker against the cluster's HTTP API, as a
// real broker would: it registers (POST /v1/brokers), then heartbeats with
// BrokerMgmt fetches (POST /v1/metadata/fetch) every interval, following
// the metadata from the offset it has reached. `yakt dev` runs a few so
// that a newcomer's cluster has ALIVE brokers to place partitions on, and
// they stay ALIVE however slowly the newcomer types.
//
// It speaks plain net/http rather than the client package on purpose: it
// needs three calls and must see every answer's code to decide what to do;
// the bodies are package contract's types.
type simBroker struct {
	id        int32
	port      int
	rack      string
	endpoints []string // base URLs ("http://127.0.0.1:8001"), any node answers
	interval  time.Duration
	httpc     *http.Client
	token     string // bearer token (yakt dev --secure), "" for none
	log       *slog.Logger

	// Owned by run's goroutine.
	next       int    // endpoint tried first
	offset     *int64 // offset of the metadata followed so far; nil: fetch a snapshot
	registered bool   // false: register before the next heartbeat
	status     string // last brokerStatus seen for itself
}

// run registers the broker and heartbeats until ctx ends. ready is closed
// once the broker is registered (by this call or an earlier run that used
// the same data directory).
func (b *simBroker) run(ctx context.Context, ready chan<- struct{}) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		wait := b.interval
		if !b.registered {
			if err := b.register(ctx); err != nil {
				if ctx.Err() == nil {
					b.log.Debug("simulated broker: register", "broker", b.id, "err", err)
				}
				wait = min(b.interval, 500*time.Millisecond) // no leader yet, most likely
			} else if ready != nil {
				close(ready)
				ready = nil
			}
		}
		if b.registered {
			if err := b.heartbeat(ctx); err != nil && ctx.Err() == nil {
				b.log.Warn("simulated broker: heartbeat failed", "broker", b.id, "err", err)
			}
			if !b.registered {
				wait = 0 // found itself CLOSED or unknown: register again at once
			}
		}
		t.Reset(wait)
	}
}

func (b *simBroker) register(ctx context.Context) error {
	req := contract.RegisterBrokerRequest{BrokerID: &b.id, BrokerHost: "127.0.0.1", BrokerPort: contract.PortOf(strconv.Itoa(b.port)), RackID: b.rack}
	var rec contract.Record
	err := b.call(ctx, "/v1/brokers", req, &rec)
	var ae *apiError
	switch {
	case err == nil:
		epoch := int64(-1)
		if r, ok := rec.Body.(*contract.Broker); ok {
			epoch = r.Epoch
		}
		b.log.Info("simulated broker registered", "broker", b.id, "epoch", epoch)
	case errors.As(err, &ae) && ae.Code == contract.CodeBrokerAlreadyRegistered:
		// Registered by a run that kept its --data-dir, or by an attempt of
		// ours whose answer was lost. Heartbeats bring it back if FENCED.
		b.log.Info("simulated broker already registered; heartbeating", "broker", b.id)
	default:
		return err
	}
	b.registered, b.offset, b.status = true, nil, ""
	return nil
}

func (b *simBroker) heartbeat(ctx context.Context) error {
	req := contract.BrokerFetchRequest{BrokerID: &b.id, Offset: b.offset}
	var ans contract.FetchResponse
	err := b.call(ctx, "/v1/metadata/fetch", req, &ans)
	var ae *apiError
	if errors.As(err, &ae) {
		switch ae.Code {
		case contract.CodeBrokerNotFound:
			b.registered = false
			b.log.Warn("simulated broker is not registered; registering again", "broker", b.id)
			return nil
		case contract.CodeOffsetOutOfRange: // an offset of another cluster incarnation
			b.offset = nil
			return nil
		}
	}
	if err != nil {
		return err
	}
	status := b.status
	full := ans.Mode == contract.ModeSnapshot
	if full {
		var snap contract.MetadataSnapshot
		if err := json.Unmarshal(ans.Snapshot, &snap); err != nil {
			return fmt.Errorf("decode the metadata snapshot: %w", err)
		}
		status = ""
		for _, s := range snap.Brokers {
			if s.BrokerID == b.id {
				status = s.BrokerStatus
			}
		}
	}
	for _, r := range ans.Records {
		switch rec := r.Body.(type) {
		case *contract.Broker:
			if rec.BrokerID == b.id {
				status = rec.BrokerStatus
			}
		case *contract.BrokerRegistrationChangeBrokerRecord:
			if rec.BrokerID == b.id {
				status = rec.BrokerStatus
			}
		}
	}
	hw := ans.HighWatermark
	b.offset = &hw
	if status != b.status && status != contract.StatusAlive && status != "" {
		b.log.Warn("simulated broker found itself "+status, "broker", b.id)
	}
	b.status = status
	if status == contract.StatusClosed || (full && status == "") {
		b.registered = false // unregistered (DELETE /v1/brokers/{id}): come back as a restarted broker would
	}
	return nil
}

// apiError is an error answer of the API.
type apiError struct {
	Status  int
	Code    contract.Code
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// call POSTs in to path, trying each endpoint in turn from the last one
// that answered: a node that is down, has no leader or timed out is
// skipped. Other error answers are returned as *apiError.
func (b *simBroker) call(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	var last error
	for i := range b.endpoints {
		ep := b.endpoints[(b.next+i)%len(b.endpoints)]
		err := b.post(ctx, ep+path, body, out)
		var ae *apiError
		if err == nil || (errors.As(err, &ae) && ae.Status < 500) {
			b.next = (b.next + i) % len(b.endpoints)
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		last = err
	}
	return last
}

func (b *simBroker) post(ctx context.Context, url string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, simRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if b.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	resp, err := b.httpc.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("POST %s: read answer: %w", url, err)
	}
	if resp.StatusCode/100 != 2 {
		var e contract.ErrorBody
		_ = json.Unmarshal(data, &e) // a non-JSON answer keeps its status only
		return &apiError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("POST %s: decode answer: %w", url, err)
	}
	return nil
}
