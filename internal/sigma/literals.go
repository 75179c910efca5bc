package sigma

import (
	"regexp/syntax"
	"slices"
	"strings"
	"unicode/utf8"
)

// A literal set is a list of lower-case byte strings of which at least one occurs in the
// prefilter text (markStart+lower(value)+markEnd, for every value of the record) whenever the
// rule can match. The engine only evaluates a rule when one of its literals was seen.

// minLiteralScore is the weakest literal set worth indexing; a rule whose best set is weaker is
// evaluated for every event of its log source.
const minLiteralScore = 3

// maxLiteralsPerRule bounds the literal set of one rule (the union of many alternatives).
const maxLiteralsPerRule = 4096

// literalScore estimates how selective a literal is: its length, where an anchor counts as a
// character, a digit counts for half (numbers are frequent in events) and a byte of a
// non-ASCII character for two (rare in most telemetry: one Cyrillic letter is selective).
func literalScore(s string) int {
	score := 0
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			digits++
			continue
		case c >= 0x80:
			score += 4
			continue
		}
		score += 2
	}
	score += digits // a digit is worth half a character
	return score / 2
}

func setScore(set []string) int {
	if len(set) == 0 {
		return 0
	}
	m := 1 << 30
	for _, s := range set {
		if sc := literalScore(s); sc < m {
			m = sc
		}
	}
	return m
}

// better reports whether literal set a is a better prefilter than b.
func better(a, b []string) bool {
	sa, sb := setScore(a), setScore(b)
	if sa != sb {
		return sa > sb
	}
	return len(a) < len(b)
}

// maxLiteralGroups bounds the literal groups of one rule (see literalPlan).
const maxLiteralGroups = 4

// literalPlan derives up to maxLiteralGroups literal sets that must all be satisfied (at
// least one literal of each set occurs) whenever node n matches: the children of an AND each
// contribute their own sets. ok is false when no usable set exists.
func literalPlan(n node) (groups [][]string, ok bool) {
	switch x := n.(type) {
	case *selNode:
		return literalPlan(x.kid)
	case *andNode:
		for _, k := range x.kids {
			if g, ok := literalPlan(k); ok {
				groups = append(groups, g...)
			}
		}
		if len(groups) == 0 {
			return nil, false
		}
		slices.SortStableFunc(groups, func(a, b []string) int {
			switch {
			case better(a, b):
				return -1
			case better(b, a):
				return 1
			}
			return 0
		})
		groups = slices.CompactFunc(groups, slices.Equal[[]string])
		if len(groups) > maxLiteralGroups {
			groups = groups[:maxLiteralGroups]
		}
		return groups, true
	}
	set, ok := literalSet(n)
	if !ok {
		return nil, false
	}
	return [][]string{set}, true
}

// literalSet derives the literals node n needs. ok is false when no usable set exists.
func literalSet(n node) (set []string, ok bool) {
	switch x := n.(type) {
	case *selNode:
		return literalSet(x.kid)
	case *andNode:
		var best []string
		found := false
		for _, k := range x.kids {
			if s, ok := literalSet(k); ok && (!found || better(s, best)) {
				best, found = s, true
			}
		}
		return best, found
	case *orNode:
		var union []string
		for _, k := range x.kids {
			s, ok := literalSet(k)
			if !ok {
				return nil, false
			}
			union = append(union, s...)
			if len(union) > maxLiteralsPerRule {
				return nil, false
			}
		}
		union = dedupStrings(union)
		return union, len(union) > 0 && setScore(union) >= minLiteralScore
	case *fieldCond:
		return x.literalSet()
	}
	return nil, false
}

