package sigma

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// gateAlphabet has caseless bytes, letters of both cases, the runes that lower to ASCII
// letters (Kelvin sign, long s, dotted capital I), other non-ASCII runes and invalid bytes.
var gateAlphabet = []string{"\\", ":", ".", " ", "0", "-", "\x00", "a", "A", "k", "K", "s", "S", "i", "I",
	"\u212a", "ſ", "İ", "é", "É", "\xff", "\xc3", "Σ", "ς"}

// randomPatternText returns a Sigma string over gateAlphabet with wildcards now and then.
func randomPatternText(rnd *rand.Rand, caseless bool) string {
	var b strings.Builder
	for n := 1 + rnd.IntN(4); n > 0; n-- {
		switch rnd.IntN(6) {
		case 0:
			b.WriteString("*")
		case 1:
			b.WriteString("?")
		default:
			s := gateAlphabet[rnd.IntN(len(gateAlphabet))]
			if caseless {
				s = gateAlphabet[rnd.IntN(7)]
			}
			if s == "\\" {
				s = `\\`
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// randomGateValue returns a value over gateAlphabet.
func randomGateValue(rnd *rand.Rand) string {
	var b strings.Builder
	for n := rnd.IntN(10); n > 0; n-- {
		b.WriteString(gateAlphabet[rnd.IntN(len(gateAlphabet))])
	}
	return b.String()
}

// plainAny is how a list of patterns was matched before gates: against the lower-cased
// value unless cased, trying each pattern.
func plainAny(pats []pattern, cased bool, v string) bool {
	if !cased {
		v = lowerString(v)
	}
	return matchAny(pats, nil, v)
}

// gatedAny is the gated path of fieldCond.anyValue for one value.
func gatedAny(fc *fieldCond, pats []pattern, idx *patternIndex, g byteGate, v string) bool {
	if !g.holds(v) {
		return false
	}
	if !fc.rawVals {
		v = lowerString(v)
	}
	return matchAny(pats, idx, v)
}

// TestCaselessPatternsMatchRaw checks that a caseless pattern matches a raw value exactly
// when it matches the lower-cased value.
func TestCaselessPatternsMatchRaw(t *testing.T) {
	rnd := rand.New(rand.NewPCG(6, 1))
	hits := 0
	for k := 0; k < 20000; k++ {
		p := compilePattern(parseSigmaString(randomPatternText(rnd, true)), false)
		if !p.caseless() {
			t.Fatalf("%q is not caseless", p.toks.String())
		}
		for j := 0; j < 20; j++ {
			v := randomGateValue(rnd)
			raw, low := p.match(v), p.match(lowerString(v))
			if raw != low {
				t.Fatalf("pattern %q, value %q: raw %v, lower-cased %v", p.toks.String(), v, raw, low)
			}
			if raw {
				hits++
			}
		}
	}
	if hits < 10000 {
		t.Fatalf("%d hits: the test checks too little", hits)
	}
}

// TestGatedMatchingAgrees checks the gated path (gate, raw values for caseless lists) against
// the plain one on random pattern lists (cased or not, caseless or not) and values.
func TestGatedMatchingAgrees(t *testing.T) {
	rnd := rand.New(rand.NewPCG(6, 2))
	hits, gated := 0, 0
	for k := 0; k < 5000; k++ {
		cased := rnd.IntN(4) == 0
		caseless := rnd.IntN(2) == 0
		gateable := rnd.IntN(2) == 0 // every pattern needs a backslash or a dot
		var pats []pattern
		for n := 1 + rnd.IntN(20); n > 0; n-- {
			text := randomPatternText(rnd, caseless)
			if gateable {
				text += []string{`\\`, "."}[rnd.IntN(2)] + randomPatternText(rnd, caseless)
			}
			pats = append(pats, compilePattern(parseSigmaString(text), cased))
		}
		fc := &fieldCond{kind: fcString, cased: cased, pats: pats}
		fc.rawVals = cased || allCaseless(pats)
		fc.gate = fc.gateOf(pats)
		if fc.gate.n > 0 {
			gated++
		}
		idx := newPatternIndex(pats)
		for j := 0; j < 50; j++ {
			v := randomGateValue(rnd)
			if j%2 == 0 {
				// A value that holds a pattern's literal text, wildcards left out.
				s := pats[rnd.IntN(len(pats))].toks.String()
				v += strings.NewReplacer("*", "", "?", "x").Replace(s)
			}
			got, want := gatedAny(fc, pats, idx, fc.gate, v), plainAny(pats, cased, v)
			if got != want {
				t.Fatalf("patterns %v (cased %v), gate %v, value %q: gated %v, plain %v", patternTexts(pats), cased, fc.gate, v, got, want)
			}
			if want {
				hits++
			}
		}
	}
	if hits < 10000 || gated < 1000 {
		t.Fatalf("%d hits, %d gated lists: the test checks too little", hits, gated)
	}
}

func patternTexts(pats []pattern) []string {
	var out []string
	for i := range pats {
		out = append(out, pats[i].toks.String())
	}
	return out
}

// TestGatedMatchingRealRules checks the gated path against the plain one for the scan rule
// set's value lists on the raw values of the attack samples, and on values with one of the
// list's literals put in.
func TestGatedMatchingRealRules(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the rules and the attack samples")
	}
	conds := ruleStringConds(scanRuleSet(t))
	values := sampleValues(t, false)
	rnd := rand.New(rand.NewPCG(3, 3))
	hits, gated, raw := 0, 0, 0
	check := func(fc *fieldCond, pats []pattern, idx *patternIndex, g byteGate) {
		if len(pats) == 0 {
			return // the list of a condition with all
		}
		if g.n > 0 {
			gated++
		}
		try := func(v string) {
			got, want := gatedAny(fc, pats, idx, g, v), plainAny(pats, fc.cased, v)
			if got != want {
				t.Fatalf("%s: patterns %v, gate %v, value %q: gated %v, plain %v", fc.name, patternTexts(pats), g, v, got, want)
			}
			if want {
				hits++
			}
		}
		for i := rnd.IntN(41); i < len(values); i += 41 {
			try(values[i])
		}
		for k := 0; k < 20; k++ {
			p := &pats[rnd.IntN(len(pats))]
			v := values[rnd.IntN(len(values))]
			cut := rnd.IntN(len(v) + 1)
			try(v[:cut] + strings.ToUpper(p.a) + v[cut:])
		}
	}
	for _, fc := range conds {
		if fc.rawVals && !fc.cased {
			raw++
		}
		check(fc, fc.pats, fc.patsIdx, fc.gate)
		for gi, g := range fc.groups {
			check(fc, g, fc.groupIdx[gi], fc.gates[gi])
		}
	}
	if hits == 0 || gated < 100 || raw < 100 {
		t.Fatalf("%d hits, %d gated lists, %d caseless lists: the test checks too little", hits, gated, raw)
	}
	t.Logf("%d conditions, %d gated lists, %d caseless, %d hits", len(conds), gated, raw, hits)
}

// FuzzByteGate checks the gated path against the plain one: the input is a list of Sigma
// strings separated by '|', a newline, and the value; a leading '!' makes the list cased.
func FuzzByteGate(f *testing.F) {
	f.Add("*\\temp\\*|*.exe|cmd\n\\TEMP\\x")
	f.Add("!*A:*|b?\nxA:b")
	f.Add("*\u212a*|*\\\\*\n\u212a\\\\")
	f.Add("*\x00a\x00*|*:\\*\nC:\\x\x00A\x00")
	f.Fuzz(func(t *testing.T, in string) {
		spec, v, ok := strings.Cut(in, "\n")
		if !ok {
			return
		}
		cased := strings.HasPrefix(spec, "!")
		spec = strings.TrimPrefix(spec, "!")
		var pats []pattern
		for _, s := range strings.Split(spec, "|") {
			pats = append(pats, compilePattern(parseSigmaString(s), cased))
		}
		fc := &fieldCond{kind: fcString, cased: cased, pats: pats}
		fc.rawVals = cased || allCaseless(pats)
		fc.gate = fc.gateOf(pats)
		if got, want := gatedAny(fc, pats, newPatternIndex(pats), fc.gate, v), plainAny(pats, cased, v); got != want {
			t.Fatalf("patterns %q, cased %v, gate %v, value %q: gated %v, plain %v", spec, cased, fc.gate, v, got, want)
		}
	})
}
