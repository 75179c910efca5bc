package sigma

import (
	"fmt"
	"strings"
)

// Condition expression AST node kinds.
const (
	condIdent = iota // a search identifier
	condAnd
	condOr
	condNot
	condOneOf // 1 of <pattern>
	condAllOf // all of <pattern>
)

// condExpr is a parsed Sigma condition expression.
type condExpr struct {
	op      uint8
	name    string // identifier, or pattern for condOneOf/condAllOf ("them" for all)
	kids    []*condExpr
	isThem  bool
	pattern bool // name contains '*'
}

// maxConditionDepth bounds nesting so hostile conditions cannot exhaust the stack.
const maxConditionDepth = 64

type condToken struct {
	kind uint8 // tokIdent, tokLParen, tokRParen, tokPipe
	text string
	pos  int
}

const (
	ctIdent = iota
	ctLParen
	ctRParen
	ctPipe
)

func tokenizeCondition(s string) ([]condToken, error) {
	var toks []condToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, condToken{kind: ctLParen, text: "(", pos: i})
			i++
		case c == ')':
			toks = append(toks, condToken{kind: ctRParen, text: ")", pos: i})
			i++
		case c == '|':
			toks = append(toks, condToken{kind: ctPipe, text: "|", pos: i})
			i++
		case isIdentChar(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			toks = append(toks, condToken{kind: ctIdent, text: s[i:j], pos: i})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at position %d", c, i)
		}
	}
	return toks, nil
}

func isIdentChar(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c == '*' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

type condParser struct {
	toks  []condToken
	i     int
	depth int
}

// parseCondition parses one condition string. Precedence, loosest first: or, and, not,
// "x of", parentheses.
func parseCondition(s string) (*condExpr, error) {
	toks, err := tokenizeCondition(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty condition")
	}
	p := &condParser{toks: toks}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		t := p.toks[p.i]
		if t.kind == ctPipe {
			return nil, fmt.Errorf("aggregation expressions (\"| count() ...\") are obsolete; use a correlation rule")
		}
		return nil, fmt.Errorf("unexpected %q at position %d", t.text, t.pos)
	}
	return e, nil
}

func (p *condParser) peekKeyword(kw string) bool {
	return p.i < len(p.toks) && p.toks[p.i].kind == ctIdent && strings.EqualFold(p.toks[p.i].text, kw)
}

func (p *condParser) enter() error {
	p.depth++
	if p.depth > maxConditionDepth {
		return fmt.Errorf("condition nested deeper than %d levels", maxConditionDepth)
	}
	return nil
}

func (p *condParser) parseOr() (*condExpr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	kids := []*condExpr{left}
	for p.peekKeyword("or") {
		p.i++
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		kids = append(kids, right)
	}
	if len(kids) == 1 {
		return left, nil
	}
	return &condExpr{op: condOr, kids: kids}, nil
}

func (p *condParser) parseAnd() (*condExpr, error) {
	left, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	kids := []*condExpr{left}
	for p.peekKeyword("and") {
		p.i++
		right, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		kids = append(kids, right)
	}
	if len(kids) == 1 {
		return left, nil
	}
	return &condExpr{op: condAnd, kids: kids}, nil
}

func (p *condParser) parseNot() (*condExpr, error) {
	if p.peekKeyword("not") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		p.i++
		kid, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &condExpr{op: condNot, kids: []*condExpr{kid}}, nil
	}
	return p.parsePrimary()
}

func isReserved(s string) bool {
	switch strings.ToLower(s) {
	case "and", "or", "not", "of", "them":
		return true
	}
	return false
}

func (p *condParser) parsePrimary() (*condExpr, error) {
	if p.i >= len(p.toks) {
		return nil, fmt.Errorf("condition ends unexpectedly")
	}
	t := p.toks[p.i]
	switch t.kind {
	case ctLParen:
		p.i++
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if p.i >= len(p.toks) || p.toks[p.i].kind != ctRParen {
			return nil, fmt.Errorf("missing closing parenthesis for the one at position %d", t.pos)
		}
		p.i++
		return e, nil
	case ctRParen:
		return nil, fmt.Errorf("unexpected ')' at position %d", t.pos)
	case ctPipe:
		return nil, fmt.Errorf("aggregation expressions (\"| count() ...\") are obsolete; use a correlation rule")
	}
	// "1 of x", "all of x"
	if p.i+1 < len(p.toks) && p.toks[p.i+1].kind == ctIdent && strings.EqualFold(p.toks[p.i+1].text, "of") {
		quant := strings.ToLower(t.text)
		var op uint8
		switch quant {
		case "1", "any":
			op = condOneOf
		case "all":
			op = condAllOf
		default:
			return nil, fmt.Errorf("unsupported quantifier %q at position %d (only \"1 of\" and \"all of\" are defined)", t.text, t.pos)
		}
		if p.i+2 >= len(p.toks) || p.toks[p.i+2].kind != ctIdent {
			return nil, fmt.Errorf("%q at position %d needs a search identifier pattern or \"them\"", t.text+" of", t.pos)
		}
		target := p.toks[p.i+2].text
		p.i += 3
		e := &condExpr{op: op, name: target}
		switch {
		case strings.EqualFold(target, "them"):
			e.isThem = true
		case isReserved(target):
			return nil, fmt.Errorf("%q is not a search identifier pattern", target)
		default:
			e.pattern = strings.Contains(target, "*")
		}
		return e, nil
	}
	if isReserved(t.text) {
		return nil, fmt.Errorf("unexpected keyword %q at position %d", t.text, t.pos)
	}
	if strings.Contains(t.text, "*") {
		return nil, fmt.Errorf("wildcard identifier %q at position %d is only allowed after \"1 of\" or \"all of\"", t.text, t.pos)
	}
	p.i++
	return &condExpr{op: condIdent, name: t.text}, nil
}

// matchIdentPattern reports whether name matches a search identifier pattern in which '*'
// stands for any number of characters.
func matchIdentPattern(pat, name string) bool {
	return globMatch(parseIdentPattern(pat), name)
}

func parseIdentPattern(pat string) sigmaString {
	var out sigmaString
	start := 0
	for i := 0; i <= len(pat); i++ {
		if i == len(pat) || pat[i] == '*' {
			if i > start {
				out = append(out, sigmaToken{kind: tokLit, s: pat[start:i]})
			}
			if i < len(pat) {
				out = append(out, sigmaToken{kind: tokStar})
			}
			start = i + 1
		}
	}
	return out.normalize()
}
