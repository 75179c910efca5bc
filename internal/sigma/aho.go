package sigma

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strings"
	"unsafe"
)

// automaton is an Aho-Corasick automaton over byte classes, as a dense DFA table of 16-bit
// entries (small tables stay in the CPU caches: scanning is a chain of dependent table loads).
// Bytes that occur in no literal share class 0, which always leads back to the root. ASCII
// upper-case letters share the class of their lower-case letter, so ASCII text needs no
// lower-casing. When literals use more than maxClasses distinct bytes, the rarest in event
// text share one class (see buildAutomaton): the automaton then reports a superset of the
// true hits, which is still a correct prefilter.
type automaton struct {
	class [256]uint8
	ncls  int32 // number of classes including class 0
	// delta[s*ncls + class] is the next state, with outFlag set when it has outputs.
	delta  []uint16
	out    []int32 // output slot of the state (literals ending there), or -1
	dict   []int32 // nearest state on the suffix chain with an output, or -1
	states int32
	// Literals of output slot k: slotLits[slotStart[k]:slotStart[k+1]]. Several literals can
	// end in one state when rare bytes share a class.
	slotStart []int32
	slotLits  []int32
	// shared is set when bytes share a class: the automaton then reports a superset of the
	// literals that occur (each byte of a class stands for all of them).
	shared bool
}

const (
	// maxClasses is enough for the digits, letters and common punctuation of the literals
	// of a large rule set's command-line automaton to keep classes of their own.
	maxClasses = 56
	// outFlag marks, in automaton.delta, the states with outputs (or with an output on their
	// suffix chain); maxStates is the most states an automaton can have.
	outFlag   = 1 << 15
	maxStates = outFlag - 1
)

