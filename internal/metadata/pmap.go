package metadata

import "math/bits"

// pmap is a persistent hash map: a hash array mapped trie (HAMT) with 32-way
// nodes over 64-bit hashes. A pmap value is immutable from the outside: set
// and del return a new pmap that shares every node off the changed path
// with the old one, so an update costs O(log32 n) node copies instead of a
// copy of the map.
//
// Transient updates: a node records the edit token it was created under.
// An update made with the same non-nil token changes such a node in place
// instead of copying it again, so a run of updates under one token (a batch
// replayed by a Delta) copies each node at most once. NB: whoever holds a
// token must retire it (stop using it) before a pmap built under it is
// shared, or later updates would show through; Delta does this in Apply
// and at the start of every batch.
//
// Hashes are deterministic (FNV-1a and a splitmix64 finalizer), but no
// iteration order leaks: callers sort what they emit. Keys whose 64-bit
// hashes collide share a list at the bottom of the trie; lookups there are
// linear in the number of colliding keys only.
type pmap[K comparable, V any] struct {
	root *hnode[K, V]
	len  int
}

// edit is an ownership token. It must not be zero-sized: distinct
// zero-sized allocations may share an address.
type edit struct{ _ byte }

// hnode is a trie node. Above depth 13 (shift < 64) bitmap says which of
// the 32 slots are present and kids holds them in slot order; at shift >= 64
// the node is a collision list (bitmap unused) of leaves with equal hashes.
type hnode[K comparable, V any] struct {
	edit   *edit
	bitmap uint32
	kids   []hentry[K, V]
}

// hentry is a subtree (sub != nil) or a leaf.
type hentry[K comparable, V any] struct {
	sub  *hnode[K, V]
	hash uint64
	key  K
	val  V
}

const (
	hbits = 5
	hmask = 1<<hbits - 1
)

func slot(h uint64, shift uint) (bit uint32) { return 1 << ((h >> shift) & hmask) }

func (n *hnode[K, V]) pos(bit uint32) int { return bits.OnesCount32(n.bitmap & (bit - 1)) }

// Len is the number of keys.
func (m pmap[K, V]) Len() int { return m.len }

func (m pmap[K, V]) get(h uint64, k K) (V, bool) {
	n := m.root
	for shift := uint(0); n != nil; shift += hbits {
		if shift >= 64 {
			for i := range n.kids {
				if n.kids[i].key == k {
					return n.kids[i].val, true
				}
			}
			break
		}
		bit := slot(h, shift)
		if n.bitmap&bit == 0 {
			break
		}
		e := &n.kids[n.pos(bit)]
		if e.sub == nil {
			if e.hash == h && e.key == k {
				return e.val, true
			}
			break
		}
		n = e.sub
	}
	var zero V
	return zero, false
}

// set returns m with k = v. ed may be nil (always copy).
func (m pmap[K, V]) set(ed *edit, h uint64, k K, v V) pmap[K, V] {
	root, added := hset(m.root, ed, 0, hentry[K, V]{hash: h, key: k, val: v})
	m.root = root
	if added {
		m.len++
	}
	return m
}

// del returns m without k.
func (m pmap[K, V]) del(ed *edit, h uint64, k K) pmap[K, V] {
	root, removed := hdel(m.root, ed, 0, h, k)
	if removed {
		m.root = root
		m.len--
	}
	return m
}

// each calls f for every entry, in no particular order.
func (m pmap[K, V]) each(f func(K, V)) {
	if m.root != nil {
		m.root.each(f)
	}
}

func (n *hnode[K, V]) each(f func(K, V)) {
	for i := range n.kids {
		if e := &n.kids[i]; e.sub != nil {
			e.sub.each(f)
		} else {
			f(e.key, e.val)
		}
	}
}

// writable returns n itself if it was created under ed, else a copy owned
// by ed. extra reserves capacity for insertions.
func (n *hnode[K, V]) writable(ed *edit, extra int) *hnode[K, V] {
	if ed != nil && n.edit == ed {
		return n
	}
	kids := make([]hentry[K, V], len(n.kids), len(n.kids)+extra)
	copy(kids, n.kids)
	return &hnode[K, V]{edit: ed, bitmap: n.bitmap, kids: kids}
}

func (n *hnode[K, V]) insertAt(ed *edit, i int, e hentry[K, V]) *hnode[K, V] {
	n = n.writable(ed, 1)
	var zero hentry[K, V]
	n.kids = append(n.kids, zero)
	copy(n.kids[i+1:], n.kids[i:])
	n.kids[i] = e
	return n
}

func (n *hnode[K, V]) removeAt(ed *edit, i int) *hnode[K, V] {
	n = n.writable(ed, 0)
	copy(n.kids[i:], n.kids[i+1:])
	n.kids[len(n.kids)-1] = hentry[K, V]{} // drop references for the GC
	n.kids = n.kids[:len(n.kids)-1]
	return n
}

