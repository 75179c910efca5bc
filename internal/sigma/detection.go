package sigma

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// detection is a compiled detection section (or the selection/condition part of a filter).
type detection struct {
	root   node
	fields []string // rule-local field names, indexed by fieldCond.local / refLocal
	// keyword reports whether a keyword search (any field) is used.
	keyword bool
	// placeholders reports whether `expand` is used: the detection must be compiled again
	// with the engine's placeholder values.
	placeholders bool
}

// node is a compiled condition element.
type node interface {
	eval(c *evalCtx) bool
}

type andNode struct{ kids []node }
type orNode struct{ kids []node }
type notNode struct{ kid node }

// selNode names the search identifier its subtree came from, for evidence.
type selNode struct {
	name string
	kid  node
}

type constNode struct{ v bool }

func (n *andNode) eval(c *evalCtx) bool {
	mark := len(c.ev)
	for _, k := range n.kids {
		if !k.eval(c) {
			c.ev = c.ev[:mark]
			return false
		}
	}
	return true
}

func (n *orNode) eval(c *evalCtx) bool {
	for _, k := range n.kids {
		if k.eval(c) {
			return true
		}
	}
	return false
}

func (n *notNode) eval(c *evalCtx) bool {
	collect := c.collect
	c.collect = false
	r := n.kid.eval(c)
	c.collect = collect
	return !r
}

func (n *selNode) eval(c *evalCtx) bool {
	prev := c.sel
	c.sel = n.name
	mark := len(c.ev)
	r := n.kid.eval(c)
	if !r {
		c.ev = c.ev[:mark]
	}
	c.sel = prev
	return r
}

func (n *constNode) eval(*evalCtx) bool { return n.v }

// Field condition kinds.
const (
	fcString = iota
	fcRegex
	fcCIDR
	fcCompare
	fcExists
	fcNull
	fcFieldRef
	fcTime
)

// Comparison operators (lt/lte/gt/gte modifiers, and equality for time parts).
const (
	opEq = iota
	opLt
	opLte
	opGt
	opGte
)

// Field reference modes.
const (
	refEqual = iota
	refPrefix
	refSuffix
	refContains
)

// Time parts of the time modifiers.
const (
	tpMinute = iota
	tpHour
	tpDay
	tpWeek
	tpMonth
	tpYear
)

// fieldCond is one `field|modifiers: values` item of a selection, or a keyword search.
type fieldCond struct {
	name    string // field name as written; "" for keywords
	local   int32  // index into detection.fields; -1 for keywords
	kind    uint8
	neg     bool // neq
	all     bool
	cased   bool
	keyword bool
	// rawVals: the patterns are matched against raw values (cased, or caseless: see
	// gate.go). gate rules out values that cannot match pats, gates[i] (at the end, with the
	// other fields most conditions do not use) those that cannot match groups[i], before
	// they are lower-cased. Evaluation is bound by cache misses: the fields a string
	// condition reads are kept together, in the padding before pats.
	rawVals bool
	gate    byteGate

	pats   []pattern   // fcString, OR
	groups [][]pattern // fcString with all: AND over groups, OR inside
	// Indexes of long pattern lists (nil for short ones): patsIdx of pats, groupIdx[i] of
	// groups[i].
	patsIdx  *patternIndex
	groupIdx []*patternIndex
	res      []regexMatcher
	nets     []netip.Prefix
	nums     []float64
	op       uint8
	exists   bool
	refs     []int32 // fcFieldRef: local indices of the referenced fields
	refMod   uint8
	part     uint8
	gates    []byteGate
}

// regexMatcher is a compiled `re` value with cheap guards that reject most values before the
// regular expression runs: a literal every match contains, and the minimum match length.
type regexMatcher struct {
	re        *regexp.Regexp
	guard     string
	guardFold bool // guard is lower-case; test it against the lower-cased value
	minLen    int
	run       *runGuard
	counts    []countGuard
	// relaxed is the expression with its long bounded repetitions unbounded: it matches
	// whatever the expression matches, with a much smaller program, so it rules out most
	// values faster. Nil when there is nothing to relax.
	relaxed *regexp.Regexp
	// required holds strings of which every match holds one (see regexRequiredSet), or nil.
	required *requiredSet
	// longLine > 0: the expression only asks for longLine characters in a row.
	longLine int
	dotAll   bool
	// search decides a value the guards let through: re, or a smaller expression with the
	// same answers (see regexReduce). seq, when set, decides it instead (see litSeq).
	search *regexp.Regexp
	seq    *litSeq
}

