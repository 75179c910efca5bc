package sigma

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// containsNaive reports whether v holds one of lits, one search per literal.
func containsNaive(lits []string, v string) bool {
	for _, l := range lits {
		if strings.Contains(v, l) {
			return true
		}
	}
	return false
}

// randomLiterals returns n distinct literals of at least containsWindow bytes over alpha,
// some of them sharing a prefix or a window (as hashes share "md5=").
func randomLiterals(rnd *rand.Rand, n int, alpha string) []string {
	seen := map[string]bool{}
	var lits []string
	prefixes := []string{"", "md5=", "\\sys", "abab"}
	for len(lits) < n {
		var b strings.Builder
		b.WriteString(prefixes[rnd.IntN(len(prefixes))])
		for k := containsWindow + rnd.IntN(20); b.Len() < k; {
			b.WriteByte(alpha[rnd.IntN(len(alpha))])
		}
		if l := b.String(); !seen[l] {
			seen[l] = true
			lits = append(lits, l)
		}
	}
	return lits
}

// stitch returns a value made of noise over alpha and, now and then, a literal or a piece of
// one (often at the very start or end of the value, the edge cases of the window offsets).
func stitch(rnd *rand.Rand, lits []string, alpha string) string {
	var b strings.Builder
	for n := rnd.IntN(5); n >= 0; n-- {
		switch rnd.IntN(4) {
		case 0:
			b.WriteString(lits[rnd.IntN(len(lits))])
		case 1:
			l := lits[rnd.IntN(len(lits))]
			i := rnd.IntN(len(l))
			j := i + rnd.IntN(len(l)-i+1)
			b.WriteString(l[i:j])
		default:
			for k := rnd.IntN(12); k > 0; k-- {
				b.WriteByte(alpha[rnd.IntN(len(alpha))])
			}
		}
	}
	return b.String()
}

// TestContainsSetMatchesNaive checks containsSet against one search per literal on random
// literal sets (small alphabets, so that windows collide and chains are long; and all byte
// values) and values stitched from their literals and noise.
func TestContainsSetMatchesNaive(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 14))
	alphas := []string{"ab", "abc=\\", "0123456789abcdef", string(func() []byte {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}())}
	hits := 0
	for round := 0; round < 400; round++ {
		alpha := alphas[round%len(alphas)]
		lits := randomLiterals(rnd, 1+rnd.IntN(3000/(1+round%7)), alpha)
		cs := newContainsSet(lits)
		for k := 0; k < 300; k++ {
			v := stitch(rnd, lits, alpha)
			got, want := cs.match(v), containsNaive(lits, v)
			if got != want {
				t.Fatalf("literals %q..., value %q: set %v, naive %v", lits[:min(5, len(lits))], v, got, want)
			}
			if want {
				hits++
			}
		}
	}
	if hits < 1000 {
		t.Fatalf("only %d values held a literal: the test checks too little", hits)
	}
}

// ruleStringConds returns the string field conditions of the rules.
func ruleStringConds(rs *RuleSet) []*fieldCond {
	var out []*fieldCond
	for _, fc := range ruleFieldConds(rs) {
		if fc.kind == fcString {
			out = append(out, fc)
		}
	}
	return out
}

// ruleFieldConds returns the field conditions of the rules' detections.
func ruleFieldConds(rs *RuleSet) []*fieldCond {
	var out []*fieldCond
	var walk func(n node)
	walk = func(n node) {
		switch x := n.(type) {
		case *andNode:
			for _, k := range x.kids {
				walk(k)
			}
		case *orNode:
			for _, k := range x.kids {
				walk(k)
			}
		case *notNode:
			walk(x.kid)
		case *selNode:
			walk(x.kid)
		case *fieldCond:
			out = append(out, x)
		}
	}
	for _, r := range rs.Rules {
		if r.det != nil {
			walk(r.det.root)
		}
	}
	return out
}

