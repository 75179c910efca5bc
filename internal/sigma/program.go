package sigma

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

// compileProgram lays out the tree of n, with copies of its field conditions in one array.
func compileProgram(n node) program {
	var fcs int
	var count func(n node)
	count = func(n node) {
		switch x := n.(type) {
		case *andNode:
			for _, k := range x.kids {
				count(k)
			}
		case *orNode:
			for _, k := range x.kids {
				count(k)
			}
		case *notNode:
			count(x.kid)
		case *selNode:
			count(x.kid)
		case *fieldCond:
			fcs++
		}
	}
	count(n)
	conds := make([]fieldCond, 0, fcs)
	var p program
	var emit func(n node)
	emit = func(n node) {
		at := len(p)
		p = append(p, instr{})
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
			conds = append(conds, *x)
			p[at].op, p[at].fc = opField, &conds[len(conds)-1]
		default:
			panic("sigma: unknown condition node")
		}
		p[at].end = int32(len(p))
	}
	emit(n)
	return p
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
