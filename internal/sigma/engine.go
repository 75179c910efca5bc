package sigma

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
)

// EngineOptions configures NewEngine.
type EngineOptions struct {
	// Mapping routes events to log sources; nil means DefaultMapping().
	Mapping *Mapping
	// Placeholders holds the values of `expand` placeholders, by name without the percent
	// signs (for example "Administrators"). Each value is a Sigma string and may hold wildcards.
	Placeholders map[string][]string
	// IgnoreLogSource evaluates every rule against every event, whatever its log source.
	IgnoreLogSource bool
	// DisablePrefilter evaluates every rule of the event's log sources without consulting the
	// literal prefilter (for testing and measurement).
	DisablePrefilter bool
	// PySigmaFilters applies meta filters the way pySigma does (rule condition AND filter
	// condition) instead of the specification's suppression reading (AND NOT).
	PySigmaFilters bool
	// Logger receives a summary of the build; nil discards it.
	Logger *slog.Logger
	// Fields are names the Engine numbers even when no rule reads them, so that
	// Matcher.Field finds them in a matched record without comparing names (see FieldID).
	Fields []string

	// noGrams makes the prefilter use automata only, never gram sets (for tests).
	noGrams bool
}

// Engine matches records against a compiled rule set. It is safe for concurrent use (its
// rules and automata are immutable; keyword automata are built once, under a lock, when a
// Matcher first needs them); matching goes through a Matcher, one per goroutine.
type Engine struct {
	opts     EngineOptions
	rules    []*engineRule
	fields   fieldTable
	entries  []entryRT
	groups   []*group
	gvs      []groupVariant
	chanIdx  map[string][]int32 // lower(Channel) -> entries without an EventID condition
	eidIdx   map[string][]int32 // lower(Channel) + "\x00" + EventID -> entries
	provIdx  map[string][]int32
	hintIdx  map[string][]int32
	checkAll []int32 // entries checked for every event
	always   []int32 // group variants active for every event
	refusals []Refusal
	chanFID  int32
	provFID  int32
	eidFID   int32
	// routeFids are the fields whose values routing depends on: Channel, EventID,
	// Provider_Name and every field a mapping entry tests.
	routeFids []int32
	stats     EngineStats

	pf        prefilter
	ruleGroup []int32 // engine rule -> group
	// stateGroups is ruleGroup for the rules' states, then for their veto states.
	stateGroups stateGroups
	ruleLocal   []int32 // engine rule -> index in its group

	// kwMu guards kwSets: the keyword automata built so far, by set of groups (see
	// Matcher.keywordAutomaton).
	kwMu   sync.Mutex
	kwSets map[string]*keywordSet
}

// prefilter finds the candidate rules of an event: the rules whose every literal group has a
// literal in the field it belongs to. There is one automaton per log source group and field,
// over the literals the group's rules need in that field; an event only scans a field with
// the automata of the log sources it belongs to, so fields that no rule of those sources looks
// at (times, GUIDs, ...) are not scanned at all, unless a keyword search is active. The
// literals of keyword searches are looked for in every field, by an automaton over the
// keyword literals of the event's groups (usually small: a few dozen literals), built with
// the engine for the usual sets of groups (see prebuildKeywordSets), else the first time a
// Matcher meets the set.
type prefilter struct {
	enabled bool // some rule is behind the prefilter
	autos   []fieldAutomaton
	// byField holds, per group, the automaton of each engine field id (-1: none); nil for
	// groups without field literals.
	byField [][]int32
	// keywords holds, per group, the literals of its keyword searches.
	keywords [][]litEntry
	// fullNibs holds per rule state one bit per literal group, four bits per state and
	// sixteen states per word: the layout of a Matcher's satisfied groups (see
	// Matcher.satisfy).
	fullNibs []uint64
	states   int32 // states of all automata, numbered consecutively
}

// fieldAutomaton is one automaton of the prefilter and the rule literal groups of its outputs.
// The literals of one group and field that need more states than an automaton can have are
// shared out among several automata, chained by next. Literals whose automaton would be too
// large for the CPU caches are looked for with a gram set instead (see gramSet): then ac is
// nil, and the output slots are the literals.
type fieldAutomaton struct {
	ac     *automaton
	gs     *gramSet
	li     *literalIndex
	base   int32 // number of the automaton's first state (literal) in Matcher.acStamp
	stamps int32 // states of ac, or literals of gs
	fid    int32 // the field scanned (-1: every field, for keywords)
	start  int32 // the state after markStart, flagged like automaton.delta
	next   int32 // the next automaton of the same group and field, or -1
	// skipTyped: no literal can occur in a typed value (see AddStableTyped), which is
	// then not scanned.
	skipTyped bool
}