func newRegexMatcher(re *regexp.Regexp) regexMatcher {
	lit, fold := regexRequiredLiteral(re.String())
	rm := regexMatcher{re: re, guard: lit, guardFold: fold, minLen: regexMinLen(re.String())}
	if g, ok := regexRunGuard(re.String()); ok {
		rm.run = &g
	}
	rm.counts = regexCountGuards(re.String())
	rm.required = regexRequiredSet(re.String())
	rm.search = re
	if red := compileReduced(re.String()); red != nil {
		rm.search = red
	}
	rm.seq = newLitSeq(rm.search.String())
	if rm.seq == nil {
		// Relaxing the expression the search runs: relaxing a reduced one's dropped
		// repetitions would only slow it down.
		rm.relaxed = regexRelaxed(rm.search.String())
	}
	if n, dotAll, ok := regexLongLine(re.String()); ok {
		rm.longLine, rm.dotAll = n, dotAll
	}
	return rm
}

func (r *regexMatcher) match(rec *Record, i int32) bool {
	v := rec.fields[i].value
	if len(v) < r.minLen {
		return false
	}
	if r.longLine > 0 {
		return hasLongLine(v, r.longLine, r.dotAll)
	}
	if r.guard != "" {
		if r.guardFold {
			if !strings.Contains(rec.lowerAt(i), r.guard) {
				return false
			}
		} else if !strings.Contains(v, r.guard) {
			return false
		}
	}
	if r.run != nil && !r.run.holds(v) {
		return false
	}
	for _, g := range r.counts {
		if !g.holds(v) {
			return false
		}
	}
	if r.required != nil && !r.required.holds(v, func() string { return rec.lowerAt(i) }) {
		return false
	}
	if r.seq != nil {
		return r.seq.match(v)
	}
	if r.relaxed != nil && !r.relaxed.MatchString(v) {
		return false
	}
	return r.search.MatchString(v)
}

// compiler holds the state of compiling one detection section.
type compiler struct {
	fields   []string
	fieldIdx map[string]int32
	// placeholders are the values for `expand`; when validate is set, undefined placeholders
	// are not an error (the rule is compiled again by the engine).
	placeholders map[string][]string
	validate     bool
	budget       walkBudget
	det          *detection
}

func newCompiler(placeholders map[string][]string, validate bool) *compiler {
	return &compiler{
		fieldIdx:     map[string]int32{},
		placeholders: placeholders,
		validate:     validate,
		budget:       walkBudget{left: maxYAMLNodes},
		det:          &detection{},
	}
}

func (c *compiler) fieldLocal(name string) int32 {
	if i, ok := c.fieldIdx[name]; ok {
		return i
	}
	i := int32(len(c.fields))
	c.fields = append(c.fields, name)
	c.fieldIdx[name] = i
	return i
}

// compileDetection compiles the search identifiers and condition(s) of a detection section.
// entries are the section's members; the "condition" entry holds the condition.
func (c *compiler) compileDetection(entries []mapEntry, what string) (*detection, error) {
	var condNode *yaml.Node
	sels := map[string]*yaml.Node{}
	var names []string
	for _, e := range entries {
		if e.key == "condition" {
			condNode = e.val
			continue
		}
		if e.key == "timeframe" {
			return nil, fmt.Errorf("%s: timeframe is obsolete Sigma 1 aggregation syntax; use a correlation rule", what)
		}
		if _, dup := sels[e.key]; dup {
			return nil, fmt.Errorf("%s: search identifier %q defined twice", what, e.key)
		}
		sels[e.key] = e.val
		names = append(names, e.key)
	}
	if condNode == nil || isNull(condNode) {
		return nil, fmt.Errorf("%s: condition is missing", what)
	}
	var condStrs []string
	cn := deref(condNode)
	switch cn.Kind {
	case yaml.ScalarNode:
		condStrs = []string{cn.Value}
	case yaml.SequenceNode:
		for _, k := range cn.Content {
			s, ok := scalarText(k)
			if !ok {
				return nil, fmt.Errorf("%s: condition list must hold strings", what)
			}
			condStrs = append(condStrs, s)
		}
		if len(condStrs) == 0 {
			return nil, fmt.Errorf("%s: condition list is empty", what)
		}
	default:
		return nil, fmt.Errorf("%s: condition must be a string or a list of strings", what)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no search identifiers defined", what)
	}
	compiled := map[string]node{}
	for _, name := range names {
		n, err := c.compileSearch(name, sels[name])
		if err != nil {
			return nil, fmt.Errorf("%s: search identifier %q: %w", what, name, err)
		}
		compiled[name] = &selNode{name: name, kid: n}
	}
	sort.Strings(names)
	var roots []node
	for _, cs := range condStrs {
		ast, err := parseCondition(cs)
		if err != nil {
			return nil, fmt.Errorf("%s: condition %q: %w", what, cs, err)
		}
		n, err := buildCondition(ast, compiled, names)
		if err != nil {
			return nil, fmt.Errorf("%s: condition %q: %w", what, cs, err)
		}
		roots = append(roots, n)
	}
	det := c.det
	det.fields = c.fields
	if len(roots) == 1 {
		det.root = roots[0]
	} else {
		det.root = &orNode{kids: roots}
	}
	return det, nil
}