// buildAutomaton compiles the literals (lower-case byte strings, each non-empty). It returns
// nil when they need more than maxStates states.
func buildAutomaton(lits []string) *automaton {
	a := &automaton{}
	var freq [256]int
	for _, l := range lits {
		for i := 0; i < len(l); i++ {
			freq[l[i]]++
		}
	}
	var used []int
	for b := 0; b < 256; b++ {
		if freq[b] > 0 {
			used = append(used, b)
		}
	}
	// Which bytes get a class of their own when there are too many: a byte sharing a class
	// stands for every byte of the class, so the bytes to share one are the rarest in event
	// text, where they make the fewest false hits. The anchors come first (every value has
	// them, once), then the ASCII bytes from the most to the least frequent in event text,
	// then the other ASCII bytes and last the non-ASCII ones (event text is mostly ASCII, so
	// a shared class of non-ASCII bytes costs little selectivity), each by their frequency in
	// the literals.
	rank := func(b int) int {
		switch {
		case b == markStart || b == markEnd:
			return -1
		case b < 0x80 && textRank[b] < len(textFrequency):
			return textRank[b]
		case b < 0x80:
			return len(textFrequency)
		}
		return len(textFrequency) + 1
	}
	slices.SortStableFunc(used, func(x, y int) int {
		if rx, ry := rank(x), rank(y); rx != ry {
			return rx - ry
		}
		return freq[y] - freq[x]
	})
	n := 0
	if len(used) <= maxClasses-1 {
		for _, b := range used {
			n++
			a.class[b] = uint8(n)
		}
	} else {
		// Too many bytes: the rarest share a class, the ASCII ones apart from the others.
		for i, b := range used {
			switch {
			case i < maxClasses-3:
				n++
				a.class[b] = uint8(n)
			case b < 0x80:
				a.class[b] = maxClasses - 2
			default:
				a.class[b] = maxClasses - 1
			}
		}
		n = maxClasses - 1
		a.shared = true
	}
	for b := 'A'; b <= 'Z'; b++ {
		a.class[b] = a.class[b+'a'-'A']
	}
	a.ncls = int32(n) + 1

	// The trie, in flat arrays: each node's children are a list linked by sibling.
	child := []int32{-1}
	sibling := []int32{-1}
	cls := []uint8{0}
	out := []int32{-1}
	nslots := 0
	var slotOf []int32 // per literal
	for _, l := range lits {
		s := int32(0)
		for i := 0; i < len(l); i++ {
			c := a.class[l[i]]
			next := child[s]
			for next >= 0 && cls[next] != c {
				next = sibling[next]
			}
			if next < 0 {
				if len(child) >= maxStates {
					return nil
				}
				next = int32(len(child))
				child, sibling, cls, out = append(child, -1), append(sibling, child[s]), append(cls, c), append(out, -1)
				child[s] = next
			}
			s = next
		}
		if out[s] < 0 {
			out[s] = int32(nslots)
			nslots++
		}
		slotOf = append(slotOf, out[s])
	}
	a.slotStart = make([]int32, nslots+1)
	for _, k := range slotOf {
		a.slotStart[k+1]++
	}
	for k := 0; k < nslots; k++ {
		a.slotStart[k+1] += a.slotStart[k]
	}
	a.slotLits = make([]int32, len(lits))
	fill := slices.Clone(a.slotStart[:nslots])
	for id, k := range slotOf {
		a.slotLits[fill[k]] = int32(id)
		fill[k]++
	}
	// Number the states in breadth-first order so that shallow states come first.
	ns := len(child)
	order := make([]int32, 1, ns)
	for i := 0; i < len(order); i++ {
		for c := child[order[i]]; c >= 0; c = sibling[c] {
			order = append(order, c)
		}
	}
	renum := make([]int32, ns)
	for newID, old := range order {
		renum[old] = int32(newID)
	}
	a.states = int32(ns)
	ncls := int(a.ncls)
	a.delta = make([]uint16, ns*ncls)
	a.out = make([]int32, ns)
	a.dict = make([]int32, ns)
	fail := make([]int32, ns)
	for old, o := range out {
		a.out[renum[old]] = o
	}
	// Breadth-first: every state's row starts as its failure state's row, then takes its own
	// trie edges; the failure state of a child is its parent's failure state's transition (the
	// root for the root's children).
	for c := child[0]; c >= 0; c = sibling[c] {
		a.delta[cls[c]] = uint16(renum[c])
	}
	a.dict[0] = -1
	for s := int32(1); s < a.states; s++ {
		f := fail[s]
		if a.out[f] >= 0 {
			a.dict[s] = f
		} else {
			a.dict[s] = a.dict[f]
		}
		row, frow := int(s)*ncls, int(f)*ncls
		copy(a.delta[row:row+ncls], a.delta[frow:frow+ncls])
		for c := child[order[s]]; c >= 0; c = sibling[c] {
			next := renum[c]
			fail[next] = int32(a.delta[frow+int(cls[c])])
			a.delta[row+int(cls[c])] = uint16(next)
		}
	}
	for i, t := range a.delta {
		if i%ncls == 0 {
			t = 0 // class 0 always returns to the root
		}
		if a.out[t] >= 0 || a.dict[t] >= 0 {
			t |= outFlag
		}
		a.delta[i] = t
	}
	return a
}

// next returns the transition of state s on class c: the next state, ^next when it has
// outputs.
func (a *automaton) next(s int32, c uint8) int32 {
	t := a.delta[s*a.ncls+int32(c)]
	if t&outFlag != 0 {
		return ^int32(t &^ outFlag)
	}
	return int32(t)
}

// memory returns the approximate size of the automaton in bytes.
func (a *automaton) memory() int {
	return 2*len(a.delta) + 8*int(a.states) + 4*len(a.slotLits) + 4*len(a.slotStart) + 256
}

// literalIndex maps the automaton's output slots to the rule literal groups that one of the
// slot's literals satisfies.
type literalIndex struct {
	lits  []string
	start []int32  // CSR offsets into runs, one per output slot, plus one
	runs  []litRun // per slot, one run per log source group
	rules []uint32 // rule literal group keys (see groupKey), sorted by rule
	// slots, when the index's rules are all of one log source group (a field's literals in
	// one group, whose automaton is only scanned when the group is active), is the slots'
	// keys without the runs: per slot, its one key (flagged slotOneKey), or the bounds of its
	// keys in rules (start<<32 | end). A literal found then costs one load to satisfy, not
	// the three of the chain through start and runs.
	slots []uint64
}

