package sigma

import (
	"cmp"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// A literal set is a list of lower-case byte strings, each tied to the field whose values must
// contain it, of which at least one occurs in the prefilter text of its field
// (markStart+lower(value)+markEnd, for every value of the field) whenever the rule can match.
// Literals of keyword searches may occur in any field. The engine only evaluates a rule when
// one of its literals was seen in its field.

// fieldLit is a prefilter literal and the rule-local field (detection.fields index) whose
// values must contain it; local is -1 for keyword searches, which look at every field.
type fieldLit struct {
	s     string
	local int32
}

func compareFieldLit(a, b fieldLit) int {
	if c := strings.Compare(a.s, b.s); c != 0 {
		return c
	}
	return int(a.local) - int(b.local)
}

// minLiteralScore is the weakest literal set worth indexing; a rule whose best set is weaker is
// evaluated for every event of its log source, unless it has a set of at least
// minWeakLiteralScore (see Engine.buildPrefilter): evaluating such a rule when one of its
// literals shows up is still cheaper than evaluating it for every event.
const (
	minLiteralScore     = 3
	minWeakLiteralScore = 2
)

// maxLiteralsPerRule bounds the literal set of one rule (the union of many alternatives).
const maxLiteralsPerRule = 4096

// literalScore estimates how selective a literal is: its length, where an anchor counts as a
// character, a digit counts for half (numbers are frequent in events) and a byte of a
// non-ASCII character or of rare punctuation for two (one Cyrillic letter, or a caret in a
// command line, is selective).
func literalScore(s string) int {
	score := 0
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			digits++
			continue
		case c >= 0x80 || rarePunct[c]:
			score += 4
			continue
		}
		score += 2
	}
	score += digits // a digit is worth half a character
	return score / 2
}

// rarePunct marks punctuation rare in event values.
var rarePunct = func() (set [256]bool) {
	for _, c := range []byte("^`~|;<>!") {
		set[c] = true
	}
	return set
}()

// commonFragments are substrings found in a large share of Windows event values (paths and
// extensions): a literal made of them selects little, so they count for nothing when literals
// are compared (see selectivity).
var commonFragments = []string{
	"c:\\windows\\", "\\windows\\", "\\system32\\", "\\syswow64\\", "c:\\program files", "\\program files",
	"c:\\users\\", "\\users\\", "\\appdata\\", "\\microsoft\\", "\\local\\", "\\temp\\", "\\windowspowershell\\",
	".exe", ".dll", "c:\\",
}

// markCommon sets covered[i] for each byte i of l inside a common fragment, and returns covered
// (at least len(l) long).
func markCommon(l string, covered []bool) []bool {
	for _, f := range commonFragments {
		for i := 0; i+len(f) <= len(l); i++ {
			if l[i:i+len(f)] == f {
				for j := i; j < i+len(f); j++ {
					covered[j] = true
				}
			}
		}
	}
	return covered
}

// selectivity estimates how selective a literal is in the prefilter, which only looks for
// its most telling maxLiteralLen bytes (see literalWindow).
func selectivity(s string) int {
	_, _, score := literalWindow(s)
	return score
}

func setScore(set []fieldLit) int {
	if len(set) == 0 {
		return 0
	}
	m := 1 << 30
	for _, l := range set {
		if sc := selectivity(l.s); sc < m {
			m = sc
		}
	}
	return m
}

// better reports whether literal set a is a better prefilter than b.
func better(a, b []fieldLit) bool {
	sa, sb := setScore(a), setScore(b)
	if sa != sb {
		return sa > sb
	}
	return len(a) < len(b)
}

// maxLiteralGroups bounds the literal groups of one rule (see literalPlan).
const maxLiteralGroups = 4

// maxPlanCombinations bounds the literal sets an OR node's plan chooses among (see
// literalPlan).
const maxPlanCombinations = 64

