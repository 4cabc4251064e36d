package scalebench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config is one scale run.
type Config struct {
	Bin                string // the yakt binary to run as `yakt server`
	Partitions         int
	PartitionsPerTopic int
	Brokers            int
	FillClients        int
	RegisterClients    int
	WriteClients       int
	HeartbeatWorkers   int
	HeartbeatPeriod    time.Duration
	HeartbeatDuration  time.Duration // the liveness window; a snapshot runs in it
	ServerArgs         []string      // extra `yakt server` flags
	Log                *slog.Logger  // progress
}

// Metric is one figure of a run. Text replaces Value where the figure
// does not exist ("n/a").
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Text  string  `json:"text,omitempty"`
	Note  string  `json:"note,omitempty"`
}

// Result is a run's figures in the order they were measured.
type Result struct {
	Metrics []Metric `json:"metrics"`
	log     *slog.Logger
}

func (r *Result) add(name string, v float64, unit, note string) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Value: v, Unit: unit, Note: note})
	if r.log != nil {
		r.log.Info("measured", "what", name, "value", FormatValue(Metric{Value: v}), "unit", unit, "note", note)
	}
}

func (r *Result) text(name, text, note string) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Text: text, Note: note})
}

func (r *Result) dur(name string, d time.Duration, note string) { r.add(name, d.Seconds(), "s", note) }

func (r *Result) ms(name string, d time.Duration, note string) {
	r.add(name, float64(d.Microseconds())/1000, "ms", note)
}

func (r *Result) mib(name string, b int64, note string) { r.add(name, float64(b)/(1<<20), "MiB", note) }

// memWatch samples every node's RSS and peak (VmHWM) over the run; a
// restarted node's peak is the highest of its incarnations.
type memWatch struct {
	cl     *Cluster
	mu     sync.Mutex
	peak   map[uint64]int64
	cancel context.CancelFunc
	done   chan struct{}
}

