package sigma

import (
	"encoding/binary"
	"slices"
	"strings"
	"unsafe"
)

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

	// Per engine field id: the first record field with that id (valid when its stamp is
	// fgen), stamp and index side by side (a record's switch of shape writes a few tens of
	// them, and each is one cache line to fetch, not two).
	first []fieldFirst
	fgen  uint32
	last  []int32 // scratch of link
	// Per record field: its engine field id and the next field with the same id (the arrays
	// of the current shape).
	fidOf []int32
	next  []int32
	// The field links of the record shapes met lately (see begin), by hash of their names,
	// and the shape of the current record.
	shapes   [shapeSlots]*shape
	curShape *shape
	spare    *shape                       // the shape placeShape dropped last, whose memory the next new one takes
	names    *[1 << nameSlotBits]nameSlot // see stableFid
	// The group variants of each combination of routing inputs met (see route).
	routeKey []byte
	routes   map[string][]int32

	// The active group variants and groups, valid while the routing stays the same (the
	// routing's group variants are activeOf); their stamps are of generation agen.
	gvStamp  []uint32
	active   []int32
	grpStamp []uint32 // per group: active for the routing
	groups   []int32  // the active groups
	activeOf []int32
	agen     uint32
	sg       []int32 // the active groups with field automata
	// Per rule: the record generation it was evaluated for.
	rs []ruleState
	// The rule literal groups satisfied for the current record: bit k of the bitmap for group
	// key k (see groupKey), so four bits per rule state, sixteen states per word, each word
	// next to its full mask (a copy of the engine's fullNibs: one cache line holds both);
	// touched lists the words not zero. Small enough for the nearest CPU cache, where a state
	// per rule would not be.
	words   []satWord
	touched []int32
	cands   []int32
	acStamp []uint32
	acGen   uint32

	ctx     evalCtx
	evals   uint64 // rule evaluations, for measurements
	links   uint64 // record shapes linked (see begin), for measurements
	matches []Match
	evbuf   []Evidence
	keyBuf  []byte // routing scratch

	// Keyword automata by set of groups (group ids, little-endian uint32s), and the last one.
	kwCache  map[string]*keywordAutomaton
	kwGroups []int32 // scratch: the active groups with keyword searches
	kwKey    []byte
	kwLast   []byte
	kw       *keywordAutomaton
	kwValid  bool // kw is the automaton of kwLast

	hits []uint32 // rule literal groups the scan of the current value satisfied
	memo memo

	// The gram scan under way (see scanGrams): its text, gram set, and reportGram as a func.
	gramBuf    []byte
	gramFA     *fieldAutomaton
	gramReport func(lit int32)
}

// NewMatcher returns a Matcher for use by one goroutine.
func (e *Engine) NewMatcher() *Matcher {
	n := len(e.fields.names)
	m := &Matcher{
		e:        e,
		first:    make([]fieldFirst, n),
		last:     make([]int32, n),
		gvStamp:  make([]uint32, len(e.gvs)),
		grpStamp: make([]uint32, len(e.groups)),
		rs:       make([]ruleState, len(e.rules)),
		// Zero: the first record has nothing to clear.
		words:   make([]satWord, len(e.pf.fullNibs)),
		touched: make([]int32, 0, len(e.pf.fullNibs)+1), // see satisfy
	}
	for w, f := range e.pf.fullNibs {
		m.words[w].full = f
	}
	// Room for the states of the keyword automata the Matcher adds as it meets them.
	m.acStamp = make([]uint32, e.pf.states, e.pf.states+1<<13)
	m.ctx.m = m
	m.gramReport = m.reportGram
	m.names = new([1 << nameSlotBits]nameSlot)
	return m
}

// fieldFirst is the first record field with an engine field id, valid when stamp is the
// Matcher's fgen.
type fieldFirst struct {
	stamp uint32
	i     int32
}

func (m *Matcher) firstOf(fid int32) int32 {
	if f := m.first[fid]; f.stamp == m.fgen {
		return f.i
	}
	return -1
}

func (m *Matcher) bumpGen() {
	m.gen++
	if m.gen == 0 {
		for i := range m.rs {
			m.rs[i].evalGen = 0
		}
		m.gen = 1
	}
}

// begin links the record's fields to engine field ids. The links depend on the field names
// only, and a log has few shapes (the records of one EVTX template, or of one JSON producer,
// have the same names in the same order) which come back again and again, interleaved: the
// links of each shape are made once and kept (see shape).
func (m *Matcher) begin(rec *Record) {
	m.bumpGen()
	m.rec = rec
	m.ctx.rec = rec
	sh := m.curShape
	if sh != nil && sh.same(rec) {
		return
	}
	h := shapeHash(rec)
	m.curShape = nil // in case the shape is recycled below
	m.fgen++
	if m.fgen == 0 {
		clear(m.first)
		m.fgen = 1
	}
	// Two places a shape can be in (see shapePlaces).
	a, b := m.shapePlaces(h)
	switch {
	case *a != nil && (*a).hash == h && (*a).same(rec):
		sh = *a
	case *b != nil && (*b).hash == h && (*b).same(rec):
		sh = *b
	default:
		sh = m.placeShape(a, b)
		m.links++
		m.link(sh, rec, h)
		m.curShape = sh
		m.fidOf, m.next = sh.fidOf, sh.next
		return
	}
	m.curShape = sh
	for _, hd := range sh.heads {
		m.first[hd.fid] = fieldFirst{m.fgen, hd.first}
	}
	m.fidOf, m.next = sh.fidOf, sh.next
}

