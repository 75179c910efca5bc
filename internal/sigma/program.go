package sigma

import "unsafe"

// A program is a condition tree laid out flat, in depth-first order: evaluating it walks an
// array instead of following a pointer and a method table per node, and the field conditions
// of a rule sit side by side in memory. A rule's evaluation is a chain of dependent loads of
// memory the CPU caches rarely hold (the prefilter lets a rule through now and then): the
// fewer and closer the loads, the faster.

// Program instruction kinds.
const (
	opAnd = iota
	opOr
	opNot
	opSel
	opConst
	opField
)

// instr is a node of a program. Its children follow it; end is the index just past its
// subtree.
type instr struct {
	op   uint8
	val  bool // opConst
	end  int32
	fc   *fieldCond // opField
	name string     // opSel
}

// program is a flat condition tree (see compileProgram).
type program []instr

// progArena holds the programs of an engine and what they evaluate in a few large arrays, so
// that the data of one rule is contiguous: its instructions, its field conditions, their
// patterns and the patterns' strings. The arrays are sized beforehand (see size) and never
// grow, so pointers into them stay valid.
type progArena struct {
	instrs []instr
	conds  []fieldCond
	pats   []pattern
	text   []byte
	// The sizes counted by size.
	nInstrs, nConds, nPats, nText int
}

// size counts what the program of n needs (see alloc).
func (a *progArena) size(n node) {
	switch x := n.(type) {
	case *andNode:
		for _, k := range x.kids {
			a.size(k)
		}
	case *orNode:
		for _, k := range x.kids {
			a.size(k)
		}
	case *notNode:
		a.size(x.kid)
	case *selNode:
		a.size(x.kid)
	case *fieldCond:
		a.nConds++
		pats := func(ps []pattern) {
			a.nPats += len(ps)
			for i := range ps {
				a.nText += len(ps[i].a) + len(ps[i].b)
			}
		}
		pats(x.pats)
		for _, g := range x.groups {
			pats(g)
		}
	}
	a.nInstrs++
}

// alloc makes the arrays, of the sizes counted by size.
func (a *progArena) alloc() {
	a.instrs = make([]instr, 0, a.nInstrs)
	a.conds = make([]fieldCond, 0, a.nConds)
	a.pats = make([]pattern, 0, a.nPats)
	a.text = make([]byte, 0, a.nText)
}

// str copies s into the arena.
func (a *progArena) str(s string) string {
	if s == "" {
		return ""
	}
	start := len(a.text)
	a.text = append(a.text, s...)
	return unsafe.String(&a.text[start], len(s))
}

// patterns copies ps, and their strings, into the arena.
func (a *progArena) patterns(ps []pattern) []pattern {
	if ps == nil {
		return nil
	}
	start := len(a.pats)
	for _, p := range ps {
		p.a, p.b = a.str(p.a), a.str(p.b)
		a.pats = append(a.pats, p)
	}
	return a.pats[start:len(a.pats):len(a.pats)]
}

// compileProgram lays out the tree of n in the arena, sized for it beforehand (see size).
func compileProgram(n node, a *progArena) program {
	start := len(a.instrs)
	var emit func(n node)
	emit = func(n node) {
		at := len(a.instrs)
		a.instrs = append(a.instrs, instr{})
		p := a.instrs
		switch x := n.(type) {
		case *andNode:
			p[at].op = opAnd
			for _, k := range x.kids {
				emit(k)
			}
		case *orNode:
			p[at].op = opOr
			for _, k := range x.kids {
				emit(k)
			}
		case *notNode:
			p[at].op = opNot
			emit(x.kid)
		case *selNode:
			p[at].op, p[at].name = opSel, x.name
			emit(x.kid)
		case *constNode:
			p[at].op, p[at].val = opConst, x.v
		case *fieldCond:
			fc := *x
			fc.pats = a.patterns(x.pats)
			if x.groups != nil {
				fc.groups = make([][]pattern, len(x.groups))
				for i, g := range x.groups {
					fc.groups[i] = a.patterns(g)
				}
			}
			a.conds = append(a.conds, fc)
			p[at].op, p[at].fc = opField, &a.conds[len(a.conds)-1]
		default:
			panic("sigma: unknown condition node")
		}
		p[at].end = int32(len(a.instrs) - start)
	}
	emit(n)
	return program(a.instrs[start:len(a.instrs):len(a.instrs)])
}

// eval evaluates the subtree at index i exactly as the tree's nodes would (see andNode,
// orNode, notNode, selNode): same result, same evidence.
func (p program) eval(c *evalCtx, i int32) bool {
	in := &p[i]
	switch in.op {
	case opField:
		return in.fc.eval(c)
	case opAnd:
		mark := len(c.ev)
		for j := i + 1; j < in.end; j = p[j].end {
			if !p.eval(c, j) {
				c.ev = c.ev[:mark]
				return false
			}
		}
		return true
	case opOr:
		for j := i + 1; j < in.end; j = p[j].end {
			if p.eval(c, j) {
				return true
			}
		}
		return false
	case opNot:
		collect := c.collect
		c.collect = false
		r := p.eval(c, i+1)
		c.collect = collect
		return !r
	case opSel:
		prev := c.sel
		c.sel = in.name
		mark := len(c.ev)
		r := p.eval(c, i+1)
		if !r {
			c.ev = c.ev[:mark]
		}
		c.sel = prev
		return r
	}
	return in.val
}
