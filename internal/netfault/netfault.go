package netfault

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// queueChunks bounds each direction's delay queue (see doc.go).
	queueChunks = 64
	// chunkBytes is the proxy's read size: the largest chunk.
	chunkBytes = 32 << 10
	// dialTimeout bounds the proxy's dial to a target.
	dialTimeout = 5 * time.Second
)

// Link names the directed link from → to: connections that from dials to
// reach to.
type Link struct {
	From, To uint64
}

func (l Link) String() string { return fmt.Sprintf("%d→%d", l.From, l.To) }

// Stats counts what the network did, per link or summed over links.
type Stats struct {
	Conns           int64 // connections accepted by the proxy
	BytesForwarded  int64 // bytes written on, both directions
	BytesDelayed    int64 // of BytesForwarded, those SetDelay held back (a drawn delay above zero)
	BytesBlackholed int64 // bytes read and discarded by Drop (or on a connection Heal is about to close)
	LossResets      int64 // connections reset by SetLoss
	HealCloses      int64 // connections closed by Heal because they lost data while dropped
	DialErrors      int64 // accepted connections whose dial to the target failed (closed with a reset)
}

func (s *Stats) add(o Stats) {
	s.Conns += o.Conns
	s.BytesForwarded += o.BytesForwarded
	s.BytesDelayed += o.BytesDelayed
	s.BytesBlackholed += o.BytesBlackholed
	s.LossResets += o.LossResets
	s.HealCloses += o.HealCloses
	s.DialErrors += o.DialErrors
}

// Network is a set of proxies, one per directed link between the nodes
// given to NewNetwork, and the faults applied to them. See the package doc.
type Network struct {
	targets map[uint64]string // node id -> real peer address; read-only
	links   map[Link]*link    // read-only after NewNetwork; link state is guarded by mu

	ctx    context.Context // cancelled by Close; aborts dials to targets
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the network started

	mu     sync.Mutex
	closed bool // guarded by mu; once set no goroutine or connection is added
}

// link is one proxy. Fields below mu are guarded by Network.mu.
type link struct {
	Link
	ln     net.Listener
	target string

	// counters, atomically updated, read by Stats.
	conns, forwarded, delayed, blackholed, resets, healCloses, dialErrors atomic.Int64

	dropped bool
	delay   time.Duration
	jitter  time.Duration
	loss    float64
	rng     *rand.Rand         // derived from the seed and the link, see linkRand
	live    map[*conn]struct{} // every connection not yet closed
}

// NewNetwork starts a proxy for every ordered pair of distinct ids in
// targets (node id -> that node's real peer listen address), each on
// 127.0.0.1:0, with no faults. seed drives every random draw (see the
// package doc); log it. It returns an error, with nothing left running, if
// a proxy cannot listen. The caller must Close the network.
func NewNetwork(targets map[uint64]string, seed int64) (*Network, error) {
	if len(targets) < 2 {
		return nil, errors.New("netfault: need at least two nodes")
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Network{
		targets: make(map[uint64]string, len(targets)),
		links:   make(map[Link]*link, len(targets)*(len(targets)-1)),
		ctx:     ctx,
		cancel:  cancel,
	}
	for id, addr := range targets {
		if addr == "" {
			cancel()
			return nil, fmt.Errorf("netfault: node %d has no address", id)
		}
		n.targets[id] = addr
	}
	for _, from := range n.ids() {
		for _, to := range n.ids() {
			if from == to {
				continue
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				n.Close()
				return nil, fmt.Errorf("netfault: listen for link %d→%d: %w", from, to, err)
			}
			l := &link{
				Link:   Link{From: from, To: to},
				ln:     ln,
				target: n.targets[to],
				rng:    linkRand(seed, from, to),
				live:   make(map[*conn]struct{}),
			}
			n.links[l.Link] = l
		}
	}
	for _, l := range n.links {
		n.wg.Add(1)
		go n.acceptLoop(l)
	}
	return n, nil
}

// linkRand derives a link's random source from the seed, so draws on one
// link do not depend on traffic elsewhere.
func linkRand(seed int64, from, to uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), from<<32^to^0x9e3779b97f4a7c15))
}

