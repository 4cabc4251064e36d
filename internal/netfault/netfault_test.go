package netfault_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/netfault"
)

func TestAddressBook(t *testing.T) {
	c := newCluster(t, 3, true)
	links := c.net.Links()
	if len(links) != 6 {
		t.Fatalf("got %d links, want 6: %v", len(links), links)
	}
	seen := make(map[string]netfault.Link)
	for i, l := range links {
		if i > 0 && (links[i-1].From > l.From || links[i-1].From == l.From && links[i-1].To >= l.To) {
			t.Fatalf("links not sorted: %v", links)
		}
		addr := c.net.Addr(l.From, l.To)
		if prev, dup := seen[addr]; dup {
			t.Fatalf("links %v and %v share proxy %s", prev, l, addr)
		}
		seen[addr] = l
	}
	for from := uint64(1); from <= 3; from++ {
		book := c.net.AddressBook(from)
		for to := uint64(1); to <= 3; to++ {
			want := c.servers[to].ln.Addr().String()
			if from != to {
				want = c.net.Addr(from, to)
			}
			if book[to] != want {
				t.Errorf("AddressBook(%d)[%d] = %q, want %q", from, to, book[to], want)
			}
		}
	}
}

func TestForwardEveryLink(t *testing.T) {
	c := newCluster(t, 3, true)
	for _, l := range c.net.Links() {
		conn := c.dial(t, l.From, l.To)
		msg := fmt.Sprintf("hello %v", l)
		write(t, conn, msg)
		readExactly(t, conn, msg)
		// The counter follows the write, so it may lag the echo.
		waitFor(t, fmt.Sprintf("link %v to count %d bytes", l, 2*len(msg)), func() bool {
			return c.net.LinkStats(l.From, l.To).BytesForwarded == 2*int64(len(msg))
		})
	}
}

// TestHalfClose: a client's FIN reaches the server, the server's reply and
// FIN come back, and the proxied connection is then gone.
func TestHalfClose(t *testing.T) {
	c := newCluster(t, 2, true)
	conn := c.dial(t, 1, 2)
	write(t, conn, "last words")
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != "last words" {
		t.Fatalf("read %q, %v; want the echo, then EOF", got, err)
	}
}

func TestDropBlackholesBothDirections(t *testing.T) {
	c := newCluster(t, 2, false)
	conn := c.dial(t, 1, 2)
	write(t, conn, "before")
	srv := c.servers[2].next(t)
	srv.expect(t, "before")

	c.net.Drop(1, 2)
	write(t, conn, "during") // the sender sees no error
	waitFor(t, "the proxy to discard the client's bytes", func() bool {
		return c.net.LinkStats(1, 2).BytesBlackholed >= int64(len("during"))
	})
	write(t, srv, "reply")
	waitFor(t, "the proxy to discard the server's bytes", func() bool {
		return c.net.LinkStats(1, 2).BytesBlackholed >= int64(len("during")+len("reply"))
	})
	srv.nothingReceived(t)

	c.net.Heal(1, 2)
	// The stream lost bytes both ways: both ends are closed, and the
	// client never sees "reply".
	expectBroken(t, conn)
	srv.expectClosed(t)
	srv.nothingReceived(t)
	if got := c.net.LinkStats(1, 2).HealCloses; got != 1 {
		t.Errorf("HealCloses = %d, want 1", got)
	}

	again := c.dial(t, 1, 2)
	write(t, again, "after")
	c.servers[2].next(t).expect(t, "after")
}

// TestDropAcceptsButNeverConnects: a connection made while dropped looks
// established to the dialer but never reaches the target, and Heal closes
// it, since its connect was lost.
func TestDropAcceptsButNeverConnects(t *testing.T) {
	c := newCluster(t, 2, false)
	c.net.Drop(1, 2)
	conn := c.dial(t, 1, 2)
	write(t, conn, "hello?")
	waitFor(t, "the proxy to discard the bytes", func() bool {
		return c.net.LinkStats(1, 2).BytesBlackholed >= int64(len("hello?"))
	})
	c.servers[2].noneAccepted(t)

	c.net.Heal(1, 2)
	expectBroken(t, conn)
	c.servers[2].noneAccepted(t)

	again := c.dial(t, 1, 2)
	write(t, again, "hello")
	c.servers[2].next(t).expect(t, "hello")
}