// literalPlan derives up to maxLiteralGroups literal sets that must all be satisfied (at
// least one literal of each set occurs in its field) whenever node n matches: the children of
// an AND each contribute their own sets, and so do the patterns of a contains|all condition.
// An OR needs, for every choice of one set per branch, the union of the sets chosen (each
// branch that matches satisfies its own): of those unions, the best are its sets, so that
// (Image ends with \cmd.exe and CommandLine contains copy) or (Image ends with \robocopy.exe)
// needs a cmd.exe or robocopy.exe and a copy, not just one of the images. Every literal
// scores at least minScore (see literalScore). ok is false when no usable set exists.
func literalPlan(n node, minScore int) (groups [][]fieldLit, ok bool) {
	switch x := n.(type) {
	case *selNode:
		return literalPlan(x.kid, minScore)
	case *andNode:
		for _, k := range x.kids {
			if g, ok := literalPlan(k, minScore); ok {
				groups = append(groups, g...)
			}
		}
		return bestGroups(groups)
	case *orNode:
		plans := make([][][]fieldLit, len(x.kids))
		combos := 1
		for i, k := range x.kids {
			p, ok := literalPlan(k, minScore)
			if !ok {
				return nil, false
			}
			plans[i] = p
			combos *= len(p)
		}
		// Too many choices: the branches with most sets keep their best ones.
		for combos > maxPlanCombinations {
			w := 0
			for i := range plans {
				if len(plans[i]) > len(plans[w]) {
					w = i
				}
			}
			combos = combos / len(plans[w]) * (len(plans[w]) - 1)
			plans[w] = plans[w][:len(plans[w])-1]
		}
		choice := make([]int, len(plans))
		for {
			var union []fieldLit
			for i, c := range choice {
				union = append(union, plans[i][c]...)
			}
			if union = dedupLits(union); len(union) <= maxLiteralsPerRule && minRawScore(union) >= minScore {
				groups = append(groups, union)
			}
			i := 0
			for ; i < len(choice); i++ {
				if choice[i]++; choice[i] < len(plans[i]) {
					break
				}
				choice[i] = 0
			}
			if i == len(choice) {
				break
			}
		}
		return bestGroups(groups)
	case *fieldCond:
		if x.kind == fcString && x.all && !x.neg {
			local := x.local
			if x.keyword {
				local = -1
			}
			for gi := range x.groups {
				if s, ok := patternsLiterals(x.groups[gi], local, minScore); ok {
					groups = append(groups, s)
				}
			}
			return bestGroups(groups)
		}
		if set, ok := x.literalSet(minScore); ok {
			return [][]fieldLit{set}, true
		}
	}
	return nil, false
}

// rulePlan is literalPlan of a rule's condition, with the literals common to the patterns of
// the field conditions the rule needs true whatever else holds (see commonGroups).
func rulePlan(n node, minScore int) ([][]fieldLit, bool) {
	groups, ok := literalPlan(n, minScore)
	common := commonGroups(nil, n, minScore)
	if len(common) == 0 {
		return groups, ok
	}
	return bestGroups(append(groups, common...))
}

// commonGroups appends to groups the common literal (see commonLiteral) of each field
// condition that n needs true through ANDs and selections alone, where it is at least as
// telling as the condition's own literal set. (Under an OR, a branch's extra group would
// change which unions literalPlan makes of the branches' groups, often for the worse.)
func commonGroups(groups [][]fieldLit, n node, minScore int) [][]fieldLit {
	switch x := n.(type) {
	case *selNode:
		return commonGroups(groups, x.kid, minScore)
	case *andNode:
		for _, k := range x.kids {
			groups = commonGroups(groups, k, minScore)
		}
	case *fieldCond:
		set, ok := x.literalSet(minScore)
		if !ok {
			break
		}
		c, ok := x.commonLiteral(minScore)
		// A common literal that each literal of the set holds is found whenever the set is:
		// it would cost a group and filter nothing.
		if ok && selectivity(c.s) >= setScore(set) && slices.ContainsFunc(set, func(l fieldLit) bool { return !strings.Contains(l.s, c.s) }) {
			groups = append(groups, []fieldLit{c})
		}
	}
	return groups
}

