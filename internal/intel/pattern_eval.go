package intel

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"
)

// typeMask is a set of value types.
type typeMask uint16

func maskOf(t Type) typeMask {
	for i, vt := range valueTypes {
		if vt == t {
			return 1 << i
		}
	}
	return 0
}

func (m typeMask) has(t Type) bool { return m&maskOf(t) != 0 }

// types lists the types in m.
func (m typeMask) types() []Type {
	var out []Type
	for i, vt := range valueTypes {
		if m&(1<<i) != 0 {
			out = append(out, vt)
		}
	}
	return out
}

var (
	maskIP      = maskOf(TypeIPv4) | maskOf(TypeIPv6)
	maskNetwork = maskIP | maskOf(TypeDomain)
)

// maskCaseless are the types LIKE and the order operators compare lower-cased (their values
// are normalised lower case).
var maskCaseless = maskOf(TypeDomain) | maskOf(TypeEmail) | maskOf(TypeIPv6) |
	maskOf(TypeMD5) | maskOf(TypeSHA1) | maskOf(TypeSHA256) | maskOf(TypeSHA512)

// pathMask tells which looked-up value types an object path can hold.
func pathMask(object, path string) typeMask {
	switch object {
	case "ipv4-addr":
		if path == "value" {
			return maskOf(TypeIPv4)
		}
	case "ipv6-addr":
		if path == "value" {
			return maskOf(TypeIPv6)
		}
	case "domain-name":
		if path == "value" {
			return maskOf(TypeDomain)
		}
	case "url":
		if path == "value" {
			return maskOf(TypeURL)
		}
	case "email-addr":
		if path == "value" {
			return maskOf(TypeEmail)
		}
	case "email-message":
		switch path {
		case "from_ref.value", "sender_ref.value", "to_refs[*].value", "cc_refs[*].value", "bcc_refs[*].value":
			return maskOf(TypeEmail)
		}
	case "network-traffic":
		switch path {
		case "dst_ref.value", "src_ref.value", "dst_ref.type", "src_ref.type":
			return maskNetwork
		}
	case "file", "artifact":
		if alg, ok := strings.CutPrefix(path, "hashes."); ok {
			switch hashAlgorithm(alg) {
			case "MD5":
				return maskOf(TypeMD5)
			case "SHA1":
				return maskOf(TypeSHA1)
			case "SHA256":
				return maskOf(TypeSHA256)
			case "SHA512":
				return maskOf(TypeSHA512)
			}
		}
	}
	return 0
}

// hashAlgorithm turns a hashes key ("'SHA-256'", "SHA256", "md5") into "SHA256".
func hashAlgorithm(key string) string {
	key = strings.Trim(key, "'")
	return strings.ToUpper(strings.ReplaceAll(key, "-", ""))
}

// compile checks and normalises the operands of a comparison the store can evaluate.
func (c *Comparison) compile() error {
	c.mask = pathMask(c.Object, c.Path)
	if c.mask == 0 {
		return nil
	}
	bad := func(format string, args ...any) error {
		return &PatternError{Reason: c.Object + ":" + c.Path + ": " + fmt.Sprintf(format, args...)}
	}
	if c.Object == "network-traffic" && strings.HasSuffix(c.Path, "_ref.type") {
		// The referenced object's type: compared with the looked-up value's type.
		c.refType = true
		return nil
	}
	switch c.Op {
	case "=", "!=", "IN":
		for _, l := range c.Values {
			if l.Kind != LitString {
				continue // never equal to a string property
			}
			vs := c.normalise(l.Text)
			if len(vs) == 0 {
				return bad("%q is not a valid %s", clip(l.Text), typeList(c.mask))
			}
			c.vals = append(c.vals, vs...)
		}
	case "ISSUBSET", "ISSUPERSET":
		if c.mask&maskIP == 0 {
			return nil
		}
		v, ok := parseAddrOrRange(strings.TrimSpace(c.Values[0].Text))
		if !ok {
			return bad("%q is not an address range", clip(c.Values[0].Text))
		}
		if !c.mask.has(v.typ) {
			// An IPv6 range for an ipv4-addr, or the other way round: as for "=", an operand
			// the property cannot hold is an error, not a term to index.
			return bad("%q is not a valid %s range", clip(c.Values[0].Text), typeList(c.mask))
		}
		c.vals = []value{v}
	case "LIKE", "<", "<=", ">", ">=":
		c.lowered = []string{strings.ToLower(c.Values[0].Text)}
	case "MATCHES":
		re, err := regexp.Compile(c.Values[0].Text)
		if err != nil {
			return bad("regular expression not supported: %v", err)
		}
		c.re = re
	}
	return nil
}

