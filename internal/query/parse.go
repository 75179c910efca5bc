package query

import (
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/geoip"
)

// Limits on untrusted query text.
const (
	maxQueryLen = 4096 // bytes
	maxDepth    = 32   // nested parentheses and nots
	maxInValues = 64   // values in one in (...)
	maxLimit    = 10000
	// DefaultLimit is how many events or rows a query without a limit stage returns.
	DefaultLimit = 100
	// DefaultWithin is how far back first_seen looks when the query gives no within.
	DefaultWithin = 30 * 24 * time.Hour
	maxDuration   = 100 * 365 * 24 * time.Hour
)

// Query is a parsed query. Its zero value matches every event. A Query is immutable once parsed
// and safe for concurrent use.
type Query struct {
	expr   node // nil: every event
	stages []stage
}

// node is a boolean expression over one event: *andNode, *orNode, *notNode, *cmpNode or
// *textNode.
type node interface{ level() int }

// Precedence levels, for printing with as few parentheses as needed.
const (
	levelOr = iota + 1
	levelAnd
	levelUnary
)

type andNode struct{ xs []node }
type orNode struct{ xs []node }
type notNode struct{ x node }

// cmpNode compares a field with one value, or with a list for in.
type cmpNode struct {
	f    *field
	op   string // = != > >= < <= ~ in
	vals []value
}

// textNode is free text: a case-insensitive substring of any string field.
type textNode struct{ raw, lower string }

func (*andNode) level() int  { return levelAnd }
func (*orNode) level() int   { return levelOr }
func (*notNode) level() int  { return levelUnary }
func (*cmpNode) level() int  { return levelUnary }
func (*textNode) level() int { return levelUnary }

// value is one comparison operand, prepared at Parse time for the operator and field kind.
type value struct {
	raw   string // as written (unescaped)
	lower string // strings.ToLower(raw)
	glob  bool   // = or != with a * wildcard
	// account: = or != on an account name, which a bare name matches under any domain
	// (store.UserMatches, as the store's user filter).
	account bool
	cidr    bool // = or != on an IP field with a CIDR prefix
	pfx     netip.Prefix
	isNum   bool // raw is a decimal number
	num     float64
	re      *regexp.Regexp // for ~
	tv      timeValue      // for comparisons on time
}

// duration is a span as written: n units of m, h, d or w.
type duration struct {
	n    int64
	unit byte
}

var unitLen = map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}

func (d duration) value() time.Duration { return time.Duration(d.n) * unitLen[d.unit] }

func (d duration) String() string { return strconv.FormatInt(d.n, 10) + string(d.unit) }

// timeValue is an absolute time or a span before Options.Now.
type timeValue struct {
	raw  string
	abs  time.Time
	rel  bool
	back duration
}

func (t timeValue) at(now time.Time) time.Time {
	if t.rel {
		return now.Add(-t.back.value())
	}
	return t.abs
}

type stageKind uint8

const (
	stSince stageKind = iota
	stBetween
	stWhere
	stFirstSeen
	stCount
	stSort
	stLimit
	stFields
)

var stageNames = map[string]stageKind{
	"since": stSince, "between": stBetween, "where": stWhere, "first_seen": stFirstSeen,
	"count": stCount, "sort": stSort, "limit": stLimit, "fields": stFields,
}

func (k stageKind) String() string {
	for name, kind := range stageNames {
		if kind == k {
			return name
		}
	}
	return "?"
}

// rank orders the stages: filters, then count or sort, then limit and fields.
func (k stageKind) rank() int {
	switch k {
	case stCount, stSort:
		return 1
	case stLimit, stFields:
		return 2 // in either order: fields does not change how many events there are
	}
	return 0
}

// stage is one | stage; which fields are set depends on kind.
type stage struct {
	kind     stageKind
	dur      duration  // since; first_seen within
	within   bool      // first_seen: within was given
	from, to timeValue // between
	expr     node      // where
	f, by    *field    // first_seen F by K; sort F
	fields   []*field  // count by; fields
	desc     bool      // sort
	n        int       // limit
}

