// Package cef decodes ArcSight Common Event Format (CEF) and IBM QRadar Log Event Extended Format
// (LEEF) records. It sits beside package syslog at the front of vigil's pipeline: the syslog
// listeners and the file importer find CEF or LEEF in a message (or a whole line) and hand it here;
// the ingest stage maps the resulting Event onto vigil's normalized event, using the key dictionary
// (Lookup) and the time helper (ParseTime).
//
// Parse and ParseLEEF accept a record alone or after a syslog header: they find the "CEF:" or
// "LEEF:" marker and return what came before it as Prefix, for the caller to parse with package
// syslog. Nothing here panics on input; errors are *ParseError values naming the field and the byte
// offset.
package cef

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Extension is one key=value pair of a CEF extension or a LEEF attribute list, its value unescaped.
type Extension struct {
	Key   string
	Value string
}

// Event is one decoded CEF record. Every string shares the memory of the parsed line unless
// unescaping needed a copy.
type Event struct {
	// Version is the CEF version: 0 or 1.
	Version       int
	DeviceVendor  string
	DeviceProduct string
	DeviceVersion string
	// SignatureID is the Device Event Class ID: what kind of event this is, for the device.
	SignatureID string
	// Name is the human-readable event name.
	Name string
	// Severity is 0 to 10. A severity word maps to the top of its range (Low 3, Medium 6, High 8,
	// Very-High 10); Unknown, anything unrecognized and numbers out of range give -1.
	Severity int
	// SeverityText is the severity field as sent.
	SeverityText string
	// Extensions holds the extension pairs in the order they were sent, duplicates included.
	Extensions []Extension
	// Ext maps each extension key to its value; for a repeated key, the last value.
	Ext map[string]string
	// Prefix is whatever preceded the "CEF:" marker, usually a syslog header, with trailing
	// spaces removed. It is empty for a bare CEF record.
	Prefix string
}

// Get returns the value of an extension key. It falls back to the key's other name in the
// dictionary, so Get("src") finds "sourceAddress=" and Get("sourceAddress") finds "src=".
func (e *Event) Get(key string) (string, bool) {
	if v, ok := e.lookup(key); ok {
		return v, true
	}
	if info, ok := Lookup(key); ok {
		alt := info.Key
		if alt == key {
			alt = info.FullName
		}
		if alt != key {
			return e.lookup(alt)
		}
	}
	return "", false
}

func (e *Event) lookup(key string) (string, bool) {
	if e.Ext != nil {
		v, ok := e.Ext[key]
		return v, ok
	}
	for i := len(e.Extensions) - 1; i >= 0; i-- {
		if e.Extensions[i].Key == key {
			return e.Extensions[i].Value, true
		}
	}
	return "", false
}

// Labeled resolves the custom fields that come with a label key (cs1 and cs1Label, cn2 and
// cn2Label, flexString1 and flexString1Label, deviceCustomDate1 and deviceCustomDate1Label, and
// any other "xLabel" beside an "x") into a map from the label to the value. Double quotes around a
// label, as CyberArk sends them, are removed. Labels that are empty or whose field is absent are
// left out.
func (e *Event) Labeled() map[string]string {
	out := make(map[string]string)
	for _, x := range e.Extensions {
		base, ok := strings.CutSuffix(x.Key, "Label")
		label := x.Value
		if len(label) >= 2 && label[0] == '"' && label[len(label)-1] == '"' {
			label = label[1 : len(label)-1]
		}
		if !ok || base == "" || label == "" {
			continue
		}
		if v, ok := e.Get(base); ok {
			out[label] = v
		}
	}
	return out
}

// Time parses the time-stamp extension key (rt, start, end, art, deviceCustomDate1...) with
// ParseTime. It returns the zero Time and a nil error when the key is absent.
func (e *Event) Time(key string, loc *time.Location) (time.Time, error) {
	v, ok := e.Get(key)
	if !ok {
		return time.Time{}, nil
	}
	t, err := ParseTime(v, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("cef: extension %s: %w", key, err)
	}
	return t, nil
}

// Level is the CEF severity band.
type Level uint8

