package intel

import (
	"fmt"
	"regexp"
	"strings"
)

// Pattern is a parsed STIX pattern (STIX 2.1 Part 9, STIX 2.0 Part 5).
//
// The grammar, as ParsePattern reads it (keywords upper case, as the specification requires):
//
//	pattern      = obs-followed EOF
//	obs-followed = obs-or { "FOLLOWEDBY" obs-or }
//	obs-or       = obs-and { "OR" obs-and }
//	obs-and      = obs-qual { "AND" obs-qual }
//	obs-qual     = obs-primary { qualifier }
//	obs-primary  = "[" cmp-or "]" | "(" obs-followed ")"
//	qualifier    = "WITHIN" number "SECONDS" | "START" timestamp "STOP" timestamp
//	             | "REPEATS" integer "TIMES"
//	cmp-or       = cmp-and { "OR" cmp-and }
//	cmp-and      = cmp-primary { "AND" cmp-primary }
//	cmp-primary  = "(" cmp-or ")" | "EXISTS" path | path [ "NOT" ] operator operand
//	operator     = "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | "IN" | "LIKE" | "MATCHES"
//	             | "ISSUBSET" | "ISSUPERSET"
//	path         = object-type ":" step0 { "." key | "[" (integer | "*") "]" }
//	operand      = literal | "(" [ literal { "," literal } ] ")"      (a set, after IN)
//	literal      = 'string' | integer | float | true | false | t'timestamp' | b'base64' | h'hex'
//
// Strings take \' and \\ as escapes; /* */ and // comments are skipped.
//
// Matching a single looked-up value: a comparison whose object path can hold the value's type
// (ipv4-addr:value, ipv6-addr:value, domain-name:value, url:value, email-addr:value,
// email-message:{from,sender}_ref.value and {to,cc,bcc}_refs[*].value, file:hashes.* and
// artifact:hashes.* by algorithm, network-traffic:{src,dst}_ref.value) is true or false; any
// other comparison is unknown. AND, OR and the observation operators combine the three values
// as Kleene logic does (FOLLOWEDBY as AND). A true pattern is a full match; an unknown one with
// a true comparison in a branch that can still hold is a partial match. "=" against an
// ipv4-addr or ipv6-addr CIDR value, and ISSUBSET, test containment. Qualifiers are parsed and
// not evaluated: a single value has no time or count.
type Pattern struct {
	text string
	root *obsNode
	// cmps lists every comparison in the order written.
	cmps []*Comparison
	// quals lists every qualifier in the order written.
	quals []string
}

// Comparison is one comparison expression of a pattern.
type Comparison struct {
	// Object is the object type ("ipv4-addr", "file").
	Object string
	// Path is the property path, canonical ("value", "hashes.'SHA-256'", "to_refs[*].value").
	Path string
	// Negated: NOT before the operator.
	Negated bool
	// Op is "=", "!=", "<", "<=", ">", ">=", "IN", "LIKE", "MATCHES", "ISSUBSET",
	// "ISSUPERSET" or "EXISTS".
	Op string
	// Values are the operands as written (strings decoded); several for IN.
	Values []Literal

	// mask is the set of looked-up value types the path can hold; zero when none.
	mask typeMask
	// vals are the operands normalised, for =, !=, IN, ISSUBSET, ISSUPERSET.
	vals []value
	// lowered: the LIKE pattern or order operand lower-cased, for case-insensitive types.
	lowered []string
	re      *regexp.Regexp
	// refType: network-traffic:{src,dst}_ref.type, compared with the value's type.
	refType bool
}

// LiteralKind is the kind of a pattern literal.
type LiteralKind uint8

// The kinds of literal.
const (
	LitString LiteralKind = iota
	LitInt
	LitFloat
	LitBool
	LitTimestamp
	LitBinary
	LitHex
)

// Literal is a constant of a comparison.
type Literal struct {
	Kind LiteralKind
	// Text is a string's decoded content, or the literal's text (a number, "true", the
	// timestamp, base64 or hex digits without the quotes).
	Text string
}

