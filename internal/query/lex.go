package query

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF     tokKind = iota
	tWord            // a bare word that is not a keyword
	tString          // a "quoted" string; text holds the unescaped value
	tKeyword         // a keyword; text holds it in lower case
	tPipe
	tLParen
	tRParen
	tComma
	tOp // = != > >= < <= ~; text holds the operator
)

type token struct {
	kind tokKind
	text string
	pos  int
}

// keywords are the reserved words, in lower case. A keyword used as a value needs quotes.
var keywords = map[string]bool{
	"and": true, "or": true, "not": true, "in": true, "since": true, "between": true, "where": true,
	"first_seen": true, "by": true, "within": true, "count": true, "sort": true, "asc": true,
	"desc": true, "limit": true, "fields": true,
}

func isKeyword(s string) bool { return keywords[strings.ToLower(s)] }

// isWordRune reports whether r may appear in a bare word.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
			return true
		}
		return strings.ContainsRune(`._-:/\*@$+`, r)
	}
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// isWord reports whether s can be written as a bare word: not empty, word runes only, and
// not a keyword.
func isWord(s string) bool {
	if s == "" || isKeyword(s) {
		return false
	}
	for _, r := range s {
		if !isWordRune(r) {
			return false
		}
	}
	return true
}

// lex splits src into tokens, ending with a tEOF token.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		case '|':
			toks = append(toks, token{tPipe, "|", i})
			i++
			continue
		case '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
			continue
		case ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
			continue
		case ',':
			toks = append(toks, token{tComma, ",", i})
			i++
			continue
		case '=', '~':
			toks = append(toks, token{tOp, string(c), i})
			i++
			continue
		case '!', '<', '>':
			if i+1 < len(src) && src[i+1] == '=' {
				toks = append(toks, token{tOp, src[i : i+2], i})
				i += 2
				continue
			}
			if c == '!' {
				return nil, errAt(i, "unexpected '!'; the operator is !=, and negation is the keyword not")
			}
			toks = append(toks, token{tOp, string(c), i})
			i++
			continue
		case '"':
			s, end, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tString, s, i})
			i = end
			continue
		}
		r, size := utf8.DecodeRuneInString(src[i:])
		if !isWordRune(r) {
			if r == utf8.RuneError && size == 1 {
				return nil, errAt(i, "invalid UTF-8 byte %#x", c)
			}
			return nil, errAt(i, "unexpected character %q; quote values that hold it", r)
		}
		start := i
		for i < len(src) {
			r, size := utf8.DecodeRuneInString(src[i:])
			if !isWordRune(r) {
				break
			}
			i += size
		}
		w := src[start:i]
		if isKeyword(w) {
			toks = append(toks, token{tKeyword, strings.ToLower(w), start})
		} else {
			toks = append(toks, token{tWord, w, start})
		}
	}
	return append(toks, token{tEOF, "", len(src)}), nil
}

// lexString reads the quoted string that starts at src[start] and returns its value and the
// offset after the closing quote.
func lexString(src string, start int) (string, int, error) {
	var b strings.Builder
	i := start + 1
	for i < len(src) {
		switch c := src[i]; c {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			if i+1 >= len(src) {
				return "", 0, errAt(start, "unterminated string")
			}
			if n := src[i+1]; n == '"' || n == '\\' {
				b.WriteByte(n)
				i += 2
				continue
			}
			b.WriteByte('\\') // any other backslash is itself: "\.exe$", "C:\Windows"
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", 0, errAt(start, "unterminated string")
}

// Quote writes s as a value of the language: a bare word when it can be one, else a quoted
// string. Whatever s holds, Parse reads the result back as s.
func Quote(s string) string {
	var b strings.Builder
	quote(&b, s)
	return b.String()
}

// QuoteString writes s as a quoted string of the language, even when it could stand bare.
func QuoteString(s string) string {
	var b strings.Builder
	quoteString(&b, s)
	return b.String()
}

// quote writes s as a bare word when it can be one, else as a quoted string.
func quote(b *strings.Builder, s string) {
	if isWord(s) {
		b.WriteString(s)
		return
	}
	quoteString(b, s)
}

// quoteString writes s in double quotes. A backslash is doubled only where it must be: before
// a quote, a backslash or the closing quote.
func quoteString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\' && (i+1 == len(s) || s[i+1] == '"' || s[i+1] == '\\'):
			b.WriteString(`\\`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}