// TestHealKeepsIdleConnection: a connection that lost nothing has no hole
// and survives Drop and Heal.
func TestHealKeepsIdleConnection(t *testing.T) {
	c := newCluster(t, 2, false)
	conn := c.dial(t, 1, 2)
	write(t, conn, "a")
	srv := c.servers[2].next(t)
	srv.expect(t, "a")

	c.net.Drop(1, 2)
	c.net.Heal(1, 2)
	write(t, conn, "b")
	srv.expect(t, "b")
	if got := c.net.Stats().HealCloses; got != 0 {
		t.Errorf("HealCloses = %d, want 0", got)
	}
}

func TestOneWay(t *testing.T) {
	c := newCluster(t, 2, true)
	c.net.OneWay(1, 2)
	if !c.net.Dropped(1, 2) || c.net.Dropped(2, 1) {
		t.Fatalf("Dropped(1,2)=%v Dropped(2,1)=%v, want true false", c.net.Dropped(1, 2), c.net.Dropped(2, 1))
	}
	back := c.dial(t, 2, 1)
	write(t, back, "2 to 1")
	readExactly(t, back, "2 to 1")

	there := c.dial(t, 1, 2)
	write(t, there, "1 to 2")
	waitFor(t, "1→2 to discard", func() bool {
		return c.net.LinkStats(1, 2).BytesBlackholed >= int64(len("1 to 2"))
	})
	c.servers[2].noneAccepted(t)
}

func TestReachability(t *testing.T) {
	groupOf := func(groups ...[]uint64) func(uint64) int {
		return func(id uint64) int {
			for g, ids := range groups {
				for _, x := range ids {
					if x == id {
						return g
					}
				}
			}
			return -int(id) // alone
		}
	}
	sameGroup := func(groups ...[]uint64) func(i, j uint64) bool {
		g := groupOf(groups...)
		return func(i, j uint64) bool { return g(i) == g(j) }
	}
	for _, tc := range []struct {
		name  string
		apply func(*netfault.Network)
		want  func(from, to uint64) bool // from→to delivers
	}{
		{
			name:  "minority/majority",
			apply: func(n *netfault.Network) { n.Partition([]uint64{1, 2}, []uint64{3, 4, 5}) },
			want:  sameGroup([]uint64{1, 2}, []uint64{3, 4, 5}),
		},
		{
			name:  "unlisted nodes are alone",
			apply: func(n *netfault.Network) { n.Partition([]uint64{1, 2, 3}) },
			want:  sameGroup([]uint64{1, 2, 3}),
		},
		{
			name: "partition replaces earlier drops",
			apply: func(n *netfault.Network) {
				n.Isolate(1)
				n.OneWay(4, 5)
				n.Partition([]uint64{1, 2, 3, 4, 5})
			},
			want: func(uint64, uint64) bool { return true },
		},
		{
			name:  "isolate",
			apply: func(n *netfault.Network) { n.Isolate(3) },
			want:  func(i, j uint64) bool { return i != 3 && j != 3 },
		},
		{
			name: "isolate adds up",
			apply: func(n *netfault.Network) {
				n.Isolate(3)
				n.Isolate(5)
			},
			want: func(i, j uint64) bool { return i != 3 && j != 3 && i != 5 && j != 5 },
		},
		{
			name:  "one way",
			apply: func(n *netfault.Network) { n.OneWay(2, 4) },
			want:  func(i, j uint64) bool { return i != 2 || j != 4 },
		},
		{
			name:  "bridge",
			apply: func(n *netfault.Network) { n.Bridge([]uint64{1, 2}, []uint64{4, 5}, 3) },
			want: func(i, j uint64) bool {
				g := groupOf([]uint64{1, 2}, []uint64{4, 5})
				return i == 3 || j == 3 || g(i) == g(j)
			},
		},
		{
			name: "heal all",
			apply: func(n *netfault.Network) {
				n.Bridge([]uint64{1, 2}, []uint64{4, 5}, 3)
				n.HealAll()
			},
			want: func(uint64, uint64) bool { return true },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 5, true)
			tc.apply(c.net)
			for _, l := range c.net.Links() {
				want := tc.want(l.From, l.To)
				if got := !c.net.Dropped(l.From, l.To); got != want {
					t.Errorf("link %v: reachable=%v, want %v", l, got, want)
					continue
				}
				conn := c.dial(t, l.From, l.To)
				probe := fmt.Sprintf("probe %v", l)
				write(t, conn, probe)
				if want {
					readExactly(t, conn, probe)
					continue
				}
				waitFor(t, fmt.Sprintf("link %v to discard the probe", l), func() bool {
					return c.net.LinkStats(l.From, l.To).BytesBlackholed >= int64(len(probe))
				})
				if got := c.net.LinkStats(l.From, l.To).BytesForwarded; got != 0 {
					t.Errorf("link %v: forwarded %d bytes, want 0", l, got)
				}
			}
		})
	}
}