// memory returns the approximate size of the automaton or gram set in bytes.
func (fa *fieldAutomaton) memory() int {
	if fa.gs != nil {
		return fa.gs.memory()
	}
	return fa.ac.memory()
}

// maxAutomatonTable is the largest automaton table the prefilter scans with: larger ones
// miss the CPU caches at nearly every byte, and their literals go to a gram set instead.
const maxAutomatonTable = 64 << 10

// newFieldAutomata compiles the automaton of the entries' literals, or their gram set when
// the automaton would be too large (see maxAutomatonTable). With grams false it only makes
// automata: one, or several when one would need too many states.
func newFieldAutomata(entries []litEntry, groups stateGroups, fid int32, grams bool) []fieldAutomaton {
	fas := newFieldShards(entries, groups, fid, grams)
	for i := range fas {
		fas[i].skipTyped = !slices.ContainsFunc(fas[i].li.lits, fitsTyped)
	}
	return fas
}

// typedBytes marks the bytes of TypedAlphabet in lower case, and the value marks.
var typedBytes = func() (t [256]bool) {
	for _, c := range []byte(strings.ToLower(TypedAlphabet)) {
		t[c] = true
	}
	t[markStart], t[markEnd] = true, true
	return t
}()

// fitsTyped reports whether literal lit (lower-case, as the prefilter scans it) may occur in
// markStart+v+markEnd for a typed value v (see AddStableTyped): whether each of its bytes
// may. The prefilter folds ASCII case, so upper-case letters count as their lower case.
func fitsTyped(lit string) bool {
	for i := 0; i < len(lit); i++ {
		if !typedBytes[asciiLower[lit[i]]] {
			return false
		}
	}
	return true
}

func newFieldShards(entries []litEntry, groups stateGroups, fid int32, grams bool) []fieldAutomaton {
	li, ac := buildLiteralIndex(entries, groups)
	if grams && (ac != nil && 2*len(ac.delta) > maxAutomatonTable || ac == nil && li == nil) {
		if li, gs := buildGramIndex(entries, groups); gs != nil {
			return []fieldAutomaton{{gs: gs, li: li, fid: fid, stamps: int32(len(li.lits)), next: -1}}
		}
	}
	if ac != nil {
		return []fieldAutomaton{{ac: ac, li: li, fid: fid, stamps: ac.states, start: int32(ac.delta[ac.class[markStart]]), next: -1}}
	}
	if li != nil || len(entries) < 2 {
		return nil // no literals
	}
	// Too many states: split the literals in two halves (entries of one literal together).
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b litEntry) int { return strings.Compare(truncateLiteral(a.lit), truncateLiteral(b.lit)) })
	mid := len(sorted) / 2
	for mid < len(sorted) && truncateLiteral(sorted[mid].lit) == truncateLiteral(sorted[mid-1].lit) {
		mid++
	}
	if mid == len(sorted) {
		mid = len(sorted) / 2
	}
	return append(newFieldShards(sorted[:mid], groups, fid, false), newFieldShards(sorted[mid:], groups, fid, false)...)
}

// EngineStats describes a built engine.
type EngineStats struct {
	Rules           int `json:"rules"`            // detection rules in the engine
	Groups          int `json:"groups"`           // distinct log sources
	Literals        int `json:"literals"`         // prefilter literals
	Prefiltered     int `json:"prefiltered"`      // rules behind the literal prefilter
	AlwaysEvaluated int `json:"always_evaluated"` // rules evaluated for every event of their log source
	Vetoed          int `json:"vetoed"`           // rules with veto literals (see vetoLiterals)
	AutomatonBytes  int `json:"automaton_bytes"`
	Fields          int `json:"fields"`
}

type engineRule struct {
	rule    *Rule
	det     *detection
	filters []*detection
	// The conditions as programs: of det, and of each filter.
	prog        program
	filterProgs []program
	// vetoChecks holds the field conditions of the rule's veto groups, and which groups
	// are not exact: a veto literal of one of these found, the rule is skipped only when
	// one of its field conditions matches (see Matcher.vetoed). Nil without vetoes.
	vetoChecks *vetoChecks
}