// Parse parses src. Errors are *SyntaxError. Parse never panics. src, and the canonical text
// String returns, may be at most 4096 bytes long.
func Parse(src string) (*Query, error) {
	if len(src) > maxQueryLen {
		return nil, errAt(maxQueryLen, "the query is %d bytes long; at most %d are allowed", len(src), maxQueryLen)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q := &Query{}
	if !p.at(tPipe) && !p.at(tEOF) {
		if q.expr, err = p.expr(); err != nil {
			return nil, err
		}
	}
	seen := map[stageKind]int{}
	lastRank := 0
	last := stSince
	for p.at(tPipe) {
		p.next()
		t := p.peek()
		st, err := p.stage()
		if err != nil {
			return nil, err
		}
		if err := checkStage(st.kind, t.pos, seen, lastRank, last); err != nil {
			return nil, err
		}
		seen[st.kind]++
		lastRank, last = st.kind.rank(), st.kind
		q.stages = append(q.stages, st)
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, "expected | or the end of the query")
	}
	// The canonical text must parse too, so it obeys the same limit; it is longer than the
	// text when aliases and adjacency are written out.
	if n := len(q.String()); n > maxQueryLen {
		return nil, errAt(0, "the query is %d bytes long written out in full (canonical names, explicit and); at most %d are allowed", n, maxQueryLen)
	}
	return q, nil
}

// checkStage enforces the order and the combinations of stages.
func checkStage(k stageKind, pos int, seen map[stageKind]int, lastRank int, last stageKind) error {
	switch k {
	case stFirstSeen, stCount, stSort, stLimit, stFields:
		if seen[k] > 0 {
			return errAt(pos, "only one %s stage is allowed", k)
		}
	}
	if k.rank() < lastRank {
		return errAt(pos, "%s must come before %s: filters (since, between, where, first_seen) come first, then count or sort, then limit and fields", k, last)
	}
	switch {
	case k == stSort && seen[stCount] > 0, k == stCount && seen[stSort] > 0:
		return errAt(pos, "count and sort do not go together: count returns rows, sorted by count")
	case k == stFields && seen[stCount] > 0:
		return errAt(pos, "count and fields do not go together: count returns rows, fields trims events")
	}
	return nil
}

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peek2() token {
	if p.i+1 < len(p.toks) {
		return p.toks[p.i+1]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

func (p *parser) at(k tokKind) bool { return p.toks[p.i].kind == k }

func (p *parser) atKeyword(kw string) bool {
	t := p.toks[p.i]
	return t.kind == tKeyword && t.text == kw
}

// describe names a token for an error message.
func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "the end of the query"
	case tWord:
		return strconv.Quote(t.text)
	case tString:
		return "the string " + strconv.Quote(t.text)
	case tKeyword:
		return "the keyword " + t.text
	}
	return "'" + t.text + "'"
}

func (p *parser) unexpected(t token, want string) error {
	if t.kind == tRParen {
		return errAt(t.pos, "%s, found ')' with no '(' to close", want)
	}
	return errAt(t.pos, "%s, found %s", want, describe(t))
}