// shapeSlots is the number of record shapes a Matcher keeps the field links of.
const shapeSlots = 256

// shapePlaces returns the two places of the shapes of hash h.
func (m *Matcher) shapePlaces(h uint64) (a, b **shape) {
	return &m.shapes[h&(shapeSlots-1)], &m.shapes[(h>>32)&(shapeSlots-1)]
}

// placeShape returns the shape to link a new shape into, placed in a, the first of its two
// places, or b when that one is free. The shape in a moves to its own other place, the one
// there to its own other place in turn, and so on for a few moves at most: the last shape
// moved out is dropped, and lends its memory to the next new shape. Every shape kept is in one
// of its own two places, where begin looks for it.
func (m *Matcher) placeShape(a, b **shape) *shape {
	sh := m.spare
	if sh == nil {
		sh = &shape{}
	}
	m.spare = nil
	if *b == nil && *a != nil {
		*b = sh
		return sh
	}
	cur, at := *a, a
	*a = sh
	for range maxShapeMoves {
		if cur == nil {
			break
		}
		pa, pb := m.shapePlaces(cur.hash)
		other := pa
		if pa == at {
			other = pb
		}
		if other == at || other == a {
			break // cur has no other place
		}
		cur, *other = *other, cur
		at = other
	}
	m.spare = cur // dropped (or nil)
	return sh
}

// maxShapeMoves bounds the shapes a new shape moves (see placeShape).
const maxShapeMoves = 8

// shape holds the field links of the records with given field names.
type shape struct {
	hash  uint64
	valid bool
	// names are the field names: the record's own when stable (immutable), else copies in buf.
	names []string
	buf   []byte
	// Per record field: its engine field id, and the next field with the same id (-1: none).
	fidOf []int32
	next  []int32
	// heads holds the first record field of each engine field the shape has.
	heads []fieldHead
	// The routing of the shape's last record, with its scan plan, and the routing before it:
	// one template can serve two event IDs, whose records come interleaved (BITS jobs
	// started and done, Sysmon's registry events by event type), and each keeps its plan.
	routing
	alt routing
}

// routing is a routing of a shape's records (see route): its key and group variants, and the
// prefilter's scan of the records under it (see scan), when planned, with the typed flags of
// the record's values it was made for.
type routing struct {
	routeKey   []byte
	routeGVs   []int32
	routeValid bool
	plan       []scanStep
	planTyped  []bool
	planValid  bool
}

// scanStep is a step of a shape's scan plan: scan record field i with field automaton fa
// (-1: none) and keyword automaton k (nil: none).
//
// A step also keeps the last value it met, when short, with the rule literal groups the value
// satisfied (in the memo's arena, of the memo's generation lastGen): most values are the
// step's last value again (the same image, user or integrity level, record after record),
// and the step's own copy is then all scanField reads, not the memo's table and arena.
type scanStep struct {
	i, fa    int32
	k        *keywordAutomaton
	lastLen  int32 // -1: none
	lastGen  uint32
	lastHits []uint32
	last     [stepValueLen]byte
}

// stepValueLen is the longest value a scan step keeps (see scanStep): long enough for most
// images, users, companies and products.
const stepValueLen = 48

// remember keeps v and the literal groups it satisfied (a slice of the memo's arena of
// generation gen) as the step's last value, or forgets the last value when v is too long.
func (st *scanStep) remember(v string, hits []uint32, gen uint32) {
	if len(v) > stepValueLen {
		st.lastLen = -1
		return
	}
	st.lastLen = int32(copy(st.last[:], v))
	st.lastHits, st.lastGen = hits, gen
}

type fieldHead struct{ fid, first int32 }

// shapeHash hashes the number and the lengths and end bytes of a record's field names: cheap,
// and telling enough to keep apart the shapes of a log (same checks for equality). The names
// of a record whose names are all stable (interned by the producer) are hashed by where they
// are, without reading them: the same names come back as the same strings.
func shapeHash(rec *Record) uint64 {
	h := uint64(len(rec.fields)) * 0x9E3779B97F4A7C15
	if !rec.unstable {
		for i := range rec.fields {
			name := rec.fields[i].name
			x := uint64(uintptr(unsafe.Pointer(unsafe.StringData(name)))) ^ uint64(len(name))<<48
			h = (h ^ x) * 0xC2B2AE3D27D4EB4F
		}
		return h ^ h>>29
	}
	for i := range rec.fields {
		name := rec.fields[i].name
		x := uint64(len(name))
		if len(name) > 0 {
			x |= uint64(name[0])<<16 | uint64(name[len(name)-1])<<24
		}
		h = (h ^ x) * 0xC2B2AE3D27D4EB4F
	}
	return h ^ h>>29
}

// same reports whether rec has the field names the links were made for. The names kept are
// immutable (stable names, or copies), so comparing them with rec's is sound; names that are
// the very same strings (stable names) are not read.
func (sh *shape) same(rec *Record) bool {
	if !sh.valid || len(rec.fields) != len(sh.names) {
		return false
	}
	// From the last name: the shapes of a log often share their first names (the System
	// fields of every Windows event) and differ in their last.
	names := sh.names[:len(rec.fields)]
	for i := len(rec.fields) - 1; i >= 0; i-- {
		a, b := rec.fields[i].name, names[i]
		if len(a) != len(b) || (unsafe.StringData(a) != unsafe.StringData(b) && a != b) {
			return false
		}
	}
	return true
}