// vetoChecks are the checks of a rule's veto groups (see engineRule.vetoChecks): inexact
// marks the groups whose literals are not exact, fcs holds each group's field conditions.
type vetoChecks struct {
	inexact uint8
	fcs     [maxVetoGroups][]*fieldCond
}

type group struct {
	ls     LogSource
	rules  []int32 // engine rule indices; the position is the group-local index
	always []int32 // group-local indices evaluated without prefilter
}

type groupVariant struct {
	group      int32
	fids       [][]int32   // per group-local rule: rule-local field -> engine field id
	filterFids [][][]int32 // per group-local rule, per filter
	// vetoes holds, per group-local rule, the veto groups of the rule's veto state that veto
	// it under this mapping (a bit each); nil when no rule of the group has veto literals.
	vetoes []uint8
}

type entryRT struct {
	name      string
	conds     []entryCond
	hints     [3]string
	activates []int32 // group variants
}

type entryCond struct {
	fid  int32
	vals []string // lower-case
	any  bool
}

// NewEngine compiles the rule set. Rules that cannot run (an `expand` placeholder without
// values, for instance) are left out and reported, like load refusals.
func NewEngine(rs *RuleSet, opts EngineOptions) (*Engine, []Refusal) {
	if opts.Mapping == nil {
		opts.Mapping = DefaultMapping()
	}
	e := &Engine{opts: opts, chanIdx: map[string][]int32{}, eidIdx: map[string][]int32{}, provIdx: map[string][]int32{}, hintIdx: map[string][]int32{}}
	e.fields.init()
	e.chanFID = e.fields.add("Channel")
	e.provFID = e.fields.add("Provider_Name")
	e.eidFID = e.fields.add("EventID")
	for _, name := range opts.Fields {
		e.fields.add(name)
	}

	// Compile (or recompile with placeholder values) every rule and its filters.
	for _, r := range rs.Rules {
		det := r.det
		if det == nil {
			continue
		}
		if det.placeholders {
			d, err := recompile(r.detNode, opts.Placeholders, "detection")
			if err != nil {
				e.refusals = append(e.refusals, refusal(r.File, r.Document, r.ID, r.Title, err))
				continue
			}
			det = d
		}
		er := &engineRule{rule: r, det: det}
		ok := true
		for _, f := range r.filters {
			fd := f.det
			if fd.placeholders {
				d, err := recompileFilter(f.detNode, opts.Placeholders)
				if err != nil {
					e.refusals = append(e.refusals, refusal(f.File, f.Document, f.ID, f.Title, err))
					ok = false
					break
				}
				fd = d
			}
			er.filters = append(er.filters, fd)
		}
		if !ok {
			continue
		}
		e.rules = append(e.rules, er)
	}

	// Group rules by log source.
	byLS := map[LogSource][]int32{}
	var order []LogSource
	for i, er := range e.rules {
		k := er.rule.LogSource.key()
		if opts.IgnoreLogSource {
			k = LogSource{}
		}
		if _, ok := byLS[k]; !ok {
			order = append(order, k)
		}
		byLS[k] = append(byLS[k], int32(i))
	}
	// Renumber the rules so that each log source's rules are contiguous: the prefilter's
	// per-literal rule lists then fall into one run per log source.
	renumbered := make([]*engineRule, 0, len(e.rules))
	for _, ls := range order {
		idx := byLS[ls]
		for j, ri := range idx {
			idx[j] = int32(len(renumbered))
			renumbered = append(renumbered, e.rules[ri])
		}
	}
	e.rules = renumbered
	// The rules' programs, in one arena, in the new order: a log source's side by side.
	var arena progArena
	for _, er := range e.rules {
		arena.size(er.det.root)
		for _, fd := range er.filters {
			arena.size(fd.root)
		}
	}
	arena.alloc()
	for _, er := range e.rules {
		er.prog = compileProgram(er.det.root, &arena)
		for _, fd := range er.filters {
			er.filterProgs = append(er.filterProgs, compileProgram(fd.root, &arena))
		}
	}

	entryOf := map[string]int32{}
	mappingEntries := opts.Mapping.entries
	for _, ls := range order {
		g := &group{ls: ls, rules: byLS[ls]}
		gi := int32(len(e.groups))
		e.groups = append(e.groups, g)
		variants := map[string]int32{} // canonical field mapping -> group variant
		variant := func(fm map[string]string) int32 {
			key := canonicalFieldMapping(fm)
			if v, ok := variants[key]; ok {
				return v
			}
			v := e.newVariant(gi, fm)
			variants[key] = v
			return v
		}
		if ls == (LogSource{}) {
			e.always = append(e.always, variant(nil))
			continue
		}
		selected := false
		for mi := range mappingEntries {
			me := &mappingEntries[mi]
			if !me.selects(ls) {
				continue
			}
			selected = true
			ei, ok := entryOf[me.Name]
			if !ok {
				ei = e.addEntry(me)
				entryOf[me.Name] = ei
			}
			v := variant(me.FieldMappings)
			if !slices.Contains(e.entries[ei].activates, v) {
				e.entries[ei].activates = append(e.entries[ei].activates, v)
			}
		}
		if !selected {
			// No mapping entry: the record hints must name this log source.
			name := "hints:" + ls.String()
			ei, ok := entryOf[name]
			if !ok {
				ei = int32(len(e.entries))
				e.entries = append(e.entries, entryRT{name: name, hints: [3]string{ls.Product, ls.Service, ls.Category}})
				entryOf[name] = ei
			}
			e.entries[ei].activates = append(e.entries[ei].activates, variant(nil))
		}
	}
	e.indexEntries()
	e.buildPrefilter()
	e.prebuildKeywordSets()
	e.stats.Rules = len(e.rules)
	e.stats.Groups = len(e.groups)
	e.stats.Fields = len(e.fields.names)
	if opts.Logger != nil {
		opts.Logger.Info("sigma engine built", "rules", e.stats.Rules, "log_sources", e.stats.Groups,
			"prefiltered", e.stats.Prefiltered, "always_evaluated", e.stats.AlwaysEvaluated,
			"literals", e.stats.Literals, "automaton_bytes", e.stats.AutomatonBytes, "refused", len(e.refusals))
	}
	return e, e.refusals
}

