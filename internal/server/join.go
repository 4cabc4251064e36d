package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/storage"
	"github.com/yakt/yakt/internal/vfs"
)

// A data directory is formatted once (yakt format, or by the server when
// it bootstraps a new cluster or joins one) and from then on names its
// cluster, node and directory: the cluster id is never derived again.

// joinInfo is what a joining node learnt from a member.
type joinInfo struct {
	clusterID string
	peers     map[uint64]string // members' peer addresses
}

// resolveIdentity settles cfg.ClusterID from the data directory, formatting
// it when this start bootstraps a new cluster or joins one. It returns
// what a join learnt (nil when not joining or when no member answered a
// node that already has its identity).
func resolveIdentity(ctx context.Context, cfg *Config, sec *security) (*joinInfo, error) {
	fs := cfg.FS
	if fs == nil {
		fs = vfs.OS
	}
	id, err := storage.ReadIdentity(fs, cfg.DataDir)
	switch {
	case err == nil:
		if cfg.ClusterID != "" && cfg.ClusterID != id.ClusterID {
			return nil, fmt.Errorf("data directory %s belongs to cluster %q, not %q (--cluster-id)", cfg.DataDir, id.ClusterID, cfg.ClusterID)
		}
		cfg.ClusterID = id.ClusterID
		if len(cfg.Join) == 0 {
			return nil, nil
		}
		// Formatted before (by yakt format, or an earlier start): the
		// members' addresses help only while its log is empty, so a
		// cluster that does not answer now is not fatal.
		info, err := discover(ctx, sec, cfg.Join)
		if err != nil {
			cfg.Logger.Warn("no member to join through answered; starting from the data directory's log", "join", cfg.Join, "err", err)
			return nil, nil
		}
		if info.clusterID != id.ClusterID {
			return nil, fmt.Errorf("data directory %s belongs to cluster %q, but %s answers for cluster %q", cfg.DataDir, id.ClusterID, strings.Join(cfg.Join, ","), info.clusterID)
		}
		return info, nil
	case !errors.Is(err, storage.ErrNotFormatted):
		return nil, err
	}
	switch {
	case len(cfg.Join) > 0:
		info, err := discover(ctx, sec, cfg.Join)
		if err != nil {
			return nil, fmt.Errorf("join: %w", err)
		}
		if cfg.ClusterID != "" && cfg.ClusterID != info.clusterID {
			return nil, fmt.Errorf("join: %s answers for cluster %q, not %q (--cluster-id)", strings.Join(cfg.Join, ","), info.clusterID, cfg.ClusterID)
		}
		cfg.ClusterID = info.clusterID
		if err := storage.Format(fs, cfg.DataDir, storage.Identity{ClusterID: cfg.ClusterID, NodeID: cfg.NodeID}); err != nil {
			return nil, err
		}
		return info, nil
	case len(cfg.Voters) > 0:
		if cfg.ClusterID == "" {
			return nil, fmt.Errorf("data directory %s is not formatted: bootstrapping a new cluster needs --cluster-id, the same on every node (yakt format prints a fresh one)", cfg.DataDir)
		}
		return nil, storage.Format(fs, cfg.DataDir, storage.Identity{ClusterID: cfg.ClusterID, NodeID: cfg.NodeID})
	}
	return nil, fmt.Errorf("data directory %s is not formatted: bootstrap a new cluster with --voters and --cluster-id, join a running one with --join, or run yakt format", cfg.DataDir)
}

// baseURL turns host:port or a URL into a URL without a trailing slash;
// host:port gets the scheme of the cluster's HTTP API (https with TLS).
func baseURL(scheme, s string) string {
	if !strings.Contains(s, "://") {
		s = scheme + "://" + s
	}
	return strings.TrimRight(s, "/")
}

// discoverWait bounds how long discover asks again a cluster that is
// still starting: one whose answer names no voter yet, or a voter
// without its peer address.
const discoverWait = 30 * time.Second

