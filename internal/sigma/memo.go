package sigma

import "hash/maphash"

// memoMinKeywordLen is the shortest value the prefilter remembers when only the keyword
// automaton scans it: shorter ones go through the keyword screen about as fast as they hash.
// Values a field automaton scans are remembered whatever their length: a memo hit does not
// touch the automaton's tables at all.
const memoMinKeywordLen = 32

const (
	memoSlots    = 1 << 12 // entries, in pairs (see memo)
	memoMaxBytes = 1 << 18 // bytes of values kept; the memo starts afresh beyond
	memoMaxHits  = 1 << 15 // rule literal groups kept
	memoMaxLen   = memoMaxBytes / 8
)

// memo remembers, per automaton pair and value, the rule literal groups the prefilter scan of
// the value satisfied (see Matcher.scanField), so that a value met again is not scanned
// again. It is a two-way table: each value has a pair of places, a new value takes the first
// and pushes the value there to the second. Values and literal groups are copied into the memo's own arenas, which are
// dropped together with the table when they fill up.
type memo struct {
	seed    maphash.Seed
	entries []memoEntry
	vals    []byte
	hits    []uint32
	gen     uint32 // counts the resets: slices of hits from an earlier generation are stale
}

type memoEntry struct {
	hash       uint64 // 0: empty
	id         uint64 // the automata that scanned the value
	vOff, vLen uint32
	hOff, hLen uint32
}

// find returns the slot of (id, v), its hash, and whether the slot holds them.
func (c *memo) find(id uint64, v string) (*memoEntry, uint64, bool) {
	if c.entries == nil {
		c.seed = maphash.MakeSeed()
		c.entries = make([]memoEntry, memoSlots)
		c.vals = make([]byte, 0, memoMaxBytes)
		c.hits = make([]uint32, 0, memoMaxHits)
	}
	h := (maphash.String(c.seed, v) ^ (id * 0x9E3779B97F4A7C15)) | 1
	i := h & (memoSlots - 1) &^ 1
	a, b := &c.entries[i], &c.entries[i+1]
	if c.holds(a, h, id, v) {
		return a, h, true
	}
	if c.holds(b, h, id, v) {
		return b, h, true
	}
	// A miss: the value will take the first place of its pair, and the value there moves
	// to the second (unless the first is free).
	if a.hash != 0 {
		*b = *a
	}
	return a, h, false
}

// holds reports whether entry e holds (id, v) of hash h.
func (c *memo) holds(e *memoEntry, h, id uint64, v string) bool {
	return e.hash == h && e.id == id && int(e.vLen) == len(v) && string(c.vals[e.vOff:e.vOff+e.vLen]) == v
}

// store fills slot e (returned by find with hash h) with id, v and the literal groups v
// satisfied, and reports whether it did.
func (c *memo) store(e *memoEntry, h, id uint64, v string, hits []uint32) bool {
	if len(hits) > memoMaxHits/8 {
		return false // rare and large: not worth a place
	}
	if len(c.vals)+len(v) > memoMaxBytes || len(c.hits)+len(hits) > memoMaxHits {
		clear(c.entries)
		c.vals, c.hits = c.vals[:0], c.hits[:0]
		c.gen++
	}
	e.hash, e.id = h, id
	e.vOff, e.vLen = uint32(len(c.vals)), uint32(len(v))
	c.vals = append(c.vals, v...)
	e.hOff, e.hLen = uint32(len(c.hits)), uint32(len(hits))
	c.hits = append(c.hits, hits...)
	return true
}

// hitsOf returns the literal groups kept in e.
func (c *memo) hitsOf(e *memoEntry) []uint32 {
	return c.hits[e.hOff : e.hOff+e.hLen]
}