func dedupStrings(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

func bestFragment(p *pattern) (string, bool) {
	best := ""
	for _, f := range p.literalFragments() {
		if literalScore(f) > literalScore(best) {
			best = f
		}
	}
	return best, literalScore(best) >= minLiteralScore
}

func (f *fieldCond) literalSet() ([]string, bool) {
	if f.neg {
		return nil, false
	}
	switch f.kind {
	case fcString:
		if f.all {
			var best []string
			found := false
			for gi := range f.groups {
				if s, ok := patternsLiterals(f.groups[gi]); ok && (!found || better(s, best)) {
					best, found = s, true
				}
			}
			return best, found
		}
		return patternsLiterals(f.pats)
	case fcRegex:
		if f.all {
			var best []string
			found := false
			for _, re := range f.res {
				if l, ok := regexLiteral(re.re.String()); ok {
					s := []string{l}
					if !found || better(s, best) {
						best, found = s, true
					}
				}
			}
			return best, found
		}
		var set []string
		for _, re := range f.res {
			l, ok := regexLiteral(re.re.String())
			if !ok {
				return nil, false
			}
			set = append(set, l)
		}
		set = dedupStrings(set)
		return set, len(set) > 0
	}
	return nil, false
}

// patternsLiterals is the union of the best fragment of each pattern (OR of patterns).
func patternsLiterals(pats []pattern) ([]string, bool) {
	if len(pats) == 0 || len(pats) > maxLiteralsPerRule {
		return nil, false
	}
	set := make([]string, 0, len(pats))
	for i := range pats {
		l, ok := bestFragment(&pats[i])
		if !ok {
			return nil, false
		}
		set = append(set, l)
	}
	return dedupStrings(set), true
}

// regexLiteral returns a lower-case literal every match of the expression contains, for the
// prefilter.
func regexLiteral(expr string) (string, bool) {
	lit, fold := regexRequiredLiteral(expr)
	if !fold {
		lit = lowerString(lit)
	}
	if strings.ContainsAny(lit, "\x00\x01") {
		return "", false
	}
	return lit, literalScore(lit) >= minLiteralScore
}

// regexRequiredLiteral finds the best literal every match of the expression contains. When
// fold is set the expression matches it case-insensitively and lit is lower-case; such
// literals are only returned when ASCII (simple case folding maps some other runes onto runes
// that lower-casing keeps apart, such as the final sigma).
func regexRequiredLiteral(expr string) (lit string, fold bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return "", false
	}
	re = re.Simplify()
	consider := func(r *syntax.Regexp) {
		s := string(r.Rune)
		f := r.Flags&syntax.FoldCase != 0
		if f {
			for _, c := range s {
				if c >= utf8.RuneSelf {
					return
				}
			}
			s = strings.ToLower(s)
		}
		if literalScore(s) > literalScore(lit) || (lit == "" && s != "") {
			lit, fold = s, f
		}
	}
	var visit func(r *syntax.Regexp)
	visit = func(r *syntax.Regexp) {
		switch r.Op {
		case syntax.OpLiteral:
			consider(r)
		case syntax.OpConcat:
			for _, s := range r.Sub {
				visit(s)
			}
		case syntax.OpCapture, syntax.OpPlus:
			visit(r.Sub[0])
		case syntax.OpRepeat:
			if r.Min >= 1 {
				visit(r.Sub[0])
			}
		}
	}
	visit(re)
	return lit, fold
}

// regexMinLen returns the minimum number of characters a match of the expression has.
func regexMinLen(expr string) int {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 0
	}
	var ml func(r *syntax.Regexp) int
	ml = func(r *syntax.Regexp) int {
		switch r.Op {
		case syntax.OpLiteral:
			return len(r.Rune)
		case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			return 1
		case syntax.OpCapture, syntax.OpPlus:
			return ml(r.Sub[0])
		case syntax.OpRepeat:
			return min(r.Min*ml(r.Sub[0]), 1<<20)
		case syntax.OpConcat:
			n := 0
			for _, s := range r.Sub {
				n = min(n+ml(s), 1<<20)
			}
			return n
		case syntax.OpAlternate:
			n := -1
			for _, s := range r.Sub {
				if m := ml(s); n < 0 || m < n {
					n = m
				}
			}
			return max(n, 0)
		}
		return 0
	}
	return ml(re)
}

