package cef

import (
	"fmt"
	"strconv"
	"strings"
)

// LEEFEvent is one decoded LEEF record (IBM QRadar's Log Event Extended Format, 1.0 or 2.0).
type LEEFEvent struct {
	// Version is "1.0" or "2.0".
	Version        string
	Vendor         string
	Product        string
	ProductVersion string
	// EventID identifies the kind of event for the device.
	EventID string
	// Delimiter separates the attributes: a tab unless a LEEF 2.0 header names another. A LEEF
	// 1.0 record whose attributes hold no tab is read as space-separated, as many devices send it;
	// Delimiter is then " ".
	Delimiter string
	// Attributes holds the key=value pairs in the order they were sent.
	Attributes []Extension
	// Attr maps each key to its value; for a repeated key, the last value.
	Attr map[string]string
	// Prefix is whatever preceded the "LEEF:" marker, usually a syslog header, with trailing
	// spaces removed.
	Prefix string
}

// Get returns the value of an attribute.
func (e *LEEFEvent) Get(key string) (string, bool) {
	v, ok := e.Attr[key]
	return v, ok
}

// ParseLEEF parses one LEEF 1.0 or 2.0 record, alone or after a syslog header. It copies line once.
func ParseLEEF(line []byte) (LEEFEvent, error) { return ParseLEEFString(string(line)) }

// ParseLEEFString parses one LEEF record held in a string. The event's strings share its memory.
func ParseLEEFString(line string) (LEEFEvent, error) {
	s := trimTrailers(line)
	at, i, err := findMarker(s, "LEEF:", "leef", ErrNotLEEF)
	if err != nil {
		return LEEFEvent{}, err
	}
	ev := LEEFEvent{Prefix: strings.TrimRight(s[:at], " \t"), Delimiter: "\t"}
	v, i, closed := headerField(s, i)
	switch strings.TrimSpace(v) {
	case "1.0", "1":
		ev.Version = "1.0"
	case "2.0", "2":
		ev.Version = "2.0"
	default:
		return LEEFEvent{}, malformed("leef", "version", at+5, fmt.Sprintf("unsupported LEEF version %q (want 1.0 or 2.0)", v))
	}
	names := [...]string{"vendor", "product", "product version", "event id"}
	var vals [len(names)]string
	for n := range names {
		if !closed {
			return LEEFEvent{}, malformed("leef", names[n], len(s),
				fmt.Sprintf("missing: the header ends after %d of its 5 fields", n+1))
		}
		vals[n], i, closed = headerField(s, i)
	}
	ev.Vendor, ev.Product, ev.ProductVersion, ev.EventID = vals[0], vals[1], vals[2], vals[3]
	if !closed {
		return ev, nil // no attributes
	}

	if ev.Version == "2.0" {
		// The delimiter field is optional in practice: take it only when it looks like one.
		if bar := strings.IndexByte(s[i:], '|'); bar >= 0 {
			if d, ok := delimiter(s[i : i+bar]); ok {
				ev.Delimiter, i = d, i+bar+1
			} else if !strings.Contains(s[i:i+bar], "=") {
				return LEEFEvent{}, malformed("leef", "delimiter", i, fmt.Sprintf("%q is neither a character nor a hex code", s[i:i+bar]))
			}
		}
	}
	attrs, err := parseAttributes(s, i, &ev.Delimiter)
	if err != nil {
		return LEEFEvent{}, err
	}
	ev.Attributes = attrs
	ev.Attr = make(map[string]string, len(attrs))
	for _, a := range attrs {
		ev.Attr[a.Key] = a.Value
	}
	return ev, nil
}

// delimiter decodes a LEEF 2.0 delimiter field: empty (tab), one character, or a hex code point
// written "0x5E", "x5E" or "\x5E".
func delimiter(f string) (string, bool) {
	switch {
	case f == "":
		return "\t", true
	case len(f) == 1 && f != "=":
		return f, true
	}
	hex := f
	for _, p := range []string{"0x", "0X", `\x`, "x", "X"} {
		if h, ok := strings.CutPrefix(f, p); ok {
			hex = h
			break
		}
	}
	if hex == f || len(hex) == 0 || len(hex) > 4 {
		return "", false
	}
	n, err := strconv.ParseUint(hex, 16, 32)
	if err != nil || n == 0 || n == '=' {
		return "", false
	}
	return string(rune(n)), true
}

// parseAttributes splits s[i:] at *delim into key=value pairs. A piece without '=' belongs to the
// value before it (the value held the delimiter). When the delimiter is a tab and there is none,
// the attributes are read space-separated, like CEF extensions without escapes, and *delim
// becomes " ".
func parseAttributes(s string, i int, delim *string) ([]Extension, error) {
	if *delim == "\t" && !strings.Contains(s[i:], "\t") && strings.Contains(s[i:], " ") {
		*delim = " "
		return parseExtension(s, i, false, "leef")
	}
	d := *delim
	attrs := make([]Extension, 0, strings.Count(s[i:], d)+1)
	vstart := 0 // where the last attribute's value starts
	for i <= len(s) {
		end := strings.Index(s[i:], d)
		if end < 0 {
			end = len(s)
		} else {
			end += i
		}
		piece := s[i:end]
		if eq := strings.IndexByte(piece, '='); eq >= 0 {
			key := strings.TrimSpace(piece[:eq])
			if key == "" || strings.ContainsAny(key, " \t") {
				return nil, malformed("leef", "extension", i, fmt.Sprintf("bad attribute key %q", piece[:eq]))
			}
			attrs = append(attrs, Extension{Key: key, Value: piece[eq+1:]})
			vstart = i + eq + 1
		} else if strings.TrimSpace(piece) != "" {
			if len(attrs) == 0 {
				return nil, malformed("leef", "extension", i, fmt.Sprintf("attribute %q has no '='", piece))
			}
			attrs[len(attrs)-1].Value = s[vstart:end]
		}
		i = end + len(d)
	}
	return attrs, nil
}
