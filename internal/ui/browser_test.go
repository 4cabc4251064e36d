package ui_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/yakt/yakt/internal/testcluster"
)

// chromiumPath is where Debian's chromium package puts the browser;
// .ci/run installs it.
const chromiumPath = "/usr/bin/chromium"

// findChromium returns the browser to drive. Under CI a missing browser
// fails the test (CI installs it, so its absence is a broken setup, not a
// reason to pass); elsewhere the test skips.
func findChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err == nil {
		return chromiumPath
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("chromium is not installed (%s); .ci/run installs it with apt-get install chromium", chromiumPath)
	}
	t.Skipf("chromium is not installed (%s): apt-get install chromium to run the dashboard's browser test", chromiumPath)
	return ""
}

// artifactDir is where the test leaves files for people to look at:
// YAKT_TEST_ARTIFACTS (.ci/run sets it), else the test's temporary
// directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("YAKT_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if !filepath.IsAbs(dir) {
		// go test runs in the package's directory; a relative path is
		// meant from where the tests were started, the module root.
		root, err := moduleRoot()
		if err != nil {
			t.Fatalf("artifact directory: %v", err)
		}
		dir = filepath.Join(root, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifact directory: %v", err)
	}
	return dir
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// TestDashboardInBrowser opens /ui of a real 3-node cluster in headless
// Chromium: the page loads without console errors, a topic created
// through the API shows within 2 s, and a screenshot is kept.
func TestDashboardInBrowser(t *testing.T) {
	exe := findChromium(t)
	c := testcluster.New(t, testcluster.Options{})
	// Generous: starting a browser and electing a leader on a loaded
	// 2-core machine can take a while. The 2 s check below has its own
	// deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lead, err := c.Leader(ctx)
	if err != nil {
		t.Fatalf("no leader: %v", err)
	}
	c.Must(t, lead, "POST", "/v1/brokers", map[string]any{"brokerId": 1, "brokerHost": "10.0.0.1", "brokerPort": 9092, "rackId": "r1"}, http.StatusCreated, "")
	c.Must(t, lead, "POST", "/v1/brokers", map[string]any{"brokerId": 2, "brokerHost": "10.0.0.2", "brokerPort": 9092, "rackId": "r2"}, http.StatusCreated, "")
	c.Must(t, lead, "POST", "/v1/topics", map[string]any{"name": "orders", "partitions": 3, "replicationFactor": 2}, http.StatusCreated, "")
	// A follower serves the page: its broker table is relayed from the
	// leader and its records come from its own commit stream.
	var follower uint64
	for _, id := range c.IDs() {
		if id != lead {
			follower = id
			break
		}
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // as root in CI, and no user namespaces in containers
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1100),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	// Start the browser and its tab first: Console sees messages only
	// from then on.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	var (
		mu       sync.Mutex
		problems []string
	)
	consoleCtx, stopConsole := context.WithCancel(bctx)
	consoleDone := make(chan struct{})
	messages := chromedp.Console(consoleCtx)
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			t.Logf("browser console: %s (%s:%d)", m, m.URL, m.Line)
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	defer func() { stopConsole(); <-consoleDone }()

	url := c.URL(follower) + "/ui"
	if err := chromedp.Do(bctx,
		chromedp.Navigate(url),
		// Loaded: the quorum table has the three voters, the stream is
		// open, and the topic made before the page is listed.
		chromedp.WaitVisible(chromedp.CSS(`#voters tbody tr:nth-child(3)`)),
		chromedp.WaitVisible(chromedp.CSS(`#live.on`)),
		chromedp.WaitVisible(chromedp.CSS(`#topics tr[data-topic="orders"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#brokers tbody tr:nth-child(2)`)),
	); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}

	const topic = "dashboard-live-topic"
	c.Must(t, lead, "POST", "/v1/topics", map[string]any{"name": topic, "partitions": 4, "replicationFactor": 2}, http.StatusCreated, "")
	created := time.Now()
	shownCtx, cancelShown := context.WithTimeout(bctx, 2*time.Second)
	err = chromedp.Do(shownCtx, chromedp.WaitVisible(chromedp.CSS(`#topics tr[data-topic="`+topic+`"]`)))
	cancelShown()
	if err != nil {
		t.Fatalf("topic %q not shown on the page within 2 s of its create's answer: %v", topic, err)
	}
	t.Logf("topic shown %v after its create was answered", time.Since(created).Round(time.Millisecond))
	row, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#topics tr[data-topic="`+topic+`"]`)))
	if err != nil {
		t.Fatalf("read the topic's row: %v", err)
	}
	if !strings.Contains(row, "4") {
		t.Errorf("topic row %q: want its 4 partitions", row)
	}
	// The record stream showed the TopicRecord too.
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS(`#records tbody tr`))); err != nil {
		t.Fatalf("records table: %v", err)
	}
	records, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#records tbody`)))
	if err != nil {
		t.Fatalf("read the records table: %v", err)
	}
	if !strings.Contains(records, "TopicRecord") || !strings.Contains(records, topic) {
		t.Errorf("records table lacks the new topic's TopicRecord:\n%s", records)
	}

	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(png))
	}
	shot := filepath.Join(artifactDir(t), "dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot of %s: %s", url, shot)

	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("console errors on the dashboard:\n%s", strings.Join(problems, "\n"))
	}
}