func recompile(n *parsedNode, placeholders map[string][]string, what string) (*detection, error) {
	ents, err := mappingEntries(n, what)
	if err != nil {
		return nil, err
	}
	return newCompiler(placeholders, false).compileDetection(ents, what)
}

func recompileFilter(n *parsedNode, placeholders map[string][]string) (*detection, error) {
	ents, err := mappingEntries(n, "filter")
	if err != nil {
		return nil, err
	}
	var det []mapEntry
	for _, x := range ents {
		if x.key != "rules" {
			det = append(det, x)
		}
	}
	return newCompiler(placeholders, false).compileDetection(det, "filter")
}

func canonicalFieldMapping(fm map[string]string) string {
	if len(fm) == 0 {
		return ""
	}
	keys := make([]string, 0, len(fm))
	for k := range fm {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(fm[k])
		b.WriteByte(0)
	}
	return b.String()
}

// mapFields appends to ids the engine field ids of a detection's rule-local field names under
// a field mapping (Sigma name -> event name), and returns them.
func (e *Engine) mapFields(ids []int32, det *detection, fm map[string]string) (all, these []int32) {
	start := len(ids)
	for _, name := range det.fields {
		if mapped, ok := fm[name]; ok {
			name = mapped
		}
		ids = append(ids, e.fields.add(name))
	}
	return ids, ids[start:len(ids):len(ids)]
}

func (e *Engine) newVariant(gi int32, fm map[string]string) int32 {
	g := e.groups[gi]
	gv := groupVariant{group: gi, fids: make([][]int32, len(g.rules)), filterFids: make([][][]int32, len(g.rules))}
	// The field ids of all the group's rules in one array, a rule's side by side.
	n := 0
	for _, ri := range g.rules {
		n += len(e.rules[ri].det.fields)
		for _, fd := range e.rules[ri].filters {
			n += len(fd.fields)
		}
	}
	ids := make([]int32, 0, n)
	for li, ri := range g.rules {
		er := e.rules[ri]
		ids, gv.fids[li] = e.mapFields(ids, er.det, fm)
		for _, fd := range er.filters {
			var fids []int32
			ids, fids = e.mapFields(ids, fd, fm)
			gv.filterFids[li] = append(gv.filterFids[li], fids)
		}
	}
	e.gvs = append(e.gvs, gv)
	return int32(len(e.gvs) - 1)
}

