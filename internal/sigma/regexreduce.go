package sigma

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A `re` value only asks whether the expression matches somewhere in the value (the match
// itself is not kept: evidence is the whole value), which lets an expression be reduced to a
// smaller one with the same answer (see regexReduce), and some to a plain search for
// literals in order (see litSeq).

// regexReduce returns an expression that matches somewhere in a value exactly when expr
// does, without the parts that cannot change that answer: an optional part at either end
// (x in -k\s\w(x)?), and at either end the repetitions above the minimum (\w{1,64} at the
// end is \w: a value holding \w{1,64} holds \w, and the other way round). Go's matchers do
// work in proportion to the program, which counted repetitions copy. It returns "" when
// nothing changes.
func regexReduce(expr string) string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return ""
	}
	before := re.String()
	re = trimEnd(re, true)
	re = trimEnd(re, false)
	if after := re.String(); after != before {
		return after
	}
	return ""
}

// trimEnd reduces the last (right) or first (!right) part of r. The result r' keeps the
// answer of a search for r in any context: every match of r' is a match of r, and every
// match of r has a prefix (right) or suffix (!right) that matches r'.
func trimEnd(r *syntax.Regexp, right bool) *syntax.Regexp {
	switch r.Op {
	case syntax.OpConcat:
		subs := r.Sub
		for len(subs) > 0 {
			end := len(subs) - 1
			if !right {
				end = 0
			}
			if nullable(subs[end]) {
				// It can match the empty string anywhere: drop it.
				if right {
					subs = subs[:end]
				} else {
					subs = subs[1:]
				}
				continue
			}
			t := trimEnd(subs[end], right)
			subs = append([]*syntax.Regexp(nil), subs...)
			subs[end] = t
			if nullable(t) {
				continue
			}
			break
		}
		switch len(subs) {
		case 0:
			return &syntax.Regexp{Op: syntax.OpEmptyMatch, Flags: r.Flags}
		case 1:
			return subs[0]
		}
		c := *r
		c.Sub = subs
		return &c
	case syntax.OpCapture:
		return trimEnd(r.Sub[0], right)
	case syntax.OpAlternate:
		c := *r
		c.Sub = make([]*syntax.Regexp, len(r.Sub))
		for i, s := range r.Sub {
			c.Sub[i] = trimEnd(s, right)
		}
		return &c
	case syntax.OpPlus:
		return trimEnd(r.Sub[0], right)
	case syntax.OpRepeat:
		if r.Min == 1 {
			return trimEnd(r.Sub[0], right)
		}
		if r.Min > 1 && r.Max != r.Min {
			c := *r
			c.Max = r.Min
			return &c
		}
	}
	return r
}

// nullable reports whether r matches the empty string at any place: without testing an
// assertion such as \b or $ (a part that may match nothing, like x? or x*, qualifies
// whatever x is).
func nullable(r *syntax.Regexp) bool {
	switch r.Op {
	case syntax.OpEmptyMatch, syntax.OpStar, syntax.OpQuest:
		return true
	case syntax.OpLiteral:
		return len(r.Rune) == 0
	case syntax.OpRepeat:
		return r.Min == 0 || nullable(r.Sub[0])
	case syntax.OpPlus, syntax.OpCapture:
		return nullable(r.Sub[0])
	case syntax.OpConcat:
		for _, s := range r.Sub {
			if !nullable(s) {
				return false
			}
		}
		return true
	case syntax.OpAlternate:
		for _, s := range r.Sub {
			if nullable(s) {
				return true
			}
		}
	}
	return false
}

// litSeq is an expression of literals separated by .* (\+.*\+.*\+): it matches a value that
// holds the literals in that order, on one line unless the dots match newlines too. Finding
// each literal at its first place after the previous one decides it in one pass, where Go's
// matchers take time in proportion to the value times the expression.
type litSeq struct {
	lits   []string
	dotAll bool
}

// newLitSeq recognises expr (once reduced, see regexReduce) as a litSeq, or returns nil.
func newLitSeq(expr string) *litSeq {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat {
		return nil
	}
	s := &litSeq{}
	for i, sub := range re.Sub {
		if i%2 == 1 {
			// A gap: .* with the same dot throughout.
			if sub.Op != syntax.OpStar || i+1 == len(re.Sub) {
				return nil
			}
			all := sub.Sub[0].Op == syntax.OpAnyChar
			if !all && sub.Sub[0].Op != syntax.OpAnyCharNotNL || i > 1 && all != s.dotAll {
				return nil
			}
			s.dotAll = all
			continue
		}
		l, ok := plainLiteral(sub)
		if !ok {
			return nil
		}
		s.lits = append(s.lits, l)
	}
	if len(s.lits) < 2 {
		return nil
	}
	return s
}

// plainLiteral returns the text of a literal that matches only itself, byte for byte: no
// case folding of a rune that has other cases, no newline (lines are split on it), and no
// U+FFFD (which the matchers also find for each byte that is not UTF-8).
func plainLiteral(r *syntax.Regexp) (string, bool) {
	if r.Op != syntax.OpLiteral || len(r.Rune) == 0 {
		return "", false
	}
	for _, c := range r.Rune {
		if c == '\n' || c == utf8.RuneError || r.Flags&syntax.FoldCase != 0 && unicode.SimpleFold(c) != c {
			return "", false
		}
	}
	return string(r.Rune), true
}

// match reports whether v holds the literals in order (on one line unless dotAll).
func (s *litSeq) match(v string) bool {
	for {
		line, rest, more := v, "", false
		if !s.dotAll {
			if i := strings.IndexByte(v, '\n'); i >= 0 {
				line, rest, more = v[:i], v[i+1:], true
			}
		}
		if s.inOrder(line) {
			return true
		}
		if !more {
			return false
		}
		v = rest
	}
}

// inOrder reports whether line holds the literals in order, each after the previous one.
func (s *litSeq) inOrder(line string) bool {
	for _, l := range s.lits {
		i := strings.Index(line, l)
		if i < 0 {
			return false
		}
		line = line[i+len(l):]
	}
	return true
}

// compileReduced compiles the reduced expression of expr (see regexReduce), or returns nil
// when there is none.
func compileReduced(expr string) *regexp.Regexp {
	r := regexReduce(expr)
	if r == "" {
		return nil
	}
	re, err := regexp.Compile(r)
	if err != nil {
		return nil
	}
	return re
}
