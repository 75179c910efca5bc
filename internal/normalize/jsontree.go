package normalize

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// The normalizers read records through a small JSON tree instead of map[string]any: one pass over
// the bytes, every key and unescaped string value a substring of one copy of the input, the nodes
// allocated from a pooled arena. A node records whether a normalizer mapped it, so what is left
// over can be flattened into Event.Unmapped without a second list of known keys.

// jkind is the type of a JSON value.
type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jObject
	jArray
)

// node is one JSON value.
type node struct {
	kind jkind
	// used is set when a normalizer mapped the value; flatten skips used leaves and used
	// containers.
	used bool
	// s is the unescaped string, the number literal, or "true"/"false".
	s string
	// kids are an object's members in input order, or an array's elements (with empty keys).
	kids []member
}

// member is one object member or array element.
type member struct {
	key string
	node
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 200

// parser decodes one JSON text. Parsers are pooled: the arena backing a tree is reused once the
// tree has been normalized, so a tree must not be used after release.
type parser struct {
	src   string
	pos   int
	depth int
	stack []member // members of the containers being parsed
	arena []member // backing store handed out to finished containers
}

var parserPool = sync.Pool{New: func() any { return &parser{} }}

// parseObject parses src, which must hold exactly one JSON object (surrounding white space
// allowed). The returned parser owns the tree; call release when done with it.
func parseObject(src string) (*node, *parser, error) {
	p := parserPool.Get().(*parser)
	p.src, p.pos, p.depth = src, 0, 0
	p.stack = p.stack[:0]
	p.arena = p.arena[:0]
	p.skipSpace()
	if p.pos >= len(p.src) {
		p.release()
		return nil, nil, fmt.Errorf("%w: empty input", ErrMalformed)
	}
	if p.src[p.pos] != '{' {
		err := p.errorf("expected a JSON object")
		p.release()
		return nil, nil, err
	}
	v, err := p.value()
	if err != nil {
		p.release()
		return nil, nil, err
	}
	root := &v
	p.skipSpace()
	if p.pos != len(p.src) {
		err := p.errorf("unexpected data after the JSON object")
		p.release()
		return nil, nil, err
	}
	return root, p, nil
}

// release returns p to the pool. Trees parsed by p must not be used afterwards.
func (p *parser) release() {
	if p == nil {
		return
	}
	p.src = ""
	// Drop the references the scratch stack holds (the arena is overwritten before reuse), and
	// do not keep one huge record's buffers in the pool.
	if cap(p.stack) > 1<<12 {
		p.stack = nil
	} else {
		clear(p.stack[:cap(p.stack)])
		p.stack = p.stack[:0]
	}
	if cap(p.arena) > 1<<16 {
		p.arena = nil
	}
	parserPool.Put(p)
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte offset %d: %s", ErrMalformed, p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// alloc hands out n members from the arena.
func (p *parser) alloc(n int) []member {
	if cap(p.arena)-len(p.arena) < n {
		size := 2 * cap(p.arena)
		if size < 64 {
			size = 64
		}
		if size < n {
			size = n
		}
		p.arena = make([]member, 0, size)
	}
	l := len(p.arena)
	p.arena = p.arena[:l+n]
	return p.arena[l : l+n : l+n]
}

// value parses one JSON value. Nodes are returned by value: a pointer into the recursion
// would move every node to the heap.
func (p *parser) value() (node, error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return node{}, p.errorf("unexpected end of input")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.container(jObject, '}')
	case c == '[':
		return p.container(jArray, ']')
	case c == '"':
		s, err := p.str()
		if err != nil {
			return node{}, err
		}
		return node{kind: jString, s: s}, nil
	case c == 't':
		return p.literal("true", jBool)
	case c == 'f':
		return p.literal("false", jBool)
	case c == 'n':
		return p.literal("null", jNull)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return node{}, p.errorf("invalid character %q", c)
	}
}

func (p *parser) literal(lit string, k jkind) (node, error) {
	if !strings.HasPrefix(p.src[p.pos:], lit) {
		return node{}, p.errorf("invalid literal")
	}
	p.pos += len(lit)
	if k == jBool {
		return node{kind: k, s: lit}, nil
	}
	return node{kind: k}, nil
}

func (p *parser) number() (node, error) {
	start := p.pos
	s := p.src
	i := p.pos
	if s[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if !digits() {
		p.pos = i
		return node{}, p.errorf("invalid number")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			p.pos = i
			return node{}, p.errorf("invalid number")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			p.pos = i
			return node{}, p.errorf("invalid number")
		}
	}
	p.pos = i
	return node{kind: jNumber, s: s[start:i]}, nil
}

// str parses a string starting at the opening quote.
func (p *parser) str() (string, error) {
	s := p.src
	start := p.pos + 1
	i := start
	for i < len(s) {
		c := s[i]
		if c == '"' {
			p.pos = i + 1
			return s[start:i], nil
		}
		if c == '\\' {
			return p.strSlow(start, i)
		}
		if c < 0x20 {
			p.pos = i
			return "", p.errorf("control character in string")
		}
		i++
	}
	p.pos = i
	return "", p.errorf("unterminated string")
}

// strSlow unescapes a string that has a backslash at esc.
func (p *parser) strSlow(start, esc int) (string, error) {
	s := p.src
	var b strings.Builder
	b.Grow(esc - start + 16)
	b.WriteString(s[start:esc])
	i := esc
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return b.String(), nil
		case c < 0x20:
			p.pos = i
			return "", p.errorf("control character in string")
		case c != '\\':
			b.WriteByte(c)
			i++
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch s[i] {
		case '"', '\\', '/':
			b.WriteByte(s[i])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				p.pos = i
				return "", p.errorf("invalid \\u escape")
			}
			i += 4
			if utf16.IsSurrogate(r) {
				// A surrogate pair; a lone surrogate becomes U+FFFD as in encoding/json.
				if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					if r2, ok := hex4(s, i+3); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							b.WriteRune(d)
							i += 7
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default:
			p.pos = i
			return "", p.errorf("invalid escape")
		}
		i++
	}
	p.pos = i
	return "", p.errorf("unterminated string")
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (p *parser) container(k jkind, end byte) (node, error) {
	p.depth++
	if p.depth > maxDepth {
		return node{}, p.errorf("nesting deeper than %d", maxDepth)
	}
	p.pos++ // opening bracket
	base := len(p.stack)
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == end {
		p.pos++
		p.depth--
		return node{kind: k}, nil
	}
	for {
		p.skipSpace()
		var key string
		if k == jObject {
			if p.pos >= len(p.src) || p.src[p.pos] != '"' {
				return node{}, p.errorf("expected a member name")
			}
			var err error
			if key, err = p.str(); err != nil {
				return node{}, err
			}
			p.skipSpace()
			if p.pos >= len(p.src) || p.src[p.pos] != ':' {
				return node{}, p.errorf("expected ':' after member name")
			}
			p.pos++
		}
		v, err := p.value()
		if err != nil {
			return node{}, err
		}
		p.stack = append(p.stack, member{key: key, node: v})
		p.skipSpace()
		if p.pos >= len(p.src) {
			return node{}, p.errorf("unexpected end of input")
		}
		c := p.src[p.pos]
		p.pos++
		if c == end {
			break
		}
		if c != ',' {
			p.pos--
			return node{}, p.errorf("expected ',' or '%c'", end)
		}
	}
	kids := p.alloc(len(p.stack) - base)
	copy(kids, p.stack[base:])
	p.stack = p.stack[:base]
	p.depth--
	return node{kind: k, kids: kids}, nil
}

// get returns the member named key of object n (the last one when a name repeats, as
// encoding/json does), or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != jObject {
		return nil
	}
	for i := len(n.kids) - 1; i >= 0; i-- {
		if n.kids[i].key == key {
			return &n.kids[i].node
		}
	}
	return nil
}