// commonLiteral returns a literal that every pattern of an OR of several string patterns
// holds, scoring at least minScore and the most selective of them: a second literal group the
// condition requires, often more telling than the union of the patterns' own literals
// ('net*|*find', 'ping*|*find' and 'whoami*|*find' all need a "find"; any one of "net",
// "ping" or "whoami" shows up in far more command lines).
func (f *fieldCond) commonLiteral(minScore int) (fieldLit, bool) {
	if f.neg || f.kind != fcString || f.all || len(f.pats) < 2 || len(f.pats) > maxCommonPatterns {
		return fieldLit{}, false
	}
	local := f.local
	if f.keyword {
		local = -1
	}
	frags := make([][]string, len(f.pats))
	for i := range f.pats {
		frags[i] = f.pats[i].literalFragments()
	}
	holds := func(s string) bool {
		for _, fs := range frags[1:] {
			if !slices.ContainsFunc(fs, func(x string) bool { return strings.Contains(x, s) }) {
				return false
			}
		}
		return true
	}
	best, bestSel := "", -1
	for _, fr := range frags[0] {
		// Parts of common fragments ("windows\sys" of "c:\windows\system32\") are as frequent as
		// the fragments, although selectivity does not see them as such out of context.
		covered := markCommon(fr, make([]bool, len(fr)))
		for i := range len(fr) {
			for j := i + 1; j <= min(len(fr), i+maxGramLiteral) && !covered[j-1]; j++ {
				s := fr[i:j]
				if literalScore(s) < minScore {
					continue
				}
				if sel := selectivity(s); (sel > bestSel || sel == bestSel && len(s) > len(best)) && holds(s) {
					best, bestSel = s, sel
				}
			}
		}
	}
	if bestSel < 0 {
		return fieldLit{}, false
	}
	return fieldLit{strings.Clone(best), local}, true
}

// maxCommonPatterns bounds the patterns commonLiteral compares.
const maxCommonPatterns = 64

// bestGroups keeps the best maxLiteralGroups of groups (see better), each once.
func bestGroups(groups [][]fieldLit) ([][]fieldLit, bool) {
	if len(groups) == 0 {
		return nil, false
	}
	type scored struct {
		lits  []fieldLit
		score int
	}
	sc := make([]scored, len(groups))
	for i, g := range groups {
		sc[i] = scored{g, setScore(g)}
	}
	// As better orders them: higher score first, then fewer literals.
	slices.SortStableFunc(sc, func(a, b scored) int {
		if a.score != b.score {
			return b.score - a.score
		}
		return len(a.lits) - len(b.lits)
	})
	groups = groups[:0]
	for _, g := range sc {
		if !slices.ContainsFunc(groups, func(h []fieldLit) bool { return slices.Equal(g.lits, h) }) {
			groups = append(groups, g.lits)
			if len(groups) == maxLiteralGroups {
				break
			}
		}
	}
	return groups, true
}

// minRawScore is the literalScore of the weakest literal of set.
func minRawScore(set []fieldLit) int {
	m := 1 << 30
	for _, l := range set {
		m = min(m, literalScore(l.s))
	}
	return m
}

func dedupLits(s []fieldLit) []fieldLit {
	slices.SortFunc(s, compareFieldLit)
	return slices.Compact(s)
}

func bestFragment(p *pattern, minScore int) (string, bool) {
	best, ok := "", false
	for _, f := range p.literalFragments() {
		if literalScore(f) < minScore {
			continue
		}
		if !ok || selectivity(f) > selectivity(best) {
			best, ok = f, true
		}
	}
	return best, ok
}

func (f *fieldCond) literalSet(minScore int) ([]fieldLit, bool) {
	if f.neg {
		return nil, false
	}
	local := f.local
	if f.keyword {
		local = -1
	}
	switch f.kind {
	case fcString:
		if f.all {
			var best []fieldLit
			found := false
			for gi := range f.groups {
				if s, ok := patternsLiterals(f.groups[gi], local, minScore); ok && (!found || better(s, best)) {
					best, found = s, true
				}
			}
			return best, found
		}
		return patternsLiterals(f.pats, local, minScore)
	case fcRegex:
		if f.all {
			var best []fieldLit
			found := false
			for _, re := range f.res {
				if ls, ok := regexLiterals(re.re.String(), minScore); ok {
					var s []fieldLit
					for _, l := range ls {
						s = append(s, fieldLit{l, local})
					}
					if !found || better(s, best) {
						best, found = s, true
					}
				}
			}
			return best, found
		}
		var set []fieldLit
		for _, re := range f.res {
			ls, ok := regexLiterals(re.re.String(), minScore)
			if !ok {
				return nil, false
			}
			for _, l := range ls {
				set = append(set, fieldLit{l, local})
			}
		}
		set = dedupLits(set)
		return set, len(set) > 0
	}
	return nil, false
}