func buildCondition(e *condExpr, sels map[string]node, names []string) (node, error) {
	switch e.op {
	case condIdent:
		n, ok := sels[e.name]
		if !ok {
			return nil, fmt.Errorf("unknown search identifier %q", e.name)
		}
		return n, nil
	case condNot:
		k, err := buildCondition(e.kids[0], sels, names)
		if err != nil {
			return nil, err
		}
		return &notNode{kid: k}, nil
	case condAnd, condOr:
		kids := make([]node, 0, len(e.kids))
		for _, ke := range e.kids {
			k, err := buildCondition(ke, sels, names)
			if err != nil {
				return nil, err
			}
			kids = append(kids, k)
		}
		if e.op == condAnd {
			return &andNode{kids: kids}, nil
		}
		return &orNode{kids: kids}, nil
	case condOneOf, condAllOf:
		var kids []node
		for _, name := range names {
			if e.isThem {
				if strings.HasPrefix(name, "_") {
					continue
				}
			} else if !matchIdentPattern(e.name, name) {
				continue
			}
			kids = append(kids, sels[name])
		}
		if len(kids) == 0 {
			if e.isThem {
				return nil, fmt.Errorf("\"them\" matches no search identifier")
			}
			return nil, fmt.Errorf("pattern %q matches no search identifier", e.name)
		}
		if len(kids) == 1 {
			return kids[0], nil
		}
		if e.op == condAllOf {
			return &andNode{kids: kids}, nil
		}
		return &orNode{kids: kids}, nil
	}
	return nil, fmt.Errorf("invalid condition")
}

func (c *compiler) compileSearch(name string, n *yaml.Node) (node, error) {
	if err := c.budget.spend(); err != nil {
		return nil, err
	}
	n = deref(n)
	if n == nil {
		return nil, fmt.Errorf("empty definition")
	}
	switch n.Kind {
	case yaml.MappingNode:
		return c.compileMap(n)
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, fmt.Errorf("empty list")
		}
		var kids []node
		var keywords []*yaml.Node
		for _, e := range n.Content {
			e = deref(e)
			if e == nil {
				return nil, fmt.Errorf("invalid list item")
			}
			switch e.Kind {
			case yaml.MappingNode:
				k, err := c.compileMap(e)
				if err != nil {
					return nil, err
				}
				kids = append(kids, k)
			case yaml.ScalarNode:
				keywords = append(keywords, e)
			default:
				return nil, fmt.Errorf("list items must be values or maps (line %d)", e.Line)
			}
		}
		if len(keywords) > 0 {
			k, err := c.compileFieldCond("", nil, keywords)
			if err != nil {
				return nil, err
			}
			kids = append(kids, k)
		}
		if len(kids) == 1 {
			return kids[0], nil
		}
		return &orNode{kids: kids}, nil
	case yaml.ScalarNode:
		if isNull(n) {
			return nil, fmt.Errorf("empty definition")
		}
		return c.compileFieldCond("", nil, []*yaml.Node{n})
	}
	return nil, fmt.Errorf("invalid definition")
}

func (c *compiler) compileMap(n *yaml.Node) (node, error) {
	entries, err := mappingEntries(n, "selection")
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("empty map")
	}
	kids := make([]node, 0, len(entries))
	for _, e := range entries {
		parts := strings.Split(e.key, "|")
		v := deref(e.val)
		var vals []*yaml.Node
		switch {
		case v == nil:
			return nil, fmt.Errorf("field %q: missing value", e.key)
		case v.Kind == yaml.SequenceNode:
			if len(v.Content) == 0 {
				return nil, fmt.Errorf("field %q: empty value list", e.key)
			}
			for _, x := range v.Content {
				x = deref(x)
				if x == nil || x.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("field %q: values must be scalars (line %d)", e.key, v.Line)
				}
				if err := c.budget.spend(); err != nil {
					return nil, err
				}
				vals = append(vals, x)
			}
		case v.Kind == yaml.ScalarNode:
			vals = []*yaml.Node{v}
		default:
			return nil, fmt.Errorf("field %q: value must be a scalar or a list of scalars (line %d)", e.key, v.Line)
		}
		fc, err := c.compileFieldCond(parts[0], parts[1:], vals)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", e.key, err)
		}
		kids = append(kids, fc)
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return &andNode{kids: kids}, nil
}

