package sigma

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Token kinds of a Sigma string.
const (
	tokLit   = iota // literal text
	tokStar         // '*': any sequence, possibly empty
	tokOne          // '?': exactly one character
	tokPlace        // %name% placeholder (expand modifier)
)

type sigmaToken struct {
	kind uint8
	s    string // literal text or placeholder name
}

// sigmaString is a Sigma string value: literal runs and wildcards, after escape processing.
type sigmaString []sigmaToken

// parseSigmaString applies the specification's escape rules: `\*`, `\?` and `\\` stand for the
// plain character; a backslash before any other character (or at the end) is a plain backslash.
func parseSigmaString(raw string) sigmaString {
	var out sigmaString
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, sigmaToken{kind: tokLit, s: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '\\':
			if i+1 < len(raw) && (raw[i+1] == '*' || raw[i+1] == '?' || raw[i+1] == '\\') {
				lit.WriteByte(raw[i+1])
				i++
			} else {
				lit.WriteByte('\\')
			}
		case '*':
			flush()
			if len(out) == 0 || out[len(out)-1].kind != tokStar {
				out = append(out, sigmaToken{kind: tokStar})
			}
		case '?':
			flush()
			out = append(out, sigmaToken{kind: tokOne})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return out
}

// plainString returns a Sigma string holding s verbatim.
func plainString(s string) sigmaString {
	if s == "" {
		return sigmaString{}
	}
	return sigmaString{{kind: tokLit, s: s}}
}

func (s sigmaString) hasSpecial() bool {
	for _, t := range s {
		if t.kind != tokLit {
			return true
		}
	}
	return false
}

func (s sigmaString) hasPlaceholder() bool {
	for _, t := range s {
		if t.kind == tokPlace {
			return true
		}
	}
	return false
}

// plain returns the literal content when s has no wildcards or placeholders.
func (s sigmaString) plain() (string, bool) {
	if s.hasSpecial() {
		return "", false
	}
	var b strings.Builder
	for _, t := range s {
		b.WriteString(t.s)
	}
	return b.String(), true
}

// String renders s back in Sigma notation (for messages and tests).
func (s sigmaString) String() string {
	var b strings.Builder
	for _, t := range s {
		switch t.kind {
		case tokLit:
			for i := 0; i < len(t.s); i++ {
				if c := t.s[i]; c == '*' || c == '?' || c == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(t.s[i])
			}
		case tokStar:
			b.WriteByte('*')
		case tokOne:
			b.WriteByte('?')
		case tokPlace:
			b.WriteString("%" + t.s + "%")
		}
	}
	return b.String()
}

// normalize merges adjacent literals and collapses runs of stars.
func (s sigmaString) normalize() sigmaString {
	out := make(sigmaString, 0, len(s))
	for _, t := range s {
		if t.kind == tokLit && t.s == "" {
			continue
		}
		if n := len(out); n > 0 {
			last := &out[n-1]
			if t.kind == tokLit && last.kind == tokLit {
				last.s += t.s
				continue
			}
			if t.kind == tokStar && last.kind == tokStar {
				continue
			}
		}
		out = append(out, t)
	}
	return out
}

func (s sigmaString) withLeadingStar() sigmaString {
	if len(s) > 0 && s[0].kind == tokStar {
		return s
	}
	return append(sigmaString{{kind: tokStar}}, s...)
}

func (s sigmaString) withTrailingStar() sigmaString {
	if len(s) > 0 && s[len(s)-1].kind == tokStar {
		return s
	}
	return append(append(sigmaString{}, s...), sigmaToken{kind: tokStar})
}

// mapLiterals returns s with f applied to every literal run.
func (s sigmaString) mapLiterals(f func(string) string) sigmaString {
	out := make(sigmaString, len(s))
	for i, t := range s {
		if t.kind == tokLit {
			t.s = f(t.s)
		}
		out[i] = t
	}
	return out
}

func encodeUTF16(s string, bigEndian bool) string {
	units := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(units))
	for _, u := range units {
		if bigEndian {
			b = append(b, byte(u>>8), byte(u))
		} else {
			b = append(b, byte(u), byte(u>>8))
		}
	}
	return string(b)
}

// transformUTF16 implements utf16le/wide, utf16be and utf16 (little endian with a byte order mark).
func transformUTF16(s sigmaString, mod string) sigmaString {
	out := s.mapLiterals(func(l string) string { return encodeUTF16(l, mod == "utf16be") })
	if mod == "utf16" {
		out = append(sigmaString{{kind: tokLit, s: "\xff\xfe"}}, out...)
	}
	return out.normalize()
}

func transformBase64(s sigmaString) (sigmaString, error) {
	p, ok := s.plain()
	if !ok {
		return nil, fmt.Errorf("base64 encoding of a value with wildcards or placeholders is not allowed: %q", s.String())
	}
	return plainString(base64.StdEncoding.EncodeToString([]byte(p))), nil
}

