package writebench

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yakt/yakt/internal/scalebench"
)

// load is the state one cluster's rows share: how far each client index
// has numbered its topics, and the topics created so far (for reads).
type load struct {
	urls  []*url.URL  // node i's base URL; client k talks to node k mod 3
	tls   *tls.Config // https:// nodes: the CA and the client certificate
	run   int
	seq   []int64  // next topic number of client index k, across rows
	paths []string // "/v1/topics/<name>" of every create answered 2xx
}

func newLoad(bases []string, run int, tlsCfg *tls.Config) *load {
	l := &load{run: run, tls: tlsCfg}
	for _, b := range bases {
		u, err := url.Parse(b)
		if err != nil {
			panic(fmt.Sprintf("writebench: node URL %q: %v", b, err)) // built by scalebench.Cluster
		}
		l.urls = append(l.urls, u)
	}
	return l
}

func (l *load) written() int { return len(l.paths) }

// topicName is client k's seq-th topic of this run. Numbers go on across
// rows, so no row creates a name an earlier row created.
func (l *load) topicName(dst []byte, k int, seq int64) []byte {
	dst = append(dst, "w-"...)
	dst = strconv.AppendInt(dst, int64(l.run), 10)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, int64(k), 10)
	dst = append(dst, '-')
	return strconv.AppendInt(dst, seq, 10)
}

// sample is one answered (or failed) request: when it ended, counted
// from the row's start, and how long it took.
type sample struct {
	end, lat time.Duration
	outcome  uint8
}

const (
	outcomeOK uint8 = iota
	outcomeFailed
	outcomeNotFound // a read of a topic created before answered 404
)

// client is one closed-loop client: its own Transport, so its own
// kept-alive connection, to one node.
type client struct {
	k        int
	tr       *http.Transport
	tmpl     http.Request // copied per request: a sent request is the Transport's until its answer is read
	seq      *int64       // write: the next topic number
	created  []int64      // write: topic numbers answered 2xx
	paths    []string     // read: the topics to read, shared by every reader
	next     int          // read: index into paths
	samples  []sample
	firstErr string
	errAfter time.Duration // keep the first error that ends after this (the warmup's end)
}

// newTransport speaks HTTP/1.1 with or without TLS (a Transport with its
// own TLSClientConfig does not try HTTP/2), so a TLS run differs from a
// plain one by TLS alone.
func newTransport(tlsCfg *tls.Config) *http.Transport {
	return &http.Transport{
		TLSClientConfig:       tlsCfg,
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second, // a server that never answers ends the row instead of hanging it
		DisableCompression:    true,
	}
}

// write creates the client's next topic; the request body is
// {"name":"w-<run>-<k>-<seq>"}.
func (c *client) write(l *load) (uint8, string) {
	seq := *c.seq
	*c.seq++
	body := make([]byte, 0, 48)
	body = append(body, `{"name":"`...)
	body = l.topicName(body, c.k, seq)
	body = append(body, `"}`...)
	req := c.tmpl
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	out, msg := c.roundTrip(&req)
	if out == outcomeOK {
		c.created = append(c.created, seq)
	}
	return out, msg
}

// read sends GET /v1/topics/<name> (linearizable, the API's default).
func (c *client) read() (uint8, string) {
	u := *c.tmpl.URL
	u.Path = c.paths[c.next]
	if c.next++; c.next == len(c.paths) {
		c.next = 0
	}
	req := c.tmpl
	req.URL = &u
	return c.roundTrip(&req)
}

func (c *client) roundTrip(req *http.Request) (uint8, string) {
	resp, err := c.tr.RoundTrip(req)
	if err != nil {
		return outcomeFailed, fmt.Sprintf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		// Read to the end, or the connection is not reused.
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return outcomeFailed, fmt.Sprintf("%s %s: read answer: %v", req.Method, req.URL, err)
		}
		return outcomeOK, ""
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, resp.Body)
	out := outcomeFailed
	if req.Method == http.MethodGet && resp.StatusCode == http.StatusNotFound {
		out = outcomeNotFound
	}
	return out, fmt.Sprintf("%s %s: %d %s", req.Method, req.URL, resp.StatusCode, bytes.TrimSpace(data))
}

// loop sends requests one after another until stop is set.
func (c *client) loop(base time.Time, stop *atomic.Bool, op func() (uint8, string)) {
	for !stop.Load() {
		st := time.Now()
		out, msg := op()
		end := time.Now()
		e := end.Sub(base)
		c.samples = append(c.samples, sample{end: e, lat: end.Sub(st), outcome: out})
		if out != outcomeOK && c.firstErr == "" && e >= c.errAfter {
			c.firstErr = msg
		}
	}
}

