package sigma

import (
	"cmp"
	"slices"
)

// automaton is an Aho-Corasick automaton over byte classes. The shallow states (the first
// ndense in breadth-first order, where nearly all scanning time is spent) have dense DFA rows;
// deeper states keep only their trie edges and fall back along failure links. Bytes that occur
// in no literal share class 0, which always leads back to the root. ASCII upper-case letters
// share the class of their lower-case letter, so ASCII text needs no lower-casing. When
// literals use more than maxClasses distinct bytes, the rarest share one class: the automaton
// then reports a superset of the true hits, which is still a correct prefilter.
type automaton struct {
	class  [256]uint8
	ncls   int32   // number of classes including class 0
	ndense int32   // states [0, ndense) have dense rows
	delta  []int32 // [state*ncls + class] -> next state; ^next when next has outputs
	// Sparse states s >= ndense: edges edgeCls/edgeNext[edgeStart[s-ndense]:edgeStart[s-ndense+1]].
	edgeStart []int32
	edgeCls   []uint8
	edgeNext  []int32 // ^next when next has outputs
	fail      []int32
	out       []int32 // output slot of the state (literals ending there), or -1
	dict      []int32 // nearest state on the suffix chain with an output, or -1
	states    int32
	// Literals of output slot k: slotLits[slotStart[k]:slotStart[k+1]]. Several literals can
	// end in one state when rare bytes share a class.
	slotStart []int32
	slotLits  []int32
}

const (
	maxClasses = 48
	// maxDenseBytes bounds the dense part of the table. Within it every state is dense for
	// rule sets of a few thousand rules, which keeps the scan loop free of sparse lookups.
	maxDenseBytes = 24 << 20
)

type trieNode struct {
	edges []trieEdge
	out   int32
	depth int32
}

type trieEdge struct {
	cls  uint8
	next int32
}

// buildAutomaton compiles the literals (lower-case byte strings, each non-empty).
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
	slices.SortStableFunc(used, func(x, y int) int { return freq[y] - freq[x] })
	n := 0
	for i, b := range used {
		if i < maxClasses-2 {
			n++
			a.class[b] = uint8(n)
		} else {
			a.class[b] = uint8(maxClasses - 1) // shared class of the rare bytes
		}
	}
	if len(used) > maxClasses-2 {
		n = maxClasses - 1
	}
	for b := 'A'; b <= 'Z'; b++ {
		a.class[b] = a.class[b+'a'-'A']
	}
	a.ncls = int32(n) + 1

	trie := []trieNode{{out: -1}}
	var slots [][]int32
	for id, l := range lits {
		s := int32(0)
		for i := 0; i < len(l); i++ {
			c := a.class[l[i]]
			next := int32(-1)
			for _, e := range trie[s].edges {
				if e.cls == c {
					next = e.next
					break
				}
			}
			if next < 0 {
				trie = append(trie, trieNode{out: -1, depth: trie[s].depth + 1})
				next = int32(len(trie) - 1)
				trie[s].edges = append(trie[s].edges, trieEdge{cls: c, next: next})
			}
			s = next
		}
		if trie[s].out < 0 {
			trie[s].out = int32(len(slots))
			slots = append(slots, nil)
		}
		slots[trie[s].out] = append(slots[trie[s].out], int32(id))
	}
	a.slotStart = make([]int32, 0, len(slots)+1)
	for _, sl := range slots {
		a.slotStart = append(a.slotStart, int32(len(a.slotLits)))
		a.slotLits = append(a.slotLits, sl...)
	}
	a.slotStart = append(a.slotStart, int32(len(a.slotLits)))
	// Renumber states in breadth-first order so that shallow states come first.
	order := make([]int32, 0, len(trie))
	order = append(order, 0)
	for i := 0; i < len(order); i++ {
		for _, e := range trie[order[i]].edges {
			order = append(order, e.next)
		}
	}
	renum := make([]int32, len(trie))
	for newID, old := range order {
		renum[old] = int32(newID)
	}
	ns := len(trie)
	a.states = int32(ns)
	a.ndense = int32(min(ns, maxDenseBytes/(4*int(a.ncls))))
	nd := int(a.ndense)
	ncls := int(a.ncls)
	a.delta = make([]int32, nd*ncls)
	a.out = make([]int32, ns)
	a.dict = make([]int32, ns)
	a.fail = make([]int32, ns)
	edges := make([][]trieEdge, ns)
	for old := range trie {
		s := renum[old]
		a.out[s] = trie[old].out
		a.dict[s] = -1
		for _, e := range trie[old].edges {
			edges[s] = append(edges[s], trieEdge{cls: e.cls, next: renum[e.next]})
		}
	}
	// goto follows the full DFA transition of state s on class c, for s already processed.
	var step func(s int32, c uint8) int32
	step = func(s int32, c uint8) int32 {
		for {
			if int(s) < nd {
				return a.delta[int(s)*ncls+int(c)]
			}
			for _, e := range edges[s] {
				if e.cls == c {
					return e.next
				}
			}
			s = a.fail[s]
		}
	}
	// Breadth-first: the new numbering is already breadth-first.
	for _, e := range edges[0] {
		a.delta[int(e.cls)] = e.next
		a.fail[e.next] = 0
	}
	for s := int32(1); s < a.states; s++ {
		f := a.fail[s]
		if a.out[f] >= 0 {
			a.dict[s] = f
		} else {
			a.dict[s] = a.dict[f]
		}
		if int(s) < nd {
			row := int(s) * ncls
			copy(a.delta[row:row+ncls], a.delta[int(f)*ncls:int(f)*ncls+ncls])
		}
		for _, e := range edges[s] {
			a.fail[e.next] = step(f, e.cls)
			if int(s) < nd {
				a.delta[int(s)*ncls+int(e.cls)] = e.next
			}
		}
	}
	// Class 0 always returns to the root.
	for s := 0; s < nd; s++ {
		a.delta[s*ncls] = 0
	}
	flag := func(t int32) int32 {
		if a.out[t] >= 0 || a.dict[t] >= 0 {
			return ^t
		}
		return t
	}
	for i, t := range a.delta {
		a.delta[i] = flag(t)
	}
	a.edgeStart = make([]int32, 0, ns-nd+1)
	for s := nd; s < ns; s++ {
		a.edgeStart = append(a.edgeStart, int32(len(a.edgeCls)))
		for _, e := range edges[s] {
			a.edgeCls = append(a.edgeCls, e.cls)
			a.edgeNext = append(a.edgeNext, flag(e.next))
		}
	}
	a.edgeStart = append(a.edgeStart, int32(len(a.edgeCls)))
	return a
}