func (e *Engine) addEntry(me *MappingEntry) int32 {
	rt := entryRT{name: me.Name}
	keys := make([]string, 0, len(me.Conditions))
	for k := range me.Conditions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := entryCond{fid: e.fields.add(k)}
		for _, v := range me.Conditions[k] {
			if v == "*" {
				c.any = true
				continue
			}
			c.vals = append(c.vals, lowerString(v))
		}
		rt.conds = append(rt.conds, c)
	}
	rt.hints = [3]string{me.Hints["product"], me.Hints["service"], me.Hints["category"]}
	e.entries = append(e.entries, rt)
	return int32(len(e.entries) - 1)
}

// indexEntries files every entry under the most selective key it has: its Channel and
// EventID values, its Channel values, its Provider_Name values, or one of its hints; the rest
// are checked for every event.
func (e *Engine) indexEntries() {
	e.routeFids = []int32{e.chanFID, e.eidFID, e.provFID}
	for i := range e.entries {
		for _, c := range e.entries[i].conds {
			if !slices.Contains(e.routeFids, c.fid) {
				e.routeFids = append(e.routeFids, c.fid)
			}
		}
	}
	for i := range e.entries {
		ent := &e.entries[i]
		ei := int32(i)
		indexed := false
		var ch, eid *entryCond
		for ci := range ent.conds {
			c := &ent.conds[ci]
			if !c.any && c.fid == e.chanFID {
				ch = c
			}
			if !c.any && c.fid == e.eidFID {
				eid = c
			}
		}
		if ch != nil && eid != nil {
			for _, cv := range ch.vals {
				for _, ev := range eid.vals {
					k := cv + "\x00" + ev
					e.eidIdx[k] = append(e.eidIdx[k], ei)
				}
			}
			continue
		}
		for _, c := range ent.conds {
			if c.any || (c.fid != e.chanFID && c.fid != e.provFID) {
				continue
			}
			idx := e.chanIdx
			if c.fid == e.provFID {
				idx = e.provIdx
			}
			for _, v := range c.vals {
				idx[v] = append(idx[v], ei)
			}
			indexed = true
			break
		}
		if !indexed {
			for h, prefix := range []string{"p:", "s:", "c:"} {
				if ent.hints[h] != "" {
					e.hintIdx[prefix+ent.hints[h]] = append(e.hintIdx[prefix+ent.hints[h]], ei)
					indexed = true
					break
				}
			}
		}
		if !indexed {
			e.checkAll = append(e.checkAll, ei)
		}
	}
}

