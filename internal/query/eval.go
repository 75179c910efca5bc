package query

import (
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

// Case-insensitive here means equal after strings.ToLower (Unicode simple lower-case mapping),
// the comparison the store's Host, User and Process filters use, so that pushing a comparison
// down to the store never changes the answer.

// eval reports whether ev satisfies n; relative times are taken before now.
func eval(n node, ev *event.Event, now time.Time) bool {
	switch n := n.(type) {
	case *andNode:
		for _, x := range n.xs {
			if !eval(x, ev, now) {
				return false
			}
		}
		return true
	case *orNode:
		for _, x := range n.xs {
			if eval(x, ev, now) {
				return true
			}
		}
		return false
	case *notNode:
		return !eval(n.x, ev, now)
	case *cmpNode:
		if n.op == "!=" {
			return !cmpHolds(n, "=", ev, now)
		}
		return cmpHolds(n, n.op, ev, now)
	case *textNode:
		return textMatch(ev, n.lower)
	}
	return false
}

// cmpHolds reports whether op holds between any of the field's values (the ip alias has two)
// and any of the node's values.
func cmpHolds(n *cmpNode, op string, ev *event.Event, now time.Time) bool {
	if n.f.kind == kindTime {
		if ev.Time.IsZero() {
			return false
		}
		return timeCmp(ev.Time, op, n.vals[0].tv.at(now))
	}
	for _, get := range n.f.gets {
		s := get(ev)
		for i := range n.vals {
			if holds(op, s, &n.vals[i]) {
				return true
			}
		}
	}
	return false
}

func holds(op, s string, v *value) bool {
	switch op {
	case "=", "in":
		switch {
		case v.cidr:
			a, err := netip.ParseAddr(s)
			return err == nil && v.pfx.Contains(a.WithZone("").Unmap())
		case v.glob:
			return globMatch(strings.ToLower(s), v.lower)
		case v.account:
			return store.UserMatches(s, v.lower)
		}
		return equalLower(s, v.lower)
	case "~":
		return v.re.MatchString(s)
	}
	// An ordering comparison never holds for a missing (empty) field.
	if s == "" {
		return false
	}
	c := 0
	if n, ok := parseNumber(s); ok && v.isNum {
		switch {
		case n < v.num:
			c = -1
		case n > v.num:
			c = 1
		}
	} else {
		c = strings.Compare(strings.ToLower(s), v.lower)
	}
	switch op {
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	}
	return false
}

func timeCmp(t time.Time, op string, ref time.Time) bool {
	switch op {
	case ">":
		return t.After(ref)
	case ">=":
		return !t.Before(ref)
	case "<":
		return t.Before(ref)
	case "<=":
		return !t.After(ref)
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalLower reports whether strings.ToLower(s) == lower, without allocating for ASCII s.
func equalLower(s, lower string) bool {
	if !isASCII(s) {
		return strings.ToLower(s) == lower
	}
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerASCII(s[i]) != lower[i] {
			return false
		}
	}
	return true
}

// containsLower reports whether strings.ToLower(s) contains lower, without allocating for
// ASCII s.
func containsLower(s, lower string) bool {
	if lower == "" {
		return true
	}
	if !isASCII(s) {
		return strings.Contains(strings.ToLower(s), lower)
	}
	first := lower[0]
	for i := 0; i+len(lower) <= len(s); i++ {
		if lowerASCII(s[i]) != first {
			continue
		}
		j := 1
		for j < len(lower) && lowerASCII(s[i+j]) == lower[j] {
			j++
		}
		if j == len(lower) {
			return true
		}
	}
	return false
}

// textMatch reports whether any string field or unmapped value of ev holds lower, ignoring case.
func textMatch(ev *event.Event, lower string) bool {
	for _, get := range textGets {
		if containsLower(get(ev), lower) {
			return true
		}
	}
	for _, v := range ev.Unmapped {
		if containsLower(v, lower) {
			return true
		}
	}
	return false
}

// globMatch reports whether s matches pattern p, where * matches any run of bytes and every
// other byte matches itself. It runs in O(len(s)*len(p)) time at worst, without recursion.
func globMatch(s, p string) bool {
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			si++
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
