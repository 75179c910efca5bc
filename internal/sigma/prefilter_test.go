package sigma

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
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

	// Synthetic events: values stitched from literals of random rules, case-scrambled, in
	// random fields and in the fields the literals belong to.
	eng, _ := NewEngine(rs, EngineOptions{IgnoreLogSource: true})
	full, _ := NewEngine(rs, EngineOptions{IgnoreLogSource: true, DisablePrefilter: true})
	type lit struct {
		s     string
		field string // "" for keyword literals
	}
	var lits []lit
	for _, fa := range eng.pf.autos {
		field := ""
		if fa.fid >= 0 {
			field = eng.fields.names[fa.fid]
		}
		for _, l := range fa.li.lits {
			lits = append(lits, lit{strings.Trim(l, "\x00\x01"), field})
		}
	}
	if len(lits) == 0 {
		t.Fatal("no prefilter literals")
	}
	fields := eng.fields.names
	rnd := rand.New(rand.NewPCG(1, 2))
	mw, mo := eng.NewMatcher(), full.NewMatcher()
	var rec Record
	matched := 0
	for i := 0; i < 6000; i++ {
		rec.Reset()
		nf := 1 + rnd.IntN(6)
		for f := 0; f < nf; f++ {
			var b strings.Builder
			name := fields[rnd.IntN(len(fields))]
			for k := rnd.IntN(3); k >= 0; k-- {
				l := lits[rnd.IntN(len(lits))]
				if k == 0 && l.field != "" && rnd.IntN(2) == 0 {
					name = l.field
				}
				s := l.s
				if rnd.IntN(2) == 0 {
					s = strings.ToUpper(s)
				}
				b.WriteString(s)
				if rnd.IntN(3) == 0 {
					b.WriteString(" ")
				}
			}
			rec.Add(name, b.String())
		}
		a, c := matchIDs(mw, &rec), matchIDs(mo, &rec)
		matched += len(c)
		if !slices.Equal(a, c) {
			t.Fatalf("synthetic event %d: prefilter %v, full %v", i, a, c)
		}
	}
	t.Logf("synthetic: %d matches", matched)
}

// TestPrefilterShardedAutomata matches a rule with more literals in one field than one
// automaton holds: every literal must still make it a candidate, whether they are shared out
// among automata or looked for with a gram set.
func TestPrefilterShardedAutomata(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	const alpha = "abcdefghijklmnopqrstuvwxyz0123456789"
	var vals []string
	var b strings.Builder
	b.WriteString("sel:\n  CommandLine|contains:\n")
	for len(vals) < 4000 {
		var v strings.Builder
		for k := 0; k < maxLiteralLen; k++ {
			v.WriteByte(alpha[rnd.IntN(len(alpha))])
		}
		vals = append(vals, v.String())
		b.WriteString("    - '" + v.String() + "'\n")
	}
	b.WriteString("condition: sel")
	for _, noGrams := range []bool{true, false} {
		eng, err := compileOne(t, b.String(), EngineOptions{noGrams: noGrams})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(eng.pf.autos); noGrams && n < 2 {
			t.Fatalf("%d automata, want several", n)
		}
		if !noGrams && (len(eng.pf.autos) != 1 || eng.pf.autos[0].gs == nil) {
			t.Fatalf("%d automata, want one gram set", len(eng.pf.autos))
		}
		m := eng.NewMatcher()
		for i := 0; i < 300; i++ {
			v := vals[rnd.IntN(len(vals))]
			rec := record("Image", "x.exe", "CommandLine", "run "+strings.ToUpper(v)+" now")
			if len(m.Match(rec)) != 1 {
				t.Fatalf("noGrams=%v value %q: no match", noGrams, v)
			}
		}
		if len(m.Match(record("CommandLine", "nothing to see"))) != 0 {
			t.Fatal("match without a literal")
		}
	}
}