// patternsLiterals is the union of the best fragment of each pattern (OR of patterns), all
// tied to the rule-local field local.
func patternsLiterals(pats []pattern, local int32, minScore int) ([]fieldLit, bool) {
	if len(pats) == 0 || len(pats) > maxLiteralsPerRule {
		return nil, false
	}
	set := make([]fieldLit, 0, len(pats))
	for i := range pats {
		l, ok := bestFragment(&pats[i], minScore)
		if !ok {
			return nil, false
		}
		set = append(set, fieldLit{l, local})
	}
	return dedupLits(set), true
}

// regexLiteral returns a lower-case literal every match of the expression contains, for the
// prefilter, scoring at least minScore.
func regexLiteral(expr string, minScore int) (string, bool) {
	lit, fold := regexRequiredLiteral(expr)
	if !fold {
		lit = lowerString(lit)
	}
	if strings.ContainsAny(lit, "\x00\x01") {
		return "", false
	}
	return lit, literalScore(lit) >= minScore
}

// regexLiterals returns lower-case literals of which every match of the expression contains
// one, each scoring at least minScore: its required literal (see regexLiteral) or, below
// minLiteralScore, the strings of its required set (see regexRequiredSet) when they score
// higher, or as high and are longer.
func regexLiterals(expr string, minScore int) ([]string, bool) {
	lit, litOK := regexLiteral(expr, minScore)
	if minScore >= minLiteralScore {
		return []string{lit}, litOK
	}
	set, setOK := regexSetLiterals(expr, minScore)
	if setOK && litOK {
		ss, short := 1<<30, 1<<30
		for _, l := range set {
			ss, short = min(ss, literalScore(l)), min(short, len(l))
		}
		ls := literalScore(lit)
		setOK = ss > ls || ss == ls && short > len(lit)
	}
	if setOK {
		return set, true
	}
	return []string{lit}, litOK
}