// runGuard requires a run of at least min consecutive bytes from a set: a necessary condition
// for expressions such as [a-f0-9]{64}. Bytes >= 0x80 are members whenever the class has any
// non-ASCII rune, so the check stays necessary for UTF-8 text.
type runGuard struct {
	set [4]uint64
	min int
}

func (g *runGuard) has(b byte) bool { return g.set[b>>6]&(1<<(b&63)) != 0 }

func (g *runGuard) holds(v string) bool {
	run := 0
	for i := 0; i < len(v); i++ {
		if g.has(v[i]) {
			if run++; run >= g.min {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// minRunGuard is the shortest run worth a guard.
const minRunGuard = 8

// regexRunGuard finds the longest required repetition of a character class in the expression.
func regexRunGuard(expr string) (runGuard, bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return runGuard{}, false
	}
	var best runGuard
	var visit func(r *syntax.Regexp)
	visit = func(r *syntax.Regexp) {
		switch r.Op {
		case syntax.OpConcat:
			for _, s := range r.Sub {
				visit(s)
			}
		case syntax.OpCapture, syntax.OpPlus:
			visit(r.Sub[0])
		case syntax.OpRepeat:
			sub := r.Sub[0]
			if r.Min >= minRunGuard && r.Min > best.min && (sub.Op == syntax.OpAnyChar || sub.Op == syntax.OpAnyCharNotNL) {
				var g runGuard
				g.min = r.Min
				for b := 0; b < 256; b++ {
					if b != '\n' || sub.Op == syntax.OpAnyChar {
						g.set[b>>6] |= 1 << (b & 63)
					}
				}
				best = g
			} else if r.Min >= minRunGuard && r.Min > best.min && sub.Op == syntax.OpCharClass {
				var g runGuard
				g.min = r.Min
				rs := r.Sub[0].Rune
				for i := 0; i+1 < len(rs); i += 2 {
					lo, hi := rs[i], rs[i+1]
					if hi >= utf8.RuneSelf {
						for b := 0x80; b < 0x100; b++ {
							g.set[b>>6] |= 1 << (b & 63)
						}
						hi = utf8.RuneSelf - 1
					}
					for c := lo; c <= hi; c++ {
						g.set[c>>6] |= 1 << (c & 63)
					}
				}
				best = g
			} else if r.Min >= 1 {
				visit(r.Sub[0])
			}
		}
	}
	visit(re)
	return best, best.min > 0
}

// regexLongLine recognises expressions that only ask for N characters in a row (".{N,}",
// possibly with the s flag): Go's regexp backtracks through N instructions at every position
// for them, which is slow on long values, while the answer is a simple count.
func regexLongLine(expr string) (n int, dotAll bool, ok bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 0, false, false
	}
	for re.Op == syntax.OpCapture || (re.Op == syntax.OpConcat && len(re.Sub) == 1) {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpRepeat || re.Max != -1 || re.Min < 1 {
		return 0, false, false
	}
	switch re.Sub[0].Op {
	case syntax.OpAnyChar:
		return re.Min, true, true
	case syntax.OpAnyCharNotNL:
		return re.Min, false, true
	}
	return 0, false, false
}

// hasLongLine reports whether v holds n characters in a row (not counting across newlines
// unless dotAll).
func hasLongLine(v string, n int, dotAll bool) bool {
	if len(v) < n {
		return false
	}
	if dotAll {
		return utf8.RuneCountInString(v) >= n
	}
	for len(v) >= n {
		line := v
		if i := strings.IndexByte(v, '\n'); i >= 0 {
			line, v = v[:i], v[i+1:]
		} else {
			v = ""
		}
		if len(line) >= n && utf8.RuneCountInString(line) >= n {
			return true
		}
	}
	return false
}
