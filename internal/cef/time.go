package cef

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ParseTime parses a CEF time stamp (the rt, start, end and other Time Stamp keys) in any of the
// forms the specification allows, and the ones devices send anyway:
//
//   - milliseconds since the epoch ("1709633722123"); a number below 10^11 is taken for seconds,
//     as some devices send, since as milliseconds it would fall in 1970-1973
//   - "MMM dd yyyy HH:mm:ss[.SSS][ zzz]", also the default LEEF devTime form
//   - "MMM dd HH:mm:ss[.SSS][ zzz]", placed in the year nearest now that is not more than a day ahead
//   - ISO 8601 / RFC 3339 ("2024-03-05T10:15:22.123Z", "2024-03-05 10:15:22")
//
// zzz is UTC, GMT, Z, a numeric offset (+0100, +01:00, GMT+01:00), a common abbreviation (EST,
// CET, JST...; CST is US Central, IST India) or an IANA name (Europe/Berlin). Without a zone the
// time is in loc; nil means UTC.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("%w: empty", ErrTime)
	}
	switch {
	case isDigit(s[0]) && strings.IndexByte(s, '-') < 0 && strings.IndexByte(s, ':') < 0:
		return epoch(s)
	case isAlpha(s[0]):
		return monthFirst(s, loc)
	}
	for _, layout := range isoLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q", ErrTime, s)
}

var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999",
}

// epoch parses milliseconds (or, below 10^11, seconds) since the epoch, with an optional fraction.
func epoch(s string) (time.Time, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if len(whole) > 18 || !allDigits(whole) || !allDigits(frac) {
		return time.Time{}, fmt.Errorf("%w: %q is not a number of milliseconds", ErrTime, s)
	}
	n, _ := strconv.ParseInt(whole, 10, 64)
	unit := time.Millisecond
	if n < 1e11 {
		unit = time.Second
	}
	var sub time.Duration
	scale := unit / 10
	for i := 0; i < len(frac) && scale > 0; i++ {
		sub += time.Duration(frac[i]-'0') * scale
		scale /= 10
	}
	if unit == time.Millisecond {
		return time.UnixMilli(n).Add(sub).UTC(), nil
	}
	return time.Unix(n, 0).Add(sub).UTC(), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// monthFirst parses "MMM dd [yyyy] HH:mm:ss[.SSS][ zone]".
func monthFirst(s string, loc *time.Location) (time.Time, error) {
	bad := func(why string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("%w: %q: %s", ErrTime, s, why)
	}
	f := strings.Fields(s)
	if len(f) < 3 {
		return bad(`want "MMM dd yyyy HH:mm:ss"`)
	}
	mon := monthIndex(f[0])
	if mon == 0 {
		return bad("unknown month")
	}
	day, err := strconv.Atoi(f[1])
	if err != nil || day < 1 || day > 31 {
		return bad("bad day")
	}
	year, rest := 0, f[2:]
	if len(rest[0]) == 4 && allDigits(rest[0]) {
		year, _ = strconv.Atoi(rest[0])
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return bad("no time of day")
	}
	hh, mm, ss, ns, ok := clock(rest[0])
	if !ok {
		return bad("bad time of day")
	}
	if len(rest) > 1 {
		zl, err := zone(strings.Join(rest[1:], " "))
		if err != nil {
			return bad(err.Error())
		}
		loc = zl
	}
	if year != 0 {
		t := time.Date(year, time.Month(mon), day, hh, mm, ss, ns, loc)
		if t.Day() != day {
			return bad("day out of range")
		}
		return t, nil
	}
	now := time.Now()
	y0 := now.In(loc).Year()
	for y := y0 + 1; y >= y0-8; y-- {
		t := time.Date(y, time.Month(mon), day, hh, mm, ss, ns, loc)
		if t.Day() == day && !t.After(now.Add(24*time.Hour)) {
			return t, nil
		}
	}
	return bad("day out of range")
}

// clock parses "HH:mm:ss[.SSS]".
func clock(s string) (hh, mm, ss, ns int, ok bool) {
	hms, frac, _ := strings.Cut(s, ".")
	if len(hms) != 8 || hms[2] != ':' || hms[5] != ':' || !allDigits(frac) || len(frac) > 9 {
		return
	}
	if !allDigits(hms[:2]) || !allDigits(hms[3:5]) || !allDigits(hms[6:]) {
		return
	}
	hh, _ = strconv.Atoi(hms[:2])
	mm, _ = strconv.Atoi(hms[3:5])
	ss, _ = strconv.Atoi(hms[6:])
	if hh > 23 || mm > 59 || ss > 60 {
		return
	}
	for i, scale := 0, 100000000; i < len(frac); i, scale = i+1, scale/10 {
		ns += int(frac[i]-'0') * scale
	}
	return hh, mm, ss, ns, true
}

func monthIndex(m string) int {
	if len(m) < 3 {
		return 0
	}
	switch strings.ToLower(m[:3]) {
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

// abbrevs are the zone abbreviations ParseTime accepts, with their offsets in minutes. Where an
// abbreviation is ambiguous the choice is the one ArcSight connectors assume (CST is US Central).
var abbrevs = map[string]int{
	"UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "WET": 0,
	"EST": -5 * 60, "EDT": -4 * 60, "CST": -6 * 60, "CDT": -5 * 60,
	"MST": -7 * 60, "MDT": -6 * 60, "PST": -8 * 60, "PDT": -7 * 60,
	"AKST": -9 * 60, "AKDT": -8 * 60, "HST": -10 * 60,
	"BST": 60, "CET": 60, "WEST": 60, "CEST": 2 * 60, "EET": 2 * 60, "EEST": 3 * 60, "MSK": 3 * 60,
	"IST": 5*60 + 30, "SGT": 8 * 60, "HKT": 8 * 60, "JST": 9 * 60, "KST": 9 * 60,
	"AEST": 10 * 60, "AEDT": 11 * 60, "NZST": 12 * 60, "NZDT": 13 * 60,
}

var (
	// ianaMu guards iana, the IANA zones loaded so far.
	ianaMu sync.Mutex
	iana   = map[string]*time.Location{}
)

func zone(z string) (*time.Location, error) {
	if off, ok := abbrevs[z]; ok {
		if off == 0 {
			return time.UTC, nil
		}
		return time.FixedZone(z, off*60), nil
	}
	if num, ok := strings.CutPrefix(z, "GMT"); ok {
		z = num
	} else if num, ok := strings.CutPrefix(z, "UTC"); ok {
		z = num
	}
	if len(z) > 1 && (z[0] == '+' || z[0] == '-') {
		d := strings.ReplaceAll(z[1:], ":", "")
		if (len(d) == 4 || len(d) == 2) && allDigits(d) {
			h, _ := strconv.Atoi(d[:2])
			m := 0
			if len(d) == 4 {
				m, _ = strconv.Atoi(d[2:])
			}
			if h <= 23 && m <= 59 {
				off := (h*60 + m) * 60
				if z[0] == '-' {
					off = -off
				}
				return time.FixedZone("", off), nil
			}
		}
		return nil, fmt.Errorf("bad zone offset %q", z)
	}
	if strings.Contains(z, "/") && !strings.Contains(z, "..") {
		ianaMu.Lock()
		defer ianaMu.Unlock()
		if l, ok := iana[z]; ok {
			return l, nil
		}
		l, err := time.LoadLocation(z)
		if err != nil {
			return nil, fmt.Errorf("unknown time zone %q", z)
		}
		iana[z] = l
		return l, nil
	}
	return nil, fmt.Errorf("unknown time zone %q", z)
}
