package sigma

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// gramFind returns the literals gs reports in text, sorted.
func gramFind(gs *gramSet, text string) []int32 {
	buf := append([]byte(text), make([]byte, gramPad)...)
	for i := len(text); i < len(buf); i++ {
		buf[i] = 0xa5 // the padding may hold anything
	}
	var found []int32
	gs.find(buf, len(text), func(lit int32) {
		if !slices.Contains(found, lit) { // reported once per occurrence
			found = append(found, lit)
		}
	})
	slices.Sort(found)
	return found
}

// naiveFind returns the literals text holds, sorted.
func naiveFind(lits []string, text string) []int32 {
	var found []int32
	for id, l := range lits {
		if strings.Contains(text, l) {
			found = append(found, int32(id))
		}
	}
	return found
}

// substringFind is naiveFind for many literals of at most maxGramLiteral bytes (ids maps them
// to their numbers): it looks every substring of text up.
func substringFind(ids map[string]int32, text string) []int32 {
	var found []int32
	for i := range len(text) {
		for j := i + 1; j <= len(text) && j-i <= maxGramLiteral; j++ {
			if id, ok := ids[text[i:j]]; ok && !slices.Contains(found, id) {
				found = append(found, id)
			}
		}
	}
	slices.Sort(found)
	return found
}

// prefilterText is the text the prefilter scans for a value: markStart+lower(v)+markEnd.
func prefilterText(v string) string {
	return "\x00" + lowerString(v) + "\x01"
}

// TestGramSetMatchesNaiveSearch checks gram sets against a naive search on random literal
// sets (short and long literals, anchored ones, all byte values) and texts stitched from
// their literals and noise: the gram set reports exactly the literals the text holds, and
// the automaton over the same literals reports each of them too.
func TestGramSetMatchesNaiveSearch(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	var all []byte
	for b := 0; b < 256; b++ {
		all = append(all, byte(b))
	}
	alphabets := []string{"ab", "abc\x00\x01", "abcdefghij", "abcdefghijklmnopqrstuvwxyz0123456789 -/\\.:*\x00\x01", string(all)}
	for _, alpha := range alphabets {
		for round := 0; round < 12; round++ {
			n := 1 + rnd.IntN(3000)
			if round%3 == 0 {
				n = 1 + rnd.IntN(20)
			}
			seen := map[string]bool{}
			var lits []string
			for tries := 0; len(lits) < n && tries < 10*n; tries++ {
				var b strings.Builder
				for k := 1 + rnd.IntN(maxGramLiteral); k > 0; k-- {
					b.WriteByte(asciiLower[alpha[rnd.IntN(len(alpha))]])
				}
				if l := b.String(); !seen[l] {
					seen[l] = true
					lits = append(lits, l)
				}
			}
			gs := newGramSet(lits)
			a := buildAutomaton(lits)
			for k := 0; k < 60; k++ {
				var b strings.Builder
				for j := rnd.IntN(300); j > 0; j-- {
					if rnd.IntN(4) == 0 {
						b.WriteString(lits[rnd.IntN(len(lits))])
					} else {
						b.WriteByte(asciiLower[alpha[rnd.IntN(len(alpha))]])
					}
				}
				text := b.String()
				want := naiveFind(lits, text)
				if got := gramFind(gs, text); !slices.Equal(got, want) {
					t.Fatalf("alphabet %q, %d literals, text %q: got %v, want %v", alpha[:min(len(alpha), 10)], len(lits), text, got, want)
				}
				if a != nil {
					got := acFind(a, text)
					for _, w := range want {
						if !slices.Contains(got, w) {
							t.Fatalf("automaton misses literal %q in %q", lits[w], text)
						}
					}
				}
			}
		}
	}
}

