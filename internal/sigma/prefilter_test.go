package sigma

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func matchIDs(m *Matcher, rec *Record) []string {
	var ids []string
	for _, h := range m.Match(rec) {
		ids = append(ids, h.Rule.File)
	}
	slices.Sort(ids)
	return ids
}

// TestPrefilterEquivalence checks that the literal prefilter never loses a match: on real
// events and on synthetic events assembled from the rules' own literals, the engine returns
// the same matches with and without it.
func TestPrefilterEquivalence(t *testing.T) {
	rs, _ := loadSigmaHQ(t)
	events := append(regressionEvents(t), otrfEvents(t)...)
	for _, ignore := range []bool{false, true} {
		evs := events
		if ignore && testing.Short() {
			evs = events[:2000]
		}
		with, _ := NewEngine(rs, EngineOptions{IgnoreLogSource: ignore})
		without, _ := NewEngine(rs, EngineOptions{IgnoreLogSource: ignore, DisablePrefilter: true})
		mw, mo := with.NewMatcher(), without.NewMatcher()
		var rec Record
		total := 0
		for i, ev := range evs {
			if err := rec.ResetJSON(ev); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			a, b := matchIDs(mw, &rec), matchIDs(mo, &rec)
			total += len(b)
			if !slices.Equal(a, b) {
				t.Errorf("ignoreLogSource=%v event %d: prefilter %v, full %v", ignore, i, a, b)
			}
		}
		t.Logf("ignoreLogSource=%v: %d events, %d matches", ignore, len(evs), total)
	}

	// Synthetic events: values stitched from literals of random rules, case-scrambled.
	eng, _ := NewEngine(rs, EngineOptions{IgnoreLogSource: true})
	full, _ := NewEngine(rs, EngineOptions{IgnoreLogSource: true, DisablePrefilter: true})
	li := eng.li
	if li == nil {
		t.Fatal("no literal index")
	}
	fields := eng.fields.names
	rnd := rand.New(rand.NewPCG(1, 2))
	mw, mo := eng.NewMatcher(), full.NewMatcher()
	var rec Record
	matched := 0
	for i := 0; i < 5000; i++ {
		rec.Reset()
		nf := 1 + rnd.IntN(6)
		for f := 0; f < nf; f++ {
			var b strings.Builder
			for k := rnd.IntN(3); k >= 0; k-- {
				lit := li.lits[rnd.IntN(len(li.lits))]
				lit = strings.Trim(lit, "\x00\x01")
				if rnd.IntN(2) == 0 {
					lit = strings.ToUpper(lit)
				}
				b.WriteString(lit)
				if rnd.IntN(3) == 0 {
					b.WriteString(" ")
				}
			}
			rec.Add(fields[rnd.IntN(len(fields))], b.String())
		}
		a, c := matchIDs(mw, &rec), matchIDs(mo, &rec)
		matched += len(c)
		if !slices.Equal(a, c) {
			t.Fatalf("synthetic event %d: prefilter %v, full %v", i, a, c)
		}
	}
	t.Logf("synthetic: %d matches", matched)
}
