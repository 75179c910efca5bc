package sigma

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Pattern shapes, chosen at compile time so that the common cases avoid the general glob loop.
const (
	patExact    = iota // no wildcards
	patPrefix          // lit*
	patSuffix          // *lit
	patContains        // *lit*
	patPreSuf          // a*b
	patAny             // *
	patGlob            // anything else
)

// pattern is a compiled Sigma string. Unless cased, its literals are lower-case and it must be
// matched against lower-cased values.
type pattern struct {
	kind  uint8
	cased bool
	a, b  string
	toks  sigmaString // patGlob
}

func compilePattern(s sigmaString, cased bool) pattern {
	s = s.normalize()
	if !cased {
		s = s.mapLiterals(func(l string) string { return string(appendLower(nil, l)) })
	}
	p := pattern{cased: cased, toks: s}
	n := len(s)
	isLit := func(i int) bool { return i >= 0 && i < n && s[i].kind == tokLit }
	isStar := func(i int) bool { return i >= 0 && i < n && s[i].kind == tokStar }
	switch {
	case n == 0:
		p.kind = patExact
	case n == 1 && isLit(0):
		p.kind, p.a = patExact, s[0].s
	case n == 1 && isStar(0):
		p.kind = patAny
	case n == 2 && isLit(0) && isStar(1):
		p.kind, p.a = patPrefix, s[0].s
	case n == 2 && isStar(0) && isLit(1):
		p.kind, p.a = patSuffix, s[1].s
	case n == 3 && isStar(0) && isLit(1) && isStar(2):
		p.kind, p.a = patContains, s[1].s
	case n == 3 && isLit(0) && isStar(1) && isLit(2):
		p.kind, p.a, p.b = patPreSuf, s[0].s, s[2].s
	default:
		p.kind = patGlob
	}
	return p
}

func (p *pattern) match(v string) bool {
	switch p.kind {
	case patExact:
		return v == p.a
	case patPrefix:
		return strings.HasPrefix(v, p.a)
	case patSuffix:
		return strings.HasSuffix(v, p.a)
	case patContains:
		return strings.Contains(v, p.a)
	case patPreSuf:
		return len(v) >= len(p.a)+len(p.b) && strings.HasPrefix(v, p.a) && strings.HasSuffix(v, p.b)
	case patAny:
		return true
	}
	return globMatch(p.toks, v)
}

// globMatch matches v against tokens with '*' and '?' ('?' is one UTF-8 character). It is the
// classic single-backtrack-point algorithm: a later star subsumes every earlier one.
func globMatch(toks sigmaString, v string) bool {
	ti, si := 0, 0
	starTi, starSi := -1, 0
	for {
		if ti < len(toks) {
			t := toks[ti]
			switch t.kind {
			case tokStar:
				if ti+1 == len(toks) {
					return true
				}
				starTi, starSi = ti, si
				ti++
				if next := toks[ti]; next.kind == tokLit {
					idx := strings.Index(v[si:], next.s)
					if idx < 0 {
						return false
					}
					starSi = si + idx
					si = starSi + len(next.s)
					ti++
				}
				continue
			case tokOne:
				if si < len(v) {
					_, n := utf8.DecodeRuneInString(v[si:])
					si += n
					ti++
					continue
				}
			case tokLit:
				if strings.HasPrefix(v[si:], t.s) {
					si += len(t.s)
					ti++
					continue
				}
			}
		} else if si == len(v) {
			return true
		}
		if starTi < 0 || starSi >= len(v) {
			return false
		}
		// Let the last star absorb one more character and retry.
		_, n := utf8.DecodeRuneInString(v[starSi:])
		starSi += n
		si = starSi
		ti = starTi + 1
		if next := toks[ti]; next.kind == tokLit {
			idx := strings.Index(v[si:], next.s)
			if idx < 0 {
				return false
			}
			starSi = si + idx
			si = starSi + len(next.s)
			ti++
		}
	}
}

