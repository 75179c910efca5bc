package jsontext

import "encoding/binary"

// maxDepth is encoding/json's limit on nesting: a text nested deeper is not valid for it.
const maxDepth = 10000

// Valid reports whether b is one valid JSON text, exactly as encoding/json.Valid does: the
// same grammar, whitespace around the value, strings not checked for UTF-8, and at most
// 10,000 levels of nesting. It does not allocate and runs several times faster, which
// matters where every record of a file or request is checked before it is kept.
func Valid(b []byte) bool {
	// Bit d: the container at depth d+1 is an object. One word on the stack serves up to 64
	// levels; deeper texts grow it.
	var top [1]uint64
	objects := top[:]
	depth := 0
	i := skipSpace(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return false
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth == maxDepth {
				return false
			}
			i = skipSpace(b, i+1)
			if depth>>6 == len(objects) {
				objects = append(objects, 0)
			}
			if c == '{' {
				objects[depth>>6] |= 1 << (depth & 63)
				depth++
				if i < len(b) && b[i] == '}' {
					i++
					depth--
					break
				}
				if i = member(b, i); i < 0 {
					return false
				}
				continue
			}
			objects[depth>>6] &^= 1 << (depth & 63)
			depth++
			if i < len(b) && b[i] == ']' {
				i++
				depth--
				break
			}
			continue
		case '"':
			if i = endString(b, i+1); i < 0 {
				return false
			}
		case 't':
			if !hasWord(b, i, "true") {
				return false
			}
			i += 4
		case 'f':
			if !hasWord(b, i, "false") {
				return false
			}
			i += 5
		case 'n':
			if !hasWord(b, i, "null") {
				return false
			}
			i += 4
		default:
			if i = endNumber(b, i); i < 0 {
				return false
			}
		}
		// A value ended at i: close the containers it ends, up to the next value.
	next:
		for {
			i = skipSpace(b, i)
			if depth == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			object := objects[(depth-1)>>6]>>((depth-1)&63)&1 != 0
			switch c := b[i]; {
			case c == ',':
				i = skipSpace(b, i+1)
				if object {
					if i = member(b, i); i < 0 {
						return false
					}
				}
				break next
			case c == '}' && object, c == ']' && !object:
				i++
				depth--
			default:
				return false
			}
		}
	}
}

// member reads an object member's name and colon starting at i, and returns where its value
// starts (after any space), or -1.
func member(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = endString(b, i+1); i < 0 {
		return -1
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipSpace(b, i+1)
}

// skipSpace returns the index of the first byte at or after i that is not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

func hasWord(b []byte, i int, w string) bool {
	return len(b)-i >= len(w) && string(b[i:i+len(w)]) == w
}

// endString returns the index after the closing quote of the string whose body starts at i,
// or -1 when it is not a valid string.
func endString(b []byte, i int) int {
	for {
		// Eight bytes at a time while none is a quote, a backslash or a control byte.
		for i+8 <= len(b) && inStringWord(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && inString[b[i]] {
			i++
		}
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isHex[b[i+2]] || !isHex[b[i+3]] || !isHex[b[i+4]] || !isHex[b[i+5]] {
					return -1
				}
				i += 6
			default:
				return -1
			}
		default: // a control byte
			return -1
		}
	}
}

// endNumber returns the index after the number starting at i, or -1 when there is none:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func endNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// inStringWord reports whether none of the eight bytes of x ends or escapes a string's body
// or is a control byte (bytes of 0x80 and above are allowed: encoding/json.Valid does not
// check UTF-8).
func inStringWord(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := x ^ ones*'"'
	bs := x ^ ones*'\\'
	special := (x-ones*0x20)&^x | (q-ones)&^q | (bs-ones)&^bs
	return special&highs == 0
}

// inString marks the bytes a string's body holds as they are.
var inString = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

var isHex = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()
