package sigma

import (
	"slices"
	"strings"
	"testing"
)

var fuzzRecords = func() []*Record {
	var recs []*Record
	for _, kv := range [][]string{
		{"Channel", "Microsoft-Windows-Sysmon/Operational", "EventID", "1", "Image", `C:\Windows\System32\cmd.exe`, "CommandLine", "cmd /c whoami -all", "User", "NT AUTHORITY\\SYSTEM"},
		{"Channel", "Security", "EventID", "4625", "TargetUserName", "bob", "IpAddress", "10.1.2.3"},
		{"a", "", "b", "\xff\xfe\x00", "c", "İſK", "d", "12345678901234567890", "e", "2026-01-05T03:04:05Z"},
	} {
		recs = append(recs, record(kv...))
	}
	return recs
}()

// FuzzLoadRule feeds arbitrary bytes to the rule loader, then builds an engine and a
// correlator from whatever loaded and matches a few records: nothing may panic, and the
// engine must match what it matches without its prefilter.
func FuzzLoadRule(f *testing.F) {
	recoverPanics = false
	f.Cleanup(func() { recoverPanics = true })
	f.Add([]byte("title: t\nlogsource: {product: windows}\ndetection: {s: {A|contains|all: [x, y]}, condition: s}"))
	f.Add([]byte(specChainExample))
	f.Add([]byte(specAliasesExample))
	f.Add([]byte(stubRules))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, refusals := LoadBytes("fuzz.yml", data, LoadOptions{})
		for _, r := range refusals {
			if r.File != "fuzz.yml" || r.Error == "" {
				t.Fatalf("refusal without file or reason: %+v", r)
			}
		}
		for _, ignore := range []bool{false, true} {
			opts := EngineOptions{IgnoreLogSource: ignore, Placeholders: map[string][]string{"x": {"a*", "b"}}}
			eng, _ := NewEngine(rs, opts)
			opts.DisablePrefilter = true
			plain, _ := NewEngine(rs, opts)
			m, pm := eng.NewMatcher(), plain.NewMatcher()
			for i, rec := range fuzzRecords {
				hits := m.Match(rec)
				// The prefilter only skips rules that cannot match.
				got := make([]*Rule, 0, len(hits))
				for _, hit := range hits {
					got = append(got, hit.Rule)
				}
				var want []*Rule
				for _, hit := range pm.Match(rec) {
					want = append(want, hit.Rule)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("record %d: %d rules match with the prefilter, %d without", i, len(got), len(want))
				}
				for _, hit := range hits {
					NewCorrelator(rs, CorrelatorOptions{}).Observe(Detection{Rule: hit.Rule, Time: t0, Record: rec})
				}
			}
		}
	})
}

// FuzzCondition parses arbitrary condition strings against a fixed set of search
// identifiers, and evaluates the ones that compile.
func FuzzCondition(f *testing.F) {
	recoverPanics = false
	f.Cleanup(func() { recoverPanics = true })
	for _, s := range []string{
		"selection", "sel_a and not filter_c", "1 of sel_*", "all of them", "(sel_a or sel_b) and not 1 of filter_*",
		"not not sel_a", "sel_a | count() > 5", "((((sel_a))))", "1 of *", "all of _*", "sel_a and", "", "(", "them",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cond string) {
		ast, err := parseCondition(cond)
		if err != nil {
			return
		}
		_ = ast
		q := strings.ReplaceAll(cond, "'", "''")
		doc := "title: t\nlogsource: {product: p}\ndetection:\n  sel_a: {A: x}\n  sel_b: {B: y}\n  filter_c: {C: z}\n  _hidden: {D: w}\n  condition: '" + q + "'\n"
		rs, _ := LoadBytes("c.yml", []byte(doc), LoadOptions{})
		eng, _ := NewEngine(rs, EngineOptions{IgnoreLogSource: true})
		m := eng.NewMatcher()
		for _, rec := range []*Record{record("A", "x"), record("B", "y", "C", "z"), record()} {
			m.Match(rec)
		}
	})
}

// FuzzResetJSON checks that the JSON flattener never panics on arbitrary bytes.
func FuzzResetJSON(f *testing.F) {
	f.Add([]byte(evtxShaped))
	f.Add([]byte(sysmonBenign))
	f.Add([]byte(`{"a":[1,{"b":"\u00e9\ud800"}],"c":null}`))
	f.Add([]byte(`{"winlog":{"channel":"Security","event_id":4624,"process":{"pid":4,"thread":{"id":[8]}},"event_data":{"TargetUserName":"bob","X":{"#text":"y"}},"user_data":{"A":{"B":"c"}}}}`))
	f.Add([]byte(`{"System":{"EventID":{"Value":10},"Channel":"Microsoft-Windows-Sysmon/Operational","Keywords":9223372036854775808,"Provider":{"Name":"x","xmlns":"y"}},"EventData":{"GrantedAccess":5176,"Data":[1,"a"]},"Message":""}`))
	f.Add([]byte(`{"Payload":"{\"EventData\":{\"Data\":[{\"@Name\":\"A\",\"#text\":\"b\"},\"c\"]},\"UserData\":{\"X\":{\"@y\":\"z\"}}}","Channel":"Security","EventId":4720}`))
	f.Add([]byte(`{"EventTime":"2024-05-01T10:00:00Z","Channel":"Security","Provider":"p","EventID":4625,"EventData":{"Status":3221225581},"UserData":{"A":{"B":1}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Record
		if err := r.ResetJSON(data); err != nil {
			return
		}
		for range r.All() {
		}
		r.Time()
	})
}