func watchMemory(ctx context.Context, cl *Cluster, every time.Duration) *memWatch {
	ctx, cancel := context.WithCancel(ctx)
	m := &memWatch{cl: cl, peak: map[uint64]int64{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			m.sample()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memWatch) sample() {
	for _, id := range m.cl.IDs() {
		pid := m.cl.PID(id)
		if pid == 0 {
			continue
		}
		st, err := ReadProc(pid)
		if err != nil {
			continue // exiting between PID and read
		}
		m.mu.Lock()
		m.peak[id] = max(m.peak[id], st.HWM, st.RSS)
		m.mu.Unlock()
	}
}

func (m *memWatch) stop() map[uint64]int64 {
	m.sample()
	m.cancel()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peak
}

// Run starts a 3-node cluster in a temporary directory, runs every step
// and removes the directory. It stops at the first step that fails, and
// when ctx ends.
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.PartitionsPerTopic <= 0 || cfg.Partitions <= 0 || cfg.Partitions%cfg.PartitionsPerTopic != 0 {
		return res, fmt.Errorf("--partitions (%d) must be a positive multiple of --partitions-per-topic (%d)", cfg.Partitions, cfg.PartitionsPerTopic)
	}
	if cfg.Brokers < 3 {
		return res, fmt.Errorf("--brokers must be at least 3 (replication factor 3), got %d", cfg.Brokers)
	}
	res.log = log
	c := NewClient(max(cfg.HeartbeatWorkers, cfg.FillClients, cfg.RegisterClients, 16))
	cl, stop, err := StartTemp(ctx, cfg.Bin, "yakt-bench-", cfg.ServerArgs, c, log)
	defer func() { stop(err != nil) }()
	if err != nil {
		return res, err
	}
	step := func(name string, e error) error {
		if e != nil {
			return fmt.Errorf("%s: %w", name, e)
		}
		return nil
	}
	urls := cl.URLs()

	mem := watchMemory(ctx, cl, 250*time.Millisecond)
	defer mem.stop()

	hb := StartHeartbeats(ctx, c, urls, cfg.Brokers, cfg.HeartbeatWorkers, cfg.HeartbeatPeriod)
	defer hb.Stop()
	fences := WatchFences(ctx, c, urls, time.Second)
	fenceStopped := false
	defer func() {
		if !fenceStopped {
			fences.Stop()
		}
	}()

	// Brokers: each starts heartbeating as soon as it is registered, as a
	// real one does, or it would be fenced before the fill ends.
	log.Info("registering brokers", "brokers", cfg.Brokers, "clients", cfg.RegisterClients)
	t0 := time.Now()
	if err := RegisterBrokers(ctx, c, urls, cfg.Brokers, cfg.RegisterClients, hb.Add); err != nil {
		return res, step("register brokers", err)
	}
	res.dur("register brokers", time.Since(t0), fmt.Sprintf("%d brokers, %d concurrent clients", cfg.Brokers, cfg.RegisterClients))
	epochs, err := brokerEpochs(ctx, c, urls[0])
	if err != nil {
		return res, step("list brokers", err)
	}

	topics := cfg.Partitions / cfg.PartitionsPerTopic
	log.Info("filling", "topics", topics, "partitionsPerTopic", cfg.PartitionsPerTopic, "clients", cfg.FillClients)
	t0 = time.Now()
	if err := Fill(ctx, c, urls, "fill", topics, cfg.PartitionsPerTopic, 3, cfg.FillClients, hb.Seen); err != nil {
		return res, step("fill", err)
	}
	res.dur("fill", time.Since(t0), fmt.Sprintf("%d topics x %d partitions, RF 3, %d clients", topics, cfg.PartitionsPerTopic, cfg.FillClients))

	lead, term, err := FindLeader(ctx, c, urls)
	if err != nil {
		return res, step("find leader", err)
	}
	// Followers may still be applying the fill: a read barrier on each
	// (GET /readyz) waits until it has applied what the leader committed.
	for _, id := range cl.IDs() {
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Minute)
		err := WaitReady(rctx, c, cl.URL(id))
		rcancel()
		if err != nil {
			return res, step("wait for the fill to apply", err)
		}
	}
	// By role, not node id: the leader may be another node in each run,
	// and medians are taken row by row.
	var followerRSS []int64
	for _, id := range append([]uint64{lead}, without(cl.IDs(), lead)...) {
		st, err := ReadProc(cl.PID(id))
		if err != nil {
			return res, step("RSS after fill", err)
		}
		if id == lead {
			res.mib("RSS after fill, leader", st.RSS, fmt.Sprintf("VmRSS of node %d", id))
		} else {
			followerRSS = append(followerRSS, st.RSS)
		}
	}
	res.mib("RSS after fill, larger follower", max(followerRSS[0], followerRSS[1]), "VmRSS")
	res.mib("RSS after fill, smaller follower", min(followerRSS[0], followerRSS[1]), "VmRSS")

	// The liveness window: heartbeats as brokers do them, small writes,
	// and a snapshot on the leader part way in.
	window := max(cfg.HeartbeatDuration, 5*time.Second)
	log.Info("liveness window", "duration", window, "leader", lead, "term", term)
	q, err := GetQuorum(ctx, c, cl.URL(lead))
	if err != nil {
		return res, step("GET /v1/quorum", err)
	}
	hb.FollowFrom(q.HighWatermark)
	hb.ResetStats()
	hb.Recording.Store(true)
	leadPID := cl.PID(lead)
	cpu0, err := ReadProc(leadPID)
	if err != nil {
		return res, step("leader CPU", err)
	}
	self0, _ := ReadProc(os.Getpid())
	w0 := time.Now()
	qw := WatchQuorum(ctx, c, urls, 200*time.Millisecond)
	wctx, stopWrites := context.WithCancel(ctx)
	writes := SmallWrites(wctx, c, func() string { return cl.URL(lead) }, "small", cfg.WriteClients)
	snapAt := min(max(2*time.Second, window/4), window/2)
	var snap Snapshot
	var snapTook time.Duration
	var snapFrom, snapTo time.Time
	var snapErr error
	select {
	case <-ctx.Done():
	case <-time.After(snapAt):
		log.Info("POST /v1/snapshots on the leader", "node", lead)
		snapFrom = time.Now()
		sctx, scancel := context.WithTimeout(ctx, 2*time.Minute)
		snap, snapTook, snapErr = TakeSnapshot(sctx, c, cl.URL(lead))
		scancel()
		snapTo = time.Now()
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(w0.Add(window))):
	}
	stopWrites()
	writes.Wait()
	qrep := qw.Stop()
	hb.Recording.Store(false)
	wall := time.Since(w0)
	cpu1, cpuErr := ReadProc(leadPID)
	self1, _ := ReadProc(os.Getpid())
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if snapErr != nil {
		return res, step("POST /v1/snapshots on the leader", snapErr)
	}
	res.dur("POST /v1/snapshots on the leader", snapTook, fmt.Sprintf("node %d, offset %d", lead, snap.Offset))
	res.mib("its snapshot file", snap.SizeBytes, "sizeBytes in the POST answer")
	// A write that started just before the snapshot and was held up by it
	// counts too: take the writes that overlapped it.
	during := writes.Overlapping(snapFrom, snapTo)
	res.ms("small-write p50 during the snapshot", during.P50, fmt.Sprintf("%d writes, %d clients", during.Count, cfg.WriteClients))
	res.ms("small-write p99 during the snapshot", during.P99, fmt.Sprintf("max %v", during.Max.Round(time.Millisecond)))
	res.add("small writes failed during the snapshot", float64(during.Failed), "", errNote(during.FirstErr))
	all := writes.Stats(time.Time{}, time.Time{})
	res.ms("small-write p50 over the window", all.P50, fmt.Sprintf("%d writes", all.Count))
	res.ms("small-write p99 over the window", all.P99, fmt.Sprintf("max %v", all.Max.Round(time.Millisecond)))
	res.add("small writes failed over the window", float64(all.Failed), "", errNote(all.FirstErr))
	res.add("leader changes over the window", float64(qrep.LeaderChanges), "",
		fmt.Sprintf("GET /v1/quorum every 200 ms: %d polls, %d without a leader; %s", qrep.Polls, qrep.NoLeaderSeen, qrep.FirstChangeReason))
	hs := hb.Stats()
	res.add("heartbeats answered", float64(hs.Sent), "", fmt.Sprintf("%d brokers every %v for %v would be %.0f; late when latency x rate exceeds --heartbeat-workers",
		cfg.Brokers, cfg.HeartbeatPeriod, wall.Round(time.Second), float64(cfg.Brokers)*wall.Seconds()/cfg.HeartbeatPeriod.Seconds()))
	res.add("heartbeats failed", float64(hs.Failed), "", errNote(hs.FirstErr))
	res.ms("heartbeat p50", hs.P50, "")
	res.ms("heartbeat p99", hs.P99, fmt.Sprintf("max %v", hs.Max.Round(time.Millisecond)))
	res.dur("longest heartbeat gap of a broker", hs.MaxGap, "above the session timeout (9 s by default) a broker is fenced")
	res.add("heartbeats answered with a whole snapshot", float64(hs.FullAnswers), "", "")
	if cpuErr == nil {
		res.add("leader CPU", 100*CPUSeconds(cpu1.CPUTicks-cpu0.CPUTicks)/wall.Seconds(), "%", "of the node leading at the window's start: utime+stime over the window; 100% = one core")
	} else {
		res.text("leader CPU", "n/a", cpuErr.Error())
	}
	res.add("bench client CPU", 100*CPUSeconds(self1.CPUTicks-self0.CPUTicks)/wall.Seconds(), "%", "this process, same machine")

	log.Info("window over; reading the snapshot list and fetching the whole metadata")
	// The snapshot file.
	ls, err := LatestSnapshot(ctx, c, cl.URL(lead))
	if err != nil {
		return res, step("GET /v1/snapshots", err)
	}
	res.mib("newest snapshot file after the window", ls.SizeBytes, fmt.Sprintf("GET /v1/snapshots on the leader: offset %d", ls.Offset))

	// One full ClientMgmt fetch, asked of a follower, plain then gzip.
	follower := otherThan(cl.IDs(), lead)
	for _, gz := range []bool{false, true} {
		var ff fetchResult
		// A node that cannot pass its read barrier right now (an election)
		// answers 503; the fetch is what is measured, so wait for one.
		err := retry(ctx, func(context.Context) error {
			var err error
			ff, err = fullFetch(ctx, cl, follower, gz)
			return err
		})
		if err != nil {
			return res, step("GET /v1/metadata", err)
		}
		kind := "plain"
		if gz {
			kind = "gzip"
		}
		res.dur("full GET /v1/metadata "+kind, ff.took, fmt.Sprintf("asked node %d, answered by node %s", follower, ff.node))
		if gz && ff.encoding != "gzip" {
			res.text("full GET /v1/metadata gzip bytes", "n/a", "the server did not answer gzip (Content-Encoding "+fmt.Sprintf("%q", ff.encoding)+")")
		} else {
			res.mib("full GET /v1/metadata "+kind+" bytes", ff.bytes, "on the wire")
		}
		res.mib("RSS growth during the "+kind+" fetch", ff.growth, fmt.Sprintf("node %s, peak VmRSS sampled every 20 ms minus before", ff.node))
	}

	// Follower restart: SIGTERM, start again, time to /readyz 200.
	lead, _, err = FindLeader(ctx, c, urls)
	if err != nil {
		return res, step("find leader", err)
	}
	follower = otherThan(cl.IDs(), lead)
	log.Info("restarting a follower", "node", follower)
	t0 = time.Now()
	if err := cl.Terminate(follower); err != nil {
		return res, step("stop follower", err)
	}
	res.dur("follower stop (SIGTERM to exit)", time.Since(t0), fmt.Sprintf("node %d", follower))
	t0 = time.Now()
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Minute)
	err = cl.Start(rctx, follower)
	if err == nil {
		err = WaitReady(rctx, c, cl.URL(follower))
	}
	rcancel()
	if err != nil {
		return res, step("restart follower", err)
	}
	res.dur("follower restart to ready", time.Since(t0), "process start to GET /readyz 200")

	// A wiped follower, replaced as docs/operations.md says while the
	// others serve: its old member (node id, directory id) is removed, it
	// starts again with --join on the empty directory (a new directory
	// id), is added as an observer, catches up by snapshot and is promoted.
	lead, _, err = FindLeader(ctx, c, urls)
	if err != nil {
		return res, step("find leader", err)
	}
	wiped := otherThan(cl.IDs(), lead)
	before, err := GetQuorum(ctx, c, cl.URL(lead))
	if err != nil {
		return res, step("quorum before the wipe", err)
	}
	var oldDir string
	for _, v := range before.Voters {
		if v.NodeID == wiped {
			oldDir = v.DirectoryID
		}
	}
	log.Info("wiping a follower and replacing it", "node", wiped, "old_directory_id", oldDir)
	if err := cl.Terminate(wiped); err != nil {
		return res, step("stop for the wipe", err)
	}
	if err := os.RemoveAll(cl.DataDir(wiped)); err != nil {
		return res, step("wipe", err)
	}
	t0 = time.Now()
	rctx, rcancel = context.WithTimeout(ctx, 10*time.Minute)
	defer rcancel()
	if _, err := Do(rctx, c, http.MethodDelete, fmt.Sprintf("%s/v1/quorum/members/%d?directoryId=%s", cl.URL(lead), wiped, oldDir), nil, nil); err != nil {
		return res, step("remove the wiped member", err)
	}
	if err := cl.LaunchJoining(wiped); err != nil {
		return res, step("start the replacement", err)
	}
	err = cl.WaitListening(rctx, wiped)
	var newDir string
	for err == nil && newDir == "" {
		var q Quorum
		if q, err = GetQuorum(rctx, c, cl.URL(lead)); err == nil {
			for _, o := range q.Observers {
				if o.NodeID == wiped {
					newDir = o.DirectoryID
				}
			}
		}
		if err == nil && newDir == "" {
			select { // the node asks to be added as it starts
			case <-time.After(50 * time.Millisecond):
			case <-rctx.Done():
				err = rctx.Err()
			}
		}
	}
	if err == nil {
		_, err = Do(rctx, c, http.MethodPost, cl.URL(lead)+"/v1/quorum/voters",
			map[string]any{"nodeId": wiped, "directoryId": newDir, "waitMs": 60_000}, nil)
	}
	if err == nil {
		err = WaitReady(rctx, c, cl.URL(wiped))
	}
	if err != nil {
		return res, step("wiped follower replacement", err)
	}
	res.dur("wiped follower replaced (remove, join, catch up, promote)", time.Since(t0),
		"removal of the old member to the new one's GET /readyz 200 as a voter, the others serving throughout")

	// Liveness over the whole run: a heartbeating broker is never fenced.
	fenceStopped = true
	fr := fences.Stop()
	res.add("brokers seen FENCED (spurious)", float64(fr.Fenced), "",
		fmt.Sprintf("GET /v1/brokers?status=FENCED every 1 s over the run: %d polls, %d failed; e.g. %v", fr.Polls, fr.Failed, fr.Examples))
	after, err := brokerEpochs(ctx, c, urls[0])
	if err != nil {
		return res, step("list brokers", err)
	}
	changed := 0
	for id, e := range epochs {
		if after[id] != e {
			changed++
		}
	}
	res.add("brokers whose epoch changed", float64(changed), "", "each fence (and unfence) bumps the epoch; catches fences between polls")
	peaks := mem.stop()
	for _, id := range cl.IDs() {
		res.mib(fmt.Sprintf("peak RSS, node %d", id), peaks[id], "max VmHWM over the run, every incarnation")
	}
	return res, nil
}

