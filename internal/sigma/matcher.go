package sigma

import "slices"

// Match is a rule that matched a record, with the evidence: the field values that satisfied
// the rule's (non-negated) selections.
type Match struct {
	Rule     *Rule
	Evidence []Evidence
}

// Matcher matches records against an Engine. It owns the scratch memory of matching, so that
// Match allocates nothing once warmed up; the Matches it returns are valid until its next call.
// A Matcher is not safe for concurrent use: give each goroutine its own.
type Matcher struct {
	e   *Engine
	gen uint32
	rec *Record

	// Per engine field id: the first record field with that id (valid when fstamp == gen).
	fstamp []uint32
	first  []int32
	last   []int32
	// Per record field: its engine field id and the next field with the same id.
	fidOf []int32
	next  []int32

	gvStamp   []uint32
	active    []int32
	grpStamp  []uint32 // per group: active for this record
	ruleStamp []uint32
	candStamp []uint32
	candGen   uint32
	maskStamp []uint32 // per rule: mask valid for candGen
	mask      []uint8  // per rule: literal groups seen
	cands     []int32
	acStamp   []uint32
	acGen     uint32

	ctx     evalCtx
	matches []Match
	evbuf   []Evidence
	scanBuf []byte
	keyBuf  []byte
}

// NewMatcher returns a Matcher for use by one goroutine.
func (e *Engine) NewMatcher() *Matcher {
	n := len(e.fields.names)
	m := &Matcher{
		e:         e,
		fstamp:    make([]uint32, n),
		first:     make([]int32, n),
		last:      make([]int32, n),
		gvStamp:   make([]uint32, len(e.gvs)),
		grpStamp:  make([]uint32, len(e.groups)),
		ruleStamp: make([]uint32, len(e.rules)),
		candStamp: make([]uint32, len(e.rules)),
		maskStamp: make([]uint32, len(e.rules)),
		mask:      make([]uint8, len(e.rules)),
	}
	if e.ac != nil {
		m.acStamp = make([]uint32, e.ac.states)
	}
	m.ctx.m = m
	return m
}

func (m *Matcher) firstOf(fid int32) int32 {
	if m.fstamp[fid] != m.gen {
		return -1
	}
	return m.first[fid]
}

func (m *Matcher) bumpGen() {
	m.gen++
	if m.gen == 0 {
		clear(m.fstamp)
		clear(m.gvStamp)
		clear(m.grpStamp)
		clear(m.ruleStamp)
		m.gen = 1
	}
}

// begin links the record's fields to engine field ids.
func (m *Matcher) begin(rec *Record) {
	m.bumpGen()
	m.rec = rec
	m.ctx.rec = rec
	n := len(rec.fields)
	if cap(m.next) < n {
		m.next = make([]int32, n, 2*n)
		m.fidOf = make([]int32, n, 2*n)
	}
	m.next = m.next[:n]
	m.fidOf = m.fidOf[:n]
	ft := &m.e.fields
	for i := range rec.fields {
		fid := ft.lookup(rec.fields[i].name)
		m.fidOf[i] = fid
		m.next[i] = -1
		if fid < 0 {
			continue
		}
		if m.fstamp[fid] != m.gen {
			m.fstamp[fid] = m.gen
			m.first[fid] = int32(i)
		} else {
			m.next[m.last[fid]] = int32(i)
		}
		m.last[fid] = int32(i)
	}
}

func (m *Matcher) activate(gv int32) {
	if m.gvStamp[gv] != m.gen {
		m.gvStamp[gv] = m.gen
		m.active = append(m.active, gv)
		m.grpStamp[m.e.gvs[gv].group] = m.gen
	}
}