func hset[K comparable, V any](n *hnode[K, V], ed *edit, shift uint, leaf hentry[K, V]) (*hnode[K, V], bool) {
	if n == nil {
		nn := &hnode[K, V]{edit: ed, kids: []hentry[K, V]{leaf}}
		if shift < 64 {
			nn.bitmap = slot(leaf.hash, shift)
		}
		return nn, true
	}
	if shift >= 64 {
		for i := range n.kids {
			if n.kids[i].key == leaf.key {
				n = n.writable(ed, 0)
				n.kids[i] = leaf
				return n, false
			}
		}
		return n.insertAt(ed, len(n.kids), leaf), true
	}
	bit := slot(leaf.hash, shift)
	pos := n.pos(bit)
	if n.bitmap&bit == 0 {
		n = n.insertAt(ed, pos, leaf)
		n.bitmap |= bit
		return n, true
	}
	e := &n.kids[pos]
	switch {
	case e.sub != nil:
		sub, added := hset(e.sub, ed, shift+hbits, leaf)
		if sub != e.sub {
			n = n.writable(ed, 0)
			n.kids[pos].sub = sub
		}
		return n, added
	case e.hash == leaf.hash && e.key == leaf.key:
		n = n.writable(ed, 0)
		n.kids[pos] = leaf
		return n, false
	default:
		sub := hpair(ed, shift+hbits, *e, leaf)
		n = n.writable(ed, 0)
		n.kids[pos] = hentry[K, V]{sub: sub}
		return n, true
	}
}

// hpair builds the subtree at shift holding two leaves with distinct keys.
func hpair[K comparable, V any](ed *edit, shift uint, a, b hentry[K, V]) *hnode[K, V] {
	if shift >= 64 {
		return &hnode[K, V]{edit: ed, kids: []hentry[K, V]{a, b}}
	}
	ba, bb := slot(a.hash, shift), slot(b.hash, shift)
	switch {
	case ba == bb:
		return &hnode[K, V]{edit: ed, bitmap: ba, kids: []hentry[K, V]{{sub: hpair(ed, shift+hbits, a, b)}}}
	case ba < bb:
		return &hnode[K, V]{edit: ed, bitmap: ba | bb, kids: []hentry[K, V]{a, b}}
	default:
		return &hnode[K, V]{edit: ed, bitmap: ba | bb, kids: []hentry[K, V]{b, a}}
	}
}

// hdel removes k below n. It returns the new node (nil when it became
// empty) and whether k was there; when it was not, n is returned as is.
func hdel[K comparable, V any](n *hnode[K, V], ed *edit, shift uint, h uint64, k K) (*hnode[K, V], bool) {
	if n == nil {
		return nil, false
	}
	if shift >= 64 {
		for i := range n.kids {
			if n.kids[i].key == k {
				if len(n.kids) == 1 {
					return nil, true
				}
				return n.removeAt(ed, i), true
			}
		}
		return n, false
	}
	bit := slot(h, shift)
	if n.bitmap&bit == 0 {
		return n, false
	}
	pos := n.pos(bit)
	e := &n.kids[pos]
	if e.sub != nil {
		sub, removed := hdel(e.sub, ed, shift+hbits, h, k)
		switch {
		case !removed:
			return n, false
		case sub == nil:
			// fall through to remove the slot
		case len(sub.kids) == 1 && sub.kids[0].sub == nil:
			// A lone leaf moves up: its hash still selects this slot.
			n = n.writable(ed, 0)
			n.kids[pos] = sub.kids[0]
			return n, true
		default:
			if sub != e.sub {
				n = n.writable(ed, 0)
				n.kids[pos].sub = sub
			}
			return n, true
		}
	} else if e.hash != h || e.key != k {
		return n, false
	}
	if len(n.kids) == 1 {
		return nil, true
	}
	n = n.removeAt(ed, pos)
	n.bitmap &^= bit
	return n, true
}

// hashString is FNV-1a 64 followed by a finalizer that spreads it to
// every bit (the trie indexes by the low bits first).
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}

func hashInt(v int64) uint64 { return mix64(uint64(v)) }

// mix64 is splitmix64's finalizer: a bijection, so distinct ints never
// collide.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// pmapOf builds the map holding es (keys distinct, hashes set, any order;
// es is not modified). Unlike a run of set calls it sizes every node
// exactly: a node grown by insertions keeps the spare capacity append gave
// it, which for a topic's partitions is about one leaf in three. Its nodes
// have no edit token, so later updates copy them as usual.
func pmapOf[K comparable, V any](es []hentry[K, V]) pmap[K, V] {
	var scratch []hpos
	return pmapBuild(es, &scratch)
}