func TestDelay(t *testing.T) {
	const d = 100 * time.Millisecond
	c := newCluster(t, 2, false)
	c.net.SetDelay(1, 2, d, 0)
	conn := c.dial(t, 1, 2)
	srv := c.servers[2].next(t)
	sent := time.Now()
	write(t, conn, "slow")
	if took := srv.expect(t, "slow").Sub(sent); took < d {
		t.Fatalf("chunk arrived %v after it was sent, want at least %v", took, d)
	}
	// The proxy counts a chunk just after writing it, as forwarded and
	// then as delayed (two counters: wait for both).
	waitFor(t, "the delayed bytes counted", func() bool {
		s := c.net.LinkStats(1, 2)
		return s.BytesForwarded == int64(len("slow")) && s.BytesDelayed == int64(len("slow"))
	})

	c.net.SetDelay(1, 2, 0, 0)
	write(t, conn, "fast")
	srv.expect(t, "fast")
	waitFor(t, "the undelayed bytes counted", func() bool { return c.net.LinkStats(1, 2).BytesForwarded == int64(len("slowfast")) })
	if s := c.net.LinkStats(1, 2); s.BytesDelayed != int64(len("slow")) {
		t.Fatalf("stats %+v: bytes sent without a delay counted as delayed", s)
	}
}

// TestDelayJitterKeepsOrder: jitter larger than the delay still delivers
// every byte of a connection in order.
func TestDelayJitterKeepsOrder(t *testing.T) {
	c := newCluster(t, 2, true)
	c.net.SetAllDelay(5*time.Millisecond, 5*time.Millisecond)
	conn := c.dial(t, 1, 2)
	var want bytes.Buffer
	for i := range 200 {
		msg := fmt.Sprintf("<%d>", i)
		want.WriteString(msg)
		write(t, conn, msg)
	}
	readExactly(t, conn, want.String())
}

// TestDelayBoundedQueue: a reader that never reads holds the proxy to
// queueChunks chunks; the sender is pushed back by TCP, not by memory.
func TestDelayBoundedQueue(t *testing.T) {
	c := newCluster(t, 2, false)
	c.net.SetDelay(1, 2, time.Hour, 0)
	conn := c.dial(t, 1, 2)
	c.servers[2].next(t)
	// Write until the pipe is full: more than the queue and every socket
	// buffer can hold, so a write eventually blocks (deadline).
	conn.SetWriteDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 64<<10)
	var total int64
	for total < 1<<30 {
		n, err := conn.Write(buf)
		total += int64(n)
		if err != nil {
			break
		}
	}
	if total >= 1<<30 {
		t.Fatalf("wrote %d bytes into an hour's delay without blocking", total)
	}
}

func TestLossOneResets(t *testing.T) {
	c := newCluster(t, 2, true)
	c.net.SetLoss(1, 2, 1)
	conn := c.dial(t, 1, 2)
	srv := c.servers[2].next(t)
	write(t, conn, "doomed")
	expectBroken(t, conn)
	srv.expectClosed(t)
	srv.nothingReceived(t)
	if got := c.net.LinkStats(1, 2).LossResets; got != 1 {
		t.Errorf("LossResets = %d, want 1", got)
	}
	// The other direction's link is unaffected.
	back := c.dial(t, 2, 1)
	write(t, back, "fine")
	readExactly(t, back, "fine")
}