// slotOneKey flags an entry of literalIndex.slots holding a slot's only key.
const slotOneKey = 1 << 63

// litRun is the part of an output slot's rule list that belongs to one log source group.
type litRun struct {
	group      int32
	start, end int32 // into literalIndex.rules
}

// maxLiteralLen bounds indexed literals: a substring of a required literal is required too, and
// shorter literals keep the automaton shallow (and mostly dense) at little cost in selectivity.
const maxLiteralLen = 12

// truncateLiteral keeps the most telling maxLiteralLen bytes of a literal (see literalWindow).
func truncateLiteral(l string) string {
	from, to, _ := literalWindow(l)
	return l[from:to]
}

// literalWindow returns the bounds of the most telling maxLiteralLen bytes of a literal and
// their score: literalScore with the bytes of common fragments counted as nothing. Among
// windows of equal score it prefers the start of a literal anchored at the start of a value,
// otherwise its end (file names and the like).
func literalWindow(l string) (from, to, score int) {
	// points[i]: twice the score of the bytes before i.
	var pointsBuf [65]int32
	var coveredBuf [64]bool
	points, covered := pointsBuf[:], coveredBuf[:]
	if len(l) > len(coveredBuf) {
		points, covered = make([]int32, len(l)+1), make([]bool, len(l))
	}
	points, covered = points[:len(l)+1], covered[:len(l)]
	markCommon(l, covered)
	for i := 0; i < len(l); i++ {
		p := int32(0)
		switch c := l[i]; {
		case covered[i]:
		case '0' <= c && c <= '9':
			p = 1
		case c >= 0x80 || rarePunct[c]:
			p = 4
		default:
			p = 2
		}
		points[i+1] = points[i] + p
	}
	if len(l) <= maxLiteralLen {
		return 0, len(l), int(points[len(l)]) / 2
	}
	last := len(l) - maxLiteralLen
	best := last
	if l[0] == markStart && l[len(l)-1] != markEnd {
		best = 0
	}
	win := func(i int) int { return int(points[i+maxLiteralLen] - points[i]) }
	bestScore := win(best)
	for i := 0; i <= last; i++ {
		if sc := win(i); sc > bestScore {
			best, bestScore = i, sc
		}
	}
	return best, best + maxLiteralLen, bestScore / 2
}

// litEntry says that literal lit satisfies the rule literal group key (see groupKey).
type litEntry struct {
	lit string
	key uint32
}

// A rule literal group key is a rule state (see ruleState) and one of its groups, 0 to 3:
// state ri is engine rule ri, whose groups are its literal groups (see literalPlan); state
// vetoState(n, ri), for an engine of n rules, holds rule ri's veto groups, one per pair of
// rule field and engine field its veto literals are looked for in (see vetoLiterals).
func groupKey(state int32, group int) uint32 { return uint32(state)<<2 | uint32(group) }

// keyState is the rule state of a rule literal group key.
func keyState(key uint32) int32 { return int32(key >> 2) }

// vetoState is the state of the veto groups of rule ri of an engine of n rules.
func vetoState(n, ri int32) int32 { return n + ri }

// maxVetoGroups is the number of veto groups a rule can have.
const maxVetoGroups = 4

// stateGroups holds, per rule state, the log source group of its rule: the engine's rules,
// then their veto states.
type stateGroups []int32

// veto reports whether key is a veto group's.
func (sg stateGroups) veto(key uint32) bool { return int(keyState(key)) >= len(sg)/2 }