// next returns the transition of state s on class c (c != 0), flagged like delta.
func (a *automaton) next(s int32, c uint8) int32 {
	for {
		if s < a.ndense {
			return a.delta[s*a.ncls+int32(c)]
		}
		k := s - a.ndense
		for i, end := a.edgeStart[k], a.edgeStart[k+1]; i < end; i++ {
			if a.edgeCls[i] == c {
				return a.edgeNext[i]
			}
		}
		s = a.fail[s]
	}
}

// memory returns the approximate size of the automaton in bytes.
func (a *automaton) memory() int {
	return 4*len(a.delta) + 4*len(a.edgeStart) + 5*len(a.edgeCls) + 16*int(a.states) + 256
}

// literalIndex maps the automaton's output slots to the rule literal groups that one of the
// slot's literals satisfies.
type literalIndex struct {
	lits  []string
	start []int32  // CSR offsets into runs, one per output slot, plus one
	runs  []litRun // per slot, one run per log source group
	rules []uint32 // rule index << 2 | literal group, sorted by rule
	// full is, per rule, the bit mask with one bit per literal group of the rule.
	full []uint8
}

// litRun is the part of an output slot's rule list that belongs to one log source group.
type litRun struct {
	group      int32
	start, end int32 // into literalIndex.rules
}

// maxLiteralLen bounds indexed literals: a substring of a required literal is required too, and
// shorter literals keep the automaton shallow (and mostly dense) at little cost in selectivity.
const maxLiteralLen = 12

// truncateLiteral keeps the most telling maxLiteralLen bytes of a literal: the start of a
// literal anchored at the start of a value, otherwise its end (file names and the like).
func truncateLiteral(l string) string {
	if len(l) <= maxLiteralLen {
		return l
	}
	if l[0] == markStart && l[len(l)-1] != markEnd {
		return l[:maxLiteralLen]
	}
	return l[len(l)-maxLiteralLen:]
}

func buildLiteralIndex(perRule [][][]string, ruleGroup []int32) (*literalIndex, *automaton) {
	ids := map[string]int32{}
	var lits []string
	var pairs [][2]uint32 // literal id or slot, rule<<2 | group
	full := make([]uint8, len(perRule))
	for r, groups := range perRule {
		for gi, set := range groups {
			full[r] |= 1 << gi
			for _, l := range set {
				l = truncateLiteral(l)
				id, ok := ids[l]
				if !ok {
					id = int32(len(lits))
					ids[l] = id
					lits = append(lits, l)
				}
				pairs = append(pairs, [2]uint32{uint32(id), uint32(r)<<2 | uint32(gi)})
			}
		}
	}
	if len(lits) == 0 {
		return &literalIndex{start: []int32{0}, full: full}, nil
	}
	a := buildAutomaton(lits)
	slotOf := make([]uint32, len(lits))
	nslots := len(a.slotStart) - 1
	for k := 0; k < nslots; k++ {
		for _, lit := range a.slotLits[a.slotStart[k]:a.slotStart[k+1]] {
			slotOf[lit] = uint32(k)
		}
	}
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
	li := &literalIndex{lits: lits, start: make([]int32, nslots+1), rules: make([]uint32, len(pairs)), full: full}
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
		g := ruleGroup[pairs[i][1]>>2]
		j := i
		for j < len(pairs) && pairs[j][0] == pairs[i][0] && ruleGroup[pairs[j][1]>>2] == g {
			j++
		}
		li.runs = append(li.runs, litRun{group: g, start: int32(i), end: int32(j)})
		i = j
	}
	for slot < uint32(nslots) {
		slot++
		li.start[slot] = int32(len(li.runs))
	}
	return li, a
}