// link makes the field links of rec's names in sh (reusing its memory), and sets the
// Matcher's first fields of the current generation.
func (m *Matcher) link(sh *shape, rec *Record, h uint64) {
	n := len(rec.fields)
	sh.hash, sh.valid, sh.routeValid, sh.planValid = h, true, false, false
	sh.alt.routeValid, sh.alt.planValid = false, false
	// Room for all at once: a new shape grows them from nothing, and a Matcher meets a few
	// hundred shapes, each once.
	sh.names, sh.heads = slices.Grow(sh.names[:0], n), slices.Grow(sh.heads[:0], n)
	if cap(sh.fidOf) < n {
		links := make([]int32, 2*n)
		sh.fidOf, sh.next = links[:n:n], links[n:]
	}
	sh.fidOf, sh.next = sh.fidOf[:n], sh.next[:n]
	if rec.unstable {
		size := 0
		for i := range rec.fields {
			size += len(rec.fields[i].name)
		}
		sh.buf = slices.Grow(sh.buf[:0], size) // the shape's previous names are not used any more
	}
	ft := &m.e.fields
	for i := range rec.fields {
		name := rec.fields[i].name
		if rec.unstable {
			start := len(sh.buf)
			sh.buf = append(sh.buf, name...)
			name = bytesString(sh.buf[start:])
		}
		sh.names = append(sh.names, name)
		var fid int32
		if rec.unstable {
			fid = ft.lookup(name)
		} else {
			fid = m.stableFid(name)
		}
		sh.fidOf[i], sh.next[i] = fid, -1
		if fid < 0 {
			continue
		}
		if m.first[fid].stamp != m.fgen {
			m.first[fid] = fieldFirst{m.fgen, int32(i)}
			sh.heads = append(sh.heads, fieldHead{fid, int32(i)})
		} else {
			sh.next[m.last[fid]] = int32(i)
		}
		m.last[fid] = int32(i)
	}
}

// stableFid returns the engine field id of a stable (interned) field name, remembered by
// where the name is: a log's few hundred names make up the shapes it has, most of them the
// same System and EventData names.
func (m *Matcher) stableFid(name string) int32 {
	p := unsafe.StringData(name)
	slot := &m.names[uint64(uintptr(unsafe.Pointer(p)))*0x9E3779B97F4A7C15>>(64-nameSlotBits)]
	if slot.p == p && int(slot.n) == len(name) && p != nil {
		return slot.fid
	}
	fid := m.e.fields.lookup(name)
	*slot = nameSlot{p, int32(len(name)), fid}
	return fid
}

// nameSlot is a stable field name a Matcher has looked up, and its engine field id.
type nameSlot struct {
	p      *byte
	n, fid int32
}

// nameSlotBits sizes the table of stable names a Matcher remembers.
const nameSlotBits = 10

