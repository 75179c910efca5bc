package sigma

import (
	"testing"
)

func TestDebugScan(t *testing.T) {
	eng, _ := NewEngine(windowsRuleSet(t), EngineOptions{})
	t.Logf("states=%d dense=%d classes=%d lits=%d scanAll=%v mem=%d", eng.ac.states, eng.ac.ndense, eng.ac.ncls, len(eng.li.lits), eng.scanAll, eng.ac.memory())
	recs := buildRecords(t, [][]byte{[]byte(sysmonBenign)})
	m := eng.NewMatcher()
	m.Match(recs[0])
	bytes, sparse := 0, 0
	for i := range recs[0].fields {
		v := recs[0].fields[i].value
		bytes += len(v)
		s := int32(0)
		for j := 0; j < len(v); j++ {
			c := eng.ac.class[v[j]]
			if c == 0 {
				s = 0
				continue
			}
			if s >= eng.ac.ndense {
				sparse++
			}
			t2 := eng.ac.next(s, c)
			if t2 < 0 {
				t2 = ^t2
			}
			s = t2
		}
	}
	t.Logf("fields=%d bytes=%d sparse steps=%d cands=%d", len(recs[0].fields), bytes, sparse, len(m.cands))
}

func BenchmarkScanOnly(b *testing.B) {
	eng, _ := NewEngine(windowsRuleSet(b), EngineOptions{})
	recs := buildRecords(b, [][]byte{[]byte(sysmonBenign)})
	m := eng.NewMatcher()
	m.Match(recs[0])
	b.ReportAllocs()
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		m.begin(recs[0])
		m.route()
		m.cands = m.cands[:0]
		m.candGen++
		m.scan()
		n++
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(n), "cpu-ns/op")
}

func BenchmarkBeginRoute(b *testing.B) {
	eng, _ := NewEngine(windowsRuleSet(b), EngineOptions{})
	recs := buildRecords(b, [][]byte{[]byte(sysmonBenign)})
	m := eng.NewMatcher()
	m.Match(recs[0])
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		m.begin(recs[0])
		m.route()
		n++
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(n), "cpu-ns/op")
}

func TestDebugReports(t *testing.T) {
	eng, _ := NewEngine(windowsRuleSet(t), EngineOptions{})
	recs := buildRecords(t, [][]byte{[]byte(sysmonBenign)})
	a := eng.ac
	reports, chain, slots, rules := 0, 0, 0, 0
	for i := range recs[0].fields {
		v := recs[0].fields[i].value
		s := int32(0)
		for j := 0; j < len(v); j++ {
			c := a.class[v[j]]
			if c == 0 {
				s = 0
				continue
			}
			t2 := a.next(s, c)
			if t2 < 0 {
				t2 = ^t2
				reports++
				for st := t2; st >= 0; st = a.dict[st] {
					chain++
					if sl := a.out[st]; sl >= 0 {
						slots++
						rules += int(eng.li.start[sl+1] - eng.li.start[sl])
						t.Logf("hit %q", eng.li.lits[a.slotLits[a.slotStart[sl]]])
					}
				}
			}
			s = t2
		}
	}
	t.Logf("reports=%d chain=%d slots=%d rules=%d", reports, chain, slots, rules)
}

func TestDebugAlwaysCost(t *testing.T) {
	eng, _ := NewEngine(windowsRuleSet(t), EngineOptions{})
	recs := buildRecords(t, [][]byte{[]byte(sysmonBenign)})
	m := eng.NewMatcher()
	m.Match(recs[0])
	m.begin(recs[0])
	m.route()
	for _, gvi := range m.active {
		gv := eng.gvs[gvi]
		g := eng.groups[gv.group]
		for _, li := range g.always {
			er := eng.rules[g.rules[li]]
			c := &m.ctx
			c.fids = gv.fids[li]
			start := cpuTime()
			for i := 0; i < 2000; i++ {
				er.det.root.eval(c)
			}
			d := (cpuTime() - start) / 2000
			t.Logf("%8v %s", d, er.rule.File)
		}
	}
}

func TestDebugCandRate(t *testing.T) {
	eng, _ := NewEngine(windowsRuleSet(t), EngineOptions{})
	for _, name := range []string{"regression", "otrf"} {
		var evs [][]byte
		if name == "regression" {
			evs = regressionEvents(t)
		} else {
			evs = otrfEvents(t)
		}
		recs := buildRecords(t, evs)
		m := eng.NewMatcher()
		cands, always, matches := 0, 0, 0
		for _, r := range recs {
			matches += len(m.Match(r))
			cands += len(m.cands)
			for _, gvi := range m.active {
				always += len(eng.groups[eng.gvs[gvi].group].always)
			}
		}
		n := float64(len(recs))
		t.Logf("%s: events=%d cands/event=%.1f always/event=%.1f matches/event=%.2f", name, len(recs), float64(cands)/n, float64(always)/n, float64(matches)/n)
	}
}
