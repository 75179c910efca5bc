package evtx

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// BinXML value types (MS-EVEN6 2.2.18); array types add 0x80.
const (
	tNull       = 0x00
	tString     = 0x01
	tAnsiString = 0x02
	tInt8       = 0x03
	tUint8      = 0x04
	tInt16      = 0x05
	tUint16     = 0x06
	tInt32      = 0x07
	tUint32     = 0x08
	tInt64      = 0x09
	tUint64     = 0x0a
	tReal32     = 0x0b
	tReal64     = 0x0c
	tBool       = 0x0d
	tBinary     = 0x0e
	tGUID       = 0x0f
	tSizeT      = 0x10
	tFileTime   = 0x11
	tSysTime    = 0x12
	tSID        = 0x13
	tHexInt32   = 0x14
	tHexInt64   = 0x15
	tEvtHandle  = 0x20
	tBinXML     = 0x21
	tEvtXML     = 0x23
	tArray      = 0x80
)

// fixedSize returns the size of a fixed-size value type, 0 for variable-size types.
func fixedSize(vt uint8) int {
	switch vt {
	case tInt8, tUint8:
		return 1
	case tInt16, tUint16:
		return 2
	case tInt32, tUint32, tReal32, tHexInt32, tBool:
		return 4
	case tInt64, tUint64, tReal64, tHexInt64, tFileTime, tSizeT:
		return 8
	case tGUID, tSysTime:
		return 16
	}
	return 0
}

// minSize returns the smallest valid size of a scalar value of type vt.
func minSize(vt uint8) int {
	switch vt {
	case tBool:
		return 1
	case tSizeT:
		return 4
	case tSID:
		return 8
	}
	return fixedSize(vt)
}

// checkValue validates a substitution value's type and size.
func checkValue(vt uint8, data []byte) error {
	switch {
	case vt <= tHexInt64, vt == tEvtHandle, vt == tBinXML, vt == tEvtXML:
		if len(data) < minSize(vt) {
			return corruptf("value of type %#02x has %d bytes", vt, len(data))
		}
		if vt == tSID && sidLen(data) < 0 {
			return corruptf("malformed SID value")
		}
		return nil
	case vt&tArray != 0:
		base := vt &^ tArray
		if base >= tString && base <= tHexInt64 || base == tEvtHandle || base == tBinXML || base == tEvtXML {
			return nil
		}
	}
	return corruptf("unknown value type %#02x", vt)
}

// sidLen returns the length of the SID at the start of b, or -1.
func sidLen(b []byte) int {
	if len(b) < 8 {
		return -1
	}
	n := 8 + 4*int(b[1])
	if n > len(b) {
		return -1
	}
	return n
}

// trimUTF16 cuts UTF-16LE text at its first NUL code unit (and drops an odd last byte).
func trimUTF16(b []byte) []byte {
	b = b[:len(b)&^1]
	for i := 0; i < len(b); i += 2 {
		if b[i] == 0 && b[i+1] == 0 {
			return b[:i]
		}
	}
	return b
}

// trimSubstString prepares a sized string substitution as the crate does: cut at the first
// NUL, then drop trailing Unicode white space.
func trimSubstString(b []byte) []byte {
	b = trimUTF16(b)
	for len(b) >= 2 && isSpace16(uint16(b[len(b)-2])|uint16(b[len(b)-1])<<8) {
		b = b[:len(b)-2]
	}
	return b
}

// isSpace16 reports whether a UTF-16 code unit is Unicode White_Space (Rust's
// char::is_whitespace); all such characters are in the BMP.
func isSpace16(c uint16) bool {
	switch {
	case c >= 0x09 && c <= 0x0d, c == 0x20, c == 0x85, c == 0xa0, c == 0x1680,
		c >= 0x2000 && c <= 0x200a, c == 0x2028, c == 0x2029, c == 0x202f, c == 0x205f, c == 0x3000:
		return true
	}
	return false
}

// trimTrailingNUL drops trailing NUL bytes of an ANSI string; appendANSI skips the NULs
// left inside, as the crate prunes every NUL of an ANSI string.
func trimTrailingNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// isEmptyValue tells whether an optional substitution with this value is left out (the Rust
// crate's is_optional_empty).
func isEmptyValue(vt uint8, data []byte) bool {
	switch {
	case vt == tNull:
		return true
	case vt == tString, vt == tAnsiString, vt == tBinary, vt == tBinXML, vt == tEvtXML:
		return len(data) == 0
	case vt&tArray != 0:
		return arrayLen(vt, data) == 0
	}
	return false
}

