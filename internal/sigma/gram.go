package sigma

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
)

// gramSet finds which of a set of literals occur in a text, like an automaton, without its
// chain of dependent table loads: each literal has an anchor, a window of four bytes of it
// (two for literals of two or three bytes, one for literals of one byte; see anchorWindow),
// and the anchors are bits in a small table indexed by a hash of the window. A scan looks up
// the window at every position of the text, lookups that do not depend on each other (the CPU
// overlaps their cache misses, where an automaton waits for each), and only on a set bit
// compares the literals anchored there with the text around the window. It reports exactly
// the literals that occur, where an automaton with shared byte classes reports a superset.
//
// A large rule set's command-line literals need an automaton of megabytes, far more than the
// CPU caches hold, which a scan walks at a cache miss per byte; their gram set takes a few
// hundred kilobytes, of which a scan mostly reads the bit table (tens of kilobytes).
type gramSet struct {
	lits []string // lower-case; literal k is output slot k of the literal index
	// Literals of four bytes or more: one bit per anchor, at windowHash(window) in a table of a
	// power of two bits (the hash's low bits).
	quad bitIndex
	// Shorter literals: one bit per pair of bytes (pair = b0 | b1<<8) that anchors one, in a
	// table of 1<<16 bits (pairBits; nil when no literal is that short). A literal of one
	// byte b is anchored by every pair (b, x).
	pair     bitIndex
	pairBits *[1 << 16 / 64]uint64
}

// bitTable is a table of a power of two of bits, and per word the number of set bits in the
// words before it: the rank of a set bit is the index of its first entry in the table's list.
type bitTable struct {
	bits  []uint64 // one word of no bits when there are no anchors
	ranks []uint32
}

// lookup reports whether bit b (masked to the table) is set, and its rank (in a bitIndex, the
// index of its first entry).
func (t *bitTable) lookup(b uint32) (uint32, bool) {
	w := (b >> 6) & uint32(len(t.bits)-1)
	x := t.bits[w]
	if x>>(b&63)&1 == 0 {
		return 0, false
	}
	return t.ranks[w] + uint32(bits.OnesCount64(x&(1<<(b&63)-1))), true
}

// bitIndex is a bit table with, per set bit, a list of anchored literals.
type bitIndex struct {
	bitTable
	// ents[k] is the first literal of the k-th set bit; the others follow its next chain.
	ents []gramEntry
}

// gramEntry is a literal of at most maxGramLiteral bytes (lo: its first eight, hi: the
// others, zero-padded) anchored by the window at offset off of it.
type gramEntry struct {
	lo       uint64
	hi       uint32
	lit      int32
	next     int32 // the next literal with the same bit, or -1
	off, len uint8
}

// maxGramLiteral is the longest literal a gram set holds.
const maxGramLiteral = 12

// gramPad is the number of bytes a gram scan's buffer must have after the text: windows are
// read eight bytes at a time, and literals compared twelve bytes at a time.
const gramPad = maxGramLiteral

const gramMul = 0x9E3779B1

// windowHash is the bit of a four-byte window (little-endian) in a gram or contains table of
// at most 1<<windowHashBits bits; a smaller table takes the hash's low bits. The shift is a
// constant so that a scan needs no shift count of its own.
func windowHash(g uint32) uint32 { return (g * gramMul) >> (32 - windowHashBits) }

const windowHashBits = 18