// literalFragments returns the lower-case literal fragments a value must contain to match p, as
// prefilter candidates: a fragment anchored at the start of the value carries a leading
// markStart byte and one anchored at the end a trailing markEnd byte. It is empty when the value
// need not contain anything (for example "*").
func (p *pattern) literalFragments() []string {
	var frags []string
	toks := p.toks
	var cur strings.Builder
	start := true // current fragment is anchored at the value start
	for i, t := range toks {
		switch t.kind {
		case tokLit:
			if cur.Len() == 0 && start && i == 0 {
				cur.WriteByte(markStart)
			}
			if p.cased {
				cur.Write(appendLower(nil, t.s))
			} else {
				cur.WriteString(t.s)
			}
		default:
			if cur.Len() > 0 {
				frags = append(frags, cur.String())
				cur.Reset()
			}
			start = false
		}
	}
	if len(toks) == 0 {
		return []string{string([]byte{markStart, markEnd})}
	}
	if cur.Len() > 0 || (len(toks) > 0 && toks[len(toks)-1].kind == tokLit) {
		cur.WriteByte(markEnd)
		frags = append(frags, cur.String())
	}
	return frags
}

// Prefilter anchor bytes: the prefilter scans each value as markStart+value+markEnd, so a
// fragment that must sit at the start (end) of a value carries markStart (markEnd).
const (
	markStart = 0x00
	markEnd   = 0x01
)

// minIndexedPatterns is the shortest list of plain patterns (exact, prefix, suffix) that
// newPatternIndex indexes: below it, trying each pattern is as fast.
const minIndexedPatterns = 16

// patternIndex matches a long OR of patterns: exact values by one set lookup, prefixes and
// suffixes by one lookup per distinct length, a long list of contains patterns by one scan
// (see containsSet), the other patterns one by one.
type patternIndex struct {
	exact    map[string]struct{}
	prefix   map[string]struct{}
	suffix   map[string]struct{}
	preLens  []int // distinct prefix lengths, ascending
	sufLens  []int
	contains *containsSet
	patterns []pattern // the others
}

// newPatternIndex indexes pats, or returns nil when too few are plain or contains patterns.
func newPatternIndex(pats []pattern) *patternIndex {
	plain := 0
	var lits []string
	for i := range pats {
		switch {
		case pats[i].kind == patExact, pats[i].kind == patPrefix, pats[i].kind == patSuffix:
			plain++
		case inContainsSet(&pats[i]):
			lits = append(lits, pats[i].a)
		}
	}
	x := &patternIndex{exact: map[string]struct{}{}, prefix: map[string]struct{}{}, suffix: map[string]struct{}{}}
	if len(lits) >= minContainsSet {
		x.contains = newContainsSet(lits)
	}
	if plain < minIndexedPatterns && x.contains == nil {
		return nil
	}
	for _, p := range pats {
		switch {
		case x.contains != nil && inContainsSet(&p):
		case plain < minIndexedPatterns:
			x.patterns = append(x.patterns, p)
		case p.kind == patExact:
			x.exact[p.a] = struct{}{}
		case p.kind == patPrefix:
			if _, ok := x.prefix[p.a]; !ok {
				x.prefix[p.a] = struct{}{}
				x.preLens = append(x.preLens, len(p.a))
			}
		case p.kind == patSuffix:
			if _, ok := x.suffix[p.a]; !ok {
				x.suffix[p.a] = struct{}{}
				x.sufLens = append(x.sufLens, len(p.a))
			}
		default:
			x.patterns = append(x.patterns, p)
		}
	}
	slices.Sort(x.preLens)
	x.preLens = slices.Compact(x.preLens)
	slices.Sort(x.sufLens)
	x.sufLens = slices.Compact(x.sufLens)
	return x
}

// inContainsSet reports whether p is a contains pattern a containsSet can hold.
func inContainsSet(p *pattern) bool {
	return p.kind == patContains && len(p.a) >= containsWindow
}

// match reports whether v matches one of the patterns.
func (x *patternIndex) match(v string) bool {
	if len(x.exact) > 0 {
		if _, ok := x.exact[v]; ok {
			return true
		}
	}
	for _, n := range x.sufLens {
		if n > len(v) {
			break
		}
		if _, ok := x.suffix[v[len(v)-n:]]; ok {
			return true
		}
	}
	for _, n := range x.preLens {
		if n > len(v) {
			break
		}
		if _, ok := x.prefix[v[:n]]; ok {
			return true
		}
	}
	for i := range x.patterns {
		if x.patterns[i].match(v) {
			return true
		}
	}
	return x.contains != nil && x.contains.match(v)
}