func (m *Matcher) checkEntry(ei int32) {
	ent := &m.e.entries[ei]
	for h, want := range ent.hints {
		if want != "" && m.rec.hints[h] != want {
			return
		}
	}
	for ci := range ent.conds {
		c := &ent.conds[ci]
		i := m.firstOf(c.fid)
		if i < 0 {
			return
		}
		if c.any {
			continue
		}
		ok := false
		for ; i >= 0 && !ok; i = m.next[i] {
			v := m.rec.lowerAt(i)
			for _, want := range c.vals {
				if v == want {
					ok = true
					break
				}
			}
		}
		if !ok {
			return
		}
	}
	for _, gv := range ent.activates {
		m.activate(gv)
	}
}

// routes finds the group variants (log sources) the record belongs to.
func (m *Matcher) route() {
	e := m.e
	m.active = m.active[:0]
	for _, gv := range e.always {
		m.activate(gv)
	}
	if len(e.chanIdx) > 0 || len(e.eidIdx) > 0 {
		for i := m.firstOf(e.chanFID); i >= 0; i = m.next[i] {
			ch := m.rec.lowerAt(i)
			for _, ei := range e.chanIdx[ch] {
				m.checkEntry(ei)
			}
			for j := m.firstOf(e.eidFID); j >= 0; j = m.next[j] {
				m.keyBuf = append(append(append(m.keyBuf[:0], ch...), 0), m.rec.lowerAt(j)...)
				for _, ei := range e.eidIdx[string(m.keyBuf)] {
					m.checkEntry(ei)
				}
			}
		}
	}
	if len(e.provIdx) > 0 {
		for i := m.firstOf(e.provFID); i >= 0; i = m.next[i] {
			for _, ei := range e.provIdx[m.rec.lowerAt(i)] {
				m.checkEntry(ei)
			}
		}
	}
	if len(e.hintIdx) > 0 {
		for h, prefix := range [...]string{"p:", "s:", "c:"} {
			if v := m.rec.hints[h]; v != "" {
				for _, ei := range e.hintIdx[prefix+v] {
					m.checkEntry(ei)
				}
			}
		}
	}
	for _, ei := range e.checkAll {
		m.checkEntry(ei)
	}
}

// Match returns the rules that match rec, in rule load order. The result and its Evidence
// are valid until the next call on this Matcher and until rec is reset.
func (m *Matcher) Match(rec *Record) []Match {
	m.begin(rec)
	m.matches = m.matches[:0]
	m.evbuf = m.evbuf[:0]
	m.route()
	if len(m.active) > 0 {
		m.cands = m.cands[:0]
		m.candGen++
		if m.candGen == 0 {
			clear(m.candStamp)
			clear(m.maskStamp)
			m.candGen = 1
		}
		if m.e.ac != nil {
			m.scan()
			if len(m.cands) > 1 {
				slices.Sort(m.cands)
			}
		}
		for _, gvi := range m.active {
			m.evalVariant(gvi)
		}
		if len(m.matches) > 1 {
			slices.SortStableFunc(m.matches, func(a, b Match) int {
				return a.Rule.loadIndex - b.Rule.loadIndex
			})
		}
	}
	m.rec = nil
	return m.matches
}

func (m *Matcher) evalVariant(gvi int32) {
	e := m.e
	gv := &e.gvs[gvi]
	g := e.groups[gv.group]
	for _, ri := range m.cands {
		if e.ruleGroup[ri] == gv.group {
			m.evalRule(gv, e.ruleLocal[ri])
		}
	}
	for _, li := range g.always {
		m.evalRule(gv, li)
	}
}

func (m *Matcher) evalRule(gv *groupVariant, li int32) {
	e := m.e
	ri := e.groups[gv.group].rules[li]
	if m.ruleStamp[ri] == m.gen {
		return
	}
	m.ruleStamp[ri] = m.gen
	er := e.rules[ri]
	c := &m.ctx
	c.fids = gv.fids[li]
	c.collect = false
	c.ev = m.evbuf
	if !er.det.root.eval(c) {
		return
	}
	for fi, fd := range er.filters {
		c.fids = gv.filterFids[li][fi]
		if fd.root.eval(c) != e.opts.PySigmaFilters {
			return // suppressed by the filter
		}
	}
	// Evaluate again, collecting evidence.
	c.fids = gv.fids[li]
	c.collect = true
	c.sel = ""
	start := len(m.evbuf)
	c.ev = m.evbuf
	er.det.root.eval(c)
	m.evbuf = c.ev
	c.collect = false
	m.matches = append(m.matches, Match{Rule: er.rule, Evidence: m.evbuf[start:len(m.evbuf):len(m.evbuf)]})
}