// pmapBuild is pmapOf with its scratch in *scratch, grown as needed, so a
// caller building many maps reuses one.
//
// It orders the entries' hashes (with their positions in es: no entry is
// moved until it is placed) by trie path, counts the nodes and slots the
// trie needs, then builds it into one slab of nodes and one of slots. Two
// allocations per map instead of two per node make a bulk load cheap for
// the allocator and the collector. The slabs stay alive while any node of
// the map as built is referenced, so after later updates have replaced
// most of its nodes (path copies never write into the slabs: their nodes
// have no edit token) the replaced ones are kept until the last goes.
// That waste is at most the map's size as built, and only maps built here
// have slabs, so it does not grow with updates.
func pmapBuild[K comparable, V any](es []hentry[K, V], scratch *[]hpos) pmap[K, V] {
	n := len(es)
	if n == 0 {
		return pmap[K, V]{}
	}
	if cap(*scratch) < 2*n {
		*scratch = make([]hpos, 2*n)
	}
	ps, tmp := (*scratch)[:n], (*scratch)[n:2*n]
	for i := range es {
		ps[i] = hpos{h: es[i].hash, i: int32(i)}
	}
	hsort(ps, tmp, 0)
	nodes, slots := hcount(ps, 0)
	b := hfiller[K, V]{es: es, nodes: make([]hnode[K, V], nodes), slots: make([]hentry[K, V], slots)}
	return pmap[K, V]{root: b.fill(ps, 0), len: n}
}

// hpos is an entry's hash and its position in the entries being built.
type hpos struct {
	h uint64
	i int32
}

// hsort orders ps, whose hashes agree below shift, by their path in the
// trie, stably: by the slot at shift, then at shift+hbits, and so on, so
// every subtree's leaves are contiguous. Long runs take a counting sort by
// slot through tmp (as long as ps) per level, short ones an insertion
// sort on the whole path.
func hsort(ps, tmp []hpos, shift uint) {
	if shift >= 64 {
		return // equal hashes
	}
	if len(ps) <= 24 {
		for i := 1; i < len(ps); i++ {
			for j := i; j > 0 && trieLess(ps[j].h, ps[j-1].h, shift); j-- {
				ps[j], ps[j-1] = ps[j-1], ps[j]
			}
		}
		return
	}
	var counts [1 << hbits]int
	for _, p := range ps {
		counts[p.h>>shift&hmask]++
	}
	var pos [1 << hbits]int
	sum := 0
	for d, c := range counts {
		pos[d] = sum
		sum += c
	}
	for _, p := range ps {
		d := p.h >> shift & hmask
		tmp[pos[d]] = p
		pos[d]++
	}
	copy(ps, tmp)
	start := 0
	for _, c := range counts {
		if c > 1 {
			hsort(ps[start:start+c], tmp[start:start+c], shift+hbits)
		}
		start += c
	}
}

// trieLess reports whether hash a comes before b in the trie below shift:
// at the first level from shift where their slots differ, a's is lower.
func trieLess(a, b uint64, shift uint) bool {
	x := (a ^ b) >> shift
	if x == 0 {
		return false
	}
	d := uint(bits.TrailingZeros64(x)) / hbits * hbits
	return a>>shift>>d&hmask < b>>shift>>d&hmask
}

// run is the end of the run of ps starting at start whose slot at shift
// is the same.
func run(ps []hpos, start int, shift uint) int {
	d := ps[start].h >> shift & hmask
	end := start + 1
	for end < len(ps) && ps[end].h>>shift&hmask == d {
		end++
	}
	return end
}

// hcount is how many nodes and slots the trie over ps (in hsort's order)
// has below shift.
func hcount(ps []hpos, shift uint) (nodes, slots int) {
	if shift >= 64 {
		return 1, len(ps) // a collision list
	}
	nodes = 1
	for start := 0; start < len(ps); {
		end := run(ps, start, shift)
		slots++
		if end-start > 1 {
			n, s := hcount(ps[start:end], shift+hbits)
			nodes += n
			slots += s
		}
		start = end
	}
	return nodes, slots
}

// hfiller builds a trie from entries hsort ordered, taking its nodes and
// slots from slabs of exactly the size hcount counted.
type hfiller[K comparable, V any] struct {
	es    []hentry[K, V]
	nodes []hnode[K, V]
	slots []hentry[K, V]
}

func (b *hfiller[K, V]) kids(n int) []hentry[K, V] {
	k := b.slots[:n:n]
	b.slots = b.slots[n:]
	return k
}

// fill builds the node at shift over ps. A slot with one leaf keeps it as
// a leaf, as hset and hdel do.
func (b *hfiller[K, V]) fill(ps []hpos, shift uint) *hnode[K, V] {
	n := &b.nodes[0]
	b.nodes = b.nodes[1:]
	if shift >= 64 {
		n.kids = b.kids(len(ps))
		for k, p := range ps {
			n.kids[k] = b.es[p.i]
		}
		return n
	}
	groups := 0
	for start := 0; start < len(ps); groups++ {
		start = run(ps, start, shift)
	}
	n.kids = b.kids(groups)
	k := 0
	for start := 0; start < len(ps); k++ {
		end := run(ps, start, shift)
		if end-start == 1 {
			n.kids[k] = b.es[ps[start].i]
		} else {
			n.kids[k] = hentry[K, V]{sub: b.fill(ps[start:end], shift+hbits)}
		}
		n.bitmap |= 1 << (ps[start].h >> shift & hmask)
		start = end
	}
	return n
}