// buildLiteralIndex compiles the automaton over the entries' literals (truncated to
// maxLiteralLen) and the index from its output slots to the rule literal groups. The automaton
// is nil when there are no literals, or when they need more than maxStates states. (One with
// shared byte classes reports literals that may not occur: its veto groups are then checked,
// see Engine.checkVetoes.)
func buildLiteralIndex(entries []litEntry, groups stateGroups) (*literalIndex, *automaton) {
	lits, pairs := collectLiterals(entries)
	if len(lits) == 0 {
		return &literalIndex{start: []int32{0}}, nil
	}
	a := buildAutomaton(lits)
	if a == nil {
		return nil, nil
	}
	slotOf := make([]uint32, len(lits))
	nslots := len(a.slotStart) - 1
	for k := 0; k < nslots; k++ {
		for _, lit := range a.slotLits[a.slotStart[k]:a.slotStart[k+1]] {
			slotOf[lit] = uint32(k)
		}
	}
	return newLiteralIndex(lits, pairs, slotOf, nslots, groups), a
}

// buildGramIndex is buildLiteralIndex with a gram set instead of an automaton: output slot k
// is literal k. The gram set is nil when there are no literals.
func buildGramIndex(entries []litEntry, groups stateGroups) (*literalIndex, *gramSet) {
	lits, pairs := collectLiterals(entries)
	if len(lits) == 0 {
		return &literalIndex{start: []int32{0}}, nil
	}
	slotOf := make([]uint32, len(lits))
	for i := range slotOf {
		slotOf[i] = uint32(i)
	}
	return newLiteralIndex(lits, pairs, slotOf, len(lits), groups), newGramSet(lits)
}

// collectLiterals returns the distinct literals of the entries (truncated to maxLiteralLen)
// and, per entry, the literal's number and the entry's rule literal group.
func collectLiterals(entries []litEntry) (lits []string, pairs [][2]uint32) {
	ids := map[string]int32{}
	for _, en := range entries {
		l := truncateLiteral(en.lit)
		id, ok := ids[l]
		if !ok {
			id = int32(len(lits))
			ids[l] = id
			lits = append(lits, l)
		}
		pairs = append(pairs, [2]uint32{uint32(id), en.key})
	}
	return lits, pairs
}

// newLiteralIndex builds the index from output slots to rule literal groups, given the pairs
// (literal, rule literal group) and the output slot of each literal.
func newLiteralIndex(lits []string, pairs [][2]uint32, slotOf []uint32, nslots int, groups stateGroups) *literalIndex {
	for i := range pairs {
		pairs[i][0] = slotOf[pairs[i][0]]
	}
	slices.SortFunc(pairs, func(a, b [2]uint32) int {
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		return cmp.Compare(a[1], b[1])
	})
	pairs = slices.Compact(pairs)
	li := &literalIndex{lits: lits, start: make([]int32, nslots+1), rules: make([]uint32, len(pairs))}
	for i, p := range pairs {
		li.rules[i] = p[1]
	}
	// Rules of one group have contiguous indices, so within a slot they form one run.
	slot := uint32(0)
	for i := 0; i < len(pairs); {
		for slot < pairs[i][0] {
			slot++
			li.start[slot] = int32(len(li.runs))
		}
		g := groups[keyState(pairs[i][1])]
		j := i
		for j < len(pairs) && pairs[j][0] == pairs[i][0] && groups[keyState(pairs[j][1])] == g {
			j++
		}
		li.runs = append(li.runs, litRun{group: g, start: int32(i), end: int32(j)})
		i = j
	}
	for slot < uint32(nslots) {
		slot++
		li.start[slot] = int32(len(li.runs))
	}
	if len(li.runs) == nslots && !slices.ContainsFunc(li.runs, func(r litRun) bool { return r.group != li.runs[0].group }) {
		li.slots = make([]uint64, nslots)
		for k, r := range li.runs {
			if r.end-r.start == 1 {
				li.slots[k] = slotOneKey | uint64(li.rules[r.start])
			} else {
				li.slots[k] = uint64(r.start)<<32 | uint64(r.end)
			}
		}
	}
	return li
}

// textFrequency lists bytes from the most to the least frequent in event values (digits and
// hex letters first: numbers, times, GUIDs and hashes fill many fields). Bytes not listed are
// the rarest.
const textFrequency = "0123456789abcdef-:. \\etaoinsrlhcmu/_pgw,=x{}yv\"bk()'j;q[]z@&%$+#!|^~`<>?*\t\r\n"

