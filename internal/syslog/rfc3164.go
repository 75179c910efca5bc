package syslog

import (
	"strings"
	"time"
)

// parse3164 reads a BSD-style line from s[i:], after the PRI if there was one. It reports false only
// when the line has neither a PRI nor a timestamp, that is, when it is not syslog.
func (p *Parser) parse3164(s string, i int, m *Message) bool {
	ts, next, host, ok := p.header3164(s, i)
	if !ok {
		if !m.HasPriority {
			return false
		}
		// RFC 3164 section 4.3.2: without a valid TIMESTAMP, everything after the PRI is content.
		// A leading TAG is still worth taking ("<13>myapp[42]: ...", Cisco "%SYS-5-...: ...").
		tagAndMsg(s, next, m)
		return true
	}
	m.Timestamp = ts
	i = skipSpaces(s, next)
	if host != "" {
		m.Hostname = host
	} else if _, _, _, isTag := scanTag(s, i); !isTag {
		if tok := token(s, i); isHostname(tok) {
			m.Hostname = tok
			i = skipSpaces(s, i+len(tok))
			// Cisco ASA with "logging device-id": "fw01 : %ASA-6-...".
			if i < len(s) && s[i] == ':' && (i+1 == len(s) || s[i+1] == ' ') {
				i = skipSpaces(s, i+1)
			}
			// F5 BIG-IP puts the level between hostname and tag: "bigip1 notice mcpd[6042]: ...".
			if lvl := token(s, i); isLevelWord(lvl) {
				if j := skipSpaces(s, i+len(lvl)); j < len(s) {
					if _, _, _, isTag := scanTag(s, j); isTag {
						i = j
					}
				}
			}
		}
	}
	tagAndMsg(s, i, m)
	return true
}

// tagAndMsg reads an optional TAG at s[i:] into AppName and ProcID and the rest into Message.
func tagAndMsg(s string, i int, m *Message) {
	if name, pid, end, ok := scanTag(s, i); ok {
		m.AppName, m.ProcID = name, pid
		i = skipSpaces(s, end)
	}
	m.Message = stripBOM(s[i:])
}

// scanTag reads a TAG at s[i:]: "name:", "name[pid]:" or "name[pid]", followed by a space or the
// end of the line. A name does not start with a digit, so Cisco sequence numbers ("123:") and
// Palo Alto CSV ("1,2024/03/05") are not tags.
func scanTag(s string, i int) (name, pid string, end int, ok bool) {
	j := i
	for j < len(s) && isTagChar(s[j]) {
		j++
	}
	if j == i || isDigit(s[i]) {
		return "", "", i, false
	}
	name = s[i:j]
	switch {
	case j < len(s) && s[j] == '[':
		k := strings.IndexByte(s[j+1:], ']')
		if k < 0 {
			return "", "", i, false
		}
		pid = s[j+1 : j+1+k]
		if strings.ContainsAny(pid, " \t[") {
			return "", "", i, false
		}
		j += k + 2
		if j < len(s) && s[j] == ':' {
			j++
		} else if pid == "" || !allDigits(pid) {
			// Without the colon, only "name[digits]" is taken for a tag.
			return "", "", i, false
		}
	case j < len(s) && s[j] == ':':
		j++
	default:
		return "", "", i, false
	}
	if j < len(s) && s[j] != ' ' && s[j] != '\t' {
		return "", "", i, false
	}
	return name, pid, j, true
}

func isTagChar(c byte) bool {
	return c > ' ' && c < 0x7f && c != ':' && c != '[' && c != ']' && c != '=' && c != '"' && c != ','
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// token returns the run of non-space bytes at s[i:].
func token(s string, i int) string {
	j := i
	for j < len(s) && s[j] != ' ' && s[j] != '\t' {
		j++
	}
	return s[i:j]
}

// isHostname reports whether tok can be a HOSTNAME: a name, an IPv4 or an IPv6 address.
func isHostname(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(isAlpha(c) || isDigit(c) || c == '.' || c == '-' || c == '_' || c == ':' || c == '%') {
			return false
		}
	}
	return true
}

func isLevelWord(tok string) bool {
	switch tok {
	case "emerg", "alert", "crit", "err", "error", "warning", "warn", "notice", "info", "debug":
		return true
	}
	return false
}

// header3164 finds the timestamp of a BSD-style header at s[i:], along with the Cisco forms around
// it: a sequence number ("123: ") and an origin hostname ("router1: ") before it. It returns the
// index after the timestamp. Without a timestamp ok is false and next is where content starts.
func (p *Parser) header3164(s string, i int) (ts time.Time, next int, host string, ok bool) {
	if t, end, ok := p.stamp3164(s, i); ok {
		return t, end, "", true
	}
	j := i
	if k, ok := ciscoSeq(s, j); ok {
		j = k
		if t, end, ok := p.stamp3164(s, j); ok {
			return t, end, "", true
		}
	}
	if tok := token(s, j); len(tok) > 1 && tok[len(tok)-1] == ':' && isHostname(tok[:len(tok)-1]) {
		k := skipSpaces(s, j+len(tok))
		if t, end, ok := p.stamp3164(s, k); ok {
			return t, end, tok[:len(tok)-1], true
		}
	}
	if j > i && j < len(s) && s[j] == '%' {
		// Cisco with sequence numbers but no timestamps: "<189>123: %SYS-5-CONFIG_I: ...".
		return time.Time{}, j, "", false
	}
	return time.Time{}, i, "", false
}