// ids returns the node ids in ascending order.
func (n *Network) ids() []uint64 {
	ids := make([]uint64, 0, len(n.targets))
	for id := range n.targets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// link returns the from→to link or panics: naming a link that does not
// exist is a bug in the test.
func (n *Network) link(from, to uint64) *link {
	l, ok := n.links[Link{From: from, To: to}]
	if !ok {
		panic(fmt.Sprintf("netfault: no link %d→%d", from, to))
	}
	return l
}

// Addr is the address from must dial to reach to: the from→to proxy.
func (n *Network) Addr(from, to uint64) string {
	return n.link(from, to).ln.Addr().String()
}

// AddressBook is the peer address map to configure node from with: every
// other node maps to its proxy, from itself to its real address.
func (n *Network) AddressBook(from uint64) map[uint64]string {
	if _, ok := n.targets[from]; !ok {
		panic(fmt.Sprintf("netfault: unknown node %d", from))
	}
	book := make(map[uint64]string, len(n.targets))
	for id, addr := range n.targets {
		if id == from {
			book[id] = addr
			continue
		}
		book[id] = n.Addr(from, id)
	}
	return book
}

// Links lists every link, ordered by From then To.
func (n *Network) Links() []Link {
	out := make([]Link, 0, len(n.links))
	for k := range n.links {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b Link) int {
		if a.From != b.From {
			return cmpUint(a.From, b.From)
		}
		return cmpUint(a.To, b.To)
	})
	return out
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Drop blackholes the from→to link (see the package doc); the reverse link
// is untouched. Dropping a dropped link does nothing.
func (n *Network) Drop(from, to uint64) {
	l := n.link(from, to)
	n.mu.Lock()
	l.dropped = true
	n.mu.Unlock()
}

// Heal lifts Drop on the from→to link and closes, on both sides, every
// connection on it that lost data while dropped. It returns once they are
// closed.
func (n *Network) Heal(from, to uint64) {
	n.setDrops(func(Link) (bool, bool) { return false, true }, n.link(from, to))
}

// HealAll heals every link. Delay and loss settings stay.
func (n *Network) HealAll() {
	n.setDrops(func(Link) (bool, bool) { return false, true })
}

// Dropped reports whether the from→to link is blackholed.
func (n *Network) Dropped(from, to uint64) bool {
	l := n.link(from, to)
	n.mu.Lock()
	defer n.mu.Unlock()
	return l.dropped
}

// OneWay drops from→to only: to's connections to from keep working. It is
// Drop under a name that says what the test means.
func (n *Network) OneWay(from, to uint64) { n.Drop(from, to) }

// Isolate drops every link to and from id, on top of whatever is already
// dropped.
func (n *Network) Isolate(id uint64) {
	if _, ok := n.targets[id]; !ok {
		panic(fmt.Sprintf("netfault: unknown node %d", id))
	}
	n.setDrops(func(l Link) (bool, bool) {
		return true, l.From == id || l.To == id
	})
}

// Partition splits the nodes into groups that cannot reach each other in
// either direction; nodes in no group are alone. It sets the drop state of
// every link: links within a group are healed (see Heal). Partition with
// one group of everyone is HealAll. An id in two groups or unknown panics.
func (n *Network) Partition(groups ...[]uint64) {
	group := n.groups(groups)
	n.setDrops(func(l Link) (bool, bool) {
		return group[l.From] != group[l.To], true
	})
}

// Bridge lets a and b each talk among themselves and to bridge, but not to
// each other: the classic non-transitive partition where bridge can see a
// quorum either way. Nodes named nowhere are isolated. Like Partition it
// sets every link.
func (n *Network) Bridge(a, b []uint64, bridge uint64) {
	group := n.groups([][]uint64{a, b, {bridge}})
	ga, gb, gbridge := group[a[0]], group[b[0]], group[bridge]
	n.setDrops(func(l Link) (bool, bool) {
		f, t := group[l.From], group[l.To]
		ok := f == t ||
			(f == gbridge && (t == ga || t == gb)) ||
			(t == gbridge && (f == ga || f == gb))
		return !ok, true
	})
}

// groups numbers each node by its group, 1-based; unlisted nodes get
// distinct numbers past the groups.
func (n *Network) groups(groups [][]uint64) map[uint64]int {
	group := make(map[uint64]int, len(n.targets))
	for g, ids := range groups {
		if len(ids) == 0 {
			panic("netfault: empty group")
		}
		for _, id := range ids {
			if _, ok := n.targets[id]; !ok {
				panic(fmt.Sprintf("netfault: unknown node %d", id))
			}
			if _, dup := group[id]; dup {
				panic(fmt.Sprintf("netfault: node %d in two groups", id))
			}
			group[id] = g + 1
		}
	}
	next := len(groups) + 1
	for _, id := range n.ids() {
		if _, ok := group[id]; !ok {
			group[id] = next
			next++
		}
	}
	return group
}

// setDrops sets dropped on every link in ls (all links if none) for which
// f says set, then closes the connections that lost data on links that
// are no longer dropped.
//
// NB: a reader or writer marks its connection damaged under mu in the
// same critical section in which it sees dropped, and never forwards for a
// damaged connection, so every connection that lost data is marked before
// the scan below sees dropped=false, and nothing after the hole is
// forwarded in the window before the close.
func (n *Network) setDrops(f func(Link) (drop, set bool), ls ...*link) {
	if len(ls) == 0 {
		for _, l := range n.links {
			ls = append(ls, l)
		}
	}
	var doomed []*conn
	n.mu.Lock()
	for _, l := range ls {
		drop, set := f(l.Link)
		if !set {
			continue
		}
		l.dropped = drop
		if drop {
			continue
		}
		for c := range l.live {
			if c.damaged {
				doomed = append(doomed, c)
			}
		}
	}
	n.mu.Unlock()
	for _, c := range doomed {
		c.close(false, &c.link.healCloses)
	}
}

// SetDelay delays chunks on the from→to link by d±jitter (see the package
// doc). Zero d and jitter turn delay off. Negative values panic.
func (n *Network) SetDelay(from, to uint64, d, jitter time.Duration) {
	n.setDelay(d, jitter, n.link(from, to))
}

// SetAllDelay is SetDelay on every link.
func (n *Network) SetAllDelay(d, jitter time.Duration) {
	n.setDelay(d, jitter, n.allLinks()...)
}

func (n *Network) setDelay(d, jitter time.Duration, ls ...*link) {
	if d < 0 || jitter < 0 {
		panic(fmt.Sprintf("netfault: negative delay %v±%v", d, jitter))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, l := range ls {
		l.delay, l.jitter = d, jitter
	}
}

// SetLoss makes each chunk on the from→to link reset its connection with
// probability p (see the package doc). 0 turns loss off; p outside [0, 1]
// panics.
func (n *Network) SetLoss(from, to uint64, p float64) {
	n.setLoss(p, n.link(from, to))
}

// SetAllLoss is SetLoss on every link.
func (n *Network) SetAllLoss(p float64) {
	n.setLoss(p, n.allLinks()...)
}

func (n *Network) setLoss(p float64, ls ...*link) {
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("netfault: loss probability %v outside [0, 1]", p))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, l := range ls {
		l.loss = p
	}
}

func (n *Network) allLinks() []*link {
	ls := make([]*link, 0, len(n.links))
	for _, l := range n.links {
		ls = append(ls, l)
	}
	return ls
}

// Stats sums every link's counters.
func (n *Network) Stats() Stats {
	var s Stats
	for _, l := range n.links {
		s.add(l.stats())
	}
	return s
}

// LinkStats returns the from→to link's counters.
func (n *Network) LinkStats(from, to uint64) Stats {
	return n.link(from, to).stats()
}

func (l *link) stats() Stats {
	return Stats{
		Conns:           l.conns.Load(),
		BytesForwarded:  l.forwarded.Load(),
		BytesDelayed:    l.delayed.Load(),
		BytesBlackholed: l.blackholed.Load(),
		LossResets:      l.resets.Load(),
		HealCloses:      l.healCloses.Load(),
		DialErrors:      l.dialErrors.Load(),
	}
}

// Close stops every proxy, closes every connection and waits for every
// goroutine the network started. Later calls do nothing; faults may still
// be set but have no effect.
func (n *Network) Close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		n.wg.Wait()
		return
	}
	n.closed = true
	var all []*conn
	for _, l := range n.links {
		for c := range l.live {
			all = append(all, c)
		}
	}
	n.mu.Unlock()
	n.cancel()
	for _, l := range n.links {
		l.ln.Close()
	}
	for _, c := range all {
		c.close(false, nil)
	}
	n.wg.Wait()
}

// acceptLoop runs until the listener closes, handing each connection to a
// goroutine of its own.
func (n *Network) acceptLoop(l *link) {
	defer n.wg.Done()
	for {
		client, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary (EMFILE and the like): back off rather than spin,
			// but notice Close.
			select {
			case <-n.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		l.conns.Add(1)
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			client.Close()
			return
		}
		n.wg.Add(1)
		n.mu.Unlock()
		go n.serve(l, client)
	}
}
