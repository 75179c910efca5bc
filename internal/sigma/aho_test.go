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
			if a == nil {
				continue // more than maxStates states
			}
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

// TestFieldAutomataShards checks that literals needing more states than one automaton can
// have are shared out among several automata that together report every literal.
func TestFieldAutomataShards(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	const alpha = "abcdefghijklmnopqrstuvwxyz0123456789"
	var entries []litEntry
	seen := map[string]bool{}
	for len(entries) < 6000 {
		var b strings.Builder
		for k := 0; k < maxLiteralLen; k++ {
			b.WriteByte(alpha[rnd.IntN(len(alpha))])
		}
		if l := b.String(); !seen[l] {
			seen[l] = true
			entries = append(entries, litEntry{l, uint32(len(entries)) << 2})
		}
	}
	ruleGroup := make([]int32, len(entries))
	shards := newFieldAutomata(entries, ruleGroup, 0, false)
	if len(shards) < 2 {
		t.Fatalf("%d automata, want several", len(shards))
	}
	found := map[string]bool{}
	for _, fa := range shards {
		if fa.ac.states > maxStates {
			t.Fatalf("automaton with %d states", fa.ac.states)
		}
		for _, l := range fa.li.lits {
			if found[l] {
				t.Fatalf("literal %q in two automata", l)
			}
			found[l] = true
			text := "x" + strings.ToUpper(l) + "y"
			if got := acFind(fa.ac, text); len(got) == 0 {
				t.Fatalf("literal %q not found in %q", l, text)
			}
		}
	}
	if len(found) != len(entries) {
		t.Fatalf("%d literals in the automata, want %d", len(found), len(entries))
	}
}

// TestCountGuardsAreNecessary checks that every value an expression matches meets its byte
// count guards, on values made of pieces of matching examples and noise.
func TestCountGuardsAreNecessary(t *testing.T) {
	rnd := rand.New(rand.NewPCG(13, 14))
	cases := []struct {
		expr     string
		examples []string
	}{
		{`\+.*\+.*\+.*\+`, []string{"a+b+c+d+e", "++++"}},
		{"`.*`.*`", []string{"I`N`V`oke", "```"}},
		{`(?i)\$\{` + "`?e`?n`?v" + `:path\}`, []string{"${env:path}", "${e`N`v:PATH}"}},
		{`"(?:\{\d\})+"\s*-f`, []string{`"{0}{1}" -f`, `"{2}"-f`}},
		{`(?i)(?:set).*&&\s?set.*(?:environment|invoke).*&&.*"`, []string{`set a && set b invoke && "x`, `SET x&&SET ENVIRONMENT&&"`}},
		{`a{3}b+(c|d)`, []string{"aaabbc", "xaaabd"}},
		{`(?i)AB.A`, []string{"abxa", "ABCA"}},
	}
	noise := []string{"+", "`", "$", "{", "}", "e", "N", ":", "\"", "1", " ", "&", "a", "B", "x", "-f"}
	for _, tc := range cases {
		re := regexp.MustCompile(tc.expr)
		guards := regexCountGuards(tc.expr)
		if len(guards) == 0 {
			t.Errorf("%s: no count guards", tc.expr)
		}
		matched := 0
		for i := 0; i < 20000; i++ {
			ex := tc.examples[rnd.IntN(len(tc.examples))]
			var b strings.Builder
			for j := 0; j < len(ex); j++ {
				if rnd.IntN(4) == 0 {
					b.WriteString(noise[rnd.IntN(len(noise))])
				}
				if rnd.IntN(12) != 0 {
					b.WriteByte(ex[j])
				}
			}
			v := b.String()
			if !re.MatchString(v) {
				continue
			}
			matched++
			for _, g := range guards {
				if !g.holds(v) {
					t.Fatalf("%s matches %q, which fails guard %+v", tc.expr, v, g)
				}
			}
		}
		if matched < 50 {
			t.Errorf("%s: only %d random values matched", tc.expr, matched)
		}
	}
}

