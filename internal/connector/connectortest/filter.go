package connectortest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// A small evaluator for the filter languages the fakes accept: OData $filter (Graph, Defender:
// `createdDateTime ge 2025-01-01T00:00:00Z and userId eq 'x'`, `startswith(f,'x')`,
// `targetResources/any(t: t/id eq 'x')`) and SCIM filters (Okta System Log:
// `eventType eq "user.session.start" and actor.id eq "00u1"`, `sw`, `co`, `pr`).
// Comparisons of strings are case-insensitive; a string field compared with a date literal is
// compared as a time.

type filterExpr interface {
	eval(doc map[string]any, vars map[string]any) bool
}

type (
	andExpr struct{ l, r filterExpr }
	orExpr  struct{ l, r filterExpr }
	notExpr struct{ e filterExpr }
	cmpExpr struct {
		path []string
		op   string
		lit  any // string, float64, bool, nil, time.Time
	}
	funcExpr struct {
		name string
		path []string
		arg  string
	}
	anyExpr struct {
		path []string
		v    string
		e    filterExpr
	}
)

func (e andExpr) eval(d map[string]any, v map[string]any) bool {
	return e.l.eval(d, v) && e.r.eval(d, v)
}
func (e orExpr) eval(d map[string]any, v map[string]any) bool {
	return e.l.eval(d, v) || e.r.eval(d, v)
}
func (e notExpr) eval(d map[string]any, v map[string]any) bool { return !e.e.eval(d, v) }

// lookup returns the values at path: several when the path crosses an array (Okta's
// target.id matches any target).
func lookup(d map[string]any, vars map[string]any, path []string) []any {
	cur := []any{d}
	if v, ok := vars[path[0]]; ok {
		cur, path = []any{v}, path[1:]
	}
	for _, p := range path {
		var next []any
		for _, c := range cur {
			for _, item := range flatten(c) {
				m, ok := item.(map[string]any)
				if !ok {
					continue
				}
				if v, ok := m[p]; ok {
					next = append(next, v)
					continue
				}
				for k, v := range m { // OData property names are case-insensitive
					if strings.EqualFold(k, p) {
						next = append(next, v)
						break
					}
				}
			}
		}
		cur = next
	}
	return cur
}

func flatten(v any) []any {
	if arr, ok := v.([]any); ok {
		return arr
	}
	return []any{v}
}

func lookupOne(d map[string]any, vars map[string]any, path []string) any {
	if vs := lookup(d, vars, path); len(vs) > 0 {
		return vs[0]
	}
	return nil
}

func (e cmpExpr) eval(d map[string]any, vars map[string]any) bool {
	vals := lookup(d, vars, e.path)
	if e.op == "ne" {
		for _, v := range vals {
			if c, ok := compare(v, e.lit); ok && c == 0 {
				return false
			}
		}
		return true
	}
	for _, v := range vals {
		if e.match(v) {
			return true
		}
	}
	return false
}

func (e cmpExpr) match(val any) bool {
	if e.op == "pr" {
		return val != nil
	}
	c, comparable := compare(val, e.lit)
	switch e.op {
	case "eq":
		return comparable && c == 0
	case "gt":
		return comparable && c > 0
	case "ge":
		return comparable && c >= 0
	case "lt":
		return comparable && c < 0
	case "le":
		return comparable && c <= 0
	case "sw", "co", "ew":
		s, ok1 := val.(string)
		l, ok2 := e.lit.(string)
		if !ok1 || !ok2 {
			return false
		}
		s, l = strings.ToLower(s), strings.ToLower(l)
		switch e.op {
		case "sw":
			return strings.HasPrefix(s, l)
		case "co":
			return strings.Contains(s, l)
		}
		return strings.HasSuffix(s, l)
	}
	return false
}

// compare orders a document value against a literal; ok is false when they are of kinds that
// do not compare.
func compare(val, lit any) (int, bool) {
	switch l := lit.(type) {
	case nil:
		if val == nil {
			return 0, true
		}
		return 1, true
	case bool:
		b, ok := val.(bool)
		if !ok {
			return 0, false
		}
		if b == l {
			return 0, true
		}
		return 1, true
	case float64:
		var f float64
		switch v := val.(type) {
		case float64:
			f = v
		case string:
			p, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, false
			}
			f = p
		default:
			return 0, false
		}
		switch {
		case f < l:
			return -1, true
		case f > l:
			return 1, true
		}
		return 0, true
	case time.Time:
		s, ok := val.(string)
		if !ok {
			return 0, false
		}
		t, err := parseTime(s)
		if err != nil {
			return 0, false
		}
		return t.Compare(l), true
	case string:
		s, ok := val.(string)
		if !ok {
			if f, isNum := val.(float64); isNum {
				s = strconv.FormatFloat(f, 'f', -1, 64)
			} else {
				return 0, false
			}
		}
		// A quoted date (SCIM) against a date field compares as time.
		if lt, err := parseTime(l); err == nil {
			if vt, err := parseTime(s); err == nil {
				return vt.Compare(lt), true
			}
		}
		return strings.Compare(strings.ToLower(s), strings.ToLower(l)), true
	}
	return 0, false
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.0000000Z", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time: %q", s)
}

func (e funcExpr) eval(d map[string]any, vars map[string]any) bool {
	val := lookupOne(d, vars, e.path)
	s, ok := val.(string)
	if !ok {
		return false
	}
	s, a := strings.ToLower(s), strings.ToLower(e.arg)
	switch e.name {
	case "startswith":
		return strings.HasPrefix(s, a)
	case "endswith":
		return strings.HasSuffix(s, a)
	case "contains":
		return strings.Contains(s, a)
	}
	return false
}