// at walks nested objects along keys.
func (n *node) at(keys ...string) *node {
	for _, k := range keys {
		n = n.get(k)
	}
	return n
}

// scalar reports whether n is a string, number, bool or null.
func (n *node) scalar() bool { return n != nil && n.kind < jObject }

// text marks n used and returns its scalar value ("" for null or a container, which stays
// unmapped).
func (n *node) text() string {
	if !n.scalar() {
		return ""
	}
	n.used = true
	return n.s
}

// str returns the scalar member key of object n as a string and marks it used.
func (n *node) str(key string) string { return n.get(key).text() }

// strAt returns the scalar at a nested path and marks it used.
func (n *node) strAt(keys ...string) string { return n.at(keys...).text() }

// int returns member key as an integer when it is a number or a numeric string (decimal or
// 0x-prefixed hexadecimal), marking it used.
func (n *node) int(key string) (int64, bool) { return n.get(key).integer() }

func (n *node) integer() (int64, bool) {
	if n == nil || (n.kind != jNumber && n.kind != jString) {
		return 0, false
	}
	v, ok := parseInt(n.s)
	if ok {
		n.used = true
	}
	return v, ok
}

// boolean returns member key as a bool when it is a JSON bool or a "true"/"false" string.
func (n *node) boolean(key string) (value, ok bool) {
	c := n.get(key)
	if c == nil || (c.kind != jBool && c.kind != jString) {
		return false, false
	}
	switch strings.ToLower(c.s) {
	case "true", "yes", "1":
		c.used = true
		return true, true
	case "false", "no", "0":
		c.used = true
		return false, true
	}
	return false, false
}