// TestMatcherReuse checks that what a Matcher remembers from record to record (the field
// links of a record shape, the routing, the prefilter memo, keyword automata) never changes
// a result: one Matcher over a shuffled sequence of events, with repeats and with names
// passed as stable strings or copied, agrees with a fresh Matcher per event.
func TestMatcherReuse(t *testing.T) {
	eng, _ := NewEngine(windowsRuleSet(t), EngineOptions{})
	events := regressionEvents(t)
	rnd := rand.New(rand.NewPCG(21, 22))
	interned := map[string]string{}
	long := eng.NewMatcher()
	var rec, flat Record
	n := 2000
	if testing.Short() {
		n = 500
	}
	for i := 0; i < n; i++ {
		ev := events[rnd.IntN(len(events))]
		if err := flat.ResetJSON(ev); err != nil {
			t.Fatal(err)
		}
		rec.Reset()
		stable := rnd.IntN(2) == 0
		for name, value := range flat.All() {
			if stable {
				s, ok := interned[name]
				if !ok {
					s = strings.Clone(name)
					interned[s] = s
				}
				rec.AddStable(s, value)
			} else {
				rec.Add(name, value)
			}
		}
		got := matchIDs(long, &rec)
		want := matchIDs(eng.NewMatcher(), &rec)
		if !slices.Equal(got, want) {
			t.Fatalf("event %d: reused matcher %v, fresh matcher %v", i, got, want)
		}
	}
}

// TestWeakLiteralPrefilter checks rules whose only literals are weak (a required set of a
// regular expression, short punctuation): they are prefiltered instead of evaluated for every
// event, and match exactly the events they match without the prefilter.
func TestWeakLiteralPrefilter(t *testing.T) {
	dets := []string{
		`
sel:
    CommandLine|re: '\\[a-zA-Z0-9]{1,32}\.[a-zA-Z0-9]{1,6}\.[ "'']{1}'
condition: sel
`, `
sel:
    - CommandLine|re: '\w+` + "`" + `(?:\w+|-|.)` + "`" + `[\w+|\s]'
    - CommandLine|re: '"(?:\{\d\})+"\s*-f'
    - CommandLine|re: '(?i)\$\{` + "`" + `?e` + "`" + `?n` + "`" + `?v` + "`" + `?:` + "`" + `?p` + "`" + `?a` + "`" + `?t` + "`" + `?h` + "`" + `?\}'
filter:
    CommandLine|contains: '${env:path}'
condition: sel and not filter
`, `
sel:
    CommandLine|re: '[Rr][Uu][Nn]\.[Ee][Xx]'
condition: sel
`,
	}
	values := []string{
		`rundll32 c:\x\abc.dat. ,Main`, `c:\x\abc.dat."`, `c:\x\abc.dat.'`, `c:\x\abc.dat.x`, `c:\x\abc.dat`,
		"IN`V`o`Ke-eXp`ResSIOn", `&("{2}{3}{0}" -f 'a')`, "${e`Nv:pATh}", "${env:path}", "plain",
		"RUN.EXE", "rUn.ex", "run.e", "RUN.EX\u212a", "\u212aRUN.EXE",
	}
	for i, det := range dets {
		with, err := compileOne(t, det, EngineOptions{})
		if err != nil {
			t.Fatal(err)
		}
		without, _ := compileOne(t, det, EngineOptions{DisablePrefilter: true})
		if st := with.Stats(); st.AlwaysEvaluated != 0 || st.Prefiltered != 1 {
			t.Errorf("rule %d: %+v, want it behind the prefilter", i, st)
		}
		mw, mo := with.NewMatcher(), without.NewMatcher()
		hits := 0
		for _, v := range values {
			for _, v := range []string{v, strings.ToUpper(v), "x " + v + " y"} {
				r := record("CommandLine", v)
				a, b := len(mw.Match(r)), len(mo.Match(r))
				if a != b {
					t.Errorf("rule %d, %q: %d matches with the prefilter, %d without", i, v, a, b)
				}
				hits += a
			}
		}
		if hits == 0 {
			t.Errorf("rule %d matched nothing", i)
		}
	}
}