func TestLossZeroNeverResets(t *testing.T) {
	c := newCluster(t, 2, true)
	c.net.SetAllLoss(1)
	c.net.SetAllLoss(0)
	c.net.SetAllDelay(time.Millisecond, time.Millisecond)
	conn := c.dial(t, 1, 2)
	payload := make([]byte, 4<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range payload {
		payload[i] = byte(rng.Uint32())
	}
	errc := make(chan error, 1)
	go func() {
		_, err := conn.Write(payload)
		errc <- err
	}()
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("echoed payload differs")
	}
	if s := c.net.Stats(); s.LossResets != 0 {
		t.Errorf("LossResets = %d, want 0", s.LossResets)
	}
}

// TestSeedReplays: the same seed and the same sequence of chunks on a link
// reset the same connections.
func TestSeedReplays(t *testing.T) {
	seed := testSeed(t)
	run := func() string {
		checkGoroutines(t)
		srv := startServer(t, true)
		nw, err := netfault.NewNetwork(map[uint64]string{1: "127.0.0.1:1", 2: srv.ln.Addr().String()}, seed)
		if err != nil {
			t.Fatal(err)
		}
		defer nw.Close()
		nw.SetLoss(1, 2, 0.5)
		var outcomes []byte
		for range 40 {
			conn := dial(t, nw.Addr(1, 2))
			write(t, conn, "ping") // one chunk up; if it passes, one chunk down
			conn.SetReadDeadline(time.Now().Add(waitTimeout))
			buf := make([]byte, 4)
			if _, err := io.ReadFull(conn, buf); err == nil {
				outcomes = append(outcomes, '+')
			} else {
				outcomes = append(outcomes, '-')
			}
			conn.Close()
		}
		return string(outcomes)
	}
	first, second := run(), run()
	t.Logf("outcomes %s", first)
	if first != second {
		t.Fatalf("same seed, different resets:\n%s\n%s", first, second)
	}
}

func TestDialErrorResetsClient(t *testing.T) {
	checkGoroutines(t)
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	goneAddr := gone.Addr().String()
	gone.Close()
	live := startServer(t, true)
	nw, err := netfault.NewNetwork(map[uint64]string{1: live.ln.Addr().String(), 2: goneAddr}, testSeed(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nw.Close)
	// The reset may beat the dialer's own connect(2) back, so either the
	// dial or the first read fails.
	if conn, err := net.DialTimeout("tcp", nw.Addr(1, 2), waitTimeout); err == nil {
		defer conn.Close()
		expectBroken(t, conn)
	}
	if got := nw.LinkStats(1, 2).DialErrors; got != 1 {
		t.Errorf("DialErrors = %d, want 1", got)
	}
}

// TestClose: Close ends every connection, whatever state it is in, and
// every goroutine (checkGoroutines, in newCluster), and stops listening.
func TestClose(t *testing.T) {
	c := newCluster(t, 3, false)
	idle := c.dial(t, 1, 2)
	c.servers[2].next(t)

	c.net.SetDelay(2, 3, time.Hour, 0)
	delayed := c.dial(t, 2, 3)
	write(t, delayed, "never delivered")
	c.servers[3].next(t)

	c.net.Drop(3, 1)
	blackholed := c.dial(t, 3, 1)
	write(t, blackholed, "into the void")
	waitFor(t, "3→1 to discard", func() bool { return c.net.LinkStats(3, 1).BytesBlackholed > 0 })

	c.net.Close()
	for _, conn := range []net.Conn{idle, delayed, blackholed} {
		expectBroken(t, conn)
	}
	for _, l := range c.net.Links() {
		if conn, err := net.DialTimeout("tcp", c.net.Addr(l.From, l.To), time.Second); err == nil {
			conn.Close()
			t.Errorf("link %v still accepts connections after Close", l)
		}
	}
	c.net.Close() // idempotent
}

func TestNewNetworkRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		targets map[uint64]string
	}{
		{"one node", map[uint64]string{1: "127.0.0.1:1"}},
		{"empty address", map[uint64]string{1: "127.0.0.1:1", 2: ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if nw, err := netfault.NewNetwork(tc.targets, 1); err == nil {
				nw.Close()
				t.Fatal("NewNetwork succeeded, want an error")
			}
		})
	}
}