func (e anyExpr) eval(d map[string]any, vars map[string]any) bool {
	for _, item := range flatten(lookupOne(d, vars, e.path)) {
		inner := map[string]any{}
		for k, v := range vars {
			inner[k] = v
		}
		inner[e.v] = item
		if e.e.eval(d, inner) {
			return true
		}
	}
	return false
}

// parseFilter parses an OData or SCIM filter. An empty filter matches everything.
func parseFilter(s string) (filterExpr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	return e, nil
}

// matches applies a parsed filter; a nil filter matches.
func matches(f filterExpr, doc map[string]any) bool {
	return f == nil || f.eval(doc, nil)
}

type tokKind int

const (
	tIdent tokKind = iota
	tString
	tNumber // or an unquoted date
	tPunct
)

type token struct {
	kind tokKind
	text string
}

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '+': // '+' is a space in some encodings
			i++
		case c == '(' || c == ')' || c == ',' || c == ':':
			toks = append(toks, token{tPunct, string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated string")
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			toks = append(toks, token{tString, b.String()})
		case c == '"':
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated string")
				}
				if s[i] == '\\' && i+1 < len(s) {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if s[i] == '"' {
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			toks = append(toks, token{tString, b.String()})
		case c >= '0' && c <= '9' || c == '-':
			j := i + 1
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || strings.ContainsRune("-:.TZtz", rune(s[j]))) {
				j++
			}
			toks = append(toks, token{tNumber, s[i:j]})
			i = j
		case unicode.IsLetter(rune(c)) || c == '_' || c == '@' || c == '$':
			j := i + 1
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || strings.ContainsRune("_./@$", rune(s[j]))) {
				j++
			}
			toks = append(toks, token{tIdent, s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q", c)
		}
	}
	return toks, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() *token {
	if p.pos < len(p.toks) {
		return &p.toks[p.pos]
	}
	return nil
}

func (p *parser) keyword(k string) bool {
	t := p.peek()
	if t != nil && t.kind == tIdent && strings.EqualFold(t.text, k) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) punct(c string) bool {
	t := p.peek()
	if t != nil && t.kind == tPunct && t.text == c {
		p.pos++
		return true
	}
	return false
}

func (p *parser) or() (filterExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orExpr{l, r}
	}
	return l, nil
}

func (p *parser) and() (filterExpr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = andExpr{l, r}
	}
	return l, nil
}

func splitPath(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == '.' })
}

func (p *parser) unary() (filterExpr, error) {
	if p.keyword("not") {
		e, err := p.unary()
		return notExpr{e}, err
	}
	if p.punct("(") {
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.punct(")") {
			return nil, fmt.Errorf("missing )")
		}
		return e, nil
	}
	t := p.peek()
	if t == nil || t.kind != tIdent {
		return nil, fmt.Errorf("expected a property name")
	}
	p.pos++
	name := t.text
	switch fn := strings.ToLower(name); {
	case (fn == "startswith" || fn == "endswith" || fn == "contains") && p.punct("("):
		f := p.peek()
		if f == nil || f.kind != tIdent {
			return nil, fmt.Errorf("%s: expected a property", fn)
		}
		p.pos++
		if !p.punct(",") {
			return nil, fmt.Errorf("%s: expected ,", fn)
		}
		a := p.peek()
		if a == nil || a.kind != tString {
			return nil, fmt.Errorf("%s: expected a string", fn)
		}
		p.pos++
		if !p.punct(")") {
			return nil, fmt.Errorf("%s: missing )", fn)
		}
		return funcExpr{name: fn, path: splitPath(f.text), arg: a.text}, nil
	case strings.HasSuffix(fn, "/any") && p.punct("("):
		v := p.peek()
		if v == nil || v.kind != tIdent {
			return nil, fmt.Errorf("any: expected a variable")
		}
		p.pos++
		if !p.punct(":") {
			return nil, fmt.Errorf("any: expected :")
		}
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.punct(")") {
			return nil, fmt.Errorf("any: missing )")
		}
		return anyExpr{path: splitPath(name[:len(name)-4]), v: v.text, e: e}, nil
	}
	opTok := p.peek()
	if opTok == nil || opTok.kind != tIdent {
		return nil, fmt.Errorf("expected an operator after %s", name)
	}
	op := strings.ToLower(opTok.text)
	p.pos++
	switch op {
	case "pr":
		return cmpExpr{path: splitPath(name), op: op}, nil
	case "eq", "ne", "gt", "ge", "lt", "le", "sw", "co", "ew":
	default:
		return nil, fmt.Errorf("unsupported operator %q", op)
	}
	lt := p.peek()
	if lt == nil {
		return nil, fmt.Errorf("expected a value after %s", op)
	}
	p.pos++
	var lit any
	switch lt.kind {
	case tString:
		lit = lt.text
	case tNumber:
		if f, err := strconv.ParseFloat(lt.text, 64); err == nil {
			lit = f
		} else if t, err := parseTime(lt.text); err == nil {
			lit = t
		} else {
			return nil, fmt.Errorf("bad literal %q", lt.text)
		}
	case tIdent:
		switch strings.ToLower(lt.text) {
		case "true":
			lit = true
		case "false":
			lit = false
		case "null":
			lit = nil
		default:
			return nil, fmt.Errorf("bad literal %q", lt.text)
		}
	default:
		return nil, fmt.Errorf("bad literal %q", lt.text)
	}
	return cmpExpr{path: splitPath(name), op: op, lit: lit}, nil
}
