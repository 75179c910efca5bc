package sigma

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// acFind returns the ids of the literals the automaton reports in text (scanned as one value).
func acFind(a *automaton, text string) []int32 {
	var found []int32
	seen := map[int32]bool{}
	report := func(t int32) {
		for st := t; st >= 0; st = a.dict[st] {
			if slot := a.out[st]; slot >= 0 {
				for _, lit := range a.slotLits[a.slotStart[slot]:a.slotStart[slot+1]] {
					if !seen[lit] {
						seen[lit] = true
						found = append(found, lit)
					}
				}
			}
		}
	}
	s := int32(0)
	for i := 0; i < len(text); i++ {
		c := a.class[text[i]]
		if c == 0 {
			s = 0
			continue
		}
		t := a.next(s, c)
		if t < 0 {
			t = ^t
			report(t)
		}
		s = t
	}
	slices.Sort(found)
	return found
}

func TestAutomatonMatchesNaiveSearch(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 9))
	alphabets := []string{"ab", "abc", "abcdefghij", "abcdefghijklmnopqrstuvwxyz0123456789 -/\\.:*", ""}
	// The last alphabet: all 256 bytes (exercises the shared class of rare bytes).
	var all []byte
	for b := 0; b < 256; b++ {
		all = append(all, byte(b))
	}
	alphabets[len(alphabets)-1] = string(all)
	for _, alpha := range alphabets {
		for round := 0; round < 12; round++ {
			n := 1 + rnd.IntN(3000)
			seen := map[string]bool{}
			var lits []string
			for len(lits) < n {
				l := 1 + rnd.IntN(12)
				var b strings.Builder
				for k := 0; k < l; k++ {
					c := alpha[rnd.IntN(len(alpha))]
					if 'A' <= c && c <= 'Z' {
						c += 'a' - 'A' // literals are lower-case
					}
					b.WriteByte(c)
				}
				if !seen[b.String()] {
					seen[b.String()] = true
					lits = append(lits, b.String())
				}
			}
			a := buildAutomaton(lits)
			for k := 0; k < 50; k++ {
				var b strings.Builder
				for j := rnd.IntN(200); j > 0; j-- {
					if rnd.IntN(4) == 0 {
						b.WriteString(strings.ToUpper(lits[rnd.IntN(len(lits))]))
					} else {
						b.WriteByte(alpha[rnd.IntN(len(alpha))])
					}
				}
				text := b.String()
				lower := []byte(text)
				for i, c := range lower {
					if 'A' <= c && c <= 'Z' {
						lower[i] = c + 'a' - 'A'
					}
				}
				var want []int32
				for id, l := range lits {
					if strings.Contains(string(lower), l) {
						want = append(want, int32(id))
					}
				}
				got := acFind(a, text)
				// With merged rare classes the automaton may report more, never less.
				for _, w := range want {
					if !slices.Contains(got, w) {
						t.Fatalf("alphabet %q, %d literals: literal %q in %q not reported", alpha[:min(len(alpha), 10)], len(lits), lits[w], text)
					}
				}
				if a.ncls < maxClasses && !slices.Equal(got, want) {
					t.Fatalf("exact alphabet: got %v, want %v", got, want)
				}
			}
		}
	}
}

func TestLongLineShortcutAgreesWithRegexp(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	alphabet := []string{"a", "é", "\n", "\r", " ", "\x00", "\xff"}
	for _, expr := range []string{".{5,}", "(?s).{5,}", "(.{3,})", "(?:.{8,})", ".{1,}"} {
		n, dotAll, ok := regexLongLine(expr)
		if !ok {
			t.Fatalf("%s not recognised", expr)
		}
		re := regexp.MustCompile(expr)
		for i := 0; i < 3000; i++ {
			var b strings.Builder
			for j := rnd.IntN(20); j > 0; j-- {
				b.WriteString(alphabet[rnd.IntN(len(alphabet))])
			}
			v := b.String()
			if got, want := hasLongLine(v, n, dotAll), re.MatchString(v); got != want {
				t.Fatalf("%s on %q: shortcut %v, regexp %v", expr, v, got, want)
			}
		}
	}
	for _, expr := range []string{"a.{5,}", ".{5,8}", "[ab]{5,}", ".{5,}x"} {
		if _, _, ok := regexLongLine(expr); ok {
			t.Errorf("%s wrongly recognised", expr)
		}
	}
}
