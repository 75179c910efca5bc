package sigma

import (
	"slices"
	"testing"
)

// TestProgramMatchesTree evaluates every rule and filter of the SigmaHQ set on the regression
// events both as a condition tree and as a program (see compileProgram), collecting evidence:
// the results and the evidence must be the same.
func TestProgramMatchesTree(t *testing.T) {
	rs, _ := loadSigmaHQ(t)
	events := regressionEvents(t)
	if testing.Short() && len(events) > 300 {
		events = events[:300]
	}
	eng, _ := NewEngine(rs, EngineOptions{IgnoreLogSource: true})
	m := eng.NewMatcher()
	var rec Record
	c := &m.ctx
	evals, trues := 0, 0
	for ei, ev := range events {
		if err := rec.ResetJSON(ev); err != nil {
			t.Fatal(err)
		}
		m.begin(&rec)
		for gvi := range eng.gvs {
			gv := &eng.gvs[gvi]
			for li, ri := range eng.groups[gv.group].rules {
				er := eng.rules[ri]
				dets := append([]*detection{er.det}, er.filters...)
				progs := append([]program{er.prog}, er.filterProgs...)
				for k := range dets {
					if k == 0 {
						c.fids = gv.fids[li]
					} else {
						c.fids = gv.filterFids[li][k-1]
					}
					c.collect, c.sel = true, ""
					c.ev = nil
					want := dets[k].root.eval(c)
					wantEv := slices.Clone(c.ev)
					c.ev = nil
					got := progs[k].eval(c, 0)
					evals++
					if want {
						trues++
					}
					if got != want || !slices.Equal(c.ev, wantEv) {
						t.Fatalf("event %d, rule %s (part %d): program %v %v, tree %v %v", ei, er.rule.File, k, got, c.ev, want, wantEv)
					}
				}
			}
		}
	}
	c.collect = false
	if trues == 0 {
		t.Fatal("nothing matched")
	}
	t.Logf("%d evaluations, %d true", evals, trues)
}