// newGramSet builds the gram set of lower-case literals (non-empty, distinct, at most
// maxGramLiteral bytes each); nil when one is longer.
func newGramSet(lits []string) *gramSet {
	for _, l := range lits {
		if len(l) == 0 || len(l) > maxGramLiteral {
			return nil
		}
	}
	gs := &gramSet{lits: lits}
	// How many literals hold each window: a window many literals share is a common part of
	// the values they are looked for in (".exe" at the end of an image, "md5=" in hashes),
	// a poor anchor.
	shared := map[uint32]int{}
	var seen []uint32
	for _, l := range lits {
		seen = seen[:0]
		for i := 0; i+4 <= len(l); i++ {
			g := binary.LittleEndian.Uint32([]byte(l[i : i+4]))
			if !slices.Contains(seen, g) {
				seen = append(seen, g)
				shared[g]++
			}
		}
	}
	// The same for the pairs of the short literals (" -c", " -d" and " -e" share " -").
	sharedPairs := map[uint16]int{}
	for _, l := range lits {
		if len(l) < 2 || len(l) >= 4 {
			continue
		}
		var seenPairs [2]uint16
		for i := 0; i+2 <= len(l); i++ {
			p := uint16(l[i]) | uint16(l[i+1])<<8
			if !slices.Contains(seenPairs[:i], p) {
				seenPairs[i] = p
				sharedPairs[p]++
			}
		}
	}
	entry := func(id, off int) gramEntry {
		var b [maxGramLiteral]byte
		l := lits[id]
		copy(b[:], l)
		return gramEntry{
			lo: binary.LittleEndian.Uint64(b[:8]), hi: binary.LittleEndian.Uint32(b[8:]),
			lit: int32(id), off: uint8(off), len: uint8(len(l)),
		}
	}
	var quads, pairs []placedEntry
	for id, l := range lits {
		switch {
		case len(l) >= 4:
			off := anchorWindow(l, 4, func(i int) int {
				return shared[binary.LittleEndian.Uint32([]byte(l[i:i+4]))]
			})
			g := binary.LittleEndian.Uint32([]byte(l[off : off+4]))
			quads = append(quads, placedEntry{g, entry(id, off)})
		case len(l) >= 2:
			off := anchorWindow(l, 2, func(i int) int {
				p := uint16(l[i]) | uint16(l[i+1])<<8
				if commonPairs[p] {
					return sharedPairs[p] + commonPairPenalty
				}
				return sharedPairs[p]
			})
			pairs = append(pairs, placedEntry{uint32(l[off]) | uint32(l[off+1])<<8, entry(id, off)})
		default:
			for x := range uint32(256) {
				pairs = append(pairs, placedEntry{uint32(l[0]) | x<<8, entry(id, 0)})
			}
		}
	}
	// About sixteen bits per anchor: a window that is no anchor finds its bit set one time in
	// sixteen or less. Without anchors, a table has one word of no bits.
	logBits := 6
	if len(quads) > 0 {
		logBits = 10
		for logBits < 18 && 1<<logBits < 16*len(quads) {
			logBits++
		}
	}
	for i := range quads {
		quads[i].bit = windowHash(quads[i].bit) & (1<<logBits - 1)
	}
	gs.quad = newBitIndex(logBits, quads)
	logBits = 6
	if len(pairs) > 0 {
		logBits = 16
	}
	gs.pair = newBitIndex(logBits, pairs)
	if len(pairs) > 0 {
		gs.pairBits = (*[1 << 16 / 64]uint64)(gs.pair.bits)
	}
	return gs
}

// commonPairs marks the pairs of bytes of the common fragments of event values (".exe", "c:\"):
// a short literal anchored by one ("ex" of "iex", ":\" of "d:\") would be compared with the
// text at nearly every path. anchorWindow counts such a pair as shared by commonPairPenalty
// more literals, which makes any other pair of the literal the better anchor.
var commonPairs = func() map[uint16]bool {
	m := map[uint16]bool{}
	for _, f := range commonFragments {
		for i := 0; i+2 <= len(f); i++ {
			m[uint16(f[i])|uint16(f[i+1])<<8] = true
		}
	}
	return m
}()

const commonPairPenalty = 1 << 10

// placedEntry is an entry of a bitIndex under construction, and its bit.
type placedEntry = placed[gramEntry]

// placed is an entry of a bit table under construction (see chainByBit), and its bit.
type placed[E any] struct {
	bit uint32
	e   E
}

// newBitIndex builds a bit table of 1<<logBits bits from its entries.
func newBitIndex(logBits int, ps []placedEntry) bitIndex {
	slices.SortFunc(ps, func(x, y placedEntry) int {
		if x.bit != y.bit {
			return cmp.Compare(x.bit, y.bit)
		}
		return cmp.Compare(x.e.lit, y.e.lit)
	})
	table, ents := chainByBit(logBits, ps, func(e *gramEntry) *int32 { return &e.next })
	return bitIndex{table, ents}
}

// chainByBit lays out entries sorted by bit as a table of 1<<logBits bits, with the bits of
// the entries set, and the entries, the first of each bit at the bit's rank and the others
// chained to it through next (-1 ends a chain).
func chainByBit[E any](logBits int, ps []placed[E], next func(*E) *int32) (bitTable, []E) {
	words := make([]uint64, (1<<logBits)/64)
	ranks := make([]uint32, len(words))
	ents := make([]E, 0, len(ps))
	var extra []placed[E]
	last := map[uint32]int32{} // bit -> its last entry so far
	for i, p := range ps {
		if i > 0 && p.bit == ps[i-1].bit {
			extra = append(extra, p)
			continue
		}
		words[p.bit>>6] |= 1 << (p.bit & 63)
		last[p.bit] = int32(len(ents))
		*next(&p.e) = -1
		ents = append(ents, p.e)
	}
	for _, p := range extra {
		j := int32(len(ents))
		*next(&ents[last[p.bit]]) = j
		last[p.bit] = j
		*next(&p.e) = -1
		ents = append(ents, p.e)
	}
	n := uint32(0)
	for w := range words {
		ranks[w] = n
		n += uint32(bits.OnesCount64(words[w]))
	}
	return bitTable{words, ranks}, ents
}