// strs returns the string elements of an array member (or a single string) and marks them used.
func (n *node) strs(key string) []string {
	c := n.get(key)
	if c == nil {
		return nil
	}
	if c.scalar() {
		if s := c.text(); s != "" {
			return []string{s}
		}
		return nil
	}
	if c.kind != jArray {
		return nil
	}
	var out []string
	for i := range c.kids {
		e := &c.kids[i].node
		if e.scalar() && e.s != "" {
			out = append(out, e.text())
		}
	}
	if len(out) == len(c.kids) {
		c.used = true
	}
	return out
}

// consume marks n and everything under it used.
func (n *node) consume() {
	if n != nil {
		n.used = true
	}
}

func parseInt(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		v, err := strconv.ParseUint(s[2:], 16, 64)
		return int64(v), err == nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// JSON numbers such as 3.0 or 1e3.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return 0, false
		}
		return int64(f), true
	}
	return v, true
}

// maxUnmapped bounds how many leaves one record may put into Event.Unmapped.
const maxUnmapped = 1000

// flatten adds the leaves of n that no normalizer used to dst under dotted names starting with
// prefix. evtx_dump's "#attributes" level is skipped and "#text" takes its parent's name, so
// `{"Provider":{"#attributes":{"Name":"x"}}}` becomes "Provider.Name".
func flatten(dst map[string]string, prefix string, n *node) {
	if n == nil || n.used {
		return
	}
	switch n.kind {
	case jObject:
		for i := range n.kids {
			m := &n.kids[i]
			if m.used {
				continue
			}
			var name string
			switch {
			case m.key == "#attributes":
				name = prefix
			case m.key == "#text":
				name = prefix
				if name == "" {
					name = "#text"
				}
			case prefix == "":
				name = m.key
			default:
				name = prefix + "." + m.key
			}
			flatten(dst, name, &m.node)
		}
	case jArray:
		for i := range n.kids {
			if n.kids[i].used {
				continue
			}
			flatten(dst, prefix+"."+strconv.Itoa(i), &n.kids[i].node)
		}
	case jNull:
		// A null carries no value; the raw record keeps it.
	default:
		if len(dst) >= maxUnmapped {
			dst["_truncated"] = "true"
			return
		}
		if prefix == "" {
			prefix = "_value"
		}
		dst[prefix] = n.s
	}
}

// peek returns the scalar member key of object n as a string without marking it used.
func (n *node) peek(key string) string {
	c := n.get(key)
	if !c.scalar() {
		return ""
	}
	return c.s
}

// mark marks member key of n used, if present.
func (n *node) mark(key string) {
	if c := n.get(key); c != nil {
		c.used = true
	}
}
