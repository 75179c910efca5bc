package sigma

import "strings"

// Lower-casing a value maps each of its characters to one character, and only the ASCII
// letters and some non-ASCII characters change: an ASCII byte that is not a letter is in the
// lower-cased value exactly where it is in the raw value (no other character lowers to it).
// Two savings follow for a list of case-insensitive patterns:
//
//   - patterns whose literals are all such bytes ("\\", ":\\") match the raw value exactly
//     when they match the lower-cased one: the value need not be lower-cased (caseless);
//   - a value that lacks the bytes of this kind that the patterns need cannot match: a
//     search for one or two bytes in the raw value (a byteGate) rules it out before it is
//     lower-cased and tried against each pattern. Most values of a field are ruled out by
//     the separator of a path, or the dot of a file name, they lack.

// caselessByte reports whether b is the same byte in a value and in its lower-cased form,
// and no other character lowers to it.
func caselessByte(b byte) bool {
	return b < 0x80 && !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z')
}

// caseless reports whether every literal byte of p is a caselessByte.
func (p *pattern) caseless() bool {
	for _, t := range p.toks {
		if t.kind != tokLit {
			continue
		}
		for i := 0; i < len(t.s); i++ {
			if !caselessByte(t.s[i]) {
				return false
			}
		}
	}
	return true
}

// byteGate is a necessary condition on a raw value for it to match a list of patterns: it
// holds one of n bytes (n = 0: no condition).
type byteGate struct {
	n uint8
	b [2]byte
}

// holds reports whether v may match.
func (g byteGate) holds(v string) bool {
	switch g.n {
	case 0:
		return true
	case 1:
		return strings.IndexByte(v, g.b[0]) >= 0
	}
	return strings.IndexByte(v, g.b[0]) >= 0 || strings.IndexByte(v, g.b[1]) >= 0
}

// newByteGate returns a gate of at most two bytes, each a byte the raw value must hold to
// match some of pats, together covering all of them; no gate (n = 0) when there is none.
// Among bytes that cover as many patterns, it prefers the rarest in event text.
func newByteGate(pats []pattern) byteGate {
	// needs[k] is the set of bytes pattern k needs in the raw value.
	needs := make([][256]bool, len(pats))
	for k := range pats {
		p := &pats[k]
		for _, t := range p.toks {
			if t.kind != tokLit {
				continue
			}
			for i := 0; i < len(t.s); i++ {
				// A case-sensitive pattern is matched against the raw value: it needs all
				// of its bytes there.
				if p.cased || caselessByte(t.s[i]) {
					needs[k][t.s[i]] = true
				}
			}
		}
	}
	var g byteGate
	left := make([]bool, len(pats)) // patterns not covered yet
	for k := range left {
		left[k] = true
	}
	for g.n < 2 {
		best, bestCover := -1, 0
		for b := 0; b < 256; b++ {
			cover := 0
			for k := range pats {
				if left[k] && needs[k][b] {
					cover++
				}
			}
			if cover > bestCover || cover == bestCover && cover > 0 && byteRarity(byte(b)) > byteRarity(byte(best)) {
				best, bestCover = b, cover
			}
		}
		if best < 0 {
			return byteGate{}
		}
		g.b[g.n] = byte(best)
		g.n++
		done := true
		for k := range pats {
			if needs[k][best] {
				left[k] = false
			}
			done = done && !left[k]
		}
		if done {
			return g
		}
	}
	return byteGate{}
}

// byteRarity ranks a byte by how rare it is in event text (see textRank): higher is rarer.
func byteRarity(b byte) int {
	if b >= 0x80 {
		return len(textFrequency) + 1
	}
	return textRank[b]
}