// isNumeric tells whether a value renders as a JSON number or boolean.
func isNumeric(vt uint8) bool {
	return vt >= tInt8 && vt <= tUint64 || vt == tBool
}

// isTypedText reports whether a value of type vt renders as text made of TypedAlphabet's
// bytes only: integers, and the types below; not strings, booleans or floats.
func isTypedText(vt uint8) bool {
	switch vt {
	case tBinary, tGUID, tSizeT, tFileTime, tSysTime, tSID, tHexInt32, tHexInt64:
		return true
	}
	return isNumeric(vt) && vt != tBool
}

// nextItem splits the first item off array data of type vt. It returns the item and the rest;
// ok is false when no item is left.
func nextItem(vt uint8, data []byte) (item, rest []byte, ok bool) {
	if len(data) == 0 {
		return nil, nil, false
	}
	switch base := vt &^ tArray; base {
	case tString:
		data = data[:len(data)&^1]
		if len(data) == 0 {
			return nil, nil, false
		}
		for i := 0; i < len(data); i += 2 {
			if data[i] == 0 && data[i+1] == 0 {
				return data[:i], data[i+2:], true
			}
		}
		return data, nil, true
	case tAnsiString:
		for i, c := range data {
			if c == 0 {
				return data[:i], data[i+1:], true
			}
		}
		return data, nil, true
	case tSID:
		n := sidLen(data)
		if n < 0 {
			return nil, nil, false
		}
		return data[:n], data[n:], true
	default:
		size := fixedSize(base)
		if size == 0 || len(data) < size {
			return nil, nil, false
		}
		return data[:size], data[size:], true
	}
}

// arrayLen returns the number of items of an array value; 0 for arrays whose items cannot be
// told apart (binary, handles, BinXML).
func arrayLen(vt uint8, data []byte) int {
	switch vt &^ tArray {
	case tBinary, tEvtHandle, tBinXML, tEvtXML:
		return 0
	}
	n := 0
	for {
		_, rest, ok := nextItem(vt, data)
		if !ok {
			return n
		}
		n++
		data = rest
	}
}

// arrayItem returns item i of an array value as a scalar value.
func arrayItem(vt uint8, data []byte, i int) (uint8, []byte) {
	for ; ; i-- {
		item, rest, ok := nextItem(vt, data)
		if !ok {
			return tNull, nil
		}
		if i == 0 {
			return vt &^ tArray, item
		}
		data = rest
	}
}

// appendValue appends the text form of a value, JSON-escaped when esc is set.
func appendValue(dst []byte, vt uint8, data []byte, esc bool) []byte {
	le := binary.LittleEndian
	switch vt {
	case tNull, tEvtHandle, tBinXML, tEvtXML:
		return dst
	case tString:
		return appendUTF16(dst, data, esc)
	case tAnsiString:
		return appendANSI(dst, data, esc)
	case tInt8:
		return strconv.AppendInt(dst, int64(int8(data[0])), 10)
	case tUint8:
		return strconv.AppendUint(dst, uint64(data[0]), 10)
	case tInt16:
		return strconv.AppendInt(dst, int64(int16(le.Uint16(data))), 10)
	case tUint16:
		return strconv.AppendUint(dst, uint64(le.Uint16(data)), 10)
	case tInt32:
		return strconv.AppendInt(dst, int64(int32(le.Uint32(data))), 10)
	case tUint32:
		return strconv.AppendUint(dst, uint64(le.Uint32(data)), 10)
	case tInt64:
		return strconv.AppendInt(dst, int64(le.Uint64(data)), 10)
	case tUint64:
		return strconv.AppendUint(dst, le.Uint64(data), 10)
	case tReal32:
		return appendFloat(dst, float64(math.Float32frombits(le.Uint32(data))), 32)
	case tReal64:
		return appendFloat(dst, math.Float64frombits(le.Uint64(data)), 64)
	case tBool:
		if boolValue(data) {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case tBinary:
		return appendHexUpper(dst, data)
	case tGUID:
		return appendGUID(dst, data)
	case tSizeT:
		if len(data) >= 8 {
			return strconv.AppendUint(dst, le.Uint64(data), 10)
		}
		return strconv.AppendUint(dst, uint64(le.Uint32(data)), 10)
	case tFileTime:
		return appendTime(dst, filetimeToTime(le.Uint64(data)))
	case tSysTime:
		return appendSystemTime(dst, data)
	case tSID:
		return appendSID(dst, data)
	case tHexInt32:
		dst = append(dst, "0x"...)
		return strconv.AppendUint(dst, uint64(le.Uint32(data)), 16)
	case tHexInt64:
		dst = append(dst, "0x"...)
		return strconv.AppendUint(dst, le.Uint64(data), 16)
	}
	if vt&tArray == 0 {
		return dst
	}
	switch vt &^ tArray {
	case tBinary:
		return appendHexUpper(dst, data)
	case tEvtHandle, tBinXML, tEvtXML:
		return dst
	}
	// Arrays that were not expanded into repeated elements render as a comma-separated list.
	base := vt &^ tArray
	for first := true; ; first = false {
		item, rest, ok := nextItem(vt, data)
		if !ok {
			return dst
		}
		if !first {
			dst = append(dst, ',')
		}
		dst = appendValue(dst, base, item, esc)
		data = rest
	}
}

func boolValue(data []byte) bool {
	for _, c := range data[:min(len(data), 4)] {
		if c != 0 {
			return true
		}
	}
	return false
}

const hexUpper = "0123456789ABCDEF"

func appendHexUpper(dst, data []byte) []byte {
	for _, b := range data {
		dst = append(dst, hexUpper[b>>4], hexUpper[b&0xf])
	}
	return dst
}

func appendHexN(dst []byte, v uint64, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		dst = append(dst, hexUpper[(v>>(4*uint(i)))&0xf])
	}
	return dst
}