func errNote(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return "first: " + s
}

func otherThan(ids []uint64, not uint64) uint64 {
	for _, id := range ids {
		if id != not {
			return id
		}
	}
	return 0
}

func without(ids []uint64, not uint64) []uint64 {
	var out []uint64
	for _, id := range ids {
		if id != not {
			out = append(out, id)
		}
	}
	return out
}

// brokerEpochs is every broker's epoch (stale read: the load must not
// wait on it).
func brokerEpochs(ctx context.Context, c *http.Client, base string) (map[int]int64, error) {
	var list struct {
		Brokers []struct {
			BrokerID int   `json:"brokerId"`
			Epoch    int64 `json:"epoch"`
		} `json:"brokers"`
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := Do(rctx, c, http.MethodGet, base+"/v1/brokers?status=all&stale=true", nil, &list); err != nil {
		return nil, err
	}
	out := map[int]int64{}
	for _, b := range list.Brokers {
		out[b.BrokerID] = b.Epoch
	}
	return out, nil
}

type fetchResult struct {
	took     time.Duration
	bytes    int64
	encoding string
	node     string
	growth   int64
}

// fullFetch sends one GET /v1/metadata (a whole snapshot) to node id and
// reads it to the end, sampling the nodes' RSS meanwhile.
func fullFetch(ctx context.Context, cl *Cluster, id uint64, gz bool) (fetchResult, error) {
	var fr fetchResult
	before := map[uint64]int64{}
	peak := map[uint64]int64{}
	for _, n := range cl.IDs() {
		if st, err := ReadProc(cl.PID(n)); err == nil {
			before[n], peak[n] = st.RSS, st.RSS
		}
	}
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			for _, n := range cl.IDs() {
				if st, err := ReadProc(cl.PID(n)); err == nil {
					peak[n] = max(peak[n], st.RSS)
				}
			}
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	defer func() { stop(); wg.Wait() }()
	// Its own connection and no transparent decompression: the bytes
	// counted are those on the wire.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, cl.URL(id)+"/v1/metadata", nil)
	if err != nil {
		return fr, err
	}
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return fr, fmt.Errorf("GET /v1/metadata on node %d: %w", id, err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	fr.took = time.Since(start)
	if err != nil {
		return fr, fmt.Errorf("GET /v1/metadata on node %d: read: %w", id, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fr, &APIError{Method: http.MethodGet, URL: req.URL.String(), Status: resp.StatusCode}
	}
	stop()
	wg.Wait()
	fr.bytes, fr.encoding, fr.node = n, resp.Header.Get("Content-Encoding"), resp.Header.Get("X-Yakt-Node")
	var node uint64
	fmt.Sscan(fr.node, &node)
	if _, ok := before[node]; !ok {
		node = id
	}
	fr.growth = peak[node] - before[node]
	return fr, nil
}

// metric reads one unlabelled sample from base's GET /metrics.
func metric(ctx context.Context, c *http.Client, base, name string) (float64, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s/metrics: %w", base, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("GET %s/metrics: %w", base, err)
	}
	return 0, fmt.Errorf("GET %s/metrics: no %s", base, name)
}