func (l Literal) String() string {
	switch l.Kind {
	case LitString:
		return quoteSTIX(l.Text)
	case LitTimestamp:
		return "t'" + l.Text + "'"
	case LitBinary:
		return "b'" + l.Text + "'"
	case LitHex:
		return "h'" + l.Text + "'"
	}
	return l.Text
}

func quoteSTIX(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `\'`)
	return "'" + s + "'"
}

type obsKind uint8

const (
	obsLeaf obsKind = iota // [ comparison expression ]
	obsAnd
	obsOr
	obsFollowedBy
)

// obsNode is an observation expression.
type obsNode struct {
	kind  obsKind
	kids  []*obsNode
	expr  *cmpNode // obsLeaf
	quals []string // qualifiers applied to this expression, canonical
}

type cmpKind uint8

const (
	cmpLeaf cmpKind = iota
	cmpAnd
	cmpOr
)

// cmpNode is a comparison expression.
type cmpNode struct {
	kind cmpKind
	kids []*cmpNode
	c    *Comparison
}

// maxPatternDepth bounds the nesting of brackets and parentheses.
const maxPatternDepth = 100

// ParsePattern parses a STIX pattern and checks the operands of the comparisons it can
// evaluate (an address must be an address, a hash a hash of its algorithm, a MATCHES operand
// a regular expression Go's regexp accepts). An error is a *PatternError.
func ParsePattern(s string) (*Pattern, error) {
	p := &parser{lex: lexer{src: s}, pat: &Pattern{text: s}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	root, err := p.obsFollowed(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.errorf("unexpected %s after the pattern", p.tok.describe())
	}
	p.pat.root = root
	for _, c := range p.pat.cmps {
		if err := c.compile(); err != nil {
			return nil, err
		}
	}
	return p.pat, nil
}

// String returns the pattern in canonical form: single spaces, "=" and "!=", minimal
// parentheses. Parsing it gives the same pattern.
func (p *Pattern) String() string {
	var b strings.Builder
	writeObs(&b, p.root, 0)
	return b.String()
}

// Text returns the pattern as it was written.
func (p *Pattern) Text() string { return p.text }

// Comparisons returns the pattern's comparisons in the order written.
func (p *Pattern) Comparisons() []Comparison {
	out := make([]Comparison, len(p.cmps))
	for i, c := range p.cmps {
		out[i] = Comparison{Object: c.Object, Path: c.Path, Negated: c.Negated, Op: c.Op, Values: c.Values}
	}
	return out
}

// Qualifiers returns the pattern's qualifiers in canonical form ("WITHIN 300 SECONDS").
func (p *Pattern) Qualifiers() []string { return p.quals }

// Match evaluates the pattern against a single value (an address, domain, URL, e-mail address
// or hash; its type is told from its shape). matched reports a full match, partial a partial
// one.
func (p *Pattern) Match(s string) (matched, partial bool) {
	v, ok := parseLookup(s)
	if !ok || v.isRange() {
		return false, false
	}
	v.ensureText()
	r, support := evalObs(p.root, &v)
	return r == triTrue, r == triUnknown && support
}

type parser struct {
	lex lexer
	tok token
	pat *Pattern
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errorf(format string, args ...any) error {
	return &PatternError{Offset: p.tok.pos, Reason: fmt.Sprintf(format, args...)}
}

func (p *parser) isKeyword(w string) bool { return p.tok.kind == tKeyword && p.tok.text == w }

func (p *parser) expect(k tokKind, what string) error {
	if p.tok.kind != k {
		return p.errorf("expected %s, found %s", what, p.tok.describe())
	}
	return p.advance()
}

func (p *parser) expectKeyword(w string) error {
	if !p.isKeyword(w) {
		return p.errorf("expected %s, found %s", w, p.tok.describe())
	}
	return p.advance()
}

func (p *parser) depthCheck(depth int) error {
	if depth > maxPatternDepth {
		return p.errorf("nested more than %d deep", maxPatternDepth)
	}
	return nil
}

// operands parses one or more operands joined by the keyword op.
func operands[N any](p *parser, depth int, op string, operand func(int) (N, error)) ([]N, error) {
	first, err := operand(depth)
	if err != nil {
		return nil, err
	}
	out := []N{first}
	for p.isKeyword(op) {
		if err := p.advance(); err != nil {
			return nil, err
		}
		next, err := operand(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, next)
	}
	return out, nil
}

// obsBinary parses operands joined by the keyword op into a node of kind kind.
func (p *parser) obsBinary(depth int, op string, kind obsKind, operand func(int) (*obsNode, error)) (*obsNode, error) {
	parts, err := operands(p, depth, op, operand)
	if err != nil {
		return nil, err
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	n := &obsNode{kind: kind}
	for _, k := range parts {
		n.kids = appendObs(n.kids, k, kind)
	}
	return n, nil
}

// appendObs adds kid to a node of kind kind, flattening a kid of the same kind without
// qualifiers (the operators are associative).
func appendObs(kids []*obsNode, kid *obsNode, kind obsKind) []*obsNode {
	if kid.kind == kind && len(kid.quals) == 0 {
		return append(kids, kid.kids...)
	}
	return append(kids, kid)
}

func (p *parser) obsFollowed(depth int) (*obsNode, error) {
	return p.obsBinary(depth, "FOLLOWEDBY", obsFollowedBy, p.obsOr)
}

func (p *parser) obsOr(depth int) (*obsNode, error) {
	return p.obsBinary(depth, "OR", obsOr, p.obsAnd)
}

func (p *parser) obsAnd(depth int) (*obsNode, error) {
	return p.obsBinary(depth, "AND", obsAnd, p.obsQualified)
}

func (p *parser) obsQualified(depth int) (*obsNode, error) {
	n, err := p.obsPrimary(depth)
	if err != nil {
		return nil, err
	}
	for {
		var q string
		switch {
		case p.isKeyword("WITHIN"):
			if err := p.advance(); err != nil {
				return nil, err
			}
			if (p.tok.kind != tInt && p.tok.kind != tFloat) || strings.HasPrefix(p.tok.text, "-") {
				return nil, p.errorf("expected a positive number of seconds after WITHIN, found %s", p.tok.describe())
			}
			q = "WITHIN " + p.tok.text + " SECONDS"
			if err := p.advance(); err != nil {
				return nil, err
			}
			if err := p.expectKeyword("SECONDS"); err != nil {
				return nil, err
			}
		case p.isKeyword("START"):
			if err := p.advance(); err != nil {
				return nil, err
			}
			start, err := p.qualifierTime("START")
			if err != nil {
				return nil, err
			}
			if err := p.expectKeyword("STOP"); err != nil {
				return nil, err
			}
			stop, err := p.qualifierTime("STOP")
			if err != nil {
				return nil, err
			}
			q = "START " + start + " STOP " + stop
		case p.isKeyword("REPEATS"):
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind != tInt || strings.HasPrefix(p.tok.text, "-") {
				return nil, p.errorf("expected a positive integer after REPEATS, found %s", p.tok.describe())
			}
			q = "REPEATS " + p.tok.text + " TIMES"
			if err := p.advance(); err != nil {
				return nil, err
			}
			if err := p.expectKeyword("TIMES"); err != nil {
				return nil, err
			}
		default:
			return n, nil
		}
		n.quals = append(n.quals, q)
		p.pat.quals = append(p.pat.quals, q)
	}
}

// qualifierTime reads START's or STOP's operand: t'…' (STIX 2.1) or '…' (STIX 2.0).
func (p *parser) qualifierTime(kw string) (string, error) {
	var s string
	switch p.tok.kind {
	case tTimestamp:
		s = "t'" + p.tok.text + "'"
	case tString:
		s = quoteSTIX(p.tok.text)
	default:
		return "", p.errorf("expected a timestamp after %s, found %s", kw, p.tok.describe())
	}
	return s, p.advance()
}

func (p *parser) obsPrimary(depth int) (*obsNode, error) {
	if err := p.depthCheck(depth); err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tLBrack:
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.cmpOr(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.expect(tRBrack, "']'"); err != nil {
			return nil, err
		}
		return &obsNode{kind: obsLeaf, expr: e}, nil
	case tLParen:
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.obsFollowed(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.expect(tRParen, "')'"); err != nil {
			return nil, err
		}
		return n, nil
	}
	return nil, p.errorf("expected '[' or '(' to start an observation expression, found %s", p.tok.describe())
}

func (p *parser) cmpBinary(depth int, op string, kind cmpKind, operand func(int) (*cmpNode, error)) (*cmpNode, error) {
	parts, err := operands(p, depth, op, operand)
	if err != nil {
		return nil, err
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	n := &cmpNode{kind: kind}
	for _, k := range parts {
		n.kids = appendCmp(n.kids, k, kind)
	}
	return n, nil
}

func appendCmp(kids []*cmpNode, kid *cmpNode, kind cmpKind) []*cmpNode {
	if kid.kind == kind {
		return append(kids, kid.kids...)
	}
	return append(kids, kid)
}

func (p *parser) cmpOr(depth int) (*cmpNode, error) {
	return p.cmpBinary(depth, "OR", cmpOr, p.cmpAnd)
}

func (p *parser) cmpAnd(depth int) (*cmpNode, error) {
	return p.cmpBinary(depth, "AND", cmpAnd, p.cmpPrimary)
}

func (p *parser) cmpPrimary(depth int) (*cmpNode, error) {
	if err := p.depthCheck(depth); err != nil {
		return nil, err
	}
	if p.tok.kind == tLParen {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.cmpOr(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.expect(tRParen, "')'"); err != nil {
			return nil, err
		}
		return n, nil
	}
	c := &Comparison{}
	if p.isKeyword("EXISTS") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		c.Op = "EXISTS"
		if err := p.path(c); err != nil {
			return nil, err
		}
		p.pat.cmps = append(p.pat.cmps, c)
		return &cmpNode{kind: cmpLeaf, c: c}, nil
	}
	if err := p.path(c); err != nil {
		return nil, err
	}
	if p.isKeyword("NOT") {
		c.Negated = true
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	opTok := p.tok
	switch {
	case p.tok.kind == tOp:
		c.Op = p.tok.text
	case p.tok.kind == tKeyword && (p.tok.text == "IN" || p.tok.text == "LIKE" || p.tok.text == "MATCHES" ||
		p.tok.text == "ISSUBSET" || p.tok.text == "ISSUPERSET"):
		c.Op = p.tok.text
	default:
		return nil, p.errorf("expected a comparison operator, found %s", p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	switch c.Op {
	case "IN":
		if err := p.expect(tLParen, "'(' to open the set after IN"); err != nil {
			return nil, err
		}
		for p.tok.kind != tRParen {
			if len(c.Values) > 0 {
				if err := p.expect(tComma, "',' or ')'"); err != nil {
					return nil, err
				}
			}
			l, ok := literalOf(p.tok)
			if !ok {
				return nil, p.errorf("expected a literal in the set, found %s", p.tok.describe())
			}
			c.Values = append(c.Values, l)
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	case "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET":
		if p.tok.kind != tString {
			return nil, p.errorf("expected a string after %s, found %s", c.Op, p.tok.describe())
		}
		c.Values = []Literal{{Kind: LitString, Text: p.tok.text}}
		if err := p.advance(); err != nil {
			return nil, err
		}
	default:
		l, ok := literalOf(p.tok)
		if !ok {
			return nil, p.errorf("expected a literal after %s, found %s", c.Op, p.tok.describe())
		}
		if l.Kind == LitBool && c.Op != "=" && c.Op != "!=" {
			return nil, &PatternError{Offset: opTok.pos, Reason: "a boolean cannot be ordered"}
		}
		c.Values = []Literal{l}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	p.pat.cmps = append(p.pat.cmps, c)
	return &cmpNode{kind: cmpLeaf, c: c}, nil
}

func literalOf(t token) (Literal, bool) {
	switch t.kind {
	case tString:
		return Literal{LitString, t.text}, true
	case tInt:
		return Literal{LitInt, t.text}, true
	case tFloat:
		return Literal{LitFloat, t.text}, true
	case tBool:
		return Literal{LitBool, t.text}, true
	case tTimestamp:
		return Literal{LitTimestamp, t.text}, true
	case tBinary:
		return Literal{LitBinary, t.text}, true
	case tHex:
		return Literal{LitHex, t.text}, true
	}
	return Literal{}, false
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// path reads an object path into c.Object and c.Path (canonical).
func (p *parser) path(c *Comparison) error {
	if p.tok.kind != tIdent {
		return p.errorf("expected an object type, found %s", p.tok.describe())
	}
	c.Object = p.tok.text
	if err := p.advance(); err != nil {
		return err
	}
	if err := p.expect(tColon, "':' after the object type"); err != nil {
		return err
	}
	var b strings.Builder
	key := func() error {
		switch p.tok.kind {
		case tIdent, tKeyword, tBool:
			b.WriteString(p.tok.text)
		case tString:
			if plainKey.MatchString(p.tok.text) {
				b.WriteString(p.tok.text)
			} else {
				b.WriteString(quoteSTIX(p.tok.text))
			}
		default:
			return p.errorf("expected a property name, found %s", p.tok.describe())
		}
		return p.advance()
	}
	if err := key(); err != nil {
		return err
	}
	for {
		switch p.tok.kind {
		case tDot:
			if err := p.advance(); err != nil {
				return err
			}
			b.WriteByte('.')
			if err := key(); err != nil {
				return err
			}
		case tLBrack:
			if err := p.advance(); err != nil {
				return err
			}
			switch p.tok.kind {
			case tStar, tInt:
				b.WriteByte('[')
				b.WriteString(p.tok.text)
				b.WriteByte(']')
			default:
				return p.errorf("expected an index or '*', found %s", p.tok.describe())
			}
			if err := p.advance(); err != nil {
				return err
			}
			if err := p.expect(tRBrack, "']' after the index"); err != nil {
				return err
			}
		default:
			c.Path = b.String()
			return nil
		}
	}
}

// Printing.

var obsPrec = [...]int{obsLeaf: 4, obsAnd: 3, obsOr: 2, obsFollowedBy: 1}
var obsOpName = [...]string{obsAnd: " AND ", obsOr: " OR ", obsFollowedBy: " FOLLOWEDBY "}

func writeObs(b *strings.Builder, n *obsNode, parentPrec int) {
	if n.kind == obsLeaf {
		b.WriteByte('[')
		writeCmp(b, n.expr, 0)
		b.WriteByte(']')
	} else {
		paren := len(n.quals) > 0 || obsPrec[n.kind] <= parentPrec
		if paren {
			b.WriteByte('(')
		}
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(obsOpName[n.kind])
			}
			writeObs(b, k, obsPrec[n.kind])
		}
		if paren {
			b.WriteByte(')')
		}
	}
	for _, q := range n.quals {
		b.WriteByte(' ')
		b.WriteString(q)
	}
}

var cmpPrec = [...]int{cmpLeaf: 3, cmpAnd: 2, cmpOr: 1}

func writeCmp(b *strings.Builder, n *cmpNode, parentPrec int) {
	if n.kind == cmpLeaf {
		b.WriteString(n.c.String())
		return
	}
	paren := cmpPrec[n.kind] <= parentPrec
	if paren {
		b.WriteByte('(')
	}
	op := " AND "
	if n.kind == cmpOr {
		op = " OR "
	}
	for i, k := range n.kids {
		if i > 0 {
			b.WriteString(op)
		}
		writeCmp(b, k, cmpPrec[n.kind])
	}
	if paren {
		b.WriteByte(')')
	}
}

// String returns the comparison in canonical form.
func (c *Comparison) String() string {
	var b strings.Builder
	if c.Op == "EXISTS" {
		b.WriteString("EXISTS ")
	}
	b.WriteString(c.Object)
	b.WriteByte(':')
	b.WriteString(c.Path)
	if c.Op == "EXISTS" {
		return b.String()
	}
	if c.Negated {
		b.WriteString(" NOT")
	}
	b.WriteByte(' ')
	b.WriteString(c.Op)
	b.WriteByte(' ')
	if c.Op == "IN" {
		b.WriteByte('(')
		for i, v := range c.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(v.String())
		}
		b.WriteByte(')')
		return b.String()
	}
	b.WriteString(c.Values[0].String())
	return b.String()
}
