package sigma

import (
	"encoding/binary"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// needsLower reports whether lowerInto would change s.
func needsLower(s string) bool {
	i := 0
	// ASCII eight bytes at a time.
	for ; i+8 <= len(s); i += 8 {
		w := load64(s[i:])
		if w&hiBits != 0 {
			return needsLowerSlow(s[i:])
		}
		if upperBits(w) != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || ('A' <= c && c <= 'Z') {
			if c < 0x80 {
				return true
			}
			return needsLowerSlow(s[i:])
		}
	}
	return false
}

// hiBits is the top bit of each byte of a word: the bytes that are not ASCII.
const hiBits = 0x8080808080808080

// load64 reads the first eight bytes of s as a little-endian word.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// upperBits returns, for a word of ASCII bytes, the top bit of each byte that is an upper-case
// letter: b+0x3f reaches 0x80 from 'A' on, b+0x25 from 'Z'+1 on, and neither carries.
func upperBits(w uint64) uint64 {
	return ((w + 0x3f3f3f3f3f3f3f3f) ^ (w + 0x2525252525252525)) & hiBits
}

func needsLowerSlow(s string) bool {
	for len(s) > 0 {
		c := s[0]
		if c < 0x80 {
			if 'A' <= c && c <= 'Z' {
				return true
			}
			s = s[1:]
			continue
		}
		r, n := utf8.DecodeRuneInString(s)
		if r != utf8.RuneError || n != 1 {
			if lowerRune(r) != r {
				return true
			}
		}
		s = s[n:]
	}
	return false
}

// lowerRune is unicode.ToLower, except that the long s (U+017F) becomes 's': under Unicode
// case folding it is an s, and with it every rune that folds onto an ASCII letter lowers to
// that letter (the Kelvin sign already lowers to 'k').
func lowerRune(r rune) rune {
	if r == '\u017f' {
		return 's'
	}
	return unicode.ToLower(r)
}

// appendLower appends the lower-case form of s to dst. ASCII letters are folded directly;
// other runes go through lowerRune; bytes that are not valid UTF-8 are copied unchanged
// (unlike strings.ToLower, which would replace them).
func appendLower(dst []byte, s string) []byte {
	for len(s) > 0 {
		if len(s) >= 8 {
			// ASCII eight bytes at a time: bit 0x20 added to the upper-case letters.
			if w := load64(s); w&hiBits == 0 {
				dst = binary.LittleEndian.AppendUint64(dst, w|upperBits(w)>>2)
				s = s[8:]
				continue
			}
		}
		c := s[0]
		if c < 0x80 {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			s = s[1:]
			continue
		}
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, c)
			s = s[1:]
			continue
		}
		dst = utf8.AppendRune(dst, lowerRune(r))
		s = s[n:]
	}
	return dst
}

// lowerString returns the lower-case form of s (see appendLower), s itself when unchanged.
func lowerString(s string) string {
	if !needsLower(s) {
		return s
	}
	return string(appendLower(make([]byte, 0, len(s)), s))
}

// isASCII reports whether s holds only ASCII bytes. It reads s in words, the last one
// overlapping the one before, and tests the high bits once at the end: a loop with one exit,
// whose only unpredictable branch is the length.
func isASCII(s string) bool {
	n := len(s)
	var acc uint64
	switch {
	case n >= 8:
		for i := 0; i+8 <= n; i += 8 {
			acc |= load64(s[i:])
		}
		acc |= load64(s[n-8:])
	case n >= 4:
		acc = uint64(load32(s)) | uint64(load32(s[n-4:]))
	case n > 0:
		acc = uint64(s[0]) | uint64(s[n/2]) | uint64(s[n-1])
	}
	return acc&0x8080808080808080 == 0
}

// bytesString returns a string that shares b's memory. The caller must not modify b while the
// string is in use.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