// transformBase64Offset returns the three shifted encodings of s whose stable middle part appears
// in any base64 text that encodes s at some offset.
func transformBase64Offset(s sigmaString) ([]sigmaString, error) {
	p, ok := s.plain()
	if !ok {
		return nil, fmt.Errorf("base64offset encoding of a value with wildcards or placeholders is not allowed: %q", s.String())
	}
	start := [3]int{0, 2, 3}
	endCut := [3]int{0, 3, 2}
	out := make([]sigmaString, 0, 3)
	for i := 0; i < 3; i++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(" ", i) + p))
		end := len(enc) - endCut[(len(p)+i)%3]
		if end < start[i] {
			end = start[i]
		}
		out = append(out, plainString(enc[start[i]:end]))
	}
	return out, nil
}

// windashChars are the characters the windash modifier treats as interchangeable.
var windashChars = []string{"-", "/", "\u2013", "\u2014", "\u2015"}

const maxWindashPositions = 4 // 5^4 = 625 variants at most

// transformWindash returns every permutation of the five dash characters at each position
// where one of them occurs, as the modifiers appendix specifies.
func transformWindash(s sigmaString) ([]sigmaString, error) {
	// Split literal runs into pieces: text and dash positions.
	type piece struct {
		tok  sigmaToken
		dash bool
	}
	var pieces []piece
	dashes := 0
	for _, t := range s {
		if t.kind != tokLit {
			pieces = append(pieces, piece{tok: t})
			continue
		}
		rest := t.s
		for len(rest) > 0 {
			idx, width := -1, 0
			for i := 0; i < len(rest); {
				r, n := utf8.DecodeRuneInString(rest[i:])
				if r == '-' || r == '/' || r == '\u2013' || r == '\u2014' || r == '\u2015' {
					idx, width = i, n
					break
				}
				i += n
			}
			if idx < 0 {
				pieces = append(pieces, piece{tok: sigmaToken{kind: tokLit, s: rest}})
				break
			}
			if idx > 0 {
				pieces = append(pieces, piece{tok: sigmaToken{kind: tokLit, s: rest[:idx]}})
			}
			pieces = append(pieces, piece{dash: true})
			dashes++
			rest = rest[idx+width:]
		}
	}
	if dashes > maxWindashPositions {
		return nil, fmt.Errorf("windash: value %q has %d dash characters; at most %d are supported", s.String(), dashes, maxWindashPositions)
	}
	out := []sigmaString{{}}
	for _, p := range pieces {
		if !p.dash {
			for i := range out {
				out[i] = append(out[i], p.tok)
			}
			continue
		}
		next := make([]sigmaString, 0, len(out)*len(windashChars))
		for _, o := range out {
			for _, d := range windashChars {
				v := append(append(sigmaString{}, o...), sigmaToken{kind: tokLit, s: d})
				next = append(next, v)
			}
		}
		out = next
	}
	for i := range out {
		out[i] = out[i].normalize()
	}
	return out, nil
}

// insertPlaceholders implements the expand modifier: `%name%` in literal text becomes a
// placeholder token; `\%` stands for a plain percent sign.
func insertPlaceholders(s sigmaString) sigmaString {
	var out sigmaString
	for _, t := range s {
		if t.kind != tokLit {
			out = append(out, t)
			continue
		}
		var lit strings.Builder
		str := t.s
		for i := 0; i < len(str); i++ {
			c := str[i]
			if c == '\\' && i+1 < len(str) && str[i+1] == '%' {
				lit.WriteByte('%')
				i++
				continue
			}
			if c == '%' {
				j := i + 1
				for j < len(str) && isPlaceholderChar(str[j]) {
					j++
				}
				if j < len(str) && str[j] == '%' && j > i+1 {
					if lit.Len() > 0 {
						out = append(out, sigmaToken{kind: tokLit, s: lit.String()})
						lit.Reset()
					}
					out = append(out, sigmaToken{kind: tokPlace, s: str[i+1 : j]})
					i = j
					continue
				}
			}
			lit.WriteByte(c)
		}
		if lit.Len() > 0 {
			out = append(out, sigmaToken{kind: tokLit, s: lit.String()})
		}
	}
	return out
}

func isPlaceholderChar(c byte) bool {
	return c == '_' || c == '-' || c == '.' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

const maxPlaceholderExpansion = 4096

// expandPlaceholders replaces placeholder tokens with the values defined for them (each value
// is a Sigma string and may hold wildcards). Several placeholders expand to the cartesian product.
func expandPlaceholders(s sigmaString, values map[string][]string) ([]sigmaString, error) {
	out := []sigmaString{{}}
	for _, t := range s {
		if t.kind != tokPlace {
			for i := range out {
				out[i] = append(out[i], t)
			}
			continue
		}
		vals, ok := values[t.s]
		if !ok {
			return nil, fmt.Errorf("%w: placeholder %%%s%% is not defined (set it in the engine's placeholder values)", ErrUnsupported, t.s)
		}
		if len(vals) == 0 {
			return nil, fmt.Errorf("%w: placeholder %%%s%% has no values", ErrUnsupported, t.s)
		}
		if len(out)*len(vals) > maxPlaceholderExpansion {
			return nil, fmt.Errorf("%w: placeholder expansion exceeds %d values", ErrUnsupported, maxPlaceholderExpansion)
		}
		next := make([]sigmaString, 0, len(out)*len(vals))
		for _, o := range out {
			for _, v := range vals {
				next = append(next, append(append(sigmaString{}, o...), parseSigmaString(v)...))
			}
		}
		out = next
	}
	for i := range out {
		out[i] = out[i].normalize()
	}
	return out, nil
}
