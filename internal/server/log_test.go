package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects the JSON lines of several nodes' handlers, each
// record one Write.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

// TestLogsHaveNoDuplicateKeysAndReadableValues runs a real 3-node
// cluster logging JSON at debug level through start, writes, a snapshot,
// a restart and a stop, and checks every record: no key twice in one
// object, durations and enums as text.
func TestLogsHaveNoDuplicateKeysAndReadableValues(t *testing.T) {
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: ReadableLogValues}))
	voters := map[uint64]string{}
	httpAddrs := map[uint64]string{}
	peerLs := map[uint64]net.Listener{}
	httpLs := map[uint64]net.Listener{}
	dirs := map[uint64]string{}
	for id := uint64(1); id <= 3; id++ {
		pl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		peerLs[id], httpLs[id], voters[id], httpAddrs[id], dirs[id] = pl, hl, pl.Addr().String(), hl.Addr().String(), t.TempDir()
	}
	servers := map[uint64]*Server{}
	start := func(id uint64) {
		t.Helper()
		cfg := Config{NodeID: id, ClusterID: "logs", DataDir: dirs[id], Voters: voters, TickInterval: 50 * time.Millisecond,
			BrokerSessionTimeout: time.Hour, // the broker never heartbeats; a slow run must not fence it
			PeerListener:         peerLs[id], HTTPListener: httpLs[id], Logger: log}
		if cfg.PeerListener == nil { // a restart: the same addresses again
			cfg.ListenPeer, cfg.ListenHTTP = voters[id], httpAddrs[id]
		}
		s, err := Start(cfg)
		if err != nil {
			t.Fatalf("start node %d: %v", id, err)
		}
		peerLs[id], httpLs[id] = nil, nil
		servers[id] = s
	}
	defer func() {
		for _, s := range servers {
			s.Kill()
		}
	}()
	for id := uint64(1); id <= 3; id++ {
		start(id)
	}
	leader := func() uint64 {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			for id, s := range servers {
				if _, ready := s.Node.LeaderReady(); ready {
					return id
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("no leader within 20s")
		return 0
	}
	post := func(id uint64, path, body string, want int) {
		t.Helper()
		resp, err := http.Post("http://"+httpAddrs[id]+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("POST %s on node %d: %d %s", path, id, resp.StatusCode, b)
		}
	}
	lead := leader()
	follower := lead%3 + 1
	post(follower, "/v1/brokers", `{"brokerId":1,"brokerHost":"10.0.0.1","brokerPort":"9092","securityProtocol":"PLAINTEXT"}`, 201)
	post(lead, "/v1/topics", `{"name":"orders","partitions":2,"replicationFactor":1}`, 201)
	post(lead, "/v1/snapshots", "", 201)

	servers[follower].Kill()
	delete(servers, follower)
	start(follower)
	post(leader(), "/v1/topics", `{"name":"payments","partitions":1,"replicationFactor":1}`, 201)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lead = leader()
	servers[lead].Stop(ctx) // hands leadership over, then stops
	delete(servers, lead)
	for id, s := range servers {
		s.Stop(ctx)
		delete(servers, id)
	}

	lines := logs.lines()
	if len(lines) < 20 {
		t.Fatalf("only %d log records", len(lines))
	}
	sawDuration := false
	for i, line := range lines {
		if err := checkNoDuplicateKeys(line); err != nil {
			t.Errorf("record %d: %v\n%s", i, err, line)
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("record %d is not JSON: %v\n%s", i, err, line)
		}
		if k, ok := rec["stream"]; ok {
			if _, isName := k.(string); !isName {
				t.Errorf("record %d: stream = %v, want its name\n%s", i, k, line)
			}
		}
		if rec["msg"] == "storage opened and state restored" {
			for _, k := range []string{"open", "restore"} {
				s, ok := rec[k].(string)
				if _, err := time.ParseDuration(s); !ok || err != nil {
					t.Errorf("record %d: %s = %v, want a duration as text\n%s", i, k, rec[k], line)
				}
			}
			sawDuration = true
		}
	}
	if !sawDuration {
		t.Error(`no "storage opened and state restored" record to check durations in`)
	}
}

// checkNoDuplicateKeys reports a key that occurs twice in one JSON
// object of line, at any depth.
func checkNoDuplicateKeys(line string) error {
	dec := json.NewDecoder(strings.NewReader(line))
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if seen[key] {
					return fmt.Errorf("key %q twice", key)
				}
				seen[key] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token() // '}'
			return err
		case json.Delim('['):
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token() // ']'
			return err
		}
		return nil
	}
	if err := walk(); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("trailing data after the record: %v", err)
	}
	return nil
}

// kind is an enum with a String method, as the transport's stream kinds.
type kind uint8

func (k kind) String() string { return fmt.Sprintf("kind-%d", uint8(k)) }

func TestReadableLogValues(t *testing.T) {
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{ReplaceAttr: ReadableLogValues})).
		Info("m", "took", 1500*time.Millisecond, slog.Group("g", "wait", 3*time.Microsecond), "n", 7,
			"kind", kind(2), "err", errors.New("boom"), "at", time.Unix(0, 0).UTC())
	var rec map[string]any
	if err := json.Unmarshal(b.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["took"] != "1.5s" || rec["g"].(map[string]any)["wait"] != "3µs" || rec["n"] != float64(7) ||
		rec["kind"] != "kind-2" || rec["err"] != "boom" || rec["at"] != "1970-01-01T00:00:00Z" {
		t.Fatalf("got %s", b.Bytes())
	}
}