// normalise reads an operand as each type the path can hold.
func (c *Comparison) normalise(s string) []value {
	if c.mask&maskIP != 0 {
		if v, ok := parseAddrOrRange(strings.TrimSpace(s)); ok && c.mask.has(v.typ) {
			return []value{v}
		}
	}
	var out []value
	for _, t := range c.mask.types() {
		v, err := parseValue(t, s)
		if err != nil {
			continue
		}
		if t == TypeDomain && v.subdomains {
			continue // "*.example.com" is not a domain name in STIX
		}
		out = append(out, v)
	}
	return out
}

func typeList(m typeMask) string {
	var names []string
	for _, t := range m.types() {
		names = append(names, string(t))
	}
	return strings.Join(names, " or ")
}

// tri is a Kleene truth value.
type tri uint8

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

// evalObs evaluates an observation expression against v. support reports that the result, if
// not false, rests on a comparison that was true.
func evalObs(n *obsNode, v *value) (r tri, support bool) {
	switch n.kind {
	case obsLeaf:
		return evalCmp(n.expr, v)
	case obsOr:
		return evalOr(len(n.kids), func(i int) (tri, bool) { return evalObs(n.kids[i], v) })
	default: // AND, FOLLOWEDBY
		return evalAnd(len(n.kids), func(i int) (tri, bool) { return evalObs(n.kids[i], v) })
	}
}

func evalCmp(n *cmpNode, v *value) (tri, bool) {
	switch n.kind {
	case cmpLeaf:
		r := n.c.eval(v)
		return r, r == triTrue
	case cmpOr:
		return evalOr(len(n.kids), func(i int) (tri, bool) { return evalCmp(n.kids[i], v) })
	default:
		return evalAnd(len(n.kids), func(i int) (tri, bool) { return evalCmp(n.kids[i], v) })
	}
}

func evalAnd(n int, kid func(int) (tri, bool)) (tri, bool) {
	r, support := triTrue, false
	for i := range n {
		k, s := kid(i)
		switch k {
		case triFalse:
			return triFalse, false
		case triUnknown:
			r = triUnknown
		}
		support = support || s
	}
	return r, support
}

func evalOr(n int, kid func(int) (tri, bool)) (tri, bool) {
	r, support := triFalse, false
	for i := range n {
		k, s := kid(i)
		switch k {
		case triTrue:
			return triTrue, true
		case triUnknown:
			r = triUnknown
			support = support || s
		}
	}
	return r, support
}

// eval evaluates one comparison against v: unknown when the path cannot hold v's type.
func (c *Comparison) eval(v *value) tri {
	if !c.mask.has(v.typ) {
		return triUnknown
	}
	r := c.test(v)
	if c.Negated {
		r = !r
	}
	if r {
		return triTrue
	}
	return triFalse
}

func (c *Comparison) test(v *value) bool {
	if c.refType {
		eq := false
		for _, l := range c.Values {
			eq = eq || l.Kind == LitString && l.Text == string(v.typ)
		}
		switch c.Op {
		case "=", "IN":
			return eq
		case "!=":
			return !eq
		case "EXISTS":
			return true
		}
		return false
	}
	switch c.Op {
	case "EXISTS":
		return true
	case "=", "IN":
		return c.equalsAny(v)
	case "!=":
		return !c.equalsAny(v)
	case "ISSUBSET":
		for _, o := range c.vals {
			if v.addr.IsValid() && rangeContains(o, v.addr) {
				return true
			}
		}
		return false
	case "ISSUPERSET":
		for _, o := range c.vals {
			if v.addr.IsValid() && !o.isRange() && o.addr == v.addr {
				return true
			}
		}
		return false
	case "LIKE":
		pat := c.Values[0].Text
		if maskCaseless.has(v.typ) {
			pat = c.lowered[0]
		}
		return like(v.text, pat)
	case "MATCHES":
		return c.re != nil && c.re.MatchString(v.text)
	case "<", "<=", ">", ">=":
		if c.Values[0].Kind != LitString {
			return false
		}
		other := c.Values[0].Text
		if maskCaseless.has(v.typ) {
			other = c.lowered[0]
		}
		cmp := strings.Compare(v.text, other)
		switch c.Op {
		case "<":
			return cmp < 0
		case "<=":
			return cmp <= 0
		case ">":
			return cmp > 0
		default:
			return cmp >= 0
		}
	}
	return false
}