// The bands of the CEF specification: 0-3 Low, 4-6 Medium, 7-8 High, 9-10 Very-High.
const (
	LevelUnknown Level = iota
	LevelLow
	LevelMedium
	LevelHigh
	LevelVeryHigh
)

// String returns the CEF word for the band: "Unknown", "Low", "Medium", "High" or "Very-High".
func (l Level) String() string {
	switch l {
	case LevelLow:
		return "Low"
	case LevelMedium:
		return "Medium"
	case LevelHigh:
		return "High"
	case LevelVeryHigh:
		return "Very-High"
	}
	return "Unknown"
}

// LevelOf returns the band of a 0-10 severity; LevelUnknown for anything else.
func LevelOf(severity int) Level {
	switch {
	case severity < 0 || severity > 10:
		return LevelUnknown
	case severity <= 3:
		return LevelLow
	case severity <= 6:
		return LevelMedium
	case severity <= 8:
		return LevelHigh
	}
	return LevelVeryHigh
}

// Level returns the event's severity band.
func (e *Event) Level() Level { return LevelOf(e.Severity) }

// ParseSeverity maps a CEF severity field to 0-10: a number as it is, a word to the top of its
// band (Low 3, Medium 6, High 8, Very-High 10). It returns -1 for Unknown, for numbers out of range
// and for anything else. Words are matched without regard to case, and "Very High" is accepted.
func ParseSeverity(s string) int {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 10 {
			return -1
		}
		return n
	}
	switch strings.ToLower(s) {
	case "low":
		return 3
	case "medium":
		return 6
	case "high":
		return 8
	case "very-high", "very high", "veryhigh":
		return 10
	}
	return -1
}

var headerFields = [...]string{"device vendor", "device product", "device version", "signature id", "name", "severity"}

// Parse parses one CEF record, alone or after a syslog header. It copies line once.
func Parse(line []byte) (Event, error) { return ParseString(string(line)) }

// ParseString parses one CEF record held in a string. The Event's strings share its memory.
func ParseString(line string) (Event, error) {
	s := trimTrailers(line)
	at, i, err := findMarker(s, "CEF:", "cef", ErrNotCEF)
	if err != nil {
		return Event{}, err
	}
	ev := Event{Prefix: strings.TrimRight(s[:at], " \t")}

	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j >= len(s) || s[j] != '|' {
		return Event{}, malformed("cef", "version", j, "expected '|' after the version")
	}
	switch s[i:j] {
	case "0":
		ev.Version = 0
	case "1":
		ev.Version = 1
	default:
		return Event{}, malformed("cef", "version", i, fmt.Sprintf("unsupported CEF version %q (want 0 or 1)", s[i:j]))
	}
	i = j + 1

	var vals [len(headerFields)]string
	for n := range headerFields {
		v, next, closed := headerField(s, i)
		if !closed && n < len(headerFields)-1 {
			return Event{}, malformed("cef", headerFields[n+1], len(s),
				fmt.Sprintf("missing: the header ends after %d of its 7 fields", n+2))
		}
		vals[n], i = v, next
	}
	ev.DeviceVendor, ev.DeviceProduct, ev.DeviceVersion = vals[0], vals[1], vals[2]
	ev.SignatureID, ev.Name, ev.SeverityText = vals[3], vals[4], vals[5]
	ev.Severity = ParseSeverity(ev.SeverityText)

	exts, err := parseExtension(s, i, true, "cef")
	if err != nil {
		return Event{}, err
	}
	ev.Extensions = exts
	ev.Ext = make(map[string]string, len(exts))
	for _, x := range exts {
		ev.Ext[x.Key] = x.Value
	}
	return ev, nil
}

// findMarker finds the first marker ("CEF:" or "LEEF:") that, after optional spaces, is followed
// by a digit. It returns the marker's offset and the offset of that digit.
func findMarker(s, marker, format string, notErr error) (at, version int, err error) {
	first := -1
	for from := 0; from < len(s); {
		k := strings.Index(s[from:], marker)
		if k < 0 {
			break
		}
		at = from + k
		if first < 0 {
			first = at
		}
		v := at + len(marker)
		for v < len(s) && s[v] == ' ' {
			v++
		}
		if v < len(s) && isDigit(s[v]) {
			return at, v, nil
		}
		from = at + len(marker)
	}
	if first >= 0 {
		return 0, 0, malformed(format, "version", first+len(marker), "expected a version number")
	}
	return 0, 0, &ParseError{Format: format, Field: "header", Reason: fmt.Sprintf("no %q marker", marker), Err: notErr}
}