// textRank is the position of each byte in textFrequency (its first), len(textFrequency) for
// the bytes not listed.
var textRank = func() (r [256]int) {
	for b := range r {
		r[b] = len(textFrequency)
	}
	for i := len(textFrequency) - 1; i >= 0; i-- {
		r[textFrequency[i]] = i
	}
	return r
}()

// screen is a quick test that rules out most values that cannot hold any of a set of
// literals. It has two forms.
//
// When every literal is long (at least minGramLiteral bytes besides the anchors), the screen
// holds every 4-byte gram of every literal, case-folded by setting bit 0x20 of each byte (a
// fold under which an ASCII value and its lower-case form agree), in a bit table indexed by a
// hash of the gram; an occurrence of a literal of n bytes covers n-3 gram positions, so the
// screen only looks at every (minLen-3)th position of a value: a few table loads per value.
//
// Otherwise the test is one bit per pair of adjacent bytes of the value, so that a value costs
// one table load per byte: every literal holds one of its byte pairs (the literal's rarest
// pair) or, for literals of one byte besides the anchors, one of its bytes; the table holds
// every case variant of the literals' pairs (values are not lower-cased first), and every pair
// whose second byte is one of the single-byte literals or not ASCII (the lower-case form of
// such a value is not the byte-wise one: it always may hold a literal).
type screen struct {
	pairs [1 << 16 / 64]uint64
	// first marks the bytes that, at the start of a value, make it pass; empty is set when a
	// literal is only anchors, which the empty value holds.
	first [256]bool
	empty bool
	// stride > 0 selects the gram form: pairs then holds the gram bits, minLen is the
	// shortest literal, and stride = minLen-3.
	stride int
	minLen int
}

// minGramLiteral is the shortest literal length for which the screen uses grams: shorter ones
// would leave too small a stride to pay.
const minGramLiteral = 6

// gramHash maps a case-folded 4-byte gram (little-endian) to its bit in screen.pairs, of
// which the gram form uses the first 1<<screenGramBits: the literals of a screen hold a few
// hundred grams, and a small table stays in the CPU's nearest cache.
func gramHash(g uint32) uint32 { return (g * gramMul) >> (32 - screenGramBits) }

const screenGramBits = 15

// asciiLower maps ASCII upper-case letters to lower case and every other byte to itself.
var asciiLower = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] = byte(i) + 'a' - 'A'
		}
	}
	return t
}()

// caseVariants returns the byte and, for an ASCII letter, its other case.
func caseVariants(b byte) []byte {
	switch {
	case 'a' <= b && b <= 'z':
		return []byte{b, b - 'a' + 'A'}
	case 'A' <= b && b <= 'Z':
		return []byte{b, b - 'A' + 'a'}
	}
	return []byte{b}
}

func newScreen(lits []string) *screen {
	trimmed := make([]string, len(lits))
	minLen := -1
	for i, l := range lits {
		// The anchors are not in the text the screen sees.
		l = strings.TrimSuffix(strings.TrimPrefix(l, string(rune(markStart))), string(rune(markEnd)))
		trimmed[i] = l
		if minLen < 0 || len(l) < minLen {
			minLen = len(l)
		}
	}
	if minLen >= minGramLiteral {
		return newGramScreen(trimmed, minLen)
	}
	var rank [256]int
	for b := range rank {
		rank[b] = len(textFrequency)
	}
	for i := 0; i < len(textFrequency); i++ {
		rank[textFrequency[i]] = i
	}
	sc := &screen{}
	setPair := func(a, b byte) {
		p := uint32(a)<<8 | uint32(b)
		sc.pairs[p>>6] |= 1 << (p & 63)
	}
	// passAt makes every value holding byte b pass: at its start, or after any byte.
	passAt := func(b byte) {
		sc.first[b] = true
		for a := 0; a < 256; a++ {
			setPair(byte(a), b)
		}
	}
	for b := 0x80; b < 0x100; b++ {
		passAt(byte(b))
	}
	for _, l := range trimmed {
		switch len(l) {
		case 0:
			for b := range 256 {
				passAt(byte(b))
			}
			sc.empty = true
			continue
		case 1:
			for _, b := range caseVariants(l[0]) {
				passAt(b)
			}
			continue
		}
		best := 0
		for i := 1; i+1 < len(l); i++ {
			if rank[l[i]]+rank[l[i+1]] > rank[l[best]]+rank[l[best+1]] {
				best = i
			}
		}
		for _, a := range caseVariants(l[best]) {
			for _, b := range caseVariants(l[best+1]) {
				setPair(a, b)
			}
		}
	}
	return sc
}