// TestTypedValues checks the prefilter's use of typed values (Record.AddStableTyped): a
// literal that can occur in typed text is still looked for in typed values, one that cannot
// is not (a value wrongly marked typed is then missed, which shows the skip is taken), and an
// untyped value is always looked at.
func TestTypedValues(t *testing.T) {
	for lit, want := range map[string]bool{
		"0x3e7": true, "s-1-5-18": true, "\x00s-1-5": true, "2019-03-19t10:": true, "c9a1-": true,
		"kerberos::": false, "{c9a1}": false, "admin": false, "0x3e7\\": false, "é": false,
	} {
		if fitsTyped(lit) != want {
			t.Errorf("fitsTyped(%q) = %v", lit, !want)
		}
	}
	cases := []struct {
		det        string
		field, val string
		typedMatch bool // whether the value marked typed matches (it always matches untyped)
	}{
		{"keywords: ['S-1-5-18']\ncondition: keywords", "Security_UserID", "S-1-5-18", true},
		{"sel:\n  SubjectLogonId: '0x3E7'\ncondition: sel", "SubjectLogonId", "0x3e7", true},
		{"sel:\n  UtcTime|startswith: '2019-03-19'\ncondition: sel", "UtcTime", "2019-03-19T10:00:00.000Z", true},
		{"keywords: ['kerberos::golden']\ncondition: keywords", "Data", "kerberos::golden", false},
		{"sel:\n  TargetUserName|contains: 'admin'\ncondition: sel", "TargetUserName", "Administrator", false},
		// The field's automaton skips typed values ('evil' cannot be in one), the keyword
		// automaton does not: it must scan the typed value on its own.
		{"sel:\n  SubjectLogonId|contains: 'evil'\nkeywords: ['0x3E7']\ncondition: sel or keywords", "SubjectLogonId", "0x3E7", true},
	}
	for _, c := range cases {
		eng, err := compileOne(t, c.det, EngineOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m := eng.NewMatcher()
		for _, typed := range []bool{false, true} {
			var rec Record
			rec.AddStableTyped("EventID", "4624", true)
			rec.AddStableTyped(c.field, c.val, typed)
			rec.AddStableTyped("Computer", "host1", false)
			want := !typed || c.typedMatch
			if got := len(m.Match(&rec)) == 1; got != want {
				t.Errorf("%q, %s=%q typed=%v: match %v, want %v", c.det, c.field, c.val, typed, got, want)
			}
		}
	}
}

// TestKeywordSetsPrebuilt checks that the engine builds the keyword automata of the usual
// sets of log sources with it: matching the regression events (Windows logs of many channels)
// builds none, and gives the matches of an engine that builds them as it meets them.
func TestKeywordSetsPrebuilt(t *testing.T) {
	rs := windowsRuleSet(t)
	eng, _ := NewEngine(rs, EngineOptions{})
	lazy, _ := NewEngine(rs, EngineOptions{})
	lazy.kwSets = nil
	built := len(eng.kwSets)
	if built < 5 {
		t.Fatalf("%d keyword sets built with the engine", built)
	}
	m, ml := eng.NewMatcher(), lazy.NewMatcher()
	var rec Record
	matches := 0
	for i, ev := range regressionEvents(t) {
		if err := rec.ResetJSON(ev); err != nil {
			t.Fatal(err)
		}
		a, b := matchIDs(m, &rec), matchIDs(ml, &rec)
		if !slices.Equal(a, b) {
			t.Fatalf("event %d: %v with prebuilt keyword sets, %v without", i, a, b)
		}
		matches += len(a)
	}
	for key := range lazy.kwSets {
		if _, ok := eng.kwSets[key]; !ok {
			t.Errorf("keyword set %v met, not prebuilt", []byte(key))
		}
	}
	if len(eng.kwSets) != built {
		var met []string
		for key := range eng.kwSets {
			met = append(met, fmt.Sprintf("%v", []byte(key)))
		}
		t.Errorf("%d keyword sets after matching, %d built with the engine: %v", len(eng.kwSets), built, met)
	}
	if len(lazy.kwSets) == 0 || len(lazy.kwSets) > built {
		t.Errorf("the lazy engine built %d sets, the engine %d", len(lazy.kwSets), built)
	}
	t.Logf("%d sets built with the engine, %d met; %d matches", built, len(lazy.kwSets), matches)
}

// TestLiteralPlanBranches checks the literal groups of ORs and of contains|all: a record
// that holds the literals of only one side of a branch's AND, or only some of the patterns
// of a contains|all, is not evaluated at all; records that match are, with the same result as
// without the prefilter.
func TestLiteralPlanBranches(t *testing.T) {
	det := `
sel_tool:
    Image|endswith: '\robocopy.exe'
sel_cmd_img:
    Image|endswith: '\cmd.exe'
sel_cmd_cli:
    CommandLine|contains: ' copy '
sel_flag:
    ParentImage|contains|all:
        - '\jumpbox\'
        - '\agentsvc\'
condition: (sel_tool or all of sel_cmd_*) and sel_flag
`
	with, err := compileOne(t, det, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	without, _ := compileOne(t, det, EngineOptions{DisablePrefilter: true})
	const parent = `C:\jumpbox\agentsvc\agent.exe`
	cases := []evalCase{
		{[]string{"Image", `C:\Windows\System32\cmd.exe`, "CommandLine", `cmd /c copy a b`, "ParentImage", parent}, true, true},
		{[]string{"Image", `C:\Windows\System32\robocopy.exe`, "CommandLine", `robocopy a b`, "ParentImage", parent}, true, true},
		// cmd.exe without copy: the OR's groups need a copy (or robocopy.exe) too.
		{[]string{"Image", `C:\Windows\System32\cmd.exe`, "CommandLine", `cmd /c dir`, "ParentImage", parent}, false, false},
		// copy with neither image.
		{[]string{"Image", `C:\Tools\x.exe`, "CommandLine", `x copy y`, "ParentImage", parent}, false, false},
		// Only one of the contains|all patterns.
		{[]string{"Image", `C:\Windows\System32\cmd.exe`, "CommandLine", `cmd /c copy a b`, "ParentImage", `C:\jumpbox\other.exe`}, false, false},
		{[]string{"Image", `C:\Windows\System32\cmd.exe`, "CommandLine", `cmd /c copy a b`, "ParentImage", `C:\x\agentsvc\a.exe`}, false, false},
		// All literals there, in the wrong place: evaluated, no match.
		{[]string{"Image", `C:\cmd.exe\robocopy.exe.bak`, "CommandLine", `x copy y`, "ParentImage", parent}, false, true},
	}
	checkEvalCases(t, with, without, cases)
}

// TestCommonLiteral checks the literal group of what every pattern of a condition holds: a
// command line needs a "find" to get the rule below evaluated, not just one of the commands
// before the pipe. A literal each of the condition's own literals holds adds nothing.
func TestCommonLiteral(t *testing.T) {
	det := `
sel:
    CommandLine|contains:
        - 'ipconfig*|*find'
        - 'net*|*find'
        - 'ping*|*find'
        - 'whoami*|*find'
condition: sel
`
	with, err := compileOne(t, det, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	without, _ := compileOne(t, det, EngineOptions{DisablePrefilter: true})
	cases := []evalCase{
		{[]string{"CommandLine", `ping -n 1 10.0.0.1`}, false, false},
		{[]string{"CommandLine", `cmd /c whoami /all`}, false, false},
		{[]string{"CommandLine", `cmd /c "whoami /groups | findstr /i admin"`}, true, true},
		{[]string{"CommandLine", `NET USER | FIND "adm"`}, true, true},
		// Both literals, not in the patterns' order: evaluated, no match.
		{[]string{"CommandLine", `find net`}, false, true},
		// "find" is also the literal of one of the patterns: both groups are satisfied.
		{[]string{"CommandLine", `findstr x`}, false, true},
	}
	checkEvalCases(t, with, without, cases)

	for _, c := range []struct {
		det  string
		want string // the common literal group, "" for none
	}{
		{det, "find"},
		// Each pattern's literal holds "currentversi": no group of its own.
		{`
sel:
    TargetObject|contains:
        - '\Microsoft\Windows\CurrentVersion\Run\'
        - '\Microsoft\Windows\CurrentVersion\RunOnce\'
condition: sel
`, ""},
		// A part of a common fragment ("windows\sys") is not taken, however long.
		{`
sel:
    ParentImage|startswith:
        - 'C:\Windows\System32\'
        - 'C:\Windows\SysWOW64\'
condition: sel
`, ""},
		// Under an OR, a branch keeps its own group only.
		{`
a:
    CommandLine|contains: ['net*|*find', 'ping*|*find']
b:
    Image|endswith: '\robocopy.exe'
condition: a or b
`, ""},
	} {
		eng, err := compileOne(t, c.det, EngineOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, g := range commonGroups(nil, eng.rules[0].det.root, minLiteralScore) {
			got = append(got, g[0].s)
		}
		if c.want == "" && len(got) != 0 || c.want != "" && !slices.Equal(got, []string{c.want}) {
			t.Errorf("common literal groups %q, want %q, of%s", got, c.want, c.det)
		}
	}
}

// TestVetoLiterals checks which literals veto a rule: those of the patterns of a negated
// selection the rule needs false, each of which the prefilter finds exactly when its pattern
// matches (whole, case-insensitive, ASCII, with its anchors).
func TestVetoLiterals(t *testing.T) {
	const s, e = "\x00", "\x01"
	cases := []struct {
		det  string
		want []string
	}{
		// Lower-cased; the long pattern is not found whole (a part of it is, marked ~: its
		// condition is checked), the wildcard one not at all.
		{`sel:
    CommandLine|contains: 'run'
filter:
    Image|endswith:
        - '.exe'
        - '.COM'
        - '\program files\microsoft\edge.exe'
        - '.e*e'
condition: sel and not filter`, []string{".com" + e, ".exe" + e, "~ft\\edge.exe" + e}},
		{"filter:\n    Image|contains: '\\'\ncondition: not filter", []string{`\`}},
		{"filter:\n    Image: 'System'\ncondition: not filter", []string{s + "system" + e}},
		{"filter:\n    Image: ''\ncondition: not filter", []string{s + e}},
		{"filter:\n    Signature|startswith: 'Microsoft'\ncondition: not filter", []string{s + "microsoft"}},
		{"f1:\n    Image|endswith: '.exe'\nf2:\n    CommandLine|contains: 'abc'\ncondition: not 1 of f*", []string{".exe" + e, "abc"}},
		{"f1:\n    Image|endswith: '.exe'\nf2:\n    CommandLine|contains: 'abc'\ncondition: not all of f*", nil},
		{"sel:\n    Image|endswith: '.exe'\ncondition: not not sel", nil},
		{"sel:\n    Image|endswith: '.exe'\ncondition: sel", nil},
		{"sel:\n    CommandLine|contains: 'abc'\nfilter:\n    Image|endswith: '.exe'\ncondition: sel or not filter", nil},
		{"filter:\n    Image|endswith|cased: '.exe'\ncondition: not filter", nil},
		{"filter:\n    CommandLine|contains|all:\n        - 'abc'\n        - 'def'\ncondition: not filter", nil},
		{"filter:\n    Image|endswith: 'é.exe'\ncondition: not filter", nil},
		{"keywords:\n    - 'abc'\ncondition: not keywords", nil},
		{"filter:\n    Image|re: '\\.exe$'\ncondition: not filter", nil},
	}
	for i, c := range cases {
		eng, err := compileOne(t, c.det, EngineOptions{})
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		var got []string
		for _, l := range vetoLiterals(eng.rules[0].det.root) {
			if !l.exact {
				l.s = "~" + l.s
			}
			got = append(got, l.s)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("case %d: veto literals %q, want %q", i, got, c.want)
		}
	}
}

// TestVetoes checks that a rule is not evaluated when a veto literal shows up in the field it
// reads, under each field mapping of its log source: Sigma's Image is Image in Sysmon's
// process creation and NewProcessName in the Security log's, so an Image field in a Security
// record is no veto. Every result is the one without the prefilter.
func TestVetoes(t *testing.T) {
	doc := `title: unusual image extension
id: 11111111-2222-3333-4444-555555555555
logsource: {product: windows, category: process_creation}
detection:
    known:
        Image|endswith: '.exe'
    condition: not known
`
	// Another rule of the log source looks for images: veto literals are only looked for in
	// fields the prefilter scans anyway.
	rs, refusals := LoadFS(fstest.MapFS{"veto.yml": {Data: []byte(doc)}, "whoami.yml": {Data: []byte(imageRule)}}, ".", LoadOptions{})
	if len(refusals) > 0 {
		t.Fatal(refusals[0].Err)
	}
	alone, _ := LoadBytes("veto.yml", []byte(doc), LoadOptions{})
	if eng, _ := NewEngine(alone, EngineOptions{}); eng.Stats().Vetoed != 0 {
		t.Errorf("a rule alone has vetoes: %+v", eng.Stats())
	}
	with, _ := NewEngine(rs, EngineOptions{})
	without, _ := NewEngine(rs, EngineOptions{DisablePrefilter: true})
	if st := with.Stats(); st.Vetoed != 1 || st.AlwaysEvaluated != 1 || st.Prefiltered != 1 {
		t.Fatalf("stats %+v, want one rule evaluated for every event, with vetoes", st)
	}
	const sysmon, security = "Microsoft-Windows-Sysmon/Operational", "Security"
	cases := []evalCase{
		{[]string{"Channel", sysmon, "EventID", "1", "Image", `C:\Windows\cmd.exe`}, false, false},
		{[]string{"Channel", sysmon, "EventID", "1", "Image", `C:\Windows\CMD.EXE`}, false, false},
		{[]string{"Channel", sysmon, "EventID", "1", "Image", `C:\Users\x\doc.scr`}, true, true},
		{[]string{"Channel", sysmon, "EventID", "1", "Image", `C:\x.exe.scr`}, true, true},
		// A value holding the byte of the end mark: the prefilter's .exe+end is no veto.
		{[]string{"Channel", sysmon, "EventID", "1", "Image", "C:\\a.exe\x01.scr"}, true, true},
		{[]string{"Channel", sysmon, "EventID", "1", "Image", "C:\\a.exe\x00.exe"}, false, false}, // checked, and a veto
		{[]string{"Channel", security, "EventID", "4688", "NewProcessName", `C:\Windows\cmd.exe`}, false, false},
		{[]string{"Channel", security, "EventID", "4688", "NewProcessName", `C:\Users\x\doc.scr`}, true, true},
		// The Security variant does not read Image: its .exe vetoes nothing there.
		{[]string{"Channel", security, "EventID", "4688", "NewProcessName", `C:\Users\x\doc.scr`, "Image", `C:\Windows\cmd.exe`}, true, true},
		// Sysmon's reads Image, not NewProcessName.
		{[]string{"Channel", sysmon, "EventID", "1", "Image", `C:\Users\x\doc.scr`, "NewProcessName", `C:\Windows\cmd.exe`}, true, true},
	}
	checkEvalCases(t, with, without, cases)
}

// TestCheckedVetoes checks vetoes by literals that are part of longer patterns (a system
// folder): the rule is skipped only when its filter matches, and evaluated when the literal
// shows up in a value the filter does not match.
func TestCheckedVetoes(t *testing.T) {
	doc := `title: system binary outside system32
id: 11111111-2222-3333-4444-777777777777
logsource: {product: windows, category: process_creation}
detection:
    sel:
        Image|endswith: '\svchost.exe'
    filter:
        Image|startswith:
            - 'C:\Windows\System32\'
            - 'C:\Windows\SysWOW64\'
    condition: sel and not filter
`
	rs, refusals := LoadBytes("checked.yml", []byte(doc), LoadOptions{})
	if len(refusals) > 0 {
		t.Fatal(refusals[0].Err)
	}
	with, _ := NewEngine(rs, EngineOptions{})
	without, _ := NewEngine(rs, EngineOptions{DisablePrefilter: true})
	if st := with.Stats(); st.Vetoed != 1 {
		t.Fatalf("stats %+v, want the rule vetoed", st)
	}
	if vc := with.rules[0].vetoChecks; vc == nil || vc.inexact == 0 {
		t.Fatalf("veto checks %+v, want checked groups", vc)
	}
	const sysmon = "Microsoft-Windows-Sysmon/Operational"
	cases := []evalCase{
		{[]string{"Channel", sysmon, "EventID", "1", "Image", `C:\Windows\System32\svchost.exe`}, false, false},
		{[]string{"Channel", sysmon, "EventID", "1", "Image", `c:\windows\SYSWOW64\svchost.exe`}, false, false},
		{[]string{"Channel", sysmon, "EventID", "1", "Image", `C:\Users\x\svchost.exe`}, true, true},
		// The folder, not at the start: the filter does not match, whatever part of it the
		// prefilter found.
		{[]string{"Channel", sysmon, "EventID", "1", "Image", `D:\C:\Windows\System32\svchost.exe`}, true, true},
		{[]string{"Channel", sysmon, "EventID", "1", "Image", `C:\Windows\System32x\svchost.exe`}, true, true},
		{[]string{"Channel", sysmon, "EventID", "1", "Image", `C:\Windows\System32\svchost.exe`, "Image", `C:\Temp\svchost.exe`}, false, false},
	}
	checkEvalCases(t, with, without, cases)
}

// imageRule is a rule of the process creation log source that looks for an image: beside it,
// the prefilter scans Image, and a rule's filter on Image gives veto literals.
const imageRule = `title: whoami
id: 11111111-2222-3333-4444-666666666666
logsource: {product: windows, category: process_creation}
detection:
    sel:
        Image|endswith: '\whoami.exe'
    condition: sel
`

// evalCase is a record (field names and values), whether a test's rule matches it, and
// whether the rule is evaluated for it.
type evalCase struct {
	rec       []string
	match     bool
	evaluated bool
}

// checkEvalCases matches the cases' records with an engine and the same without the
// prefilter: the two must agree with each other and with each case, and the engine must
// evaluate its rule for a case's record, or not, as the case says.
func checkEvalCases(t *testing.T, with, without *Engine, cases []evalCase) {
	t.Helper()
	mw, mo := with.NewMatcher(), without.NewMatcher()
	for i, c := range cases {
		r := record(c.rec...)
		evals := mw.evals
		got, want := len(mw.Match(r)) > 0, len(mo.Match(r)) > 0
		if got != want || got != c.match {
			t.Errorf("case %d: match %v with the prefilter, %v without, want %v", i, got, want, c.match)
		}
		if evaluated := mw.evals > evals; evaluated != c.evaluated {
			t.Errorf("case %d: evaluated %v, want %v", i, evaluated, c.evaluated)
		}
	}
}

// FuzzVetoEquivalence matches records against a rule with a selection and a filter on one
// field, with and without the prefilter: the results must be the same. A second rule makes the
// prefilter scan the field, so that the filter's patterns (of the modifier mod picks) become
// veto literals, exact or checked.
func FuzzVetoEquivalence(f *testing.F) {
	f.Add(`\svchost.exe`, `C:\Windows\System32\`, uint8(1), `C:\Windows\System32\svchost.exe`, `D:\C:\Windows\System32\svchost.exe`)
	f.Add(`\svchost.exe`, `C:\Windows\System32\`, uint8(1), `C:\Windows\System32x\svchost.exe`, `C:\WINDOWS\system32\svchost.exe`)
	f.Add(`.exe`, `.EXE`, uint8(2), `C:\a.exe`, `C:\a.exe.scr`)
	f.Add(`\cmd.exe`, `\program files\microsoft\edge.exe`, uint8(3), `C:\Program Files\Microsoft\Edge.exe\cmd.exe`, `c:\x\cmd.exe`)
	f.Add(`svchost`, `C:\Windows\*\`, uint8(1), `C:\Windows\SysWOW64\svchost.exe`, `C:\Windows\svchost.exe`)
	f.Add(`.exe`, `É\x`, uint8(3), `C:\É\x\é.exe`, `C:\é\X\a.exe`)
	f.Add(`.exe`, `/c`, uint8(8), "cmd.exe \u2013c", "cmd.exe -c")
	mods := []string{"", "|startswith", "|endswith", "|contains", "|contains|all", "|cased", "|startswith|cased", "|re", "|windash|contains"}
	f.Fuzz(func(t *testing.T, sel, filter string, mod uint8, v1, v2 string) {
		doc := fmt.Sprintf(`title: fuzzed
id: 11111111-2222-3333-4444-777777777777
logsource: {product: windows, category: process_creation}
detection:
    sel:
        Image|endswith: %s
    filter:
        Image%s:
            - %s
            - %s
    condition: sel and not filter
`, strconv.Quote(sel), mods[int(mod)%len(mods)], strconv.Quote(filter), strconv.Quote(filter+`\x`))
		rs, refusals := LoadFS(fstest.MapFS{"fuzzed.yml": {Data: []byte(doc)}, "whoami.yml": {Data: []byte(imageRule)}}, ".", LoadOptions{})
		if len(refusals) > 0 {
			return // a pattern the rule language refuses
		}
		with, _ := NewEngine(rs, EngineOptions{})
		without, _ := NewEngine(rs, EngineOptions{DisablePrefilter: true})
		mw, mo := with.NewMatcher(), without.NewMatcher()
		const sysmon = "Microsoft-Windows-Sysmon/Operational"
		for i, r := range []*Record{
			record("Channel", sysmon, "EventID", "1", "Image", v1),
			record("Channel", sysmon, "EventID", "1", "Image", v2),
			record("Channel", sysmon, "EventID", "1", "Image", v1, "Image", v2),
			record("Channel", "Security", "EventID", "4688", "NewProcessName", v1, "Image", v2),
		} {
			got, want := matchIDs(mw, r), matchIDs(mo, r)
			if !slices.Equal(got, want) {
				t.Fatalf("record %d: %v with the prefilter, %v without\n%s", i, got, want, doc)
			}
		}
	})
}

// TestSatisfiedGroups checks the prefilter's record of satisfied literal groups (see
// Matcher.satisfy) across many rules, whose states fill several words of its bitmap: a rule
// that needs two groups is a candidate only with both, from the same record, and the
// groups of one record are gone with the next.
func TestSatisfiedGroups(t *testing.T) {
	const n = 40 // sixteen rule states to a word: three words
	fs := fstest.MapFS{}
	for k := range n {
		fs[fmt.Sprintf("r%02d.yml", k)] = &fstest.MapFile{Data: []byte(fmt.Sprintf(`title: rule %02d
id: 00000000-0000-0000-0000-0000000000%02d
logsource: {product: windows, category: process_creation}
detection:
    img:
        Image|endswith: '\tool%02dx.exe'
    cli:
        CommandLine|contains: 'zqarg%02dv'
    condition: img and cli
`, k, k, k, k))}
	}
	rs, refusals := LoadFS(fs, ".", LoadOptions{})
	if len(refusals) > 0 || len(rs.Rules) != n {
		t.Fatalf("loaded %d rules, refusals %v", len(rs.Rules), refusals)
	}
	with, _ := NewEngine(rs, EngineOptions{})
	if with.Stats().Prefiltered != n {
		t.Fatalf("%d rules behind the prefilter, want %d", with.Stats().Prefiltered, n)
	}
	without, _ := NewEngine(rs, EngineOptions{DisablePrefilter: true})
	mw, mo := with.NewMatcher(), without.NewMatcher()
	const sysmon = "Microsoft-Windows-Sysmon/Operational"
	process := func(image, cli string) *Record {
		return record("Channel", sysmon, "EventID", "1", "Image", image, "CommandLine", cli)
	}
	check := func(rec *Record, want ...int) {
		t.Helper()
		var names []string
		for _, k := range want {
			names = append(names, fmt.Sprintf("r%02d.yml", k))
		}
		evals := mw.evals
		got, full := matchIDs(mw, rec), matchIDs(mo, rec)
		if !slices.Equal(got, names) || !slices.Equal(full, names) {
			t.Errorf("image %q, command line %q: prefilter %v, without %v, want %v", rec.fields[2].value, rec.fields[3].value, got, full, names)
		}
		// Only the rules with both groups are evaluated: not one with a group alone, nor
		// one with a group left over from the record before.
		if n := mw.evals - evals; n != uint64(len(want)) {
			t.Errorf("image %q, command line %q: %d rules evaluated, want %d", rec.fields[2].value, rec.fields[3].value, n, len(want))
		}
	}
	for k := range n {
		j := (k + 17) % n // another word of the bitmap
		image := fmt.Sprintf(`C:\x\tool%02dx.exe`, k)
		check(process(image, fmt.Sprintf("run ZQARG%02dV now", k)), k)
		// Each group alone, then the other rule's group beside it: no candidate.
		check(process(image, "nothing"))
		check(process(`C:\x\other.exe`, fmt.Sprintf("zqarg%02dv", k)))
		check(process(image, fmt.Sprintf("zqarg%02dv", j)))
		// The groups of both rules, one of them twice.
		check(process(image, fmt.Sprintf("zqarg%02dv zqarg%02dv zqarg%02dv", j, k, k)), k)
	}
}