// discover asks the members at urls, in turn, for the quorum. A member
// that answers for a cluster still starting is asked again (a joining
// node that started without its members' peer addresses could not
// answer them, and would never catch up); when none answers at all,
// discover fails at once.
func discover(ctx context.Context, sec *security, urls []string) (*joinInfo, error) {
	hc := sec.httpClient(5 * time.Second)
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(discoverWait)
	wait := 50 * time.Millisecond
	for {
		var errs []error
		answered := false
		for _, u := range urls {
			q, err := fetchQuorum(ctx, hc, baseURL(sec.scheme(), u))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", u, err))
				continue
			}
			answered = true
			info := &joinInfo{clusterID: q.ClusterID, peers: make(map[uint64]string)}
			complete := len(q.Voters) > 0
			for _, group := range [][]contract.Voter{q.Voters, q.Observers} {
				for _, v := range group {
					if v.PeerAddress != "" {
						info.peers[v.NodeID] = v.PeerAddress
					} else {
						complete = false
					}
				}
			}
			if complete {
				return info, nil
			}
			errs = append(errs, fmt.Errorf("%s: the cluster is starting: its answer names no voter yet, or one without its peer address", u))
		}
		if !answered {
			return nil, fmt.Errorf("no member answered: %w", errors.Join(errs...))
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the members did not name every voter's peer address within %v: %w", discoverWait, errors.Join(errs...))
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (last: %w)", ctx.Err(), errors.Join(errs...))
		}
		wait = min(2*wait, time.Second)
	}
}

func fetchQuorum(ctx context.Context, hc *http.Client, base string) (contract.Quorum, error) {
	var q contract.Quorum
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/quorum", nil)
	if err != nil {
		return q, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return q, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return q, err
	}
	if resp.StatusCode != http.StatusOK {
		return q, fmt.Errorf("GET /v1/quorum: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	if err := json.Unmarshal(body, &q); err != nil {
		return q, fmt.Errorf("GET /v1/quorum: %w", err)
	}
	if q.ClusterID == "" {
		return q, errors.New("GET /v1/quorum: the answer names no cluster")
	}
	return q, nil
}

// startJoin asks, until this node is a member, the members at urls to
// add it as an observer. The leader answers once the change is applied;
// this node learns it from the snapshot the leader then sends.
func (s *Server) startJoin(urls []string) {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopJoining = cancel
	s.joinDone = make(chan struct{})
	go func() {
		defer close(s.joinDone)
		s.joinLoop(ctx, urls)
	}()
}

func (s *Server) stopJoin() {
	if s.stopJoining != nil {
		s.stopJoining()
		<-s.joinDone
	}
}

func (s *Server) isMember() bool {
	self := s.Node.Self()
	for _, m := range s.Node.Members() {
		if m.NodeID == self.NodeID && m.DirectoryID == self.DirectoryID {
			return true
		}
	}
	return false
}

func (s *Server) joinLoop(ctx context.Context, urls []string) {
	self := s.Node.Self()
	body, _ := json.Marshal(contract.QuorumMember{NodeID: self.NodeID, DirectoryID: self.DirectoryID.String(),
		PeerAddress: self.PeerAddr, HTTPAddress: self.HTTPAddr})
	// With TLS it presents the node's certificate: the members take it
	// for the node it names.
	hc := s.sec.httpClient(0)
	defer hc.CloseIdleConnections()
	wait := 200 * time.Millisecond
	var lastErr string
	var asked bool
	for attempt := 0; ; attempt++ {
		if s.isMember() {
			s.log.Info("joined the quorum", "directory_id", self.DirectoryID.String(), "voter", s.Node.Self().Voter)
			return
		}
		if !asked {
			err := askToJoin(ctx, hc, baseURL(s.sec.scheme(), urls[attempt%len(urls)]), body)
			switch {
			case err == nil:
				asked = true // the change is applied on the leader; wait for its snapshot
				s.log.Info("added as an observer; catching up", "via", urls[attempt%len(urls)])
			case ctx.Err() != nil:
				return
			case err.Error() != lastErr:
				lastErr = err.Error()
				s.log.Error("asking to join the quorum failed; retrying", "via", urls[attempt%len(urls)], "err", err)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		wait = min(2*wait, 5*time.Second)
		if asked && attempt%10 == 9 {
			asked = false // not a member yet after a while: ask again (idempotent)
		}
	}
}

func askToJoin(ctx context.Context, hc *http.Client, base string, body []byte) error {
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, base+"/v1/quorum/observers", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	var eb contract.ErrorBody
	if json.Unmarshal(out, &eb) == nil && eb.Error.Code != "" {
		return fmt.Errorf("%s: %s", eb.Error.Code, eb.Error.Message)
	}
	return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(out))
}