func (p *parser) expr() (node, error) {
	x, err := p.and()
	if err != nil {
		return nil, err
	}
	xs := []node{x}
	for p.atKeyword("or") {
		p.next()
		y, err := p.and()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	return &orNode{flatten(xs, func(n node) ([]node, bool) {
		o, ok := n.(*orNode)
		if !ok {
			return nil, false
		}
		return o.xs, true
	})}, nil
}

// flatten splices into xs the operands of the nodes kids says are of the same operator, so
// that a or (b or c) is one or of three.
func flatten(xs []node, kids func(node) ([]node, bool)) []node {
	var flat []node
	for _, x := range xs {
		if ks, ok := kids(x); ok {
			flat = append(flat, ks...)
		} else {
			flat = append(flat, x)
		}
	}
	return flat
}

// startsUnary reports whether the next token can begin a unary expression, which makes
// adjacency mean and.
func (p *parser) startsUnary() bool {
	t := p.peek()
	switch t.kind {
	case tWord, tString, tLParen:
		return true
	case tKeyword:
		return t.text == "not"
	}
	return false
}

func (p *parser) and() (node, error) {
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	xs := []node{x}
	for {
		if p.atKeyword("and") {
			p.next()
		} else if !p.startsUnary() {
			break
		}
		y, err := p.unary()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	return &andNode{flatten(xs, func(n node) ([]node, bool) {
		a, ok := n.(*andNode)
		if !ok {
			return nil, false
		}
		return a.xs, true
	})}, nil
}

func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > maxDepth {
		return errAt(pos, "the expression nests deeper than %d levels of parentheses and nots", maxDepth)
	}
	return nil
}

func (p *parser) unary() (node, error) {
	t := p.peek()
	switch t.kind {
	case tKeyword:
		if t.text == "not" {
			if err := p.enter(t.pos); err != nil {
				return nil, err
			}
			p.next()
			x, err := p.unary()
			if err != nil {
				return nil, err
			}
			p.depth--
			return &notNode{x}, nil
		}
		return nil, errAt(t.pos, "expected a comparison, a search text or '(', found the keyword %s (quote it to search for it as text)", t.text)
	case tLParen:
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		p.next()
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if !p.at(tRParen) {
			return nil, p.unexpected(p.peek(), "expected ')' to close the '(' at column "+strconv.Itoa(t.pos+1))
		}
		p.next()
		p.depth--
		return x, nil
	case tWord:
		if n := p.peek2(); n.kind == tOp || n.kind == tKeyword && n.text == "in" {
			return p.cmp()
		}
		p.next()
		return &textNode{raw: t.text, lower: strings.ToLower(t.text)}, nil
	case tString:
		if n := p.peek2(); n.kind == tOp {
			return nil, errAt(t.pos, "a field name is a bare word, not a quoted string")
		}
		p.next()
		return &textNode{raw: t.text, lower: strings.ToLower(t.text)}, nil
	case tOp:
		return nil, errAt(t.pos, "expected a field name before %s", t.text)
	}
	return nil, p.unexpected(t, "expected a comparison, a search text or '('")
}

// field reads a field name. multiOK allows the ip alias, which stands for two fields.
func (p *parser) field(multiOK bool) (*field, error) {
	t := p.next()
	if t.kind != tWord {
		return nil, p.unexpected(t, "expected a field name")
	}
	f, ok := lookupField(t.text)
	if !ok {
		if s := suggest(t.text); s != "" {
			return nil, errAt(t.pos, "unknown field %q; did you mean %s?", t.text, s)
		}
		return nil, errAt(t.pos, "unknown field %q", t.text)
	}
	if f.multi() && !multiOK {
		return nil, errAt(t.pos, "ip stands for two fields here; name src_endpoint.ip or dst_endpoint.ip")
	}
	return f, nil
}

func (p *parser) cmp() (node, error) {
	f, err := p.field(true)
	if err != nil {
		return nil, err
	}
	opTok := p.next()
	op := opTok.text
	if f.kind == kindTime && op != ">" && op != ">=" && op != "<" && op != "<=" {
		return nil, errAt(opTok.pos, "time compares only with >, >=, < or <=, not %s", op)
	}
	if opTok.kind == tKeyword { // in
		if !p.at(tLParen) {
			return nil, p.unexpected(p.peek(), "expected '(' after in")
		}
		p.next()
		var vals []value
		for {
			vt := p.peek()
			v, err := p.value(f, "=")
			if err != nil {
				return nil, err
			}
			if len(vals) == maxInValues {
				return nil, errAt(vt.pos, "more than %d values in in (...)", maxInValues)
			}
			vals = append(vals, v)
			if p.at(tComma) {
				p.next()
				continue
			}
			if p.at(tRParen) {
				p.next()
				break
			}
			return nil, p.unexpected(p.peek(), "expected ',' or ')' in the list of values")
		}
		return &cmpNode{f: f, op: "in", vals: vals}, nil
	}
	v, err := p.value(f, op)
	if err != nil {
		return nil, err
	}
	return &cmpNode{f: f, op: op, vals: []value{v}}, nil
}

// value reads one comparison operand and prepares it for op on f.
func (p *parser) value(f *field, op string) (value, error) {
	t := p.next()
	switch t.kind {
	case tWord, tString:
	case tKeyword:
		return value{}, errAt(t.pos, "%s is a keyword; quote it (\"%s\") to use it as a value", t.text, t.text)
	default:
		return value{}, p.unexpected(t, "expected a value after "+op)
	}
	v := value{raw: t.text, lower: strings.ToLower(t.text)}
	if strings.HasSuffix(f.name, ".country") && op != "~" && !strings.Contains(t.text, "*") {
		// Countries compare as ISO codes: "Brazil" asks for BR, as events written either way hold.
		v.raw = geoip.CountryCode(t.text)
		v.lower = strings.ToLower(v.raw)
	}
	v.num, v.isNum = parseNumber(t.text)
	switch {
	case f.kind == kindTime:
		tv, err := parseTime(t.text, t.pos)
		if err != nil {
			return value{}, err
		}
		v.tv = tv
	case op == "~":
		re, err := compileRegexp(t.text, t.pos)
		if err != nil {
			return value{}, err
		}
		v.re = re
	case op == "=" || op == "!=":
		v.glob = strings.Contains(t.text, "*")
		v.account = !v.glob && (f.name == "user.name" || f.name == "target_user.name")
		if f.kind == kindIP && !v.glob && strings.Contains(t.text, "/") {
			pfx, err := netip.ParsePrefix(t.text)
			if err != nil {
				return value{}, errAt(t.pos, "bad CIDR prefix %q", t.text)
			}
			v.cidr, v.pfx = true, pfx.Masked()
		}
	}
	return v, nil
}

// maxRegexpSize bounds the size of a regular expression's program (about one instruction per
// literal character or class, repeats multiplied out), which bounds the time to compile it and
// to match it against each event's field.
const maxRegexpSize = 10000

// compileRegexp compiles an RE2 expression to match ignoring case.
func compileRegexp(src string, pos int) (*regexp.Regexp, error) {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
		return nil, errAt(pos, "bad regular expression: %s", msg)
	}
	if regexpSize(re) > maxRegexpSize {
		return nil, errAt(pos, "the regular expression is too large (its repeats multiply out to more than %d steps)", maxRegexpSize)
	}
	out, err := regexp.Compile("(?i)" + src)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
		return nil, errAt(pos, "bad regular expression: %s", msg)
	}
	return out, nil
}