// measure runs n clients of workload ("write" or "read") for warmup,
// then over the measured window, and returns the row. The window is the
// span between the two /proc readings of CPU, so ops and CPU cover the
// same time: an operation counts when it ends inside it.
func (l *load) measure(ctx context.Context, workload string, n int, warmup, dur time.Duration, pids []int) (Row, error) {
	row := Row{Workload: workload, Clients: n}
	if workload == "read" && len(l.paths) == 0 {
		return row, fmt.Errorf("no topic was created to read")
	}
	for len(l.seq) < n {
		l.seq = append(l.seq, 0)
	}
	clients := make([]*client, n)
	for k := range clients {
		node := l.urls[k%len(l.urls)]
		c := &client{k: k, tr: newTransport(l.tls), errAfter: warmup, samples: make([]sample, 0, 1024)}
		c.tmpl = http.Request{Method: http.MethodGet, URL: node, Header: http.Header{}, Host: node.Host, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
		c.tmpl = *c.tmpl.WithContext(ctx)
		if workload == "write" {
			u := *node
			u.Path = "/v1/topics"
			c.tmpl.Method, c.tmpl.URL = http.MethodPost, &u
			c.tmpl.Header.Set("Content-Type", "application/json")
			c.seq = &l.seq[k]
		} else {
			c.paths = l.paths
			c.next = k * len(l.paths) / n // readers start spread over the topics
		}
		clients[k] = c
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	base := time.Now()
	for _, c := range clients {
		op := c.read
		if workload == "write" {
			op = func() (uint8, string) { return c.write(l) }
		}
		wg.Go(func() { c.loop(base, &stop, op) })
	}
	a, b, cpu, err := window(ctx, base, warmup, dur, pids)
	stop.Store(true)
	wg.Wait()
	for _, c := range clients {
		c.tr.CloseIdleConnections()
	}
	if err != nil {
		return row, err
	}

	var lats []time.Duration
	for _, c := range clients {
		for _, s := range c.samples {
			if s.end < a || s.end > b {
				continue
			}
			switch s.outcome {
			case outcomeOK:
				lats = append(lats, s.lat)
			case outcomeNotFound:
				row.NotFound++
				row.Errors++
			default:
				row.Errors++
			}
		}
		if row.FirstErr == "" {
			row.FirstErr = c.firstErr
		}
		for _, seq := range c.created {
			name := l.topicName([]byte("/v1/topics/"), c.k, seq)
			l.paths = append(l.paths, string(name))
		}
	}
	if row.Errors == 0 {
		row.FirstErr = "" // the first error was outside the window
	}
	slices.Sort(lats)
	secs := (b - a).Seconds()
	row.Ops = int64(len(lats))
	row.OpsPerS = float64(row.Ops) / secs
	row.P50 = ms(scalebench.Percentile(lats, 0.50))
	row.P90 = ms(scalebench.Percentile(lats, 0.90))
	row.P99 = ms(scalebench.Percentile(lats, 0.99))
	if len(lats) > 0 {
		row.Max = ms(lats[len(lats)-1])
	}
	if row.Ops > 0 {
		row.ServerCPU = scalebench.CPUSeconds(cpu.servers) * 1000 / float64(row.Ops)
	}
	row.ServerCores = scalebench.CPUSeconds(cpu.servers) / secs
	row.LoadCores = scalebench.CPUSeconds(cpu.self) / secs
	return row, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// cpuUsed is CPU ticks spent over the window.
type cpuUsed struct{ servers, self int64 }

// window waits out the warmup, reads CPU, waits out the measured
// duration and reads CPU again; a and b are when it read, from base.
func window(ctx context.Context, base time.Time, warmup, dur time.Duration, pids []int) (a, b time.Duration, used cpuUsed, err error) {
	read := func() (time.Duration, cpuUsed, error) {
		s, err := cpuTicks(pids)
		if err != nil {
			return 0, cpuUsed{}, fmt.Errorf("server CPU: %w", err)
		}
		self, err := scalebench.ReadProc(os.Getpid())
		if err != nil {
			return 0, cpuUsed{}, fmt.Errorf("own CPU: %w", err)
		}
		return time.Since(base), cpuUsed{servers: s, self: self.CPUTicks}, nil
	}
	wait := func(until time.Duration) error {
		t := time.NewTimer(until - time.Since(base))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("measure: %w", ctx.Err())
		case <-t.C:
			return nil
		}
	}
	if err = wait(warmup); err != nil {
		return
	}
	a, c0, err := read()
	if err != nil {
		return
	}
	if err = wait(a + dur); err != nil {
		return
	}
	b, c1, err := read()
	if err != nil {
		return
	}
	return a, b, cpuUsed{servers: c1.servers - c0.servers, self: c1.self - c0.self}, nil
}
