package sigma

import (
	"fmt"
	"regexp"
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