// yamlValue is a detection value with its YAML type.
type yamlValue struct {
	text string
	typ  uint8 // vStr, vNum, vBool, vNull
}

const (
	vStr = iota
	vNum
	vBool
	vNull
)

func toYAMLValue(n *yaml.Node) yamlValue {
	switch n.ShortTag() {
	case "!!null":
		return yamlValue{typ: vNull}
	case "!!int", "!!float":
		return yamlValue{text: n.Value, typ: vNum}
	case "!!bool":
		return yamlValue{text: n.Value, typ: vBool}
	}
	return yamlValue{text: n.Value, typ: vStr}
}

var knownModifiers = map[string]bool{
	"all": true, "neq": true, "cased": true, "contains": true, "startswith": true, "endswith": true,
	"base64": true, "base64offset": true, "wide": true, "utf16le": true, "utf16be": true, "utf16": true,
	"windash": true, "expand": true, "re": true, "i": true, "ignorecase": true, "m": true,
	"multiline": true, "s": true, "dotall": true, "cidr": true, "exists": true, "fieldref": true,
	"lt": true, "lte": true, "gt": true, "gte": true, "minute": true, "hour": true, "day": true,
	"week": true, "month": true, "year": true,
}

func (c *compiler) compileFieldCond(field string, mods []string, nodes []*yaml.Node) (*fieldCond, error) {
	fc := &fieldCond{name: field, local: -1, kind: fcString}
	if field == "" {
		fc.keyword = true
		c.det.keyword = true
	}
	var transforms []string
	reFlags := ""
	hasOp := false
	for _, m := range mods {
		if !knownModifiers[m] {
			if m == "" {
				return nil, fmt.Errorf("empty modifier")
			}
			return nil, fmt.Errorf("unknown modifier %q", m)
		}
		switch m {
		case "all":
			fc.all = true
		case "neq":
			fc.neg = true
		case "cased":
			if fc.kind != fcString {
				return nil, fmt.Errorf("modifier cased applies to plain string values only")
			}
			fc.cased = true
		case "contains", "startswith", "endswith":
			switch fc.kind {
			case fcString:
				transforms = append(transforms, m)
			case fcFieldRef:
				fc.refMod = map[string]uint8{"contains": refContains, "startswith": refPrefix, "endswith": refSuffix}[m]
			case fcRegex:
				// A regular expression is searched anywhere in the value already.
			default:
				return nil, fmt.Errorf("modifier %s cannot follow %s", m, kindName(fc.kind))
			}
		case "base64", "base64offset", "wide", "utf16le", "utf16be", "utf16", "windash":
			if fc.kind != fcString {
				return nil, fmt.Errorf("modifier %s cannot follow %s", m, kindName(fc.kind))
			}
			transforms = append(transforms, m)
		case "expand":
			if fc.kind != fcString && fc.kind != fcRegex {
				return nil, fmt.Errorf("modifier expand cannot follow %s", kindName(fc.kind))
			}
			transforms = append(transforms, m)
		case "re":
			if fc.kind != fcString || len(transforms) > 0 || fc.cased {
				return nil, fmt.Errorf("modifier re only applies to unmodified values")
			}
			fc.kind = fcRegex
		case "i", "ignorecase", "m", "multiline", "s", "dotall":
			if fc.kind != fcRegex {
				return nil, fmt.Errorf("modifier %s is a regular expression flag and needs re before it", m)
			}
			reFlags += map[string]string{"i": "i", "ignorecase": "i", "m": "m", "multiline": "m", "s": "s", "dotall": "s"}[m]
		case "cidr":
			if fc.kind != fcString || len(transforms) > 0 {
				return nil, fmt.Errorf("modifier cidr only applies to unmodified values")
			}
			fc.kind = fcCIDR
		case "exists":
			if fc.kind != fcString || len(transforms) > 0 || fc.keyword {
				return nil, fmt.Errorf("modifier exists applies to a field with an unmodified boolean value")
			}
			fc.kind = fcExists
		case "fieldref":
			if fc.kind != fcString || fc.keyword {
				return nil, fmt.Errorf("modifier fieldref applies to a field with plain field names as values")
			}
			fc.kind = fcFieldRef
			// contains/startswith/endswith written before fieldref set the comparison mode.
			for _, t := range transforms {
				switch t {
				case "contains":
					fc.refMod = refContains
				case "startswith":
					fc.refMod = refPrefix
				case "endswith":
					fc.refMod = refSuffix
				default:
					return nil, fmt.Errorf("modifier fieldref cannot follow %s", t)
				}
			}
			transforms = nil
		case "lt", "lte", "gt", "gte":
			if hasOp {
				return nil, fmt.Errorf("only one comparison modifier is allowed")
			}
			hasOp = true
			fc.op = map[string]uint8{"lt": opLt, "lte": opLte, "gt": opGt, "gte": opGte}[m]
			switch {
			case fc.kind == fcString && len(transforms) == 0:
				fc.kind = fcCompare
			case fc.kind == fcTime:
			default:
				return nil, fmt.Errorf("modifier %s only applies to unmodified numeric values", m)
			}
		case "minute", "hour", "day", "week", "month", "year":
			part := map[string]uint8{"minute": tpMinute, "hour": tpHour, "day": tpDay, "week": tpWeek, "month": tpMonth, "year": tpYear}[m]
			switch {
			case fc.kind == fcString && len(transforms) == 0, fc.kind == fcCompare:
				fc.kind = fcTime
				fc.part = part
			default:
				return nil, fmt.Errorf("modifier %s only applies to unmodified numeric values", m)
			}
		}
	}
	if fc.keyword && (fc.kind == fcExists || fc.kind == fcFieldRef || fc.kind == fcCompare || fc.kind == fcTime || fc.kind == fcCIDR) {
		return nil, fmt.Errorf("modifier %s needs a field name", kindName(fc.kind))
	}
	vals := make([]yamlValue, len(nodes))
	for i, n := range nodes {
		vals[i] = toYAMLValue(n)
	}
	if fc.all && len(vals) < 2 {
		return nil, fmt.Errorf("modifier all needs a list of at least two values (a single value with all is not allowed)")
	}
	if !fc.keyword {
		fc.local = c.fieldLocal(field)
	}
	var err error
	switch fc.kind {
	case fcString:
		err = c.compileStrings(fc, vals, transforms)
	case fcRegex:
		err = c.compileRegexes(fc, vals, reFlags, slices.Contains(transforms, "expand"))
	case fcCIDR:
		err = compileCIDRs(fc, vals)
	case fcCompare, fcTime:
		err = compileNumbers(fc, vals)
	case fcExists:
		if len(vals) != 1 || vals[0].typ != vBool {
			return nil, fmt.Errorf("modifier exists needs a single boolean value (true or false)")
		}
		fc.exists = strings.EqualFold(vals[0].text, "true")
	case fcFieldRef:
		for _, v := range vals {
			if v.typ == vNull || v.text == "" {
				return nil, fmt.Errorf("modifier fieldref needs field names as values")
			}
			if strings.ContainsAny(v.text, "*?") {
				return nil, fmt.Errorf("field reference %q must not contain wildcards", v.text)
			}
			fc.refs = append(fc.refs, c.fieldLocal(v.text))
		}
	}
	if err != nil {
		return nil, err
	}
	return fc, nil
}

