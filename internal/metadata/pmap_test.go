package metadata

import (
	"maps"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// checkTrie verifies the trie's shape: bitmaps match kids, no empty
// nodes, every leaf where its hash says, the count right.
func checkTrie[K comparable, V any](t *testing.T, m pmap[K, V], hash func(K) uint64) {
	t.Helper()
	count := 0
	var walk func(n *hnode[K, V], shift uint, prefix uint64)
	walk = func(n *hnode[K, V], shift uint, prefix uint64) {
		if len(n.kids) == 0 {
			t.Fatalf("empty node at shift %d", shift)
		}
		// Below the root, a lone leaf belongs in its parent's slot.
		if shift > 0 && len(n.kids) == 1 && n.kids[0].sub == nil {
			t.Fatalf("node at shift %d holds a single leaf", shift)
		}
		if shift >= 64 {
			for _, e := range n.kids {
				if e.sub != nil || hash(e.key) != n.kids[0].hash {
					t.Fatalf("collision node holds a subtree or unequal hashes")
				}
				count++
			}
			return
		}
		if bits.OnesCount32(n.bitmap) != len(n.kids) {
			t.Fatalf("bitmap %b has %d bits, node %d kids", n.bitmap, bits.OnesCount32(n.bitmap), len(n.kids))
		}
		i := 0
		for s := range uint64(32) {
			if n.bitmap&(1<<s) == 0 {
				continue
			}
			e := n.kids[i]
			i++
			p := prefix | s<<shift
			if e.sub != nil {
				walk(e.sub, shift+hbits, p)
				continue
			}
			if e.hash != hash(e.key) {
				t.Fatalf("leaf hash is stale")
			}
			if mask := uint64(1)<<min(shift+hbits, 63) - 1; shift+hbits < 64 && e.hash&mask != p {
				t.Fatalf("leaf %v with hash %x sits at prefix %x", e.key, e.hash, p)
			}
			count++
		}
	}
	if m.root != nil {
		walk(m.root, 0, 0)
	}
	if count != m.Len() {
		t.Fatalf("trie holds %d entries, Len() = %d", count, m.Len())
	}
}

func contents[K comparable, V any](m pmap[K, V]) map[K]V {
	out := map[K]V{}
	m.each(func(k K, v V) { out[k] = v })
	return out
}

func TestPmapAgainstMap(t *testing.T) {
	hashes := []struct {
		name string
		hash func(int64) uint64
	}{
		{"good hash", hashInt},
		{"low bits only (shallow collisions)", func(k int64) uint64 { return uint64(k) & 0xff }},
		{"high bits only (deep chains)", func(k int64) uint64 { return uint64(k) << 56 }},
		{"constant (full collisions)", func(int64) uint64 { return 42 }},
	}
	for _, h := range hashes {
		for _, transient := range []bool{false, true} {
			name := h.name
			if transient {
				name += ", transient"
			}
			t.Run(name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, 2))
				var m pmap[int64, int]
				want := map[int64]int{}
				// Versions frozen along the way must never change.
				type version struct {
					m    pmap[int64, int]
					want map[int64]int
				}
				var frozen []version
				ed := (*edit)(nil)
				if transient {
					ed = new(edit)
				}
				for i := range 3000 {
					k := int64(rng.IntN(300))
					if rng.IntN(3) == 0 {
						m = m.del(ed, h.hash(k), k)
						delete(want, k)
					} else {
						m = m.set(ed, h.hash(k), k, i)
						want[k] = i
					}
					v, ok := m.get(h.hash(k), k)
					if wv, wok := want[k]; ok != wok || v != wv {
						t.Fatalf("get(%d) = %d, %v after op %d; want %d, %v", k, v, ok, i, wv, wok)
					}
					if i%250 == 0 {
						checkTrie(t, m, h.hash)
						frozen = append(frozen, version{m, maps.Clone(want)})
						if transient {
							ed = new(edit) // retire the token, as Delta.Apply does
						}
					}
				}
				checkTrie(t, m, h.hash)
				if got := contents(m); !maps.Equal(got, want) {
					t.Fatalf("contents differ: %d entries, want %d", len(got), len(want))
				}
				for k := range int64(300) {
					v, ok := m.get(h.hash(k), k)
					wv, wok := want[k]
					if ok != wok || v != wv {
						t.Fatalf("get(%d) = %d, %v; want %d, %v", k, v, ok, wv, wok)
					}
				}
				for i, f := range frozen {
					if got := contents(f.m); !maps.Equal(got, f.want) || f.m.Len() != len(f.want) {
						t.Fatalf("frozen version %d changed", i)
					}
				}
				// Delete everything: back to an empty trie.
				for k := range int64(300) {
					m = m.del(ed, h.hash(k), k)
				}
				if m.root != nil || m.Len() != 0 {
					t.Fatalf("after deleting all: root %v, Len %d", m.root, m.Len())
				}
			})
		}
	}
}