func (e *Engine) buildPrefilter() {
	e.ruleGroup = make([]int32, len(e.rules))
	e.ruleLocal = make([]int32, len(e.rules))
	pf := &e.pf
	// The rules' states, then their veto states; a full mask of 0 is never a candidate's.
	pf.fullNibs = make([]uint64, (2*len(e.rules)+15)/16)
	pf.byField = make([][]int32, len(e.groups))
	pf.keywords = make([][]litEntry, len(e.groups))
	variants := make([][]int32, len(e.groups))
	for vi := range e.gvs {
		g := e.gvs[vi].group
		variants[g] = append(variants[g], int32(vi))
	}
	type groupField struct{ group, fid int32 }
	byGF := map[groupField][]litEntry{}
	var order []groupField
	var fids []int32
	add := func(gi int, fid int32, en litEntry) {
		k := groupField{int32(gi), fid}
		if _, ok := byGF[k]; !ok {
			order = append(order, k)
		}
		byGF[k] = append(byGF[k], en)
	}
	for gi, g := range e.groups {
		for li, ri := range g.rules {
			e.ruleGroup[ri], e.ruleLocal[ri] = int32(gi), int32(li)
			if e.opts.DisablePrefilter {
				g.always = append(g.always, int32(li))
				continue
			}
			plan, ok := rulePlan(e.rules[ri].det.root, minLiteralScore)
			if !ok {
				// Weaker literals, rather than an evaluation for every event.
				plan, ok = rulePlan(e.rules[ri].det.root, minWeakLiteralScore)
			}
			if ok {
				e.stats.Prefiltered++
			} else {
				g.always = append(g.always, int32(li))
			}
			for bit, set := range plan {
				pf.fullNibs[ri>>4] |= 1 << ((ri&15)<<2 + int32(bit))
				key := groupKey(ri, bit)
				for _, l := range set {
					if l.local < 0 {
						pf.keywords[gi] = append(pf.keywords[gi], litEntry{l.s, key})
						continue
					}
					fids = e.fieldsOf(fids[:0], variants[gi], int32(li), l.local)
					for _, fid := range fids {
						add(gi, fid, litEntry{l.s, key})
					}
				}
			}
		}
		if e.opts.DisablePrefilter {
			continue
		}
		// Veto literals, in the fields the group's rules look for literals in: a field scanned
		// for vetoes alone would cost the scan of every value it has, for a few rules.
		for li, ri := range g.rules {
			e.addVetoes(int32(gi), int32(li), ri, variants[gi], func(fid int32, en litEntry) bool {
				if _, ok := byGF[groupField{int32(gi), fid}]; !ok {
					return false
				}
				add(gi, fid, en)
				return true
			})
		}
		e.stats.AlwaysEvaluated += len(g.always)
	}
	e.stateGroups = append(slices.Clone(e.ruleGroup), e.ruleGroup...)
	pf.enabled = e.stats.Prefiltered+e.stats.Vetoed > 0
	for _, k := range order {
		shards := newFieldAutomata(byGF[k], e.stateGroups, k.fid, !e.opts.noGrams)
		if len(shards) == 0 {
			continue
		}
		if pf.byField[k.group] == nil {
			pf.byField[k.group] = make([]int32, len(e.fields.names))
			for i := range pf.byField[k.group] {
				pf.byField[k.group][i] = -1
			}
		}
		pf.byField[k.group][k.fid] = int32(len(pf.autos))
		for i, fa := range shards {
			if fa.ac != nil && fa.ac.shared {
				e.checkVetoes(fa.li)
			}
			fa.base = pf.states
			if i+1 < len(shards) {
				fa.next = int32(len(pf.autos) + 1)
			}
			pf.states += fa.stamps
			pf.autos = append(pf.autos, fa)
			e.stats.Literals += len(fa.li.lits)
			e.stats.AutomatonBytes += fa.memory()
		}
	}
	for _, kw := range pf.keywords {
		e.stats.Literals += len(kw)
	}
}

// fieldsOf appends to dst the engine fields rule-local field local of group-local rule li is
// under the field mappings (group variants) of its group, each once.
func (e *Engine) fieldsOf(dst []int32, variants []int32, li, local int32) []int32 {
	for _, vi := range variants {
		if fid := e.gvs[vi].fids[li][local]; !slices.Contains(dst, fid) {
			dst = append(dst, fid)
		}
	}
	return dst
}

// addVetoes adds the veto literals of rule ri (group-local li in group gi, whose field
// mappings are variants) with add, which reports whether it took the literal: each pair of
// rule-local field and engine field the literals are looked for in has a veto group of its
// own, which vetoes the rule under the mappings that read that local field there (the
// group's mappings can put one rule field in several fields, as Image is NewProcessName in
// Security events and Image in Sysmon's).
func (e *Engine) addVetoes(gi, li int32, ri int32, variants []int32, add func(fid int32, en litEntry) bool) {
	// A veto group per local field, engine field and exactness: a group whose literals are
	// exact needs no check.
	type vetoField struct {
		local, fid int32
		exact      bool
	}
	var vfs []vetoField
	var fids []int32
	er := e.rules[ri]
	for _, l := range vetoLiterals(er.det.root) {
		fids = e.fieldsOf(fids[:0], variants, li, l.local)
		for _, fid := range fids {
			j := slices.Index(vfs, vetoField{l.local, fid, l.exact})
			if j < 0 && len(vfs) < maxVetoGroups {
				j = len(vfs)
				vfs = append(vfs, vetoField{l.local, fid, l.exact})
			}
			if j < 0 || !add(fid, litEntry{l.s, groupKey(vetoState(int32(len(e.rules)), ri), j)}) {
				continue
			}
			e.addVetoCheck(er, j, l.fc, !l.exact)
			for _, vi := range variants {
				gv := &e.gvs[vi]
				if gv.fids[li][l.local] != fid {
					continue
				}
				if gv.vetoes == nil {
					gv.vetoes = make([]uint8, len(e.groups[gi].rules))
				}
				gv.vetoes[li] |= 1 << j
			}
		}
	}
	for _, vi := range variants {
		if gv := &e.gvs[vi]; gv.vetoes != nil && gv.vetoes[li] != 0 {
			e.stats.Vetoed++
			return
		}
	}
}