// anchorWindow returns the offset of the best window of n bytes of literal l to anchor it
// by: the one the fewest literals of the set share (shared(i) for the window at i), then the
// one whose bytes are the rarest in event text (see textRank; a byte of a common fragment,
// see commonFragments, counts as the most frequent). Ties go to the last window.
func anchorWindow(l string, n int, shared func(i int) int) int {
	var coveredBuf [64]bool
	covered := coveredBuf[:0]
	if len(l) <= len(coveredBuf) {
		covered = coveredBuf[:len(l)]
	} else {
		covered = make([]bool, len(l))
	}
	markCommon(l, covered)
	rarity := func(i int) int {
		switch c := l[i]; {
		case covered[i]:
			return 0
		case c == markStart || c == markEnd:
			return len(textFrequency) / 2
		case c >= 0x80:
			return len(textFrequency) + 1
		default:
			return textRank[c] + 1
		}
	}
	best, bestScore := 0, math.MinInt
	for i := 0; i+n <= len(l); i++ {
		s := -sharedPenalty * bits.Len(uint(shared(i)))
		for j := i; j < i+n; j++ {
			s += rarity(j)
		}
		if s >= bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

// sharedPenalty weighs, in anchorWindow, each doubling of the literals sharing a window
// against the rarity of its bytes.
const sharedPenalty = 40

// memory returns the approximate size of the gram set in bytes.
func (gs *gramSet) memory() int {
	size := 0
	for _, bi := range []*bitIndex{&gs.quad, &gs.pair} {
		size += 12*len(bi.bits) + 32*len(bi.ents)
	}
	for _, l := range gs.lits {
		size += 16 + len(l)
	}
	return size
}

// find calls report(lit) for the literals occurring in text buf[:n] (each at least once);
// buf holds gramPad more bytes, of any value. It looks the windows of 64 positions up at a
// time, without branches (a command line holds literals at every few positions: a branch per
// position would be mispredicted often), into a mask of the positions whose bit is set in
// either table, then verifies these in order. The mask is built by shifting it left a place
// per position, so that the loop's only variable shifts are the two table bits': position
// base+j is bit cnt-1-j of the mask of cnt positions.
func (gs *gramSet) find(buf []byte, n int, report func(lit int32)) {
	buf = buf[:n+gramPad]
	quad := gs.quad.bits
	if len(quad) == 0 {
		return // no literals
	}
	qm := uint32(len(quad) - 1)
	pair := gs.pairBits
	for base := 0; base < n; base += 64 {
		end := min(base+64, n)
		var mask uint64
		if pair != nil {
			mask = quadPairMask(quad, qm, pair, buf[base:end+3])
		} else {
			mask = quadMask(quad, qm, buf[base:end+3])
		}
		top := end - 64 // the position of mask bit 63
		for mask != 0 {
			z := bits.LeadingZeros64(mask)
			mask &^= 1 << (63 - z)
			i := top + z
			g := binary.LittleEndian.Uint32(buf[i:])
			if k, ok := gs.quad.lookup(windowHash(g)); ok {
				gs.quad.verify(buf, n, i, k, report)
			}
			if pair != nil {
				if k, ok := gs.pair.lookup(g & 0xffff); ok {
					gs.pair.verify(buf, n, i, k, report)
				}
			}
		}
	}
}

// quadPairMask returns the mask of the windows of w (the windows at w[0:len(w)-3], at most
// 64) whose bit is set in the quad table or the pair table, the first window's the highest
// bit. It is a function of its own so that the compiler keeps its loop's few values in
// registers.
//
//go:noinline
func quadPairMask(quad []uint64, qm uint32, pair *[1 << 16 / 64]uint64, w []byte) uint64 {
	var mask uint64
	for i := 3; i < len(w); i++ {
		g := uint32(w[i-3]) | uint32(w[i-2])<<8 | uint32(w[i-1])<<16 | uint32(w[i])<<24
		h := windowHash(g)
		b := quad[(h>>6)&qm]>>(h&63) | pair[(g>>6)&(1<<16/64-1)]>>(g&63)
		mask = mask<<1 | b&1
	}
	return mask
}

// quadMask is quadPairMask without a pair table.
//
//go:noinline
func quadMask(quad []uint64, qm uint32, w []byte) uint64 {
	var mask uint64
	for i := 3; i < len(w); i++ {
		h := windowHash(uint32(w[i-3]) | uint32(w[i-2])<<8 | uint32(w[i-1])<<16 | uint32(w[i])<<24)
		mask = mask<<1 | quad[(h>>6)&qm]>>(h&63)&1
	}
	return mask
}

// byteMasks[k] keeps the first k bytes of a little-endian word.
var byteMasks = [9]uint64{0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff, ^uint64(0)}

// verify reports the literals of entry k and its chain that occur in text buf[:n] (followed
// by gramPad bytes) with their window at position i.
func (bi *bitIndex) verify(buf []byte, n, i int, k uint32, report func(lit int32)) {
	for j := int32(k); j >= 0; {
		e := &bi.ents[j]
		j = e.next
		l := int(e.len)
		p := i - int(e.off)
		if p < 0 || p+l > n {
			continue
		}
		w0 := binary.LittleEndian.Uint64(buf[p:])
		w1 := uint64(binary.LittleEndian.Uint32(buf[p+8:]))
		if (w0^e.lo)&byteMasks[min(l, 8)] == 0 && (w1^uint64(e.hi))&byteMasks[max(l-8, 0)] == 0 {
			report(e.lit)
		}
	}
}
