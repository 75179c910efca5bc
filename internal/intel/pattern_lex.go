package intel

import (
	"encoding/base64"
	"strings"
	"time"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tLBrack
	tRBrack
	tLParen
	tRParen
	tComma
	tColon
	tDot
	tStar
	tOp      // = != < <= > >=
	tIdent   // identifier, hyphens allowed
	tKeyword // AND OR NOT FOLLOWEDBY LIKE MATCHES ISSUBSET ISSUPERSET EXISTS IN START STOP WITHIN SECONDS REPEATS TIMES
	tString
	tInt
	tFloat
	tBool
	tTimestamp
	tBinary
	tHex
)

var tokNames = [...]string{tEOF: "end of pattern", tLBrack: "'['", tRBrack: "']'", tLParen: "'('",
	tRParen: "')'", tComma: "','", tColon: "':'", tDot: "'.'", tStar: "'*'", tOp: "operator",
	tIdent: "identifier", tKeyword: "keyword", tString: "string", tInt: "integer", tFloat: "number",
	tBool: "boolean", tTimestamp: "timestamp", tBinary: "binary literal", tHex: "hex literal"}

type token struct {
	kind tokKind
	// text: the keyword, operator or identifier; a string's decoded content; a literal's text.
	text string
	pos  int
}

func (t token) describe() string {
	switch t.kind {
	case tKeyword, tIdent, tOp:
		return "'" + clip(t.text) + "'"
	case tString:
		return "string '" + clip(t.text) + "'"
	}
	return tokNames[t.kind]
}

var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "FOLLOWEDBY": true, "LIKE": true, "MATCHES": true,
	"ISSUBSET": true, "ISSUPERSET": true, "EXISTS": true, "IN": true, "START": true, "STOP": true,
	"WITHIN": true, "SECONDS": true, "REPEATS": true, "TIMES": true,
}

// lexer splits a pattern into tokens. Whitespace and /* */ and // comments are skipped.
type lexer struct {
	src string
	pos int
}

func (l *lexer) errorf(pos int, reason string) error {
	return &PatternError{Offset: pos, Reason: reason}
}

func (l *lexer) next() (token, error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	if l.pos >= len(l.src) {
		return token{kind: tEOF, pos: l.pos}, nil
	}
	start := l.pos
	c := l.src[l.pos]
	simple := func(k tokKind) (token, error) {
		l.pos++
		return token{kind: k, text: l.src[start:l.pos], pos: start}, nil
	}
	switch c {
	case '[':
		return simple(tLBrack)
	case ']':
		return simple(tRBrack)
	case '(':
		return simple(tLParen)
	case ')':
		return simple(tRParen)
	case ',':
		return simple(tComma)
	case ':':
		return simple(tColon)
	case '*':
		return simple(tStar)
	case '=':
		l.pos++
		if l.pos < len(l.src) && l.src[l.pos] == '=' {
			l.pos++
		}
		return token{kind: tOp, text: "=", pos: start}, nil
	case '!':
		if strings.HasPrefix(l.src[l.pos:], "!=") {
			l.pos += 2
			return token{kind: tOp, text: "!=", pos: start}, nil
		}
	case '<':
		switch {
		case strings.HasPrefix(l.src[l.pos:], "<>"):
			l.pos += 2
			return token{kind: tOp, text: "!=", pos: start}, nil
		case strings.HasPrefix(l.src[l.pos:], "<="):
			l.pos += 2
			return token{kind: tOp, text: "<=", pos: start}, nil
		}
		return simple(tOp)
	case '>':
		if strings.HasPrefix(l.src[l.pos:], ">=") {
			l.pos += 2
			return token{kind: tOp, text: ">=", pos: start}, nil
		}
		return simple(tOp)
	case '\'':
		s, err := l.quoted()
		if err != nil {
			return token{}, err
		}
		return token{kind: tString, text: s, pos: start}, nil
	case '.':
		if l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1]) {
			return l.number()
		}
		return simple(tDot)
	case '+', '-':
		return l.number()
	}
	if isDigit(c) {
		return l.number()
	}
	if (c == 't' || c == 'h' || c == 'b') && l.pos+1 < len(l.src) && l.src[l.pos+1] == '\'' {
		l.pos++
		s, err := l.quoted()
		if err != nil {
			return token{}, err
		}
		switch c {
		case 't':
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				return token{}, l.errorf(start, "invalid timestamp t'"+clip(s)+"'")
			}
			return token{kind: tTimestamp, text: s, pos: start}, nil
		case 'h':
			if len(s)%2 != 0 || strings.IndexFunc(s, func(r rune) bool { return r > 0x7f || !isHex(byte(r)) }) >= 0 {
				return token{}, l.errorf(start, "invalid hex literal h'"+clip(s)+"'")
			}
			return token{kind: tHex, text: s, pos: start}, nil
		default:
			if _, err := base64.StdEncoding.Strict().DecodeString(s); err != nil {
				return token{}, l.errorf(start, "invalid binary literal b'"+clip(s)+"'")
			}
			return token{kind: tBinary, text: s, pos: start}, nil
		}
	}
	if isIdentStart(c) {
		for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
			l.pos++
		}
		w := l.src[start:l.pos]
		switch {
		case keywords[w]:
			return token{kind: tKeyword, text: w, pos: start}, nil
		case w == "true" || w == "false":
			return token{kind: tBool, text: w, pos: start}, nil
		}
		return token{kind: tIdent, text: w, pos: start}, nil
	}
	return token{}, l.errorf(start, "unexpected character "+quoteRune(l.src[start:]))
}