// ruleRegexes returns the distinct expressions (with their flags) of the rules' re conditions.
func ruleRegexes(rs *RuleSet) []string {
	var out []string
	seen := map[string]bool{}
	for _, fc := range ruleFieldConds(rs) {
		for _, r := range fc.res {
			if e := r.re.String(); !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	return out
}

// sampleValues returns the distinct field values of the attack samples, lower-cased when
// lower is set.
func sampleValues(t *testing.T, lower bool) []string {
	var values []string
	seen := map[string]bool{}
	for _, rec := range attackSampleRecords(t) {
		for i := range rec.fields {
			v := rec.fields[i].value
			if lower {
				v = rec.lowerAt(int32(i))
			}
			if !seen[v] {
				seen[v] = true
				values = append(values, v)
			}
		}
	}
	return values
}

// TestPatternIndexRealRules checks the pattern indexes of the scan rule set's value lists
// (with and without contains sets) against trying each pattern, on the values of the attack
// samples and on values with one of the list's literals put in.
func TestPatternIndexRealRules(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the rules and the attack samples")
	}
	conds := ruleStringConds(scanRuleSet(t))
	values := sampleValues(t, true)
	rnd := rand.New(rand.NewPCG(1, 2))
	lists, sets, hits := 0, 0, 0
	check := func(pats []pattern, idx *patternIndex) {
		if idx == nil {
			return
		}
		lists++
		if idx.contains != nil {
			sets++
		}
		try := func(v string) {
			got, want := idx.match(v), matchAny(pats, nil, v)
			if got != want {
				t.Fatalf("value %q: index %v, patterns %v", v, got, want)
			}
			if want {
				hits++
			}
		}
		// Every value of the samples for the few lists with contains sets, a sample for the
		// others.
		step := 1
		if idx.contains == nil {
			step = 97
		}
		for i := rnd.IntN(step); i < len(values); i += step {
			try(values[i])
		}
		for k := 0; k < 50; k++ {
			p := &pats[rnd.IntN(len(pats))]
			v := values[rnd.IntN(len(values))]
			cut := rnd.IntN(len(v) + 1)
			try(v[:cut] + p.a + v[cut:])
			if len(p.a) > 1 {
				try(v[:cut] + p.a[1:] + v[cut:]) // a near miss
			}
		}
	}
	for _, fc := range conds {
		if fc.cased {
			continue // the values above are lower-cased
		}
		check(fc.pats, fc.patsIdx)
		for gi, g := range fc.groups {
			check(g, fc.groupIdx[gi])
		}
	}
	if sets == 0 || hits == 0 {
		t.Fatalf("%d lists, %d contains sets, %d hits: the test checks too little", lists, sets, hits)
	}
	t.Logf("%d indexed lists (%d with contains sets), %d values, %d hits", lists, sets, len(values), hits)
}

// FuzzContainsSet compares a contains set with one search per literal: the input is a list
// of literals separated by '|' (those shorter than containsWindow dropped), a newline, and
// the value.
func FuzzContainsSet(f *testing.F) {
	f.Add("md5=abcd|md5=abce|sha1=0123\nx,md5=abce,y")
	f.Add("xxxx|xxxxx|xxxxxxxx\nxxxxxxx")
	f.Add("\x00\x01ab|ab\x00\x01\nab\x00\x01")
	f.Add("é|ﬀﬀ|\xff\xfe\xfd\xfc\n\xff\xfe\xfd\xfc é")
	f.Fuzz(func(t *testing.T, in string) {
		spec, v, ok := strings.Cut(in, "\n")
		if !ok {
			return
		}
		var lits []string
		for _, l := range strings.Split(spec, "|") {
			if len(l) >= containsWindow {
				lits = append(lits, l)
			}
		}
		if len(lits) == 0 {
			return
		}
		if got, want := newContainsSet(lits).match(v), containsNaive(lits, v); got != want {
			t.Fatalf("literals %q, value %q: set %v, naive %v", lits, v, got, want)
		}
	})
}

// BenchmarkContainsSet compares a contains set with one search per literal on the command
// lines of the attack samples, for lists of real command-line literals of several lengths
// (to choose minContainsSet).
func BenchmarkContainsSet(b *testing.B) {
	var lits []string
	seenLit := map[string]bool{}
	for _, fc := range ruleStringConds(scanRuleSet(b)) {
		if fc.name != "CommandLine" || fc.cased {
			continue
		}
		for i := range fc.pats {
			if p := &fc.pats[i]; inContainsSet(p) && !seenLit[p.a] {
				seenLit[p.a] = true
				lits = append(lits, p.a)
			}
		}
	}
	var values []string
	for _, rec := range attackSampleRecords(b) {
		if v, ok := rec.Get("CommandLine"); ok {
			values = append(values, lowerString(v))
		}
	}
	rnd := rand.New(rand.NewPCG(5, 6))
	rnd.Shuffle(len(lits), func(i, j int) { lits[i], lits[j] = lits[j], lits[i] })
	for _, n := range []int{8, 16, 24, 32, 64, 4000} {
		list := lits[:min(n, len(lits))]
		cs := newContainsSet(list)
		b.Run(fmt.Sprintf("set/%d", n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				cs.match(values[i%len(values)])
				i++
			}
		})
		b.Run(fmt.Sprintf("naive/%d", n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				containsNaive(list, values[i%len(values)])
				i++
			}
		})
	}
}
