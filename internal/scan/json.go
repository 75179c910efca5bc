package scan

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the JSON of d to b: the bytes encoding/json marshals d into when HTML
// escaping is off (json.Encoder with SetEscapeHTML(false)), without the newline. It exists
// because a scan prints its detections by the thousand, and encoding them by reflection cost
// a tenth of the CPU of a whole scan. The error is the one encoding/json would report (a
// timestamp it cannot render); b is then returned unchanged.
func (d *Detection) AppendJSON(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, `{"rule_id":`...)
	b = appendJSONString(b, d.RuleID)
	b = append(b, `,"rule_title":`...)
	b = appendJSONString(b, d.RuleTitle)
	b = append(b, `,"level":`...)
	b = appendJSONString(b, d.Level)
	b = append(b, `,"timestamp":"`...)
	tb, err := d.Timestamp.AppendText(b) // what Time.MarshalJSON writes between its quotes
	if err != nil {
		return b[:start], err
	}
	b = tb
	b = append(b, `","file":`...)
	b = appendJSONString(b, d.File)
	b = append(b, `,"record":`...)
	b = strconv.AppendInt(b, d.Record, 10)
	b = append(b, `,"tags":`...)
	b = appendJSONStrings(b, d.Tags)
	if d.Computer != "" {
		b = append(b, `,"computer":`...)
		b = appendJSONString(b, d.Computer)
	}
	if d.Channel != "" {
		b = append(b, `,"channel":`...)
		b = appendJSONString(b, d.Channel)
	}
	if d.EventID != "" {
		b = append(b, `,"event_id":`...)
		b = appendJSONString(b, d.EventID)
	}
	if len(d.Matches) > 0 {
		b = append(b, `,"matches":[`...)
		for i, m := range d.Matches {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"field":`...)
			b = appendJSONString(b, m.Field)
			b = append(b, `,"value":`...)
			b = appendJSONString(b, m.Value)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if d.Correlation {
		b = append(b, `,"correlation":true`...)
	}
	if len(d.Records) > 0 {
		b = append(b, `,"records":`...)
		b = appendJSONStrings(b, d.Records)
	}
	if len(d.Fields) > 0 {
		// encoding/json writes map keys in sorted order.
		var keysBuf [32]string
		keys := keysBuf[:0]
		for k := range d.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, `,"fields":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, d.Fields[k])
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendJSONStrings appends a string slice as encoding/json does: null when nil.
func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string the way encoding/json does without HTML
// escaping: quotes and backslashes escaped, control characters as \b \f \n \r \t or \u00XX,
// invalid UTF-8 as \ufffd, and U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		for i < len(s) && jsonPlain[s[i]] {
			i++ // most bytes: a tight loop
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

// jsonPlain marks the bytes appendJSONString copies as they are: printable ASCII but for the
// quote and the backslash.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()