// regexpSize estimates the program size of re, saturating just above maxRegexpSize. Its
// recursion is bounded by the nesting limit of regexp/syntax.
func regexpSize(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune)
	case syntax.OpRepeat:
		n := re.Max
		if n < 0 {
			n = re.Min + 1
		}
		s := regexpSize(re.Sub[0])
		if n > 0 && s > maxRegexpSize/n {
			return maxRegexpSize + 1
		}
		return n*s + 1
	}
	total := 1
	for _, sub := range re.Sub {
		total += regexpSize(sub)
		if total > maxRegexpSize {
			return total
		}
	}
	return total
}

// parseNumber reads a plain decimal number: an optional sign, digits, an optional fraction.
func parseNumber(s string) (float64, bool) {
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		case (c == '-' || c == '+') && i == 0:
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	n, err := strconv.ParseFloat(s, 64)
	return n, err == nil
}

// parseDuration reads 30m, 24h, 7d or 2w.
func parseDuration(s string, pos int) (duration, error) {
	bad := func(why string) (duration, error) {
		return duration{}, errAt(pos, "bad duration %q: %s", s, why)
	}
	if len(s) < 2 {
		return bad("want a number and a unit m, h, d or w, like 30m, 24h, 7d or 2w")
	}
	unit := s[len(s)-1] | 0x20 // lower case
	per, ok := unitLen[unit]
	if !ok || s[len(s)-1] >= 0x80 {
		return bad("want a number and a unit m, h, d or w, like 30m, 24h, 7d or 2w")
	}
	digits := s[:len(s)-1]
	var n int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return bad("want a number and a unit m, h, d or w, like 30m, 24h, 7d or 2w")
		}
		if n > int64(maxDuration/per) {
			return bad("longer than 100 years")
		}
		n = n*10 + int64(c-'0')
	}
	if n == 0 {
		return bad("it must be longer than zero")
	}
	if n > int64(maxDuration/per) {
		return bad("longer than 100 years")
	}
	return duration{n: n, unit: unit}, nil
}

// parseTime reads an RFC 3339 time, a YYYY-MM-DD date (UTC midnight) or -DURATION (before now).
func parseTime(s string, pos int) (timeValue, error) {
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		d, err := parseDuration(rest, pos)
		if err != nil {
			return timeValue{}, err
		}
		return timeValue{raw: s, rel: true, back: d}, nil
	}
	if len(s) == len(time.DateOnly) {
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return timeValue{raw: s, abs: t}, nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return timeValue{raw: s, abs: t}, nil
	}
	return timeValue{}, errAt(pos, "bad time %q: want RFC 3339 (2026-03-01T12:00:00Z), a date (2026-03-01) or a span before now (-7d)", s)
}

// operand reads a stage operand: a bare word or a quoted string.
func (p *parser) operand(what string) (token, error) {
	t := p.next()
	if t.kind != tWord && t.kind != tString {
		return t, p.unexpected(t, "expected "+what)
	}
	return t, nil
}