// regexSetLiterals returns the strings of the expression's required set (see
// regexRequiredSet), lower-case, when each scores at least minScore.
func regexSetLiterals(expr string, minScore int) ([]string, bool) {
	rs := regexRequiredSet(expr)
	if rs == nil {
		return nil, false
	}
	out := make([]string, 0, len(rs.strs))
	for _, s := range rs.strs {
		if !rs.fold {
			s = lowerString(s)
		}
		if strings.ContainsAny(s, "\x00\x01") || literalScore(s) < minScore {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
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
	// A run of min bytes covers one of any min consecutive positions: only every min-th byte
	// is looked at, and the run around one from the set is measured.
	n := g.min
	for i := n - 1; i < len(v); i += n {
		if !g.has(v[i]) {
			continue
		}
		lo, hi := i, i+1
		for lo > 0 && g.has(v[lo-1]) {
			lo--
		}
		for hi < len(v) && g.has(v[hi]) {
			hi++
		}
		if hi-lo >= n {
			return true
		}
		// v[hi] is not in the set: a run after it ends at hi+n at the earliest.
		i = hi - 1
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

// countGuard requires a value to hold at least n occurrences of byte b (of b in either case
// when fold is set): a necessary condition for expressions such as \+.*\+.*\+, checked with
// a fast byte count.
type countGuard struct {
	b    byte
	fold bool
	n    int
}

func (g countGuard) holds(v string) bool {
	n := strings.Count(v, string(g.b))
	if g.fold && n < g.n {
		if o := otherCase(g.b); o != g.b {
			n += strings.Count(v, string(o))
		}
	}
	return n >= g.n
}

// foldsBeyondASCII reports whether lower-case ASCII letter b has a case variant outside
// ASCII under Unicode folding, which (?i) expressions match: the Kelvin sign for k, the long
// s for s.
func foldsBeyondASCII(b byte) bool { return b == 'k' || b == 's' }

func otherCase(b byte) byte {
	switch {
	case 'a' <= b && b <= 'z':
		return b - 'a' + 'A'
	case 'A' <= b && b <= 'Z':
		return b - 'A' + 'a'
	}
	return b
}

// regexCountGuards finds the ASCII bytes every match of the expression holds, with how many
// times (literal characters outside alternations and optional parts), keeping the ones worth
// counting: those rare in event values, or required more than once.
func regexCountGuards(expr string) []countGuard {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	type key struct {
		b    byte
		fold bool
	}
	counts := map[key]int{}
	var visit func(r *syntax.Regexp, times int)
	visit = func(r *syntax.Regexp, times int) {
		switch r.Op {
		case syntax.OpLiteral:
			fold := r.Flags&syntax.FoldCase != 0
			for _, c := range r.Rune {
				if c >= utf8.RuneSelf {
					continue
				}
				b := byte(c)
				f := fold && otherCase(b) != b
				if f {
					b = asciiLower[b]
					if foldsBeyondASCII(b) {
						continue // its non-ASCII case is not counted
					}
				}
				counts[key{b, f}] += times
			}
		case syntax.OpConcat:
			for _, s := range r.Sub {
				visit(s, times)
			}
		case syntax.OpCapture, syntax.OpPlus:
			visit(r.Sub[0], times)
		case syntax.OpRepeat:
			if r.Min >= 1 {
				visit(r.Sub[0], times*min(r.Min, 64))
			}
		}
	}
	visit(re, 1)
	var out []countGuard
	for k, n := range counts {
		if n >= 2 || rarePunct[k.b] || k.b == '{' || k.b == '$' || k.b == '&' || k.b == '+' {
			out = append(out, countGuard{k.b, k.fold, n})
		}
	}
	slices.SortFunc(out, func(a, b countGuard) int {
		if a.b != b.b {
			return int(a.b) - int(b.b)
		}
		return a.n - b.n
	})
	return out
}

// maxRequiredSet bounds the strings of a required set (see regexRequiredSet).
const maxRequiredSet = 16

// requiredSet is a set of strings of which every match of an expression holds one; when fold
// is set, the set is one lower-case string the lower-cased value holds.
type requiredSet struct {
	strs []string
	fold bool
}

// holds reports whether the value (raw, and lower-cased by lower on demand) meets the set.
func (r *requiredSet) holds(v string, lower func() string) bool {
	if r.fold {
		return strings.Contains(lower(), r.strs[0])
	}
	for _, s := range r.strs {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// regexRequiredSet finds strings of which every match of the expression holds one: a run of
// adjacent single-character elements (literal characters, small character classes) gives the
// strings of its characters' combinations, so that \.[ "'] requires one of ". ", ".\"" and
// ".'", and [Rr][Uu][Nn] requires "run" in the lower-cased value. It returns the run whose
// shortest string is the longest (at least two bytes), or nil.
func regexRequiredSet(expr string) *requiredSet {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	var best *requiredSet
	bestLen := 1
	var run [][]rune // the alternatives of each character of the current run
	product, foldable := 1, true
	flush := func() {
		defer func() { run, product, foldable = run[:0], 1, true }()
		if len(run) <= bestLen {
			return
		}
		if foldable {
			b := make([]byte, len(run))
			for i, alts := range run {
				b[i] = byte(lowerRune(alts[0]))
			}
			best, bestLen = &requiredSet{strs: []string{string(b)}, fold: true}, len(run)
			return
		}
		strs := []string{""}
		for _, alts := range run {
			var next []string
			for _, s := range strs {
				for _, c := range alts {
					next = append(next, s+string(c))
				}
			}
			strs = next
		}
		short := len(strs[0])
		for _, s := range strs {
			short = min(short, len(s))
		}
		if short > bestLen {
			best, bestLen = &requiredSet{strs: strs}, short
		}
	}
	// foldsToOne reports whether alts all lower-case (as Record values do) to one ASCII
	// character.
	foldsToOne := func(alts []rune) bool {
		l := lowerRune(alts[0])
		if l >= utf8.RuneSelf {
			return false
		}
		for _, c := range alts {
			if lowerRune(c) != l {
				return false
			}
		}
		return true
	}
	extend := func(alts []rune) {
		if len(alts) == 0 || len(alts) > maxRequiredSet {
			flush()
			return
		}
		f := foldsToOne(alts)
		if !(foldable && f) && product*len(alts) > maxRequiredSet {
			flush()
		}
		run = append(run, alts)
		product = min(product*len(alts), maxRequiredSet+1)
		foldable = foldable && f
	}
	// charAlts returns the characters a single-character element matches, or nil.
	charAlts := func(r *syntax.Regexp) []rune {
		switch r.Op {
		case syntax.OpLiteral:
			if len(r.Rune) != 1 {
				return nil
			}
			c := r.Rune[0]
			alts := []rune{c}
			if r.Flags&syntax.FoldCase != 0 {
				// Every rune the expression folds c with (k also matches the Kelvin sign).
				for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
					alts = append(alts, f)
				}
			}
			return alts
		case syntax.OpCharClass:
			var alts []rune
			for i := 0; i+1 < len(r.Rune); i += 2 {
				if r.Rune[i+1]-r.Rune[i] >= maxRequiredSet {
					return nil
				}
				for c := r.Rune[i]; c <= r.Rune[i+1]; c++ {
					alts = append(alts, c)
					if len(alts) > maxRequiredSet {
						return nil
					}
				}
			}
			return alts
		}
		return nil
	}
	var walk func(r *syntax.Regexp)
	walk = func(r *syntax.Regexp) {
		switch r.Op {
		case syntax.OpConcat:
			for _, sub := range r.Sub {
				walk(sub)
			}
		case syntax.OpCapture:
			walk(r.Sub[0])
		case syntax.OpLiteral:
			for _, c := range r.Rune {
				extend(charAlts(&syntax.Regexp{Op: syntax.OpLiteral, Rune: []rune{c}, Flags: r.Flags}))
			}
		case syntax.OpCharClass:
			extend(charAlts(r))
		case syntax.OpPlus, syntax.OpRepeat:
			// A repeated character: its first occurrence ends the run, its last starts the
			// next one.
			alts := charAlts(r.Sub[0])
			if alts == nil || r.Op == syntax.OpRepeat && r.Min < 1 {
				flush()
				return
			}
			extend(alts)
			flush()
			extend(alts)
		default:
			flush()
		}
	}
	walk(re)
	flush()
	return best
}

// maxKeptRepeat is the largest repetition bound regexRelaxed keeps.
const maxKeptRepeat = 8

// regexRelaxed returns the expression with every repetition bounded above maxKeptRepeat
// unbounded (x{1,32} becomes x+): it matches every value the expression matches. Go's
// matchers do work in proportion to the program, which counted repetitions copy: the relaxed
// program is smaller and rules out non-matching values faster. Nil when nothing changes.
func regexRelaxed(expr string) *regexp.Regexp {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	changed := false
	var visit func(r *syntax.Regexp)
	visit = func(r *syntax.Regexp) {
		if r.Op == syntax.OpRepeat && r.Max > maxKeptRepeat {
			r.Max = -1
			changed = true
		}
		for _, s := range r.Sub {
			visit(s)
		}
	}
	visit(re)
	if !changed {
		return nil
	}
	relaxed, err := regexp.Compile(re.String())
	if err != nil {
		return nil
	}
	return relaxed
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

// vetoLiterals returns literals of which any one, found in the prefilter text of its field
// (see fieldLit), makes condition n false, so that a rule need not be evaluated when one
// shows up: the literals of the negated selections of `... and not filter`, those that
// decide the filter. A veto must be sound where a literal group only has to be necessary: a
// literal that decides a pattern on its own is exact (see exactLiteral); one that is part of a
// longer pattern only says that the pattern may match, and its field condition is checked
// before the rule is skipped (see Matcher.vetoed).
func vetoLiterals(n node) []vetoLit {
	lits := deciding(n, false)
	slices.SortFunc(lits, func(a, b vetoLit) int {
		if c := compareFieldLit(a.fieldLit, b.fieldLit); c != 0 {
			return c
		}
		if a.exact != b.exact {
			if a.exact {
				return -1
			}
			return 1
		}
		return cmp.Compare(uintptr(unsafe.Pointer(a.fc)), uintptr(unsafe.Pointer(b.fc)))
	})
	return slices.Compact(lits)
}

// vetoLit is a veto literal (see vetoLiterals): found in the prefilter text of its field, it
// shows that the patterns of field condition fc match a value of the field (exact), or that
// they may.
type vetoLit struct {
	fieldLit
	fc    *fieldCond
	exact bool
}

// deciding returns literals of which any one, found in its field, makes n evaluate to v
// (those not exact: when their field condition matches).
func deciding(n node, v bool) []vetoLit {
	switch x := n.(type) {
	case *selNode:
		return deciding(x.kid, v)
	case *notNode:
		return deciding(x.kid, !v)
	case *andNode:
		return decidingKids(x.kids, v, false)
	case *orNode:
		return decidingKids(x.kids, v, true)
	case *fieldCond:
		if x.neg == v {
			return nil // a literal can only show that a value matches
		}
		return x.matchingLiterals()
	}
	return nil
}

// decidingKids is deciding for an AND (short false) or an OR (short true) of kids: one child
// of value short decides it; the other value needs all children to have it, which one
// literal decides only for a single child.
func decidingKids(kids []node, v, short bool) []vetoLit {
	if v == short {
		var out []vetoLit
		for _, k := range kids {
			out = append(out, deciding(k, v)...)
		}
		return out
	}
	if len(kids) == 1 {
		return deciding(kids[0], v)
	}
	return nil
}

// matchingLiterals returns literals of which any one, found in the prefilter text of f's
// field, means that a value of the field matches f's patterns (f.neg aside), or, for those
// not exact, that one may.
func (f *fieldCond) matchingLiterals() []vetoLit {
	if f.kind != fcString || f.keyword || f.cased || f.local < 0 {
		return nil
	}
	pats := f.pats
	if f.all {
		if len(f.groups) != 1 {
			return nil
		}
		pats = f.groups[0]
	}
	var out []vetoLit
	for i := range pats {
		if l, exact, ok := patternLiteral(&pats[i]); ok {
			out = append(out, vetoLit{fieldLit{l, f.local}, f, exact})
		}
	}
	return out
}

// patternLiteral returns the prefilter literal of a case-insensitive plain, prefix, suffix or
// substring pattern of ASCII text: the pattern with its anchors (see exactLiteral), exact when
// the prefilter keeps it whole, else a part of it that the prefilter looks for (see
// truncateLiteral), which a matching value holds.
func patternLiteral(p *pattern) (lit string, exact, ok bool) {
	if l, ok := exactLiteral(p); ok {
		return l, true, true
	}
	l, ok := anchoredLiteral(p)
	if !ok {
		return "", false, false
	}
	return truncateLiteral(l), false, true
}

// exactLiteral returns the prefilter literal that occurs in the prefilter text of a value
// (markStart + lower-case value + markEnd) exactly when the value matches p, when there is
// one the prefilter keeps whole: a case-insensitive plain, prefix, suffix or substring
// pattern of ASCII text, at most maxLiteralLen bytes with its anchors. (The prefilter scans
// an ASCII value as it is with its letters folded, and any other value lower-cased as
// evaluation matches it, so a literal found is the pattern matched.)
func exactLiteral(p *pattern) (string, bool) {
	l, ok := anchoredLiteral(p)
	if !ok || len(l) > maxLiteralLen {
		return "", false
	}
	return l, true
}

// anchoredLiteral returns the text of a case-insensitive plain, prefix, suffix or substring
// pattern p of ASCII text with its anchors, of any length.
func anchoredLiteral(p *pattern) (string, bool) {
	const start, end = string(rune(markStart)), string(rune(markEnd))
	if p.cased || !isASCII(p.a) || strings.ContainsAny(p.a, start+end) {
		return "", false
	}
	var l string
	switch p.kind {
	case patExact:
		l = start + p.a + end
	case patPrefix:
		l = start + p.a
	case patSuffix:
		l = p.a + end
	case patContains:
		l = p.a
	default:
		return "", false
	}
	if l == "" {
		return "", false
	}
	return l, true
}