// ciscoSeq reads a Cisco sequence number "000123: " at s[i:] and returns the index after it.
func ciscoSeq(s string, i int) (int, bool) {
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j == i || j-i > 12 || j+1 >= len(s) || s[j] != ':' || s[j+1] != ' ' {
		return i, false
	}
	return skipSpaces(s, j+1), true
}

// stamp3164 reads a timestamp at s[i:]: BSD "Mmm dd [yyyy] hh:mm:ss[.frac]" or ISO 8601, possibly
// prefixed by Cisco's '*' (clock not synchronized) or '.' (synchronization lost), possibly followed
// by a zone abbreviation and a colon (Cisco, "... 18:46:11.213 UTC:"). It must end at a space or
// the end of the line.
func (p *Parser) stamp3164(s string, i int) (time.Time, int, bool) {
	if i < len(s) && (s[i] == '*' || s[i] == '.') {
		i++
	}
	if i >= len(s) {
		return time.Time{}, i, false
	}
	var (
		t   time.Time
		end int
	)
	switch {
	case isAlpha(s[i]):
		var ok bool
		if t, end, ok = p.bsdStamp(s, i); !ok {
			return time.Time{}, i, false
		}
	case isDigit(s[i]):
		var reason string
		if t, end, reason = parseISO(s, i, p.loc(), true); reason != "" {
			return time.Time{}, i, false
		}
	default:
		return time.Time{}, i, false
	}
	if end < len(s) && s[end] == ':' {
		end++
	}
	if end < len(s) && s[end] != ' ' && s[end] != '\t' {
		return time.Time{}, i, false
	}
	return t, end, true
}

// bsdStamp reads "Mmm dd [yyyy] hh:mm:ss[.frac][ ZONE:]" at s[i:]. The day may be padded with a
// space ("Mar  5") or not. Without a year, the year is chosen near the parser's reference time.
func (p *Parser) bsdStamp(s string, i int) (time.Time, int, bool) {
	if len(s)-i < 14 {
		return time.Time{}, i, false
	}
	mon := monthIndex(s[i : i+3])
	j := i + 3
	if mon == 0 || s[j] != ' ' {
		return time.Time{}, i, false
	}
	j = skipSpaces(s, j)
	day, j, ok := digits(s, j, 1, 2)
	if !ok || j >= len(s) || s[j] != ' ' {
		return time.Time{}, i, false
	}
	j = skipSpaces(s, j)
	year := 0
	if y, k, ok := digits(s, j, 4, 4); ok && k < len(s) && s[k] == ' ' {
		year, j = y, skipSpaces(s, k)
	}
	hh, mm, ss, ns, j, ok := clock(s, j)
	if !ok {
		return time.Time{}, i, false
	}
	loc := p.loc()
	// A zone abbreviation is taken only when a colon follows it (Cisco), so a hostname is not
	// mistaken for one.
	if j < len(s) && s[j] == ' ' {
		k := j + 1
		for k < len(s) && k-j <= 5 && s[k] >= 'A' && s[k] <= 'Z' {
			k++
		}
		if k < len(s) && s[k] == ':' {
			if zl, known := zoneAbbrev(s[j+1 : k]); known {
				if zl != nil {
					loc = zl
				}
				j = k
			}
		}
	}
	var t time.Time
	if year != 0 {
		t = time.Date(year, time.Month(mon), day, hh, mm, ss, ns, loc)
		if t.Day() != day {
			return time.Time{}, i, false
		}
	} else if t, ok = p.nearestYear(time.Month(mon), day, hh, mm, ss, ns, loc); !ok {
		return time.Time{}, i, false
	}
	return t, j, true
}

// nearestYear places a yearless date in the year nearest the reference time that is not more than a
// day after it. A 29 February goes to the latest leap year that qualifies.
func (p *Parser) nearestYear(mon time.Month, day, hh, mm, ss, ns int, loc *time.Location) (time.Time, bool) {
	if day < 1 || day > 31 {
		return time.Time{}, false
	}
	ref := p.Reference
	if ref.IsZero() {
		ref = time.Now()
	}
	limit := ref.Add(24 * time.Hour)
	y0 := ref.In(loc).Year()
	for y := y0 + 1; y >= y0-8; y-- {
		t := time.Date(y, mon, day, hh, mm, ss, ns, loc)
		if t.Day() != day || t.After(limit) {
			continue
		}
		return t, true
	}
	return time.Time{}, false
}

func monthIndex(m string) int {
	if len(m) != 3 {
		return 0
	}
	var b [3]byte
	for k := 0; k < 3; k++ {
		b[k] = m[k] | 0x20
	}
	switch string(b[:]) {
	case "jan":
		return 1
	case "feb":
		return 2
	case "mar":
		return 3
	case "apr":
		return 4
	case "may":
		return 5
	case "jun":
		return 6
	case "jul":
		return 7
	case "aug":
		return 8
	case "sep":
		return 9
	case "oct":
		return 10
	case "nov":
		return 11
	case "dec":
		return 12
	}
	return 0
}

// zoneAbbrev recognizes the zone abbreviations Cisco devices print. It returns UTC for UTC and
// GMT and nil for the others, whose offsets are ambiguous: those timestamps use the parser's
// Location.
func zoneAbbrev(z string) (*time.Location, bool) {
	switch z {
	case "UTC", "GMT", "Z":
		return time.UTC, true
	case "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT", "AKST", "AKDT", "HST",
		"CET", "CEST", "EET", "EEST", "WET", "WEST", "BST", "IST", "JST", "KST", "AEST", "AEDT", "MSK":
		return nil, true
	}
	return nil, false
}