// TestGramSetsOnAttackSamples checks every gram set of the engine `vigil scan` uses against a
// naive search, on every field value of the attack samples (whatever its field) and on
// mutations of them that splice in literals of the set, change case and cut values: the
// literals reported must be exactly the literals the prefilter text holds.
func TestGramSetsOnAttackSamples(t *testing.T) {
	eng, _ := NewEngine(scanRuleSet(t), EngineOptions{})
	recs := attackSampleRecords(t)
	values := map[string]bool{}
	for _, rec := range recs {
		for i := range rec.fields {
			values[rec.fields[i].value] = true
		}
	}
	sorted := make([]string, 0, len(values))
	for v := range values {
		sorted = append(sorted, v)
	}
	slices.Sort(sorted)
	rnd := rand.New(rand.NewPCG(21, 22))
	sets, checked := 0, 0
	for _, fa := range eng.pf.autos {
		gs := fa.gs
		if gs == nil {
			continue
		}
		sets++
		ids := map[string]int32{}
		for id, l := range gs.lits {
			ids[l] = int32(id)
		}
		check := func(v string) {
			text := prefilterText(v)
			if got, want := gramFind(gs, text), substringFind(ids, text); !slices.Equal(got, want) {
				t.Fatalf("field %s, value %q: got %v, want %v", eng.fields.names[fa.fid], v, got, want)
			}
			checked++
		}
		for _, v := range sorted {
			check(v)
		}
		for k := 0; k < 3000; k++ {
			v := sorted[rnd.IntN(len(sorted))]
			l := strings.Trim(gs.lits[rnd.IntN(len(gs.lits))], "\x00\x01")
			at := rnd.IntN(len(v) + 1)
			switch rnd.IntN(4) {
			case 0:
				v = v[:at] + l + v[at:]
			case 1:
				v = v[:at] + strings.ToUpper(l) + v[at:]
			case 2:
				v = l + v[at:]
			default:
				v = v[:at] + l
			}
			check(v)
		}
	}
	if sets == 0 {
		t.Fatal("no gram sets in the scan engine")
	}
	t.Logf("%d gram sets, %d values checked", sets, checked)
}

// TestPrefilterGramsEquivalence checks that the engine finds the same matches on the attack
// samples whether its large literal sets use gram sets or automata.
func TestPrefilterGramsEquivalence(t *testing.T) {
	rs := scanRuleSet(t)
	grams, _ := NewEngine(rs, EngineOptions{})
	autos, _ := NewEngine(rs, EngineOptions{noGrams: true})
	mg, ma := grams.NewMatcher(), autos.NewMatcher()
	total := 0
	for i, rec := range attackSampleRecords(t) {
		a, b := matchIDs(mg, rec), matchIDs(ma, rec)
		total += len(a)
		if !slices.Equal(a, b) {
			t.Fatalf("record %d: gram sets %v, automata %v", i, a, b)
		}
	}
	if total == 0 {
		t.Fatal("no matches")
	}
}

// FuzzGramSet compares a gram set with a naive search: the input is a list of literals
// separated by '|' (cut to maxGramLiteral bytes), a newline, and the text.
func FuzzGramSet(f *testing.F) {
	f.Add("cmd|\x00pow|exe\x01|a|bc|-enc|\\temp\\\ncmd.exe -enc abc \\TEMP\\")
	f.Add("x|xx|xxx|xxxx|xxxxx\nxxxxxxxxxxxxxxxxxx")
	f.Add("\x00\x01|\x00a\x01\n\x00a\x01")
	f.Add("é|ﬀ|\xff\xfe\n\xff\xfe\xfd é")
	f.Fuzz(func(t *testing.T, in string) {
		spec, text, ok := strings.Cut(in, "\n")
		if !ok {
			return
		}
		lits := fuzzLiterals(spec, maxGramLiteral)
		if len(lits) == 0 {
			return
		}
		gs := newGramSet(lits)
		if got, want := gramFind(gs, text), naiveFind(lits, text); !slices.Equal(got, want) {
			t.Fatalf("literals %q, text %q: got %v, want %v", lits, text, got, want)
		}
	})
}

// fuzzLiterals reads the literals of a fuzz input: separated by '|', lower-cased, cut to
// maxLen bytes (0: any length), the empty and repeated ones left out.
func fuzzLiterals(spec string, maxLen int) []string {
	seen := map[string]bool{}
	var lits []string
	for _, l := range strings.Split(spec, "|") {
		l = strings.ToLower(l)
		if maxLen > 0 && len(l) > maxLen {
			l = l[:maxLen]
		}
		if l != "" && !seen[l] {
			seen[l] = true
			lits = append(lits, l)
		}
	}
	return lits
}

// TestGramSetPairAnchors checks where short literals are anchored: not by a pair they share
// with other literals (" -" of " -c" and " -d"), nor by a pair of the fragments of nearly
// every path (":\" of "d:\", "ex" of ".exe" for "iex"): the scan compares the literals of an
// anchor with the text at every place it occurs.
func TestGramSetPairAnchors(t *testing.T) {
	lits := []string{" -c", " -d", "iex", `d:\`}
	gs := newGramSet(lits)
	want := map[string]string{" -c": "-c", " -d": "-d", "iex": "ie", `d:\`: "d:"}
	for _, e := range gs.pair.ents {
		l := lits[e.lit]
		if got := l[e.off : e.off+2]; got != want[l] {
			t.Errorf("%q is anchored by %q, want %q", l, got, want[l])
		}
	}
	if len(gs.pair.ents) != len(lits) {
		t.Fatalf("%d pair entries, want %d", len(gs.pair.ents), len(lits))
	}
}
