package sigma

import (
	"cmp"
	"slices"
)

// minContainsSet is the shortest list of contains literals (of at least containsWindow
// bytes) that newPatternIndex gives a containsSet: below it, one strings.Contains per
// literal (a vectorised search each) is as fast as one scan of the value.
const minContainsSet = 24

// containsWindow is the length of the window of a literal that anchors it in a containsSet.
const containsWindow = 4

// containsSet matches a long OR of contains patterns (*lit*) with one pass over the value
// instead of one search per literal: a rule with thousands of hashes in one list otherwise
// searches each value thousands of times. Each literal has an anchor, a window of four of its
// bytes that few other literals share (see anchorWindow), and the anchors are bits in a
// table indexed by a hash of the window. The pass looks up the window at every position of
// the value, and only on a set bit compares the literals anchored there with the value
// around the window. Every literal must be at least containsWindow bytes long.
type containsSet struct {
	table bitTable // bit of window g: windowHash(g), masked to the table
	// ents[k] is the first literal of the k-th set bit; the others follow its next chain.
	ents   []containsEntry
	minLen int
}

// containsEntry is a literal anchored by the window at offset off of it.
type containsEntry struct {
	lit  string
	off  int32
	next int32 // the next literal with the same bit, or -1
}

// newContainsSet builds the set of lits, each at least containsWindow bytes long.
func newContainsSet(lits []string) *containsSet {
	lits = slices.Clone(lits)
	slices.Sort(lits)
	lits = slices.Compact(lits)
	// How many literals hold each window: a window many literals share ("md5=" in hashes)
	// is a poor anchor.
	shared := map[uint32]int{}
	var seen []uint32
	for _, l := range lits {
		seen = seen[:0]
		for i := 0; i+containsWindow <= len(l); i++ {
			if g := load32(l[i:]); !slices.Contains(seen, g) {
				seen = append(seen, g)
				shared[g]++
			}
		}
	}
	// About sixteen bits per anchor: a window that is no anchor finds its bit set one time
	// in sixteen or less.
	logBits := 10
	for logBits < windowHashBits && 1<<logBits < 16*len(lits) {
		logBits++
	}
	cs := &containsSet{minLen: len(lits[0])}
	mask := uint32(1<<logBits - 1)
	var ps []placed[containsEntry]
	for _, l := range lits {
		cs.minLen = min(cs.minLen, len(l))
		off := anchorWindow(l, containsWindow, func(i int) int { return shared[load32(l[i:])] })
		ps = append(ps, placed[containsEntry]{windowHash(load32(l[off:])) & mask, containsEntry{lit: l, off: int32(off)}})
	}
	slices.SortStableFunc(ps, func(x, y placed[containsEntry]) int { return cmp.Compare(x.bit, y.bit) })
	cs.table, cs.ents = chainByBit(logBits, ps, func(e *containsEntry) *int32 { return &e.next })
	return cs
}

// load32 reads the first four bytes of s as a little-endian word.
func load32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// match reports whether v holds one of the literals.
func (cs *containsSet) match(v string) bool {
	if len(v) < cs.minLen {
		return false
	}
	for i := 0; i+containsWindow <= len(v); i++ {
		r, ok := cs.table.lookup(windowHash(load32(v[i:])))
		if !ok {
			continue
		}
		k := int32(r)
		for ; k >= 0; k = cs.ents[k].next {
			e := &cs.ents[k]
			p := i - int(e.off)
			if p >= 0 && p+len(e.lit) <= len(v) && v[p:p+len(e.lit)] == e.lit {
				return true
			}
		}
	}
	return false
}