// headerField reads a header field starting at s[i] up to the next unescaped '|', resolving \| and
// \\. closed reports whether a '|' ended it (rather than the end of the line); next is the offset
// after that '|'.
func headerField(s string, i int) (v string, next int, closed bool) {
	j, escaped := i, false
	for j < len(s) && s[j] != '|' {
		if s[j] == '\\' && j+1 < len(s) && (s[j+1] == '|' || s[j+1] == '\\') {
			escaped = true
			j++
		}
		j++
	}
	v = s[i:j]
	if escaped {
		v = unescape(v, func(c byte) (byte, bool) { return c, c == '|' || c == '\\' })
	}
	if j < len(s) {
		return v, j + 1, true
	}
	return v, j, false
}

// unescape resolves backslash escapes for which resolve says ok; other backslashes stay.
func unescape(v string, resolve func(byte) (byte, bool)) string {
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) {
			if r, ok := resolve(v[i+1]); ok {
				b.WriteByte(r)
				i++
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func resolveExt(c byte) (byte, bool) {
	switch c {
	case '\\', '=', '|':
		return c, true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	}
	return 0, false
}

// parseExtension reads "key=value key=value ..." from s[i:]. A value runs until the space before
// the next valid key that is followed by an unescaped '='; trailing spaces are dropped. With
// escapes set, \= \\ \n \r and \| are resolved (CEF); without, backslashes are plain (LEEF).
func parseExtension(s string, i int, escapes bool, format string) ([]Extension, error) {
	i = skipSpaces(s, i)
	if i >= len(s) {
		return nil, nil
	}
	if !isKeyStart(s[i]) {
		return nil, malformed(format, "extension", i, fmt.Sprintf("expected a key, found %q", s[i]))
	}
	k := i
	for k < len(s) && isKeyChar(s[k]) {
		k++
	}
	if k >= len(s) || s[k] != '=' {
		return nil, malformed(format, "extension", k, fmt.Sprintf("key %q is not followed by '='", s[i:k]))
	}
	exts := make([]Extension, 0, strings.Count(s[k:], "="))
	key, vstart := s[i:k], k+1
	for j := vstart; ; {
		next := -1 // where the next key starts
		escaped := false
		for j < len(s) {
			c := s[j]
			if c == '\\' && escapes {
				escaped = true
				j += 2
				continue
			}
			if c == '=' {
				ks := j
				for ks > vstart && isKeyChar(s[ks-1]) {
					ks--
				}
				if ks < j && ks > vstart && s[ks-1] == ' ' && isKeyStart(s[ks]) {
					next = ks
					break
				}
			}
			j++
		}
		vend := len(s)
		if next >= 0 {
			vend = next - 1
		}
		v := strings.TrimRight(s[vstart:vend], " \t")
		if escaped && strings.IndexByte(v, '\\') >= 0 {
			v = unescape(v, resolveExt)
		}
		exts = append(exts, Extension{Key: key, Value: v})
		if next < 0 {
			return exts, nil
		}
		key, vstart = s[next:j], j+1
		j = vstart
	}
}

// isKeyStart and isKeyChar define extension keys: a letter, digit or '_', then also '.', ',', '['
// and ']' (ArcSight's "ad.key" and "key[0]" forms).
func isKeyStart(c byte) bool { return isAlpha(c) || isDigit(c) || c == '_' }

func isKeyChar(c byte) bool {
	return isKeyStart(c) || c == '.' || c == ',' || c == '[' || c == ']'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func skipSpaces(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// trimTrailers drops what framing and editors leave at the end of a line: CR, LF, NUL, spaces and
// tabs, in any mix.
func trimTrailers(s string) string {
	n := len(s)
	for n > 0 && (s[n-1] == '\n' || s[n-1] == '\r' || s[n-1] == 0 || s[n-1] == ' ' || s[n-1] == '\t') {
		n--
	}
	return s[:n]
}
