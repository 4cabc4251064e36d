package testcluster

import (
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

	brief := occupy()
	release := time.AfterFunc(500*time.Millisecond, func() { brief.Close() })
	defer release.Stop()
	if msg := startRecorded(t, p, 1); msg != "" {
		t.Fatalf("start with the port busy for 0.5 s: %s", msg)
	}
	if !strings.Contains(p.Log(1), "address already in use") {
		t.Fatalf("the first start did not find the port busy; log:\n%s", p.Log(1))
	}

	l := occupy()
	defer l.Close()
	msg := startRecorded(t, p, 1)
	if !strings.Contains(msg, "stayed in use") || !strings.Contains(msg, addr) {
		t.Fatalf("start with the port busy for good: fatal %q, want it to name %s as in use", msg, addr)
	}
}