// scan runs the automaton over the record's values and collects the candidate rules of the
// active log sources. The values are first copied into one buffer, each as
// markStart+value+markEnd (lower-cased when not ASCII; ASCII letters are folded by the byte
// classes). The buffer is then cut into two halves that overlap by the longest literal minus
// one, and both halves are scanned in the same loop: the two chains of dependent table loads
// overlap in the CPU, which nearly halves the time per byte. Starting the second half at the
// root state is exact because every literal is at most maxLiteralLen bytes long.
func (m *Matcher) scan() {
	e := m.e
	rec := m.rec
	buf := m.scanBuf[:0]
	for i := range rec.fields {
		if !e.scanAll && !e.scanFids.has(m.fidOf[i]) {
			continue
		}
		v := rec.fields[i].value
		buf = append(buf, markStart)
		if isASCII(v) {
			buf = append(buf, v...)
		} else {
			buf = append(buf, rec.lowerAt(int32(i))...)
		}
		buf = append(buf, markEnd)
	}
	m.scanBuf = buf
	m.acGen++
	if m.acGen == 0 {
		clear(m.acStamp)
		m.acGen = 1
	}
	const overlap = maxLiteralLen - 1
	if len(buf) < 4*overlap {
		m.scanRange(buf, 0, len(buf))
		return
	}
	if len(buf) < 16*overlap {
		mid := len(buf) / 2
		m.scanPair(buf, mid, mid-overlap)
		return
	}
	q := len(buf) / 4
	m.scanQuad(buf, q, overlap)
}

// scanQuad scans buf as four interleaved chains over its quarters (each quarter after the
// first starts overlap bytes early, see scan).
func (m *Matcher) scanQuad(buf []byte, q, overlap int) {
	a := m.e.ac
	cls := &a.class
	delta := a.delta
	nd, ncls := a.ndense, a.ncls
	p0 := buf[:q]
	p1 := buf[q-overlap : 2*q]
	p2 := buf[2*q-overlap : 3*q]
	p3 := buf[3*q-overlap:]
	n := len(p0)
	p1, p2 = p1[:n+overlap], p2[:n+overlap]
	var s0, s1, s2, s3 int32
	// The later chains first catch up over their overlap.
	for i := 0; i < overlap; i++ {
		s1 = m.stepReport(s1, cls[p1[i]])
		s2 = m.stepReport(s2, cls[p2[i]])
		s3 = m.stepReport(s3, cls[p3[i]])
	}
	p1, p2, p3 = p1[overlap:], p2[overlap:], p3[overlap:]
	p1, p2 = p1[:n], p2[:n]
	for i := 0; i < n; i++ {
		c0, c1, c2, c3 := cls[p0[i]], cls[p1[i]], cls[p2[i]], cls[p3[i]]
		var t0, t1, t2, t3 int32
		if s0 < nd {
			t0 = delta[s0*ncls+int32(c0)]
		} else {
			t0 = a.step(s0, c0)
		}
		if s1 < nd {
			t1 = delta[s1*ncls+int32(c1)]
		} else {
			t1 = a.step(s1, c1)
		}
		if s2 < nd {
			t2 = delta[s2*ncls+int32(c2)]
		} else {
			t2 = a.step(s2, c2)
		}
		if s3 < nd {
			t3 = delta[s3*ncls+int32(c3)]
		} else {
			t3 = a.step(s3, c3)
		}
		if t0|t1|t2|t3 < 0 {
			if t0 < 0 {
				if t0 = ^t0; m.acStamp[t0] != m.acGen {
					m.report(t0)
				}
			}
			if t1 < 0 {
				if t1 = ^t1; m.acStamp[t1] != m.acGen {
					m.report(t1)
				}
			}
			if t2 < 0 {
				if t2 = ^t2; m.acStamp[t2] != m.acGen {
					m.report(t2)
				}
			}
			if t3 < 0 {
				if t3 = ^t3; m.acStamp[t3] != m.acGen {
					m.report(t3)
				}
			}
		}
		s0, s1, s2, s3 = t0, t1, t2, t3
	}
	for _, b := range p3[n:] {
		s3 = m.stepReport(s3, cls[b])
	}
}