func kindName(k uint8) string {
	return [...]string{"a string value", "re", "cidr", "a comparison", "exists", "null", "fieldref", "a time modifier"}[k]
}

func (c *compiler) compileStrings(fc *fieldCond, vals []yamlValue, transforms []string) error {
	hasNull := false
	for _, v := range vals {
		if v.typ == vNull {
			hasNull = true
		}
	}
	if hasNull {
		if len(vals) > 1 {
			return fmt.Errorf("null cannot be part of a list of values")
		}
		if len(transforms) > 0 || fc.cased {
			return fmt.Errorf("null cannot be combined with value modifiers")
		}
		if fc.keyword {
			return fmt.Errorf("null is not a keyword")
		}
		fc.kind = fcNull
		return nil
	}
	if fc.keyword {
		// Keywords are searched anywhere in any field.
		transforms = append(slices.Clone(transforms), "contains")
	}
	for _, v := range vals {
		var cur []sigmaString
		if v.typ == vStr {
			cur = []sigmaString{parseSigmaString(v.text)}
		} else {
			cur = []sigmaString{plainString(v.text)}
		}
		for _, t := range transforms {
			var next []sigmaString
			for _, s := range cur {
				switch t {
				case "contains":
					next = append(next, s.withLeadingStar().withTrailingStar())
				case "startswith":
					next = append(next, s.withTrailingStar())
				case "endswith":
					next = append(next, s.withLeadingStar())
				case "base64":
					b, err := transformBase64(s)
					if err != nil {
						return err
					}
					next = append(next, b)
				case "base64offset":
					bs, err := transformBase64Offset(s)
					if err != nil {
						return err
					}
					next = append(next, bs...)
				case "wide", "utf16le":
					next = append(next, transformUTF16(s, "utf16le"))
				case "utf16be", "utf16":
					next = append(next, transformUTF16(s, t))
				case "windash":
					ws, err := transformWindash(s)
					if err != nil {
						return err
					}
					next = append(next, ws...)
				case "expand":
					next = append(next, insertPlaceholders(s))
				}
			}
			cur = next
		}
		var group []pattern
		for _, s := range cur {
			expanded := []sigmaString{s}
			if s.hasPlaceholder() {
				c.det.placeholders = true
				var err error
				expanded, err = c.expand(s)
				if err != nil {
					return err
				}
			}
			for _, e := range expanded {
				group = append(group, compilePattern(e, fc.cased))
			}
		}
		if fc.all {
			fc.groups = append(fc.groups, group)
		} else {
			fc.pats = append(fc.pats, group...)
		}
	}
	fc.patsIdx = newPatternIndex(fc.pats)
	for _, g := range fc.groups {
		fc.groupIdx = append(fc.groupIdx, newPatternIndex(g))
	}
	fc.rawVals = fc.cased || allCaseless(fc.pats)
	for _, g := range fc.groups {
		fc.rawVals = fc.rawVals && allCaseless(g)
	}
	fc.gate = fc.gateOf(fc.pats)
	for _, g := range fc.groups {
		fc.gates = append(fc.gates, fc.gateOf(g))
	}
	return nil
}

