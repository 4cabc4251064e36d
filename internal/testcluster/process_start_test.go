package testcluster

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fatalRecorder stands in for the test in code that must fail it: it
// records the message and ends the calling goroutine as t.Fatalf does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// startRecorded runs p.Start(id) with fatal calls recorded; it returns the
// fatal message, "" if Start succeeded.
func startRecorded(t *testing.T, p *Processes, id uint64) string {
	rec := &fatalRecorder{TB: t}
	p.t = rec
	defer func() { p.t = t }()
	done := make(chan struct{})
	go func() { defer close(done); p.Start(id) }()
	<-done
	return rec.msg
}

// TestProcessStartRetriesAndReportsAPortInUse: a process that finds its
// port taken is started again while the port is busy for a moment, and a
// port that stays busy fails the test with a message naming it.
func TestProcessStartRetriesAndReportsAPortInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	p := StartProcesses(t, BuildYakt(t), 1)
	addr := strings.TrimPrefix(p.URL(1), "http://")

	occupy := func() net.Listener {
		p.Kill9(1)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	// The port stays busy until the first start has failed on it, then
	// frees up: Start must try again and succeed.
	brief := occupy()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	released := make(chan error, 1)
	go func() {
		err := WaitFor(ctx, func() bool { return strings.Contains(p.Log(1), "address already in use") })
		brief.Close()
		released <- err
	}()
	if msg := startRecorded(t, p, 1); msg != "" {
		t.Fatalf("start with the port busy for a moment: %s", msg)
	}
	if err := <-released; err != nil {
		t.Fatalf("the first start did not find the port busy (%v); log:\n%s", err, p.Log(1))
	}

	l := occupy()
	defer l.Close()
	p.portWait = 2 * time.Second
	msg := startRecorded(t, p, 1)
	if !strings.Contains(msg, "stayed in use") || !strings.Contains(msg, addr) {
		t.Fatalf("start with the port busy for good: fatal %q, want it to name %s as in use", msg, addr)
	}
}
