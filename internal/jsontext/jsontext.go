// Package jsontext writes JSON text by hand where encoding/json's reflection costs too much
// (the scan's detections, raw text records): strings escaped exactly as encoding/json escapes
// them without HTML escaping.
package jsontext

import (
	"encoding/binary"
	"unicode/utf8"
	"unsafe"
)

// AppendString appends s as a JSON string the way encoding/json does without HTML
// escaping: quotes and backslashes escaped, control characters as \b \f \n \r \t or \u00XX,
// invalid UTF-8 as \ufffd, and U+2028 and U+2029 escaped.
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	text := unsafe.Slice(unsafe.StringData(s), len(s)) // read only
	for i := 0; i < len(s); {
		// Most bytes are plain: eight at a time, then one at a time up to the next byte that
		// is not.
		for i+8 <= len(s) && plainWord(binary.LittleEndian.Uint64(text[i:])) {
			i += 8
		}
		for i < len(s) && plain[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendStringHTML appends s as a JSON string the way encoding/json's Marshal does: as
// AppendString, and <, > and & escaped as \u003c, \u003e and \u0026.
func AppendStringHTML(b []byte, s string) []byte {
	start := len(b)
	b = AppendString(b, s)
	if !hasHTML(s) {
		return b
	}
	// The escapes AppendString writes hold none of the three: each one in its output is s's.
	out := append([]byte(nil), b[start:]...)
	b = b[:start]
	for _, c := range out {
		switch c {
		case '<':
			b = append(b, `\u003c`...)
		case '>':
			b = append(b, `\u003e`...)
		case '&':
			b = append(b, `\u0026`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// hasHTML reports whether s holds <, > or &, eight bytes at a time.
func hasHTML(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	text := unsafe.Slice(unsafe.StringData(s), len(s)) // read only
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(text[i:])
		// A byte of x^k*ones is zero where x holds k (the classic has-zero-byte test: exact for
		// the word as a whole).
		lt, gt, amp := x^ones*'<', x^ones*'>', x^ones*'&'
		if ((lt-ones)&^lt|(gt-ones)&^gt|(amp-ones)&^amp)&highs != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == '<' || c == '>' || c == '&' {
			return true
		}
	}
	return false
}

// plainWord reports whether the eight bytes of x (little-endian) are all plain (see plain): none below
// 0x20, none from 0x80, no quote and no backslash, tested with word arithmetic (each test
// is exact as a whole, though not per byte).
func plainWord(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := x ^ ones*'"'
	bs := x ^ ones*'\\'
	special := (x-ones*0x20)&^x | (q-ones)&^q | (bs-ones)&^bs | x
	return special&highs == 0
}

// plain marks the bytes AppendString copies as they are: printable ASCII but for the
// quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()