func (p *parser) stage() (stage, error) {
	t := p.next()
	kind, ok := stageNames[t.text]
	if t.kind != tKeyword || !ok {
		if t.kind == tWord {
			return stage{}, errAt(t.pos, "unknown stage %q; stages are since, between, where, first_seen, count, sort, limit and fields", t.text)
		}
		return stage{}, p.unexpected(t, "expected a stage (since, between, where, first_seen, count, sort, limit, fields)")
	}
	st := stage{kind: kind}
	switch kind {
	case stSince:
		d, err := p.operand("a duration like 30m, 24h, 7d or 2w")
		if err != nil {
			return st, err
		}
		if st.dur, err = parseDuration(d.text, d.pos); err != nil {
			return st, err
		}
	case stBetween:
		a, err := p.operand("a time")
		if err != nil {
			return st, err
		}
		if st.from, err = parseTime(a.text, a.pos); err != nil {
			return st, err
		}
		if !p.atKeyword("and") {
			return st, p.unexpected(p.peek(), "expected and between the two times")
		}
		p.next()
		b, err := p.operand("a time")
		if err != nil {
			return st, err
		}
		if st.to, err = parseTime(b.text, b.pos); err != nil {
			return st, err
		}
		if !st.from.rel && !st.to.rel && !st.from.abs.Before(st.to.abs) {
			return st, errAt(a.pos, "between: the first time must be before the second")
		}
	case stWhere:
		if p.at(tPipe) || p.at(tEOF) {
			return st, p.unexpected(p.peek(), "expected an expression after where")
		}
		x, err := p.expr()
		if err != nil {
			return st, err
		}
		st.expr = x
	case stFirstSeen:
		var err error
		if st.f, err = p.field(false); err != nil {
			return st, err
		}
		if !p.atKeyword("by") {
			return st, p.unexpected(p.peek(), "expected by after first_seen FIELD")
		}
		p.next()
		if st.by, err = p.field(false); err != nil {
			return st, err
		}
		if p.atKeyword("within") {
			p.next()
			d, err := p.operand("a duration like 30d")
			if err != nil {
				return st, err
			}
			if st.dur, err = parseDuration(d.text, d.pos); err != nil {
				return st, err
			}
			st.within = true
		}
	case stCount:
		if p.atKeyword("by") {
			p.next()
			fs, err := p.fieldList(false)
			if err != nil {
				return st, err
			}
			st.fields = fs
		}
	case stSort:
		var err error
		if st.f, err = p.field(false); err != nil {
			return st, err
		}
		if p.atKeyword("asc") {
			p.next()
		} else if p.atKeyword("desc") {
			p.next()
			st.desc = true
		}
	case stLimit:
		n, err := p.operand("a number")
		if err != nil {
			return st, err
		}
		v, err := strconv.Atoi(n.text)
		if err != nil || v < 1 || v > maxLimit || strings.ContainsAny(n.text, "+-") {
			return st, errAt(n.pos, "limit takes a whole number from 1 to %d, not %q", maxLimit, n.text)
		}
		st.n = v
	case stFields:
		fs, err := p.fieldList(true)
		if err != nil {
			return st, err
		}
		st.fields = fs
	}
	return st, nil
}

func (p *parser) fieldList(multiOK bool) ([]*field, error) {
	var fs []*field
	for {
		f, err := p.field(multiOK)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
		if !p.at(tComma) {
			return fs, nil
		}
		p.next()
	}
}

// HasTimeStage reports whether q bounds time with a since or between stage.
func (q *Query) HasTimeStage() bool {
	for i := range q.stages {
		if k := q.stages[i].kind; k == stSince || k == stBetween {
			return true
		}
	}
	return false
}

// Between returns a copy of q that also keeps only the events with from <= time < to: a
// between stage ahead of q's own stages (so that the stage order holds whatever q has).
func (q *Query) Between(from, to time.Time) *Query {
	st := stage{kind: stBetween,
		from: timeValue{raw: from.UTC().Format(time.RFC3339Nano), abs: from.UTC()},
		to:   timeValue{raw: to.UTC().Format(time.RFC3339Nano), abs: to.UTC()}}
	out := &Query{expr: q.expr, stages: make([]stage, 0, len(q.stages)+1)}
	out.stages = append(append(out.stages, st), q.stages...)
	return out
}