// TestRelaxedRegexMatchesMore checks that a relaxed expression matches every value its
// expression matches, on values made of pieces of matching examples and noise.
func TestRelaxedRegexMatchesMore(t *testing.T) {
	rnd := rand.New(rand.NewPCG(15, 16))
	cases := []struct {
		expr     string
		examples []string
	}{
		{`\\[a-zA-Z0-9]{1,32}\.[a-zA-Z0-9]{1,6}\.[ "']{1}`, []string{`c:\x\file.dll. x`, `\ab.c."`}},
		{`(?i)(Get-Item|gci).{1,64}-Path.{1,64}\\(run|services)\\`, []string{`gci x -Path y\run\`, `GET-ITEM -path \SERVICES\`}},
		{`(?s)^a.{2,20}b$`, []string{"axxb", "a\n\nb"}},
		{`(?m)^x[0-9]{3,12}$`, []string{"x123\ny", "q\nx1234567"}},
	}
	noise := []string{".", "\\", " ", "a", "Z", "0", "\n", "-", "\""}
	for _, tc := range cases {
		re := regexp.MustCompile(tc.expr)
		relaxed := regexRelaxed(tc.expr)
		if relaxed == nil {
			t.Fatalf("%s: not relaxed", tc.expr)
		}
		matched := 0
		for i := 0; i < 20000; i++ {
			ex := tc.examples[rnd.IntN(len(tc.examples))]
			var b strings.Builder
			for j := 0; j < len(ex); j++ {
				for rnd.IntN(4) == 0 {
					b.WriteString(noise[rnd.IntN(len(noise))])
				}
				if rnd.IntN(10) != 0 {
					b.WriteByte(ex[j])
				}
			}
			v := b.String()
			if re.MatchString(v) {
				matched++
				if !relaxed.MatchString(v) {
					t.Fatalf("%s matches %q, relaxed %s does not", tc.expr, v, relaxed)
				}
			}
		}
		if matched < 50 {
			t.Errorf("%s: only %d values matched", tc.expr, matched)
		}
	}
	if regexRelaxed(`a{1,8}b`) != nil {
		t.Error("short repetition relaxed")
	}
}

// TestRequiredSetIsNecessary checks that every value an expression matches holds one of the
// strings regexRequiredSet finds for it (in its lower-cased form, for folded sets).
func TestRequiredSetIsNecessary(t *testing.T) {
	rnd := rand.New(rand.NewPCG(17, 18))
	cases := []struct {
		expr     string
		examples []string
	}{
		{`\\[a-zA-Z0-9]{1,32}\.[a-zA-Z0-9]{1,6}\.[ "']{1}`, []string{`c:\x\file.dll. x`, `\ab.c."`}},
		{`[Rr][Uu][Nn][Dd][Ll][Ll]32(?:\.[Ee][Xx][Ee])? \S+?\w:\S+?:`, []string{`RunDll32.exe x c:y:`, `rundll32 a b:c:`}},
		{`(?i)ask[ab]s`, []string{"ASKAS", "a\u212aas", "a\u017fkbs", "ask bs"}},
		{`(?i)kks`, []string{"KkS", "\u212ak\u017f"}},
		{`(?i)x[ab]k`, []string{"xak", "XB\u212a", "xa\u212a"}},
		{`x+yz+w`, []string{"xxyzzw", "xyzw"}},
		{`cmd.{0,5}(?:/c|/r).+powershell.+noexit.+"`, []string{`cmd /c x powershell -noexit "a`}},
	}
	noise := []string{".", "\\", " ", "a", "K", "\u212a", "\u017f", "s", "x", "z", "\"", ":"}
	for _, tc := range cases {
		re := regexp.MustCompile(tc.expr)
		req := regexRequiredSet(tc.expr)
		if req == nil {
			t.Fatalf("%s: no required set", tc.expr)
		}
		matched := 0
		for i := 0; i < 20000; i++ {
			ex := tc.examples[rnd.IntN(len(tc.examples))]
			var b strings.Builder
			for _, c := range ex {
				for rnd.IntN(5) == 0 {
					b.WriteString(noise[rnd.IntN(len(noise))])
				}
				if rnd.IntN(12) != 0 {
					b.WriteRune(c)
				}
			}
			v := b.String()
			if !re.MatchString(v) {
				continue
			}
			matched++
			if !req.holds(v, func() string { return lowerString(v) }) {
				t.Fatalf("%s matches %q, which holds none of %q (fold %v)", tc.expr, v, req.strs, req.fold)
			}
		}
		if matched < 50 {
			t.Errorf("%s: only %d values matched", tc.expr, matched)
		}
	}
}

// TestRunGuardSkips checks the run guard, which looks at every min-th byte only, against a
// byte-by-byte count of the longest run, and against the expressions it guards.
func TestRunGuardSkips(t *testing.T) {
	g, ok := regexRunGuard(`\s[a-fA-F0-9]{8}\s`)
	if !ok || g.min != 8 {
		t.Fatalf("guard %+v %v", g, ok)
	}
	longest := func(v string) int {
		best, run := 0, 0
		for i := 0; i < len(v); i++ {
			if g.has(v[i]) {
				run++
				best = max(best, run)
			} else {
				run = 0
			}
		}
		return best
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const alphabet = "0123456789abcdefABCDEFxyz -"
	for range 20000 {
		b := make([]byte, rng.IntN(60))
		skew := rng.IntN(4) // mostly hex, or mostly not
		for i := range b {
			if rng.IntN(4) < skew {
				b[i] = alphabet[rng.IntN(22)]
			} else {
				b[i] = alphabet[22+rng.IntN(len(alphabet)-22)]
			}
		}
		v := string(b)
		if got, want := g.holds(v), longest(v) >= g.min; got != want {
			t.Fatalf("holds(%q) = %v, longest run %d", v, got, longest(v))
		}
	}
}

// TestAutomatonSharedClass checks which bytes share a class when literals use more bytes
// than there are classes: the rarest in event text, never the anchors nor the bytes most
// frequent in event text (digits, hex letters, path punctuation).
func TestAutomatonSharedClass(t *testing.T) {
	var lits []string
	for b := 0; b < 256; b++ {
		if 'A' <= b && b <= 'Z' {
			continue
		}
		lits = append(lits, string([]byte{byte(b), 'x'}))
	}
	a := buildAutomaton(lits)
	if a.ncls != maxClasses {
		t.Fatalf("%d classes, want %d", a.ncls, maxClasses)
	}
	shared := func(b byte) bool {
		for o := 0; o < 256; o++ {
			if o != int(b) && a.class[o] == a.class[b] && !(asciiLower[o] == asciiLower[b]) {
				return true
			}
		}
		return false
	}
	for _, b := range []byte{markStart, markEnd, '0', '9', 'a', 'f', '-', ':', '.', ' ', '\\', 'e', 's'} {
		if shared(b) {
			t.Errorf("byte %q shares its class", b)
		}
	}
	for _, b := range []byte{'~', '`', '^', '|', 0x80, 0xff} {
		if !shared(b) {
			t.Errorf("byte %q has a class of its own", b)
		}
	}
}

// TestLiteralIndexSlots checks the runless slot keys of a literal index whose rules are all of
// one log source group: each slot's keys must be the keys of its one run, and an index over
// several groups must have none (its runs say which group each key is of).
func TestLiteralIndexSlots(t *testing.T) {
	entries := []litEntry{
		{"evil", groupKey(0, 0)}, {"evil", groupKey(1, 2)}, {"evil", groupKey(3, 1)},
		{"bad", groupKey(2, 0)}, {"mimikatz", groupKey(1, 0)}, {"mimikatz", groupKey(1, 0)},
	}
	for _, tc := range []struct {
		name   string
		groups stateGroups
		flat   bool
	}{
		{"one group", stateGroups{5, 5, 5, 5, 5, 5, 5, 5}, true},
		{"two groups", stateGroups{5, 6, 5, 5, 5, 5, 5, 5}, false},
	} {
		li, a := buildLiteralIndex(entries, tc.groups)
		if a == nil || li == nil {
			t.Fatalf("%s: no index", tc.name)
		}
		if (li.slots != nil) != tc.flat {
			t.Fatalf("%s: slots %v, want them: %v", tc.name, li.slots, tc.flat)
		}
		if !tc.flat {
			continue
		}
		for slot := range len(li.start) - 1 {
			runs := li.runs[li.start[slot]:li.start[slot+1]]
			if len(runs) != 1 {
				t.Fatalf("%s: slot %d has %d runs", tc.name, slot, len(runs))
			}
			want := li.rules[runs[0].start:runs[0].end]
			var got []uint32
			if k := li.slots[slot]; k&slotOneKey != 0 {
				got = []uint32{uint32(k)}
			} else {
				got = li.rules[uint32(k>>32):uint32(k)]
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: slot %d keys %v, want %v", tc.name, slot, got, want)
			}
		}
	}
}