func quoteRune(s string) string {
	for _, r := range s {
		return "'" + string(r) + "'"
	}
	return "''"
}

func (l *lexer) skipSpace() error {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f':
			l.pos++
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return l.errorf(l.pos, "unterminated comment")
			}
			l.pos += end + 4
		case strings.HasPrefix(l.src[l.pos:], "//"):
			end := strings.IndexAny(l.src[l.pos:], "\r\n")
			if end < 0 {
				l.pos = len(l.src)
			} else {
				l.pos += end
			}
		case c >= 0x80:
			// Unicode white space the grammar allows (NBSP, en space, …).
			r, n := utf8.DecodeRuneInString(l.src[l.pos:])
			if !isUnicodeSpace(r) {
				return nil
			}
			l.pos += n
		default:
			return nil
		}
	}
	return nil
}

// quoted reads a '…' literal starting at l.pos. \' and \\ are escapes; a backslash before any
// other character is kept as written (feeds' regular expressions rely on it).
func (l *lexer) quoted() (string, error) {
	start := l.pos
	l.pos++ // opening quote
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch c {
		case '\'':
			l.pos++
			return b.String(), nil
		case '\\':
			if l.pos+1 < len(l.src) && (l.src[l.pos+1] == '\'' || l.src[l.pos+1] == '\\') {
				b.WriteByte(l.src[l.pos+1])
				l.pos += 2
				continue
			}
		}
		b.WriteByte(c)
		l.pos++
	}
	return "", l.errorf(start, "unterminated string")
}

func (l *lexer) number() (token, error) {
	start := l.pos
	if l.src[l.pos] == '+' || l.src[l.pos] == '-' {
		l.pos++
	}
	digits := 0
	for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
		l.pos++
		digits++
	}
	kind := tInt
	if l.pos < len(l.src) && l.src[l.pos] == '.' {
		l.pos++
		frac := 0
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
			frac++
		}
		if frac == 0 {
			return token{}, l.errorf(start, "invalid number "+clip(l.src[start:l.pos]))
		}
		kind, digits = tFloat, digits+frac
	}
	if digits == 0 {
		return token{}, l.errorf(start, "unexpected character "+quoteRune(l.src[start:]))
	}
	text := strings.TrimPrefix(l.src[start:l.pos], "+")
	return token{kind: kind, text: text, pos: start}, nil
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) || c == '-' }

func isUnicodeSpace(r rune) bool {
	switch r {
	case 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}