// appendGUID formats a GUID as the crate does: upper case, no braces.
func appendGUID(dst, g []byte) []byte {
	le := binary.LittleEndian
	dst = appendHexN(dst, uint64(le.Uint32(g)), 8)
	dst = append(dst, '-')
	dst = appendHexN(dst, uint64(le.Uint16(g[4:])), 4)
	dst = append(dst, '-')
	dst = appendHexN(dst, uint64(le.Uint16(g[6:])), 4)
	dst = append(dst, '-')
	dst = appendHexUpper(dst, g[8:10])
	dst = append(dst, '-')
	return appendHexUpper(dst, g[10:16])
}

// appendSID formats a security identifier: S-R-A-S1-S2...
func appendSID(dst, b []byte) []byte {
	n := sidLen(b)
	if n < 0 {
		return dst
	}
	dst = append(dst, "S-"...)
	dst = strconv.AppendUint(dst, uint64(b[0]), 10)
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	dst = append(dst, '-')
	if auth >= 1<<32 {
		dst = append(dst, "0x"...)
		dst = appendHexN(dst, auth, 12)
	} else {
		dst = strconv.AppendUint(dst, auth, 10)
	}
	for i := 8; i < n; i += 4 {
		dst = append(dst, '-')
		dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b[i:])), 10)
	}
	return dst
}

func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10%10), byte('0'+v%10))
}

// appendDate writes YYYY-MM-DDTHH:MM:SS.ffffffZ, the crate's timestamp format (microseconds,
// truncated).
func appendDate(dst []byte, year, month, day, hour, minute, sec, micros int) []byte {
	if year < 0 {
		year = -year
	}
	dst = append2(dst, year/100)
	dst = append2(dst, year)
	dst = append(dst, '-')
	dst = append2(dst, month)
	dst = append(dst, '-')
	dst = append2(dst, day)
	dst = append(dst, 'T')
	dst = append2(dst, hour)
	dst = append(dst, ':')
	dst = append2(dst, minute)
	dst = append(dst, ':')
	dst = append2(dst, sec)
	dst = append(dst, '.')
	dst = append2(dst, micros/10000)
	dst = append2(dst, micros/100)
	dst = append2(dst, micros)
	return append(dst, 'Z')
}

func appendTime(dst []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return appendDate(dst, y, int(mo), d, h, mi, s, t.Nanosecond()/1000)
}

// appendSystemTime formats a SYSTEMTIME (year, month, weekday, day, hour, minute, second,
// milliseconds as 16-bit fields).
func appendSystemTime(dst, b []byte) []byte {
	f := func(i int) int { return int(binary.LittleEndian.Uint16(b[2*i:])) }
	return appendDate(dst, f(0), f(1), f(3), f(4), f(5), f(6), f(7)*1000)
}

