package syslog

import (
	"sync/atomic"
	"time"
)

// parseISO reads "YYYY-MM-DDThh:mm:ss[.frac][Z|±hh:mm|±hhmm]" at s[i:] and returns the index after
// it. Lowercase 't' and 'z' are accepted; so is a space instead of 'T' when allowSpace is set (BSD
// lines written by some daemons). Without an offset the time is in loc. On failure reason says why
// and end is where the problem is.
func parseISO(s string, i int, loc *time.Location, allowSpace bool) (t time.Time, end int, reason string) {
	year, j, ok := digits(s, i, 4, 4)
	if !ok || j >= len(s) || s[j] != '-' {
		return t, j, "expected YYYY-MM-DD"
	}
	mon, j, ok := digits(s, j+1, 2, 2)
	if !ok || j >= len(s) || s[j] != '-' {
		return t, j, "expected YYYY-MM-DD"
	}
	if mon < 1 || mon > 12 {
		return t, j - 2, "month out of range"
	}
	day, j, ok := digits(s, j+1, 2, 2)
	if !ok || j >= len(s) {
		return t, j, "expected YYYY-MM-DD"
	}
	switch c := s[j]; {
	case c == 'T' || c == 't':
	case c == ' ' && allowSpace:
	default:
		return t, j, "expected 'T' between date and time"
	}
	hh, mm, ss, ns, k, ok := clock(s, j+1)
	if !ok {
		return t, j + 1, "expected hh:mm:ss"
	}
	j = k
	if j < len(s) {
		switch c := s[j]; {
		case c == 'Z' || c == 'z':
			loc = time.UTC
			j++
		case c == '+' || c == '-':
			oh, k, ok := digits(s, j+1, 2, 2)
			if !ok {
				return t, j, "bad zone offset"
			}
			if k < len(s) && s[k] == ':' {
				k++
			}
			om, k, ok := digits(s, k, 2, 2)
			if !ok || oh > 23 || om > 59 {
				return t, j, "bad zone offset"
			}
			off := oh*60 + om
			if c == '-' {
				off = -off
			}
			loc, j = fixedZone(off), k
		}
	}
	t = time.Date(year, time.Month(mon), day, hh, mm, ss, ns, loc)
	if t.Day() != day {
		return time.Time{}, i + 8, "day out of range"
	}
	return t, j, ""
}

// clock reads "hh:mm:ss[.frac]" at s[i:]. Fractions longer than nanoseconds are truncated. A leap
// second (ss == 60) is accepted and rolls into the next minute.
func clock(s string, i int) (hh, mm, ss, ns, end int, ok bool) {
	hh, j, ok1 := digits(s, i, 2, 2)
	if !ok1 || j >= len(s) || s[j] != ':' {
		return
	}
	mm, j, ok1 = digits(s, j+1, 2, 2)
	if !ok1 || j >= len(s) || s[j] != ':' {
		return
	}
	ss, j, ok1 = digits(s, j+1, 2, 2)
	if !ok1 || hh > 23 || mm > 59 || ss > 60 {
		return
	}
	if j+1 < len(s) && (s[j] == '.' || s[j] == ',') && isDigit(s[j+1]) {
		j++
		scale := 100000000
		for ; j < len(s) && isDigit(s[j]); j++ {
			ns += int(s[j]-'0') * scale
			scale /= 10
		}
	}
	return hh, mm, ss, ns, j, true
}

// digits reads between lo and hi decimal digits at s[i:].
func digits(s string, i, lo, hi int) (v, end int, ok bool) {
	j := i
	for j < len(s) && j-i < hi && isDigit(s[j]) {
		v = v*10 + int(s[j]-'0')
		j++
	}
	if j-i < lo {
		return 0, i, false
	}
	return v, j, true
}

const maxOffsetMinutes = 24*60 - 1

// zones caches one *time.Location per UTC offset so timestamps with offsets do not allocate.
var zones [2*maxOffsetMinutes + 1]atomic.Pointer[time.Location]

func fixedZone(minutes int) *time.Location {
	if minutes == 0 {
		return time.UTC
	}
	z := &zones[minutes+maxOffsetMinutes]
	if l := z.Load(); l != nil {
		return l
	}
	l := time.FixedZone("", minutes*60)
	z.Store(l)
	return l
}