func (m *Matcher) activate(gv int32) {
	if m.gvStamp[gv] != m.agen {
		m.gvStamp[gv] = m.agen
		m.active = append(m.active, gv)
		if g := m.e.gvs[gv].group; m.grpStamp[g] != m.agen {
			m.grpStamp[g] = m.agen
			m.groups = append(m.groups, g)
		}
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

// route finds the group variants (log sources) the record belongs to. The records of a log
// share a few combinations of routing inputs (the values of the fields mapping entries test,
// and the hints): the result is kept per combination.
func (m *Matcher) route() {
	e := m.e
	// The raw values: equal raw values route alike (lower-casing them would cost more).
	key := m.routeKey[:0]
	for _, fid := range e.routeFids {
		for i := m.firstOf(fid); i >= 0; i = m.next[i] {
			v := m.rec.fields[i].value
			key = binary.LittleEndian.AppendUint32(key, uint32(len(v)))
			key = append(key, v...)
		}
		key = append(key, 0xff, 0xff, 0xff, 0xff)
	}
	for _, h := range m.rec.hints {
		key = binary.LittleEndian.AppendUint32(key, uint32(len(h)))
		key = append(key, h...)
	}
	m.routeKey = key
	// The records of a shape mostly route alike: the shape keeps its last routing.
	sh := m.curShape
	if sh.routeValid && string(sh.routeKey) == string(key) {
		m.setActive(sh.routeGVs)
		return
	}
	gvs, ok := m.routes[string(key)]
	if ok {
		m.setActive(gvs)
	} else {
		m.newActive()
		m.routeFresh()
		if m.routes == nil || len(m.routes) >= maxRoutes {
			m.routes = map[string][]int32{}
		}
		gvs = slices.Clone(m.active)
		m.routes[string(key)] = gvs
		m.activeOf = gvs
	}
	// A new routing for the shape: the one before it again, with its plan, or a new one in the
	// memory of the routing before, whose scan plan is made again.
	sh.routing, sh.alt = sh.alt, sh.routing
	if sh.routeValid && string(sh.routeKey) == string(key) {
		return
	}
	sh.routeKey, sh.routeGVs, sh.routeValid = append(sh.routeKey[:0], key...), gvs, true
	sh.planValid = false
}

// setActive makes group variants gvs (a routing's, kept in routes) the active ones. Records
// mostly route as the record before them did: the active lists and stamps are then left as
// they are, rather than made again from the routing, which reads a cache line or three per
// group variant.
func (m *Matcher) setActive(gvs []int32) {
	if len(gvs) == len(m.activeOf) && (len(gvs) == 0 || &gvs[0] == &m.activeOf[0]) {
		return
	}
	m.newActive()
	for _, gv := range gvs {
		m.activate(gv)
	}
	m.activeOf = gvs
}

// newActive empties the active group variants and groups for a new routing.
func (m *Matcher) newActive() {
	m.active, m.groups, m.activeOf = m.active[:0], m.groups[:0], nil
	m.agen++
	if m.agen == 0 {
		clear(m.gvStamp)
		clear(m.grpStamp)
		m.agen = 1
	}
}

// maxRoutes bounds the routing results a Matcher keeps.
const maxRoutes = 4096

func (m *Matcher) routeFresh() {
	e := m.e
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
		for _, w := range m.touched {
			m.words[w].sat = 0
		}
		m.touched = m.touched[:0]
		if m.e.pf.enabled {
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

// Field returns the first value of the field numbered id (see Engine.FieldID) in the record
// of the last Match call, like Record.Get but without comparing names. The record must not
// have changed since that call.
func (m *Matcher) Field(id int32) (string, bool) {
	if id < 0 || m.ctx.rec == nil {
		return "", false
	}
	i := m.firstOf(id)
	if i < 0 {
		return "", false
	}
	return m.ctx.rec.fields[i].value, true
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
	r := &m.rs[ri]
	if r.evalGen == m.gen {
		return
	}
	if gv.vetoes != nil && gv.vetoes[li] != 0 {
		if found := m.found(vetoState(int32(len(e.rules)), ri)) & gv.vetoes[li]; found != 0 {
			if m.vetoed(e.rules[ri].vetoChecks, found, gv.fids[li]) {
				return
			}
		}
	}
	r.evalGen = m.gen
	m.evals++
	er := e.rules[ri]
	// One evaluation, collecting evidence as it goes: collecting does not change the result,
	// and what a failed branch collected is dropped (see andNode), so a match needs no second
	// evaluation.
	c := &m.ctx
	c.fids = gv.fids[li]
	c.collect = true
	c.sel = ""
	start := len(m.evbuf)
	c.ev = m.evbuf
	ok := er.prog.eval(c, 0)
	m.evbuf = c.ev[:start] // keeps the memory the evaluation grew
	c.collect = false
	if !ok {
		return
	}
	ev := c.ev
	for fi, fd := range er.filterProgs {
		c.fids = gv.filterFids[li][fi]
		c.ev = ev
		if fd.eval(c, 0) != e.opts.PySigmaFilters {
			return // suppressed by the filter
		}
	}
	m.evbuf = ev
	m.matches = append(m.matches, Match{Rule: er.rule, Evidence: ev[start:len(ev):len(ev)]})
}

// vetoed reports whether the veto groups found (a mask of the rule's veto groups whose
// literals the scan found, under the rule's field mapping fids) veto the rule: one of exact
// literals, or one whose field conditions a value matches (see vetoLiterals). An exact
// literal is only the pattern matched in a value without the bytes of the marks around
// values: in one with them (a NUL), the field conditions are checked too.
func (m *Matcher) vetoed(vc *vetoChecks, found uint8, fids []int32) bool {
	c := &m.ctx
	c.fids = fids
	c.collect = false
	for j := range vc.fcs {
		if found>>j&1 == 0 {
			continue
		}
		if vc.inexact>>j&1 == 0 && !m.holdsMarks(c, vc.fcs[j][0].local) {
			return true
		}
		for _, fc := range vc.fcs[j] {
			if fc.match(c) {
				return true
			}
		}
	}
	return false
}

// holdsMarks reports whether a value of rule-local field local holds the byte of a mark
// (see markStart): the prefilter cannot tell it from the mark.
func (m *Matcher) holdsMarks(c *evalCtx, local int32) bool {
	for i := c.first(local); i >= 0; i = c.next(i) {
		v := c.rec.fields[i].value
		if strings.IndexByte(v, markStart) >= 0 || strings.IndexByte(v, markEnd) >= 0 {
			return true
		}
	}
	return false
}

// scan runs the prefilter over the record's values and collects the candidate rules of the
// active log sources. Each value is scanned as markStart+value+markEnd (lower-cased when not
// ASCII; ASCII letters are folded by the byte classes) by the automaton of its field in each
// active log source group that has one, and by the keyword automaton of the active groups
// when some of them have keyword searches (and its screen does not rule the value out). The
// field and keyword automata step through a value in the same loop, long values as two halves,
// so that their chains of dependent table loads overlap in the CPU. A field whose literals
// would need an automaton too large for the CPU caches has a gram set instead (see gramSet).
//
// Event logs repeat themselves (the same images, parents, hashes and command lines come back
// record after record), so the rule literal groups a value satisfies are remembered by value
// (see memo) and replayed when the value comes back, instead of scanning it again.
func (m *Matcher) scan() {
	sh := m.curShape
	rec := m.rec
	if sh.planValid {
		// The plan holds for the typed values it was made for: the same as every record of
		// the shape's, as a rule (the values of one template field have one type).
		typed := sh.planTyped[:len(rec.fields)]
		for i := range rec.fields {
			if rec.fields[i].typed != typed[i] {
				sh.planValid = false
				break
			}
		}
	}
	if !sh.planValid {
		m.planScan(sh)
	}
	for si := range sh.plan {
		st := &sh.plan[si]
		// A value only the keyword automaton would scan and that its screen rules out is
		// neither scanned nor remembered: most such values are unique to their record (times,
		// ids, GUIDs), and would only push useful values out of the memo. (The screen passes
		// every value that is not ASCII, so the raw value will do.)
		if st.fa < 0 && !st.k.mayHold(rec.fields[st.i].value) {
			continue
		}
		m.scanField(st)
	}
}

// planScan makes the scan plan of the current record's shape sh for the active groups, with
// every choice made: per record field, the field automata of the field in each active group
// that has some, the first one taking the keyword automaton of the active groups (when they
// have keyword searches) along, or the keyword automaton alone for a field with no field
// automaton; a typed value skips the automata none of whose literals fit typed text. The plan
// holds while the shape's routing (see route) and the record's typed values stay the same.
func (m *Matcher) planScan(sh *shape) {
	pf := &m.e.pf
	m.sg = m.sg[:0]
	for _, g := range m.groups {
		if pf.byField[g] != nil {
			m.sg = append(m.sg, g)
		}
	}
	kw := m.keywordAutomaton()
	// Room for a step per field, as a rule enough: a new shape's plan grows from nothing.
	plan := slices.Grow(sh.plan[:0], len(m.rec.fields))
	typedOf := slices.Grow(sh.planTyped[:0], len(m.rec.fields))
	for i := range m.rec.fields {
		typed := m.rec.fields[i].typed
		typedOf = append(typedOf, typed)
		k := kw
		if typed && k != nil && k.skipTyped {
			k = nil
		}
		if fid := m.fidOf[i]; fid >= 0 {
			for _, g := range m.sg {
				for fa := pf.byField[g][fid]; fa >= 0; fa = pf.autos[fa].next {
					if typed && pf.autos[fa].skipTyped {
						continue
					}
					plan = append(plan, scanStep{i: int32(i), fa: fa, k: k, lastLen: -1})
					k = nil
				}
			}
		}
		if k != nil {
			plan = append(plan, scanStep{i: int32(i), fa: -1, k: k, lastLen: -1})
		}
	}
	sh.plan, sh.planTyped, sh.planValid = plan, typedOf, true
}

// scanField scans the value of field st.i with field automaton st.fa (-1: none) and keyword
// automaton st.k (nil: none), or replays the rule literal groups an earlier scan of the same
// value satisfied: the step's last value (see scanStep), or one the memo holds. The keyword
// automaton only scans values its screen lets through: scan screens the values it alone
// would scan (fa < 0) before it calls scanField.
func (m *Matcher) scanField(st *scanStep) {
	raw := m.rec.fields[st.i].value
	if int(st.lastLen) == len(raw) && st.lastGen == m.memo.gen && string(st.last[:len(raw)]) == raw {
		m.satisfy(st.lastHits)
		return
	}
	pf := &m.e.pf
	i, fa, k := st.i, st.fa, st.k
	var f *fieldAutomaton
	if fa >= 0 {
		f = &pf.autos[fa]
	}
	id := uint64(uint32(fa+1)) << 32
	if k != nil {
		id |= uint64(k.id)
	}
	var slot *memoEntry
	var h uint64
	if len(raw) <= memoMaxLen && (f != nil || len(raw) >= memoMinKeywordLen) {
		var hit bool
		if slot, h, hit = m.memo.find(id, raw); hit {
			hits := m.memo.hitsOf(slot)
			st.remember(raw, hits, m.memo.gen)
			m.satisfy(hits)
			return
		}
	}
	v, ascii := m.scanText(i)
	if k != nil && f != nil && !k.mayHold(v) {
		k = nil
	}
	// A fresh stamp generation per value: the states reported are then all the states the
	// value reaches, whose literal groups the memo keeps.
	m.acGen++
	if m.acGen == 0 {
		clear(m.acStamp)
		m.acGen = 1
	}
	m.hits = m.hits[:0]
	var kf *fieldAutomaton
	if k != nil {
		kf = &k.shards[0]
	}
	switch {
	case f != nil && f.gs != nil:
		m.scanGrams(f, v, ascii)
		if kf != nil {
			m.scanOne(kf, v)
		}
	case f != nil && len(v) >= splitMinLen && kf == nil:
		m.scanHalves(f, v)
	case f != nil && len(v) >= splitMinLen:
		m.scanSplit(f, kf, v)
	case f != nil && kf != nil:
		m.scanTwo(f, kf, v)
	case f != nil:
		m.scanOne(f, v)
	case kf != nil:
		m.scanOne(kf, v)
	}
	if k != nil {
		for j := 1; j < len(k.shards); j++ {
			m.scanOne(&k.shards[j], v)
		}
	}
	if slot != nil && m.memo.store(slot, h, id, raw, m.hits) {
		st.remember(raw, m.memo.hitsOf(slot), m.memo.gen)
	}
}

// keywordSet holds the automata over the keyword literals of a set of groups (several for
// very many literals), built by the Engine with it (see prebuildKeywordSets) or when a
// Matcher first meets the set.
type keywordSet struct {
	shards    []fieldAutomaton // base unset: each Matcher numbers the states its own way
	screen    *screen
	skipTyped bool // no literal can occur in a typed value (see AddStableTyped)
}

// keywordAutomaton is a Matcher's use of a keywordSet.
type keywordAutomaton struct {
	shards    []fieldAutomaton
	id        uint32 // > 0, unique in its Matcher
	skipTyped bool
	screen    *screen
}

// mayHold reports whether v may hold one of the automaton's literals.
func (k *keywordAutomaton) mayHold(v string) bool { return k.screen.mayHold(v) }

// keywordSet returns the keyword automata of the groups in key, building them once.
func (e *Engine) keywordSet(key string) *keywordSet {
	e.kwMu.Lock()
	defer e.kwMu.Unlock()
	if ks, ok := e.kwSets[key]; ok {
		return ks
	}
	var entries []litEntry
	for i := 0; i < len(key); i += 4 {
		entries = append(entries, e.pf.keywords[binary.LittleEndian.Uint32([]byte(key[i:]))]...)
	}
	ks := &keywordSet{shards: newFieldAutomata(entries, e.stateGroups, -1, false)}
	var lits []string
	for _, fa := range ks.shards {
		lits = append(lits, fa.li.lits...)
	}
	ks.screen = newScreen(lits)
	ks.skipTyped = !slices.ContainsFunc(lits, fitsTyped)
	if e.kwSets == nil {
		e.kwSets = map[string]*keywordSet{}
	}
	e.kwSets[key] = ks
	return ks
}

// keywordAutomaton returns the keyword automaton of the active groups, or nil when none of
// them has keyword searches.
func (m *Matcher) keywordAutomaton() *keywordAutomaton {
	kw := m.e.pf.keywords
	gs := m.kwGroups[:0]
	for _, g := range m.groups {
		if kw[g] != nil {
			gs = append(gs, g)
		}
	}
	m.kwGroups = gs
	if len(gs) == 0 {
		return nil
	}
	key := appendKeywordKey(m.kwKey[:0], gs)
	m.kwKey = key
	if m.kwValid && string(key) == string(m.kwLast) {
		return m.kw
	}
	k, ok := m.kwCache[string(key)]
	if !ok {
		ks := m.e.keywordSet(string(key))
		if len(ks.shards) > 0 {
			k = &keywordAutomaton{id: uint32(len(m.kwCache) + 1), screen: ks.screen, skipTyped: ks.skipTyped}
			k.shards = slices.Clone(ks.shards)
			for j := range k.shards {
				k.shards[j].base = int32(len(m.acStamp))
				m.acStamp = append(m.acStamp, make([]uint32, k.shards[j].stamps)...)
			}
		}
		if m.kwCache == nil {
			m.kwCache = map[string]*keywordAutomaton{}
		}
		m.kwCache[string(key)] = k
	}
	m.kw, m.kwValid = k, true
	m.kwLast = append(m.kwLast[:0], key...)
	return k
}

// scanText is the text the prefilter scans for field i: its value, lower-cased unless ASCII
// (ascii says which).
func (m *Matcher) scanText(i int32) (v string, ascii bool) {
	v = m.rec.fields[i].value
	if isASCII(v) {
		return v, true
	}
	return m.rec.lowerAt(i), false
}

// scanGrams looks for the literals of fa's gram set in markStart+v+markEnd, v lower-cased
// first when ASCII (else it is lower-case already).
func (m *Matcher) scanGrams(fa *fieldAutomaton, v string, ascii bool) {
	buf := append(m.gramBuf[:0], markStart)
	if ascii {
		buf = appendLower(buf, v)
	} else {
		buf = append(buf, v...)
	}
	buf = append(buf, markEnd)
	n := len(buf)
	var pad [gramPad]byte
	buf = append(buf, pad[:]...)
	m.gramBuf = buf
	m.gramFA = fa
	fa.gs.find(buf, n, m.gramReport)
}

// reportGram records the rule literal groups of literal lit of the gram set being scanned (see
// scanGrams) as satisfied, once per value.
func (m *Matcher) reportGram(lit int32) {
	fa := m.gramFA
	if st := &m.acStamp[fa.base+lit]; *st != m.acGen {
		*st = m.acGen
		m.reportSlot(fa.li, lit)
	}
}

// scanOne scans markStart+v+markEnd with one automaton.
func (m *Matcher) scanOne(fa *fieldAutomaton, v string) {
	a := fa.ac
	cls := &a.class
	delta := a.delta
	ncls := int(a.ncls)
	stamp := m.acStamp[fa.base : fa.base+a.states]
	gen := m.acGen
	s := int(fa.start)
	if s&outFlag != 0 {
		s &^= outFlag
		m.report(fa, int32(s))
	}
	for i := 0; i < len(v); i++ {
		t := int(delta[s*ncls+int(cls[v[i]])])
		if t&outFlag != 0 {
			if t &^= outFlag; stamp[t] != gen {
				m.report(fa, int32(t))
			}
		}
		s = t
	}
	if t := int(delta[s*ncls+int(cls[markEnd])]); t&outFlag != 0 {
		m.report(fa, int32(t&^outFlag))
	}
}

// scanTwo scans markStart+v+markEnd with field automaton fa and the first keyword automaton
// fb in one loop.
func (m *Matcher) scanTwo(fa, fb *fieldAutomaton, v string) {
	a, b := fa.ac, fb.ac
	clsA, clsB := &a.class, &b.class
	deltaA, deltaB := a.delta, b.delta
	nclsA, nclsB := int(a.ncls), int(b.ncls)
	stampA := m.acStamp[fa.base : fa.base+a.states]
	stampB := m.acStamp[fb.base : fb.base+b.states]
	gen := m.acGen
	sa, sb := int(fa.start), int(fb.start)
	if sa&outFlag != 0 {
		sa &^= outFlag
		m.report(fa, int32(sa))
	}
	if sb&outFlag != 0 {
		sb &^= outFlag
		m.report(fb, int32(sb))
	}
	for i := 0; i < len(v); i++ {
		ch := v[i]
		ta := int(deltaA[sa*nclsA+int(clsA[ch])])
		tb := int(deltaB[sb*nclsB+int(clsB[ch])])
		if (ta|tb)&outFlag != 0 {
			if ta&outFlag != 0 {
				if ta &^= outFlag; stampA[ta] != gen {
					m.report(fa, int32(ta))
				}
			}
			if tb&outFlag != 0 {
				if tb &^= outFlag; stampB[tb] != gen {
					m.report(fb, int32(tb))
				}
			}
		}
		sa, sb = ta, tb
	}
	if t := int(deltaA[sa*nclsA+int(clsA[markEnd])]); t&outFlag != 0 {
		m.report(fa, int32(t&^outFlag))
	}
	if t := int(deltaB[sb*nclsB+int(clsB[markEnd])]); t&outFlag != 0 {
		m.report(fb, int32(t&^outFlag))
	}
}

// splitMinLen is the shortest value scanSplit scans.
const splitMinLen = 32

// halves splits v in two for scanSplit and scanHalves: p from the start, q from the root
// maxLiteralLen-1 bytes before the end of p, which finds every literal ending in q; q is at
// most a byte longer than p.
func halves(v string) (p, q string) {
	const overlap = maxLiteralLen - 1
	mid := (len(v) + overlap) / 2
	return v[:mid], v[mid-overlap:]
}

// scanSplit scans markStart+v+markEnd with field automaton fa and the first keyword automaton
// fb as two halves side by side (see halves): four chains of dependent table loads, whose
// cache misses then overlap.
func (m *Matcher) scanSplit(fa, fb *fieldAutomaton, v string) {
	a, b := fa.ac, fb.ac
	clsA, clsB := &a.class, &b.class
	deltaA, deltaB := a.delta, b.delta
	nclsA, nclsB := int(a.ncls), int(b.ncls)
	stampA := m.acStamp[fa.base : fa.base+a.states]
	stampB := m.acStamp[fb.base : fb.base+b.states]
	gen := m.acGen
	p, q := halves(v)
	sa, sb := int(fa.start), int(fb.start)
	var sc, sd int // second half: from the roots
	if sa&outFlag != 0 {
		sa &^= outFlag
		m.report(fa, int32(sa))
	}
	if sb&outFlag != 0 {
		sb &^= outFlag
		m.report(fb, int32(sb))
	}
	q2 := q[:len(p)]
	for i := 0; i < len(p); i++ {
		c1, c2 := p[i], q2[i]
		ta := int(deltaA[sa*nclsA+int(clsA[c1])])
		tb := int(deltaB[sb*nclsB+int(clsB[c1])])
		tc := int(deltaA[sc*nclsA+int(clsA[c2])])
		td := int(deltaB[sd*nclsB+int(clsB[c2])])
		if (ta|tb|tc|td)&outFlag != 0 {
			if ta&outFlag != 0 {
				if ta &^= outFlag; stampA[ta] != gen {
					m.report(fa, int32(ta))
				}
			}
			if tb&outFlag != 0 {
				if tb &^= outFlag; stampB[tb] != gen {
					m.report(fb, int32(tb))
				}
			}
			if tc&outFlag != 0 {
				if tc &^= outFlag; stampA[tc] != gen {
					m.report(fa, int32(tc))
				}
			}
			if td&outFlag != 0 {
				if td &^= outFlag; stampB[td] != gen {
					m.report(fb, int32(td))
				}
			}
		}
		sa, sb, sc, sd = ta, tb, tc, td
	}
	for i := len(p); i < len(q); i++ {
		c := q[i]
		tc := int(deltaA[sc*nclsA+int(clsA[c])])
		if tc&outFlag != 0 {
			if tc &^= outFlag; stampA[tc] != gen {
				m.report(fa, int32(tc))
			}
		}
		td := int(deltaB[sd*nclsB+int(clsB[c])])
		if td&outFlag != 0 {
			if td &^= outFlag; stampB[td] != gen {
				m.report(fb, int32(td))
			}
		}
		sc, sd = tc, td
	}
	if t := int(deltaA[sc*nclsA+int(clsA[markEnd])]); t&outFlag != 0 {
		m.report(fa, int32(t&^outFlag))
	}
	if t := int(deltaB[sd*nclsB+int(clsB[markEnd])]); t&outFlag != 0 {
		m.report(fb, int32(t&^outFlag))
	}
}

// scanHalves is scanSplit with field automaton fa alone: two chains of table loads.
func (m *Matcher) scanHalves(fa *fieldAutomaton, v string) {
	a := fa.ac
	cls := &a.class
	delta := a.delta
	ncls := int(a.ncls)
	stamp := m.acStamp[fa.base : fa.base+a.states]
	gen := m.acGen
	p, q := halves(v)
	sa := int(fa.start)
	sc := 0 // second half: from the root
	if sa&outFlag != 0 {
		sa &^= outFlag
		m.report(fa, int32(sa))
	}
	q2 := q[:len(p)]
	for i := 0; i < len(p); i++ {
		ta := int(delta[sa*ncls+int(cls[p[i]])])
		tc := int(delta[sc*ncls+int(cls[q2[i]])])
		if (ta|tc)&outFlag != 0 {
			if ta&outFlag != 0 {
				if ta &^= outFlag; stamp[ta] != gen {
					m.report(fa, int32(ta))
				}
			}
			if tc&outFlag != 0 {
				if tc &^= outFlag; stamp[tc] != gen {
					m.report(fa, int32(tc))
				}
			}
		}
		sa, sc = ta, tc
	}
	for i := len(p); i < len(q); i++ {
		tc := int(delta[sc*ncls+int(cls[q[i]])])
		if tc&outFlag != 0 {
			if tc &^= outFlag; stamp[tc] != gen {
				m.report(fa, int32(tc))
			}
		}
		sc = tc
	}
	if t := int(delta[sc*ncls+int(cls[markEnd])]); t&outFlag != 0 {
		m.report(fa, int32(t&^outFlag))
	}
}

// report records the rule literal groups of every literal ending in state t of fa (and its
// suffix chain) as satisfied, and appends them to m.hits.
func (m *Matcher) report(fa *fieldAutomaton, t int32) {
	a, li := fa.ac, fa.li
	stamp := m.acStamp[fa.base : fa.base+a.states]
	for st := t; st >= 0; st = a.dict[st] {
		if stamp[st] == m.acGen {
			return
		}
		stamp[st] = m.acGen
		if slot := a.out[st]; slot >= 0 {
			m.reportSlot(li, slot)
		}
	}
}

// reportSlot records the rule literal groups of output slot slot of li, in the active log
// source groups, as satisfied, and appends them to m.hits.
func (m *Matcher) reportSlot(li *literalIndex, slot int32) {
	if li.slots != nil {
		k := li.slots[slot]
		if k&slotOneKey != 0 {
			m.hits = append(m.hits, uint32(k))
			m.satisfy(m.hits[len(m.hits)-1:])
			return
		}
		groups := li.rules[uint32(k>>32):uint32(k)]
		m.hits = append(m.hits, groups...)
		m.satisfy(groups)
		return
	}
	for _, run := range li.runs[li.start[slot]:li.start[slot+1]] {
		if m.grpStamp[run.group] != m.agen {
			continue
		}
		groups := li.rules[run.start:run.end]
		m.hits = append(m.hits, groups...)
		m.satisfy(groups)
	}
}

// satisfy records rule literal groups (see groupKey) as satisfied: a rule whose literal
// groups are all satisfied becomes a candidate. (A veto state, whose groups are a rule's
// veto groups, never does: evalRule reads them.)
//
// A rule becomes a candidate when the last of its groups is satisfied, which happens once per
// record: the groups' bits are only ever set until the next record clears them.
func (m *Matcher) satisfy(groups []uint32) {
	// A word is touched at most once per record, so touched has room for every word and one
	// more (see NewMatcher): it is written through a pointer, without a bounds check, and
	// takes the word without a branch (whether a word is new to the record is a coin toss the
	// CPU would mispredict): the word is written at the end of the list every time, and only
	// kept (nt grows) when it is new. The loop has no call either (the compiler would keep its
	// values on the stack around it): it only notes whether some rule state has all its groups
	// now, and addCands finds which (rare: about one candidate per record).
	words := m.words
	nt := len(m.touched)
	touched := unsafe.Pointer(unsafe.SliceData(m.touched[:len(words)+1]))
	var filled uint
	for _, x := range groups {
		sw := &words[x>>6]
		old := sw.sat
		now := old | 1<<(x&63)
		sw.sat = now
		*(*int32)(unsafe.Add(touched, uintptr(nt)*4)) = int32(x >> 6)
		nt += int(b2u(old == 0))
		// The state's four bits against its full mask (0, never a candidate's, for a rule
		// without literal groups and for a veto state).
		filled |= b2u((now^sw.full)&nibbleMask[x>>2&15] == 0)
	}
	m.touched = m.touched[:nt]
	if filled != 0 {
		m.addCands(groups)
	}
}

// satWord is a word of satisfied literal groups of sixteen rule states, and the mask of all
// their groups.
type satWord struct{ sat, full uint64 }

// nibbleMask[k] is the mask of the k-th four bits of a word: a table load rather than a shift
// by a variable count, which on amd64 must go through CX and costs satisfy's loop a register.
var nibbleMask = func() (t [16]uint64) {
	for k := range t {
		t[k] = 15 << (4 * k)
	}
	return t
}()

// addCands makes candidates of the rule states of groups that have all their groups, but for
// those that are candidates already (that had them before).
func (m *Matcher) addCands(groups []uint32) {
	for _, x := range groups {
		sw := &m.words[x>>6]
		if (sw.sat^sw.full)&nibbleMask[x>>2&15] == 0 && !slices.Contains(m.cands, keyState(x)) {
			m.cands = append(m.cands, keyState(x))
		}
	}
}

// found returns the satisfied literal groups of rule state st, as a mask.
func (m *Matcher) found(st int32) uint8 {
	return uint8(m.words[st>>4].sat >> ((st & 15) << 2) & 15)
}

// ruleState is a Matcher's state of a rule: the record generation it was evaluated for.
type ruleState struct {
	evalGen uint32
}

// b2u is 1 for true and 0 for false, without a branch.
func b2u(b bool) uint {
	var u uint
	if b {
		u = 1
	}
	return u
}