// allCaseless reports whether every pattern of pats is caseless.
func allCaseless(pats []pattern) bool {
	for i := range pats {
		if !pats[i].caseless() {
			return false
		}
	}
	return true
}

// gateOf returns the gate of pats, or none when it would likely cost more than it saves. A
// gate on a byte common in the values of the field it is for (the backslash, dot or colon of
// a path) passes nearly every value, a search for nothing: such a gate is kept for keyword
// searches (most fields hold no path) and for lists long enough that ruling out the odd
// value pays. Nor does a gate pay in front of one or two patterns that need no lower-casing.
func (f *fieldCond) gateOf(pats []pattern) byteGate {
	if f.rawVals && len(pats) <= 2 {
		return byteGate{}
	}
	g := newByteGate(pats)
	if f.keyword || len(pats) >= minCommonGate {
		return g
	}
	for _, b := range g.b[:g.n] {
		if byteRarity(b) <= byteRarity('\\') {
			return byteGate{}
		}
	}
	return g
}

// minCommonGate is the shortest list of patterns that gets a gate on a common byte.
const minCommonGate = 5

func (c *compiler) expand(s sigmaString) ([]sigmaString, error) {
	if c.validate {
		dummy := map[string][]string{}
		for _, t := range s {
			if t.kind == tokPlace {
				if v, ok := c.placeholders[t.s]; ok {
					dummy[t.s] = v
				} else {
					dummy[t.s] = []string{"placeholder"}
				}
			}
		}
		return expandPlaceholders(s, dummy)
	}
	return expandPlaceholders(s, c.placeholders)
}

func (c *compiler) compileRegexes(fc *fieldCond, vals []yamlValue, flags string, expand bool) error {
	for _, v := range vals {
		if v.typ == vNull {
			return fmt.Errorf("re needs a regular expression, not null")
		}
		exprs := []string{v.text}
		if expand {
			ss := insertPlaceholders(plainString(v.text))
			if ss.hasPlaceholder() {
				c.det.placeholders = true
				// Placeholder values are inserted verbatim into the expression.
				raw := sigmaString{}
				for _, t := range ss {
					if t.kind == tokLit {
						raw = append(raw, sigmaToken{kind: tokLit, s: t.s})
					} else {
						raw = append(raw, t)
					}
				}
				exp, err := c.expand(raw)
				if err != nil {
					return err
				}
				exprs = exprs[:0]
				for _, e := range exp {
					var b strings.Builder
					for _, t := range e {
						switch t.kind {
						case tokLit:
							b.WriteString(t.s)
						case tokStar:
							b.WriteString(".*")
						case tokOne:
							b.WriteString(".")
						}
					}
					exprs = append(exprs, b.String())
				}
			}
		}
		for _, expr := range exprs {
			full := expr
			if flags != "" {
				full = "(?" + dedupFlags(flags) + ")" + expr
			}
			re, err := regexp.Compile(full)
			if err != nil {
				return fmt.Errorf("%w: regular expression %q cannot be compiled by Go's RE2 engine: %v", ErrUnsupported, expr, err)
			}
			fc.res = append(fc.res, newRegexMatcher(re))
		}
	}
	return nil
}

func dedupFlags(f string) string {
	var out []byte
	for i := 0; i < len(f); i++ {
		if !strings.ContainsRune(string(out), rune(f[i])) {
			out = append(out, f[i])
		}
	}
	return string(out)
}

