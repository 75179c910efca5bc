package sigma

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestRegexFoldBeyondASCII checks case-insensitive expressions on values whose letters fold
// to ASCII only under Unicode rules: the Kelvin sign (K), the long s (s) and the dotless i.
// Go's regexp matches them, so the engine's guards and literal prefilters must let them
// through, with and without the prefilter.
func TestRegexFoldBeyondASCII(t *testing.T) {
	exprs := []string{`(?i)k{2,3}`, `(?i)kk`, `(?i)ss`, `(?i)s.*s`, `(?i)x.*k.*k`, `(?i)\+k\+k`, `(?i)mask`, `(?i)[a-z]{8,}`}
	values := []string{"\u212a\u212a", "\u017f\u017f", "x\u212ak\u212a", "+\u212a+k", "ma\u017f\u212a", "\u212a\u212a\u212a\u212a\u212a\u212a\u212a\u212a",
		"kk", "SS", "plain", "k", "\u017f"}
	for _, expr := range exprs {
		re := regexp.MustCompile(expr)
		for _, v := range values {
			want := re.MatchString(v)
			det := fmt.Sprintf("s:\n  F|re: '%s'\ncondition: s", expr)
			for _, prefilter := range []bool{true, false} {
				eng, err := compileOne(t, det, EngineOptions{DisablePrefilter: !prefilter})
				if err != nil {
					t.Fatalf("%s: %v", expr, err)
				}
				if got := len(eng.NewMatcher().Match(record("F", v))) > 0; got != want {
					t.Errorf("%s on %q (prefilter %v): match = %v, regexp says %v", expr, v, prefilter, got, want)
				}
			}
		}
	}
}

// TestRegexMatcherAgreesWithRegexp checks the engine's regex matcher (its guards, reduced
// expression and literal sequence) against Go's regexp on every |re expression of the
// SigmaHQ rules, on values generated from the expression (with case variants beyond ASCII)
// and random values over its alphabet.
func TestRegexMatcherAgreesWithRegexp(t *testing.T) {
	rs, _ := loadSigmaHQ(t)
	exprs := ruleRegexes(rs)
	if len(exprs) < 100 {
		t.Fatalf("only %d expressions found", len(exprs))
	}
	rnd := rand.New(rand.NewPCG(7, 9))
	checked, matched := 0, 0
	for _, expr := range exprs {
		re, err := regexp.Compile(expr)
		if err != nil {
			continue // refused by the loader too
		}
		rm := newRegexMatcher(re)
		alpha := alphabetOf(expr)
		values := matchingValues(rnd, expr, alpha, 12)
		for range 12 {
			values = append(values, randomValue(rnd, alpha))
		}
		for _, v := range values {
			want := re.MatchString(v)
			if got := rm.match(record("F", v), 0); got != want {
				t.Errorf("%s on %q: matcher says %v, regexp %v", expr, v, got, want)
			}
			checked++
			if want {
				matched++
			}
		}
	}
	if matched < checked/4 {
		t.Fatalf("only %d of %d values match: the generated values do not exercise the matchers", matched, checked)
	}
	t.Logf("%d expressions, %d values, %d matching", len(exprs), checked, matched)
}

// FuzzRegexMatcher compares the engine's regex matcher with Go's regexp: the input is the
// expression, a NUL byte, and the value.
func FuzzRegexMatcher(f *testing.F) {
	for _, s := range []string{"(?i)k{2,3}\x00\u212a\u212a", "(?i)s.*s\x00\u017f\u017f", `\+.*\+` + "\x00a+b+", "(?i)[a-z]{8,}\x00\u212a\u212a\u212a\u212a\u212a\u212a\u212a\u212a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		expr, v, ok := strings.Cut(in, "\x00")
		if !ok || len(expr) > 200 {
			return
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return
		}
		rm := newRegexMatcher(re)
		for _, x := range []string{v, strings.ToUpper(v), v + v} {
			if got, want := rm.match(record("F", x), 0), re.MatchString(x); got != want {
				t.Fatalf("%q on %q: matcher says %v, regexp %v", expr, x, got, want)
			}
		}
	})
}