func (m *Matcher) stepReport(s int32, c uint8) int32 {
	t := m.e.ac.step(s, c)
	if t < 0 {
		t = ^t
		m.report(t)
	}
	return t
}

// report records the candidates of every literal ending in state t (and its suffix chain).
func (m *Matcher) report(t int32) {
	e := m.e
	a, li := e.ac, e.li
	for st := t; st >= 0; st = a.dict[st] {
		if m.acStamp[st] == m.acGen {
			return
		}
		m.acStamp[st] = m.acGen
		slot := a.out[st]
		if slot < 0 {
			continue
		}
		for _, run := range li.runs[li.start[slot]:li.start[slot+1]] {
			if m.grpStamp[run.group] != m.gen {
				continue
			}
			for _, x := range li.rules[run.start:run.end] {
				ri := int32(x >> 2)
				if m.candStamp[ri] == m.candGen {
					continue
				}
				bit := uint8(1) << (x & 3)
				mask := bit
				if m.maskStamp[ri] == m.candGen {
					mask |= m.mask[ri]
				}
				m.maskStamp[ri] = m.candGen
				m.mask[ri] = mask
				if mask == li.full[ri] {
					m.candStamp[ri] = m.candGen
					m.cands = append(m.cands, ri)
				}
			}
		}
	}
}

// step is one automaton transition (flagged like automaton.delta).
func (a *automaton) step(s int32, c uint8) int32 {
	if s < a.ndense {
		return a.delta[s*a.ncls+int32(c)]
	}
	if c == 0 {
		return 0
	}
	return a.next(s, c)
}

func (m *Matcher) scanRange(buf []byte, from, to int) {
	a := m.e.ac
	s := int32(0)
	for _, b := range buf[from:to] {
		t := a.step(s, a.class[b])
		if t < 0 {
			t = ^t
			m.report(t)
		}
		s = t
	}
}

// scanPair scans buf[:end1] and buf[start2:] in one interleaved loop.
func (m *Matcher) scanPair(buf []byte, end1, start2 int) {
	a := m.e.ac
	cls := &a.class
	delta := a.delta
	nd, ncls := a.ndense, a.ncls
	first, second := buf[:end1], buf[start2:]
	n := min(len(first), len(second))
	first, second = first[:n], second[:len(second)]
	s1, s2 := int32(0), int32(0)
	for i := 0; i < n; i++ {
		c1, c2 := cls[first[i]], cls[second[i]]
		var t1, t2 int32
		if s1 < nd {
			t1 = delta[s1*ncls+int32(c1)]
		} else {
			t1 = a.step(s1, c1)
		}
		if s2 < nd {
			t2 = delta[s2*ncls+int32(c2)]
		} else {
			t2 = a.step(s2, c2)
		}
		if t1 < 0 {
			t1 = ^t1
			m.report(t1)
		}
		if t2 < 0 {
			t2 = ^t2
			m.report(t2)
		}
		s1, s2 = t1, t2
	}
	for _, b := range second[n:] {
		t := a.step(s2, cls[b])
		if t < 0 {
			t = ^t
			m.report(t)
		}
		s2 = t
	}
}