func (c *Comparison) equalsAny(v *value) bool {
	for _, o := range c.vals {
		if o.typ != v.typ {
			continue
		}
		if o.isRange() {
			if v.addr.IsValid() && o.prefix.Contains(v.addr) {
				return true
			}
			continue
		}
		if o.addr.IsValid() && v.addr.IsValid() {
			if o.addr == v.addr {
				return true
			}
			continue
		}
		if o.text == v.text {
			return true
		}
	}
	return false
}

func rangeContains(r value, a netip.Addr) bool {
	if r.isRange() {
		return r.prefix.Contains(a)
	}
	return r.addr == a
}

// like reports whether s matches the SQL LIKE pattern p: % any run, _ any one character.
func like(s, p string) bool {
	// Iterative matching with backtracking to the last %; linear in practice, O(len(s)*len(p))
	// at worst.
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi] {
			case '%':
				star, mark = pi, si
				pi++
				continue
			case '_':
				_, n := decodeRuneAt(s, si)
				si += n
				pi++
				continue
			default:
				if p[pi] == s[si] {
					si++
					pi++
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		_, n := decodeRuneAt(s, mark)
		mark += n
		si, pi = mark, star+1
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}

// termsOf returns the values a pattern can only match through: for each comparison that is a
// positive =, IN or ISSUBSET on a path the store indexes, its operands. scan is the set of
// types for which some other comparison (LIKE, MATCHES, !=, NOT, EXISTS, order) could be
// true, so the pattern must be evaluated for every value of those types.
func (p *Pattern) termsOf() (terms []value, scan typeMask) {
	for _, c := range p.cmps {
		if c.mask == 0 || c.refType {
			continue // a type test alone matches nothing in particular
		}
		if !c.Negated && (c.Op == "=" || c.Op == "IN" || c.Op == "ISSUBSET") {
			if c.Op == "ISSUBSET" && c.mask&maskIP == 0 {
				continue // never true
			}
			terms = append(terms, c.vals...)
			continue
		}
		if !c.Negated && c.Op == "ISSUPERSET" {
			for _, v := range c.vals {
				if !v.isRange() {
					terms = append(terms, v)
				}
			}
			continue
		}
		scan |= c.mask
	}
	return terms, scan
}

// plainValues reports whether the pattern is nothing but a disjunction of indexable values
// ([ipv4-addr:value = '…' OR ipv4-addr:value = '…'] OR [domain-name:value = '…']): any of its
// values matching is a full match, and it can be stored as plain value indicators.
func (p *Pattern) plainValues() bool {
	var obs func(n *obsNode) bool
	var cmp func(n *cmpNode) bool
	cmp = func(n *cmpNode) bool {
		switch n.kind {
		case cmpLeaf:
			c := n.c
			return c.mask != 0 && !c.refType && !c.Negated && (c.Op == "=" || c.Op == "IN" || (c.Op == "ISSUBSET" && c.mask&maskIP != 0)) &&
				len(c.vals) > 0 && len(c.vals) == len(c.Values)
		case cmpOr:
			for _, k := range n.kids {
				if !cmp(k) {
					return false
				}
			}
			return true
		}
		return false
	}
	obs = func(n *obsNode) bool {
		switch n.kind {
		case obsLeaf:
			return cmp(n.expr)
		case obsOr:
			for _, k := range n.kids {
				if !obs(k) {
					return false
				}
			}
			return true
		}
		return false
	}
	return obs(p.root)
}

func decodeRuneAt(s string, i int) (rune, int) {
	r, n := utf8.DecodeRuneInString(s[i:])
	return r, max(n, 1)
}