// newGramScreen builds the gram form of the screen of literals of at least minLen bytes.
func newGramScreen(lits []string, minLen int) *screen {
	sc := &screen{stride: minLen - 3, minLen: minLen}
	for _, l := range lits {
		for i := 0; i+4 <= len(l); i++ {
			h := gramHash(binary.LittleEndian.Uint32([]byte(l[i:i+4])) | 0x20202020)
			sc.pairs[h>>6] |= 1 << (h & 63)
		}
	}
	return sc
}

// mayHold reports whether v (ASCII letters of any case) may hold one of the literals. Values
// with non-ASCII bytes always may: their lower-case form is not the byte-wise one.
func (sc *screen) mayHold(v string) bool {
	if sc.stride > 0 {
		return sc.mayHoldGrams(v)
	}
	if len(v) == 0 {
		return sc.empty
	}
	if sc.first[v[0]] {
		return true
	}
	pairs := &sc.pairs
	prev := uint32(v[0])
	i := 1
	// Four pairs per step, tested together: most values pass none.
	for ; i+4 <= len(v); i += 4 {
		b1, b2, b3, b4 := uint32(v[i]), uint32(v[i+1]), uint32(v[i+2]), uint32(v[i+3])
		p1, p2, p3, p4 := prev<<8|b1, b1<<8|b2, b2<<8|b3, b3<<8|b4
		if (pairs[p1>>6]>>(p1&63)|pairs[p2>>6]>>(p2&63)|pairs[p3>>6]>>(p3&63)|pairs[p4>>6]>>(p4&63))&1 != 0 {
			return true
		}
		prev = b4
	}
	for ; i < len(v); i++ {
		b := uint32(v[i])
		p := prev<<8 | b
		if pairs[p>>6]>>(p&63)&1 != 0 {
			return true
		}
		prev = b
	}
	return false
}

// mayHoldGrams is mayHold for the gram form: an ASCII value passes when one of its grams at
// the multiples of the stride is one of the literals' grams. When the stride is at most eight,
// the grams are read as the low halves of eight-byte words, which also cover every byte of the
// value (with one last word, overlapping): one pass answers both questions.
func (sc *screen) mayHoldGrams(v string) bool {
	n := len(v)
	if n < sc.minLen {
		return !isASCII(v)
	}
	b := unsafe.Slice(unsafe.StringData(v), n)
	pairs := &sc.pairs
	if sc.stride > 8 || n < 8 {
		if !isASCII(v) {
			return true
		}
		for p := 0; p+4 <= n; p += sc.stride {
			h := gramHash(binary.LittleEndian.Uint32(b[p:]) | 0x20202020)
			if pairs[h>>6]>>(h&63)&1 != 0 {
				return true
			}
		}
		return false
	}
	var acc uint64
	p := 0
	for ; p+8 <= n; p += sc.stride {
		w := binary.LittleEndian.Uint64(b[p:])
		acc |= w
		h := gramHash(uint32(w) | 0x20202020)
		if pairs[h>>6]>>(h&63)&1 != 0 {
			return true
		}
	}
	for ; p+4 <= n; p += sc.stride {
		h := gramHash(binary.LittleEndian.Uint32(b[p:]) | 0x20202020)
		if pairs[h>>6]>>(h&63)&1 != 0 {
			return true
		}
	}
	// The words read cover the value up to the last one's end, past n-8 (the stride is at
	// most eight): the last eight bytes cover the rest.
	acc |= binary.LittleEndian.Uint64(b[n-8:])
	return acc&0x8080808080808080 != 0
}