// checkVetoes marks the veto groups of li (an automaton's that reports literals that may not
// occur) as checked: their field conditions must match before a rule is skipped.
func (e *Engine) checkVetoes(li *literalIndex) {
	for _, key := range li.rules {
		if e.stateGroups.veto(key) {
			e.rules[keyState(key)-int32(len(e.rules))].vetoChecks.inexact |= 1 << (key & 3)
		}
	}
}

// addVetoCheck adds field condition fc to the checks of veto group j of rule er, and marks the
// group as checked when inexact.
func (e *Engine) addVetoCheck(er *engineRule, j int, fc *fieldCond, inexact bool) {
	vc := er.vetoChecks
	if vc == nil {
		vc = &vetoChecks{}
		er.vetoChecks = vc
	}
	if !slices.Contains(vc.fcs[j], fc) {
		vc.fcs[j] = append(vc.fcs[j], fc)
	}
	if inexact {
		vc.inexact |= 1 << j
	}
}

// maxPrebuiltKeywordSets bounds the keyword automata prebuildKeywordSets makes.
const maxPrebuiltKeywordSets = 64

// prebuildKeywordSets builds the keyword automata of the sets of log source groups a record
// is likely to belong to together: a product's own group (product only), with one service
// and one category of the product. A scan then does not build them as it meets them, inside
// its timed work (it still does for other sets).
func (e *Engine) prebuildKeywordSets() {
	type productGroups struct{ wide, services, categories []int32 }
	byProduct := map[string]*productGroups{}
	var products []string
	for gi, kw := range e.pf.keywords {
		if len(kw) == 0 {
			continue
		}
		ls := e.groups[gi].ls
		pg := byProduct[ls.Product]
		if pg == nil {
			pg = &productGroups{}
			byProduct[ls.Product] = pg
			products = append(products, ls.Product)
		}
		switch g := int32(gi); {
		case ls.Service == "" && ls.Category == "":
			pg.wide = append(pg.wide, g)
		case ls.Service == "":
			pg.categories = append(pg.categories, g)
		default:
			pg.services = append(pg.services, g)
		}
	}
	built := 0
	for _, p := range products {
		pg := byProduct[p]
		for _, sv := range append([]int32{-1}, pg.services...) {
			for _, c := range append([]int32{-1}, pg.categories...) {
				set := slices.Clone(pg.wide)
				for _, g := range []int32{sv, c} {
					if g >= 0 {
						set = append(set, g)
					}
				}
				if len(set) == 0 {
					continue
				}
				if built++; built > maxPrebuiltKeywordSets {
					return
				}
				e.keywordSet(string(appendKeywordKey(nil, set)))
			}
		}
	}
}

// appendKeywordKey appends to dst the key of a set of groups in Engine.kwSets: the group ids
// in increasing order, as little-endian uint32s. It sorts groups.
func appendKeywordKey(dst []byte, groups []int32) []byte {
	slices.Sort(groups)
	for _, g := range groups {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(g))
	}
	return dst
}

// Rules returns the detection rules the engine runs, in load order.
func (e *Engine) Rules() []*Rule {
	out := make([]*Rule, len(e.rules))
	for i, er := range e.rules {
		out[i] = er.rule
	}
	slices.SortFunc(out, func(a, b *Rule) int { return a.loadIndex - b.loadIndex })
	return out
}

// Refusals returns the rules NewEngine left out.
func (e *Engine) Refusals() []Refusal { return slices.Clone(e.refusals) }

// Stats describes the engine.
func (e *Engine) Stats() EngineStats { return e.stats }

func (e *Engine) String() string {
	return fmt.Sprintf("sigma engine: %d rules in %d log sources", len(e.rules), len(e.groups))
}

// FieldID returns the engine's number for a field name (names compare as in Record.Get), or
// -1 when no rule, log source mapping or EngineOptions.Fields entry names the field. See
// Matcher.Field.
func (e *Engine) FieldID(name string) int32 { return e.fields.lookup(name) }