// appendFloat formats like Rust's shortest float formatting used by the crate: decimal
// notation with a ".0" for whole numbers, exponent notation ("1e20", "1.5e-7") outside
// 1e-5 <= |f| < 1e16.
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, bits) // [-]d[.ddd]e±XX
	neg := e[0] == '-'
	if neg {
		e = e[1:]
		dst = append(dst, '-')
	}
	ei := 0
	for ei < len(e) && e[ei] != 'e' {
		ei++
	}
	var digits []byte
	for _, c := range e[:ei] {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	exp, _ := strconv.Atoi(string(e[ei+1:]))
	switch {
	case exp >= 16 || exp < -5:
		dst = append(dst, digits[0])
		if len(digits) > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		return strconv.AppendInt(dst, int64(exp), 10)
	case exp < 0:
		dst = append(dst, "0."...)
		for i := -1; i > exp; i-- {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	default:
		if len(digits) <= exp+1 {
			dst = append(dst, digits...)
			for i := len(digits); i <= exp; i++ {
				dst = append(dst, '0')
			}
			return append(dst, ".0"...)
		}
		dst = append(dst, digits[:exp+1]...)
		dst = append(dst, '.')
		return append(dst, digits[exp+1:]...)
	}
}

// jsonEscape maps ASCII bytes that JSON strings escape to their escape (0 = no escape).
var jsonEscape = func() (t [128]byte) {
	for i := 0; i < 0x20; i++ {
		t[i] = 'u'
	}
	t['\b'], t['\f'], t['\n'], t['\r'], t['\t'] = 'b', 'f', 'n', 'r', 't'
	t['"'], t['\\'] = '"', '\\'
	return t
}()

const hexLower = "0123456789abcdef"

func appendEscapedASCII(dst []byte, c byte) []byte {
	switch e := jsonEscape[c]; e {
	case 0:
		return append(dst, c)
	case 'u':
		return append(dst, '\\', 'u', '0', '0', hexLower[c>>4], hexLower[c&0xf])
	default:
		return append(dst, '\\', e)
	}
}

// appendUTF16 decodes UTF-16LE to UTF-8, JSON-escaping when esc is set. Unpaired surrogates
// become U+FFFD.
func appendUTF16(dst, b []byte, esc bool) []byte {
	n := len(b) &^ 1
	i := 0
	for i < n {
		// Fast path: four ASCII code units at a time that need no escaping.
		if i+8 <= n {
			v := binary.LittleEndian.Uint64(b[i:])
			if v&0xff80ff80ff80ff80 == 0 {
				c0, c1, c2, c3 := byte(v), byte(v>>16), byte(v>>32), byte(v>>48)
				if !esc || jsonEscape[c0]|jsonEscape[c1]|jsonEscape[c2]|jsonEscape[c3] == 0 {
					dst = append(dst, c0, c1, c2, c3)
					i += 8
					continue
				}
			}
		}
		c := uint16(b[i]) | uint16(b[i+1])<<8
		i += 2
		if c < 0x80 {
			if esc {
				dst = appendEscapedASCII(dst, byte(c))
			} else {
				dst = append(dst, byte(c))
			}
			continue
		}
		r := rune(c)
		if utf16.IsSurrogate(r) {
			r = utf8.RuneError
			if c < 0xdc00 && i+1 < n {
				c2 := uint16(b[i]) | uint16(b[i+1])<<8
				if c2 >= 0xdc00 && c2 < 0xe000 {
					r = utf16.DecodeRune(rune(c), rune(c2))
					i += 2
				}
			}
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// cp1252 maps Windows-1252 bytes 0x80..0x9f; bytes it leaves undefined keep their code point.
var cp1252 = [32]rune{
	0x20ac, 0x81, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8d, 0x017d, 0x8f,
	0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x9d, 0x017e, 0x0178,
}

// appendANSI decodes Windows-1252 text (the crate's default ANSI code page), leaving out
// NUL bytes.
func appendANSI(dst, b []byte, esc bool) []byte {
	for _, c := range b {
		switch {
		case c == 0:
		case c < 0x80:
			if esc {
				dst = appendEscapedASCII(dst, c)
			} else {
				dst = append(dst, c)
			}
		case c < 0xa0:
			dst = utf8.AppendRune(dst, cp1252[c-0x80])
		default:
			dst = utf8.AppendRune(dst, rune(c))
		}
	}
	return dst
}

// appendEscapedString appends s JSON-escaped (without quotes).
func appendEscapedString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 {
			dst = appendEscapedASCII(dst, c)
		} else {
			dst = append(dst, c)
		}
	}
	return dst
}