func TestPmapNoopsKeepIdentity(t *testing.T) {
	var m pmap[string, int]
	for _, k := range []string{"a", "b", "c"} {
		m = m.set(nil, hashString(k), k, 1)
	}
	if got := m.del(nil, hashString("zz"), "zz"); got.root != m.root || got.Len() != 3 {
		t.Errorf("deleting a missing key copied the trie")
	}
	if got := m.set(nil, hashString("a"), "a", 2); got.Len() != 3 {
		t.Errorf("replacing a value changed Len to %d", got.Len())
	} else if v, _ := m.get(hashString("a"), "a"); v != 1 {
		t.Errorf("replacing a value in a copy changed the original")
	}
}

func TestHashStringSpreads(t *testing.T) {
	// Names differing only in their last character must land in different
	// root slots often enough for the trie to stay shallow.
	slots := map[uint64]bool{}
	for c := 'a'; c <= 'z'; c++ {
		slots[hashString("topic-"+string(c))&hmask] = true
	}
	if len(slots) < 12 {
		t.Errorf("26 similar names use only %d of 32 root slots", len(slots))
	}
}

// TestPmapOf: a bulk-built map holds the same entries as one built by
// set, is a valid trie with every node exactly sized, and takes further
// updates.
func TestPmapOf(t *testing.T) {
	hashes := map[string]func(int64) uint64{
		"good hash":                          hashInt,
		"low bits only (shallow collisions)": func(k int64) uint64 { return uint64(k) & 0xff },
		"high bits only (deep chains)":       func(k int64) uint64 { return uint64(k) << 56 },
		"constant (full collisions)":         func(int64) uint64 { return 42 },
	}
	for name, hash := range hashes {
		for _, n := range []int{0, 1, 2, 33, 1000} {
			rng := rand.New(rand.NewPCG(3, uint64(n)))
			want := map[int64]int{}
			var es []hentry[int64, int]
			for len(want) < n {
				k := int64(rng.IntN(10 * (n + 1)))
				if _, dup := want[k]; !dup {
					want[k] = len(want)
					es = append(es, hentry[int64, int]{hash: hash(k), key: k, val: want[k]})
				}
			}
			m := pmapOf(es)
			checkTrie(t, m, hash)
			if got := contents(m); !maps.Equal(got, want) {
				t.Fatalf("%s, %d keys: contents differ", name, n)
			}
			var tight func(n *hnode[int64, int])
			tight = func(n *hnode[int64, int]) {
				if cap(n.kids) != len(n.kids) {
					t.Fatalf("%s, %d keys: node of %d kids has capacity %d", name, len(n.kids), len(n.kids), cap(n.kids))
				}
				for _, e := range n.kids {
					if e.sub != nil {
						tight(e.sub)
					}
				}
			}
			if m.root != nil {
				tight(m.root)
			}
			ed := new(edit)
			for i := range 500 {
				k := int64(rng.IntN(10 * (n + 1)))
				if i%2 == 0 {
					m = m.del(ed, hash(k), k)
					delete(want, k)
				} else {
					m = m.set(ed, hash(k), k, -i)
					want[k] = -i
				}
			}
			checkTrie(t, m, hash)
			if got := contents(m); !maps.Equal(got, want) {
				t.Fatalf("%s, %d keys: contents differ after updates", name, n)
			}
		}
	}
}