func compileCIDRs(fc *fieldCond, vals []yamlValue) error {
	for _, v := range vals {
		s := strings.TrimSpace(v.text)
		if v.typ == vNull || s == "" {
			return fmt.Errorf("cidr needs a network such as 10.0.0.0/8")
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return fmt.Errorf("invalid CIDR network %q: %v", v.text, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		fc.nets = append(fc.nets, p.Masked())
	}
	return nil
}

func compileNumbers(fc *fieldCond, vals []yamlValue) error {
	for _, v := range vals {
		if v.typ == vNull || v.typ == vBool {
			return fmt.Errorf("%s needs a numeric value, not %q", kindName(fc.kind), v.text)
		}
		f, ok := parseNumber(v.text)
		if !ok {
			return fmt.Errorf("%s needs a numeric value, not %q", kindName(fc.kind), v.text)
		}
		fc.nums = append(fc.nums, f)
	}
	return nil
}

// parseNumber parses a decimal number, or an integer in 0x hexadecimal notation.
func parseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		return f, true
	}
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		if u, err := strconv.ParseUint(s[2:], 16, 64); err == nil {
			return float64(u), true
		}
	}
	return 0, false
}

// ---- evaluation ----

// Evidence is one field value that satisfied a selection of a matching rule.
type Evidence struct {
	Selection string `json:"selection"`
	Field     string `json:"field"`
	Value     string `json:"value"`
}

// evalCtx is the per-evaluation state; it lives in a Matcher and is reused.
type evalCtx struct {
	m       *Matcher
	rec     *Record
	fids    []int32 // rule-local field index -> engine field id (-1: not in any record)
	collect bool
	sel     string
	ev      []Evidence
}

func (c *evalCtx) first(local int32) int32 {
	fid := c.fids[local]
	if fid < 0 {
		return -1
	}
	return c.m.firstOf(fid)
}

func (c *evalCtx) next(i int32) int32 { return c.m.next[i] }

func (c *evalCtx) record(field string, i int32) {
	if c.collect {
		f := &c.rec.fields[i]
		name := field
		if name == "" {
			name = f.name
		}
		c.ev = append(c.ev, Evidence{Selection: c.sel, Field: name, Value: f.value})
	}
}

func (f *fieldCond) eval(c *evalCtx) bool {
	if f.neg {
		collect := c.collect
		c.collect = false
		r := f.match(c)
		c.collect = collect
		if !r && c.collect {
			// Show what the field held, if anything, as evidence of the inequality.
			if f.local >= 0 {
				if i := c.first(f.local); i >= 0 {
					c.record(f.name, i)
				}
			}
		}
		return !r
	}
	return f.match(c)
}

func (f *fieldCond) match(c *evalCtx) bool {
	if f.keyword {
		return f.matchKeyword(c)
	}
	switch f.kind {
	case fcString:
		if f.all {
			for gi := range f.groups {
				if !f.anyValue(c, f.groups[gi], f.groupIdx[gi], f.gates[gi]) {
					return false
				}
			}
			return true
		}
		return f.anyValue(c, f.pats, f.patsIdx, f.gate)
	case fcNull:
		i := c.first(f.local)
		if i < 0 {
			return true
		}
		for ; i >= 0; i = c.next(i) {
			if c.rec.fields[i].value == "" {
				c.record(f.name, i)
				return true
			}
		}
		return false
	case fcExists:
		i := c.first(f.local)
		if (i >= 0) == f.exists {
			if i >= 0 {
				c.record(f.name, i)
			}
			return true
		}
		return false
	case fcRegex:
		if f.all {
			for ri := range f.res {
				if !f.anyRegex(c, &f.res[ri]) {
					return false
				}
			}
			return true
		}
		for ri := range f.res {
			if f.anyRegex(c, &f.res[ri]) {
				return true
			}
		}
		return false
	case fcCIDR:
		for i := c.first(f.local); i >= 0; i = c.next(i) {
			a, ok := parseIP(c.rec.fields[i].value)
			if !ok {
				continue
			}
			hits := 0
			for _, n := range f.nets {
				if n.Contains(a) {
					hits++
					if !f.all {
						break
					}
				}
			}
			if (f.all && hits == len(f.nets)) || (!f.all && hits > 0) {
				c.record(f.name, i)
				return true
			}
		}
		return false
	case fcCompare, fcTime:
		return f.matchNumbers(c)
	case fcFieldRef:
		return f.matchFieldRef(c)
	}
	return false
}

func (f *fieldCond) anyValue(c *evalCtx, pats []pattern, idx *patternIndex, g byteGate) bool {
	for i := c.first(f.local); i >= 0; i = c.next(i) {
		v := c.rec.fields[i].value
		if !g.holds(v) {
			continue
		}
		if !f.rawVals {
			v = c.rec.lowerAt(i)
		}
		if matchAny(pats, idx, v) {
			c.record(f.name, i)
			return true
		}
	}
	return false
}

// matchAny reports whether v matches one of pats (idx is their index, or nil).
func matchAny(pats []pattern, idx *patternIndex, v string) bool {
	if idx != nil {
		return idx.match(v)
	}
	for pi := range pats {
		if pats[pi].match(v) {
			return true
		}
	}
	return false
}

func (f *fieldCond) anyRegex(c *evalCtx, re *regexMatcher) bool {
	for i := c.first(f.local); i >= 0; i = c.next(i) {
		if re.match(c.rec, i) {
			c.record(f.name, i)
			return true
		}
	}
	return false
}

func (f *fieldCond) matchKeyword(c *evalCtx) bool {
	n := int32(len(c.rec.fields))
	anyField := func(pats []pattern, idx *patternIndex, g byteGate) bool {
		for i := int32(0); i < n; i++ {
			v := c.rec.fields[i].value
			if !g.holds(v) {
				continue
			}
			if !f.rawVals {
				v = c.rec.lowerAt(i)
			}
			if matchAny(pats, idx, v) {
				c.record("", i)
				return true
			}
		}
		return false
	}
	anyRegex := func(re *regexMatcher) bool {
		for i := int32(0); i < n; i++ {
			if re.match(c.rec, i) {
				c.record("", i)
				return true
			}
		}
		return false
	}
	switch f.kind {
	case fcString:
		if f.all {
			for gi, g := range f.groups {
				if !anyField(g, f.groupIdx[gi], f.gates[gi]) {
					return false
				}
			}
			return true
		}
		return anyField(f.pats, f.patsIdx, f.gate)
	case fcRegex:
		for ri := range f.res {
			r := anyRegex(&f.res[ri])
			if f.all && !r {
				return false
			}
			if !f.all && r {
				return true
			}
		}
		return f.all
	}
	return false
}

func cmpHolds(op uint8, v, want float64) bool {
	switch op {
	case opLt:
		return v < want
	case opLte:
		return v <= want
	case opGt:
		return v > want
	case opGte:
		return v >= want
	}
	return v == want
}

func (f *fieldCond) matchNumbers(c *evalCtx) bool {
	for i := c.first(f.local); i >= 0; i = c.next(i) {
		var v float64
		if f.kind == fcTime {
			t, ok := parseTimestamp(c.rec.fields[i].value)
			if !ok {
				continue
			}
			switch f.part {
			case tpMinute:
				v = float64(t.Minute())
			case tpHour:
				v = float64(t.Hour())
			case tpDay:
				v = float64(t.Day())
			case tpWeek:
				_, w := t.ISOWeek()
				v = float64(w)
			case tpMonth:
				v = float64(t.Month())
			case tpYear:
				v = float64(t.Year())
			}
		} else {
			var ok bool
			if v, ok = parseNumber(c.rec.fields[i].value); !ok {
				continue
			}
		}
		hits := 0
		for _, want := range f.nums {
			if cmpHolds(f.op, v, want) {
				hits++
				if !f.all {
					break
				}
			}
		}
		if (f.all && hits == len(f.nums)) || (!f.all && hits > 0) {
			c.record(f.name, i)
			return true
		}
	}
	return false
}

func (f *fieldCond) matchFieldRef(c *evalCtx) bool {
	// The lower-case form of an ASCII value is as long as the value: two ASCII values whose
	// lengths already rule the comparison out are not lowered (an image and its parent's
	// mostly differ in length). Lower-casing may change the length of other values.
	one := func(ref int32) bool {
		for i := c.first(f.local); i >= 0; i = c.next(i) {
			rv := c.rec.fields[i].value
			vASCII := isASCII(rv)
			for j := c.first(ref); j >= 0; j = c.next(j) {
				rw := c.rec.fields[j].value
				if (len(rv) < len(rw) || f.refMod == refEqual && len(rv) != len(rw)) && vASCII && isASCII(rw) {
					continue
				}
				v, w := c.rec.lowerAt(i), c.rec.lowerAt(j) // each lowered once per record
				var ok bool
				switch f.refMod {
				case refEqual:
					ok = v == w
				case refPrefix:
					ok = strings.HasPrefix(v, w)
				case refSuffix:
					ok = strings.HasSuffix(v, w)
				case refContains:
					ok = strings.Contains(v, w)
				}
				if ok {
					c.record(f.name, i)
					return true
				}
			}
		}
		return false
	}
	for _, ref := range f.refs {
		r := one(ref)
		if f.all && !r {
			return false
		}
		if !f.all && r {
			return true
		}
	}
	return f.all
}

// parseIP parses an IPv4 or IPv6 address, unmapping IPv4-in-IPv6 and dropping zones.
func parseIP(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}
