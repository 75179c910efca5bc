package sigma

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const specCorrelationDir = sigmaData + "/specification/tests/schema/correlation"

// stubRules defines detection rules for every rule the spec's correlation examples reference.
const stubRules = `
title: Failed logon stub
id: 5638f7c0-ac70-491d-8465-2a65075e0d86
logsource: {product: windows, service: security}
detection: {selection: {EventID: 4625}, condition: selection}
---
title: Recon A
name: recon_cmd_a
logsource: {product: windows, category: process_creation}
detection: {selection: {CommandLine|contains: whoami}, condition: selection}
---
title: Recon B
name: recon_cmd_b
logsource: {product: windows, category: process_creation}
detection: {selection: {CommandLine|contains: ipconfig}, condition: selection}
---
title: Recon C
name: recon_cmd_c
logsource: {product: windows, category: process_creation}
detection: {selection: {CommandLine|contains: netstat}, condition: selection}
---
title: Rule A
name: rule_a_id
logsource: {category: proxy}
detection: {selection: {cs-method: POST}, condition: selection}
---
title: Website access
name: website_access
logsource: {category: proxy}
detection: {selection: {cs-method: GET}, condition: selection}
---
title: Process creation
name: process_creation
logsource: {product: windows, category: process_creation}
detection: {selection: {Image|exists: true}, condition: selection}
`

var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// loadCorrelationExample loads one spec example together with the stub rules.
func loadCorrelationExample(t *testing.T, name string) (*RuleSet, *Correlation) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(specCorrelationDir, name))
	if err != nil {
		t.Skipf("specification examples not available: %v", err)
	}
	rs, refusals := LoadBytes(name, append(append(data, "\n---\n"...), stubRules...), LoadOptions{})
	if len(refusals) > 0 {
		t.Fatalf("refused: %v", refusals)
	}
	if len(rs.Correlations) != 1 {
		t.Fatalf("%d correlations, want 1", len(rs.Correlations))
	}
	return rs, rs.Correlations[0]
}

func det(rs *RuleSet, ref string, at time.Time, kv ...string) Detection {
	rec := &Record{}
	for i := 0; i+1 < len(kv); i += 2 {
		rec.Add(kv[i], kv[i+1])
	}
	r := rs.RuleByID(ref)
	if r == nil {
		panic("no rule " + ref)
	}
	return Detection{Rule: r, Time: at, Record: rec}
}

func TestSpecCorrelationExamplesLoad(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(specCorrelationDir, "*.yml"))
	if len(files) == 0 {
		t.Skip("specification examples not available")
	}
	want := map[string]struct {
		typ     string
		span    time.Duration
		groupBy string
		cond    string
	}{
		"event_count.yml":      {CorrEventCount, time.Hour, "ComputerName", "gte 100"},
		"event_count_ecs.yml":  {CorrEventCount, time.Hour, "dns.question.name", "gte 100"},
		"value_count.yml":      {CorrValueCount, 24 * time.Hour, "ComputerName,WorkstationName", "gte 100"},
		"value_sum.yml":        {CorrValueSum, time.Hour, "SourceIP,User", "gt 1e+06"},
		"value_avg.yml":        {CorrValueAvg, 24 * time.Hour, "SourceIP,User", "gt 500"},
		"value_percentile.yml": {CorrValuePercentile, 24 * time.Hour, "ComputerName", "lte 1"},
		"temporal.yml":         {CorrTemporal, 5 * time.Minute, "ComputerName,User", "gte 3"},
		"temporal_ordered.yml": {CorrTemporalOrdered, 5 * time.Minute, "ComputerName,User", "gte 3"},
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			_, c := loadCorrelationExample(t, name)
			w, ok := want[name]
			if !ok {
				t.Fatalf("unexpected example %s", name)
			}
			var conds []string
			for _, o := range c.Condition.Ops {
				conds = append(conds, fmt.Sprintf("%s %g", o.Op, o.Value))
			}
			got := []string{c.Type, c.Timespan.String(), strings.Join(c.GroupBy, ","), strings.Join(conds, ",")}
			exp := []string{w.typ, w.span.String(), w.groupBy, w.cond}
			if strings.Join(got, "|") != strings.Join(exp, "|") {
				t.Errorf("got %v, want %v", got, exp)
			}
		})
	}
}

func TestEventCountGroupsWindowsAndLateness(t *testing.T) {
	rs, _ := loadCorrelationExample(t, "event_count.yml")
	const id = "5638f7c0-ac70-491d-8465-2a65075e0d86"
	cr := NewCorrelator(rs, CorrelatorOptions{})
	var alerts []CorrelationAlert
	// 99 failures on host A and 99 on host B within the hour: nothing yet.
	for i := 0; i < 99; i++ {
		alerts = append(alerts, cr.Observe(det(rs, id, t0.Add(time.Duration(i)*10*time.Second), "ComputerName", "A"))...)
		alerts = append(alerts, cr.Observe(det(rs, id, t0.Add(time.Duration(i)*10*time.Second), "ComputerName", "B"))...)
	}
	if len(alerts) != 0 {
		t.Fatalf("alerts before the 100th event: %v", alerts)
	}
	// The 100th on host A fires for A only.
	alerts = cr.Observe(det(rs, id, t0.Add(990*time.Second), "ComputerName", "A"))
	if len(alerts) != 1 || alerts[0].GroupBy["ComputerName"] != "A" || alerts[0].Value != 100 || len(alerts[0].Matches) != 100 {
		t.Fatalf("want one alert for A with 100 matches, got %+v", summarize(alerts))
	}
	// Host B: its 100th event comes 2 hours after the first: the first ones are outside any
	// one-hour window with it, so no alert.
	alerts = cr.Observe(det(rs, id, t0.Add(2*time.Hour), "ComputerName", "B"))
	if len(alerts) != 0 {
		t.Fatalf("window expiry: unexpected %v", summarize(alerts))
	}
	// A late event (beyond the 2 minute lateness) is dropped and counted.
	if a := cr.Observe(det(rs, id, t0.Add(2*time.Hour-3*time.Minute), "ComputerName", "C")); len(a) != 0 {
		t.Fatalf("late event fired %v", a)
	}
	if st := cr.Stats(); st.Late != 1 {
		t.Fatalf("late = %d, want 1", st.Late)
	}
	// Expired state is gone: only host B's last event remains.
	if st := cr.Stats(); st.Groups != 1 {
		t.Fatalf("groups = %d, want 1 after expiry", st.Groups)
	}
}

func TestEventCountOutOfOrder(t *testing.T) {
	rs, _ := loadCorrelationExample(t, "event_count.yml")
	const id = "5638f7c0-ac70-491d-8465-2a65075e0d86"
	rnd := rand.New(rand.NewPCG(3, 4))
	times := make([]time.Time, 100)
	for i := range times {
		times[i] = t0.Add(time.Duration(i) * time.Second)
	}
	// Shuffle within a 60-second horizon (less than the 2 minute lateness).
	for i := range times {
		j := min(len(times)-1, i+rnd.IntN(60))
		times[i], times[j] = times[j], times[i]
	}
	cr := NewCorrelator(rs, CorrelatorOptions{})
	var alerts []CorrelationAlert
	for _, at := range times {
		alerts = append(alerts, cr.Observe(det(rs, id, at, "ComputerName", "A"))...)
	}
	if len(alerts) != 1 || len(alerts[0].Matches) != 100 {
		t.Fatalf("want exactly one alert over 100 shuffled events, got %v", summarize(alerts))
	}
	if !alerts[0].Start.Equal(t0) || !alerts[0].End.Equal(t0.Add(99*time.Second)) {
		t.Fatalf("window %v..%v, want event-time bounds", alerts[0].Start, alerts[0].End)
	}
	if st := cr.Stats(); st.Late != 0 {
		t.Fatalf("late = %d, want 0", st.Late)
	}
}

func TestValueCount(t *testing.T) {
	rs, _ := loadCorrelationExample(t, "value_count.yml")
	const id = "5638f7c0-ac70-491d-8465-2a65075e0d86"
	cr := NewCorrelator(rs, CorrelatorOptions{})
	var alerts []CorrelationAlert
	// 200 failures with only 50 distinct users: no alert.
	for i := 0; i < 200; i++ {
		alerts = append(alerts, cr.Observe(det(rs, id, t0.Add(time.Duration(i)*time.Minute),
			"ComputerName", "DC1", "WorkstationName", "WS1", "User", fmt.Sprintf("user%d", i%50)))...)
	}
	if len(alerts) != 0 {
		t.Fatalf("50 distinct users fired: %v", summarize(alerts))
	}
	// The same 100 distinct users from another workstation: fires at the 100th.
	for i := 0; i < 100; i++ {
		alerts = append(alerts, cr.Observe(det(rs, id, t0.Add(200*time.Minute+time.Duration(i)*time.Second),
			"ComputerName", "DC1", "WorkstationName", "WS2", "User", fmt.Sprintf("user%d", i)))...)
	}
	if len(alerts) != 1 || alerts[0].Value != 100 || alerts[0].GroupBy["WorkstationName"] != "WS2" {
		t.Fatalf("want one alert for WS2 with 100 users, got %v", summarize(alerts))
	}
}

func TestValueSum(t *testing.T) {
	rs, _ := loadCorrelationExample(t, "value_sum.yml")
	cr := NewCorrelator(rs, CorrelatorOptions{})
	var alerts []CorrelationAlert
	for i := 0; i < 10; i++ { // 10 x 100 kB = exactly 1,000,000: not "gt"
		alerts = append(alerts, cr.Observe(det(rs, "website_access", t0.Add(time.Duration(i)*time.Minute),
			"SourceIP", "10.0.0.5", "User", "bob", "bytes_sent", "100000"))...)
	}
	if len(alerts) != 0 {
		t.Fatalf("sum of exactly 1e6 fired: %v", summarize(alerts))
	}
	alerts = cr.Observe(det(rs, "website_access", t0.Add(11*time.Minute), "SourceIP", "10.0.0.5", "User", "bob", "bytes_sent", "1"))
	if len(alerts) != 1 || alerts[0].Value != 1000001 {
		t.Fatalf("want one alert with sum 1000001, got %v", summarize(alerts))
	}
}

func TestValueAvgClosesWindows(t *testing.T) {
	rs, _ := loadCorrelationExample(t, "value_avg.yml")
	cr := NewCorrelator(rs, CorrelatorOptions{})
	var alerts []CorrelationAlert
	for i, b := range []string{"100", "900", "800"} { // avg 600 > 500
		alerts = append(alerts, cr.Observe(det(rs, "rule_a_id", t0.Add(time.Duration(i)*time.Hour), "SourceIP", "10.0.0.7", "User", "eve", "BytesOut", b))...)
	}
	for i, b := range []string{"100", "200"} { // avg 150
		alerts = append(alerts, cr.Observe(det(rs, "rule_a_id", t0.Add(time.Duration(i)*time.Hour), "SourceIP", "10.0.0.8", "User", "eve", "BytesOut", b))...)
	}
	if len(alerts) != 0 {
		t.Fatalf("value_avg fired before its window closed: %v", summarize(alerts))
	}
	// The watermark passes t0+24h+lateness: the windows close.
	alerts = cr.Advance(t0.Add(24*time.Hour + 3*time.Minute))
	if len(alerts) != 1 || alerts[0].GroupBy["SourceIP"] != "10.0.0.7" || alerts[0].Value != 600 {
		t.Fatalf("want one alert for 10.0.0.7 with avg 600, got %v", summarize(alerts))
	}
	if st := cr.Stats(); st.Groups != 0 {
		t.Fatalf("groups = %d after closing, want 0", st.Groups)
	}
}

func TestValuePercentileRareValue(t *testing.T) {
	rs, _ := loadCorrelationExample(t, "value_percentile.yml")
	cr := NewCorrelator(rs, CorrelatorOptions{})
	for i := 0; i < 199; i++ {
		img := `C:\Windows\System32\svchost.exe`
		if i%2 == 0 {
			img = `C:\Windows\explorer.exe`
		}
		cr.Observe(det(rs, "process_creation", t0.Add(time.Duration(i)*time.Minute), "ComputerName", "WS1", "Image", img))
	}
	cr.Observe(det(rs, "process_creation", t0.Add(200*time.Minute), "ComputerName", "WS1", "Image", `C:\Users\x\evil.exe`))
	alerts := cr.Flush()
	// evil.exe is 1 of 200 = 0.5% <= 1; the others are ~50%.
	if len(alerts) != 1 || alerts[0].FieldValue != `C:\Users\x\evil.exe` || alerts[0].Value != 0.5 {
		t.Fatalf("want one alert for the rare image, got %v", summarize(alerts))
	}
}

func TestTemporalAndOrdered(t *testing.T) {
	for _, tc := range []struct {
		file  string
		order []string
		want  int
	}{
		{"temporal.yml", []string{"recon_cmd_c", "recon_cmd_a", "recon_cmd_b"}, 1},
		{"temporal.yml", []string{"recon_cmd_a", "recon_cmd_b"}, 0},
		{"temporal_ordered.yml", []string{"recon_cmd_a", "recon_cmd_b", "recon_cmd_c"}, 1},
		{"temporal_ordered.yml", []string{"recon_cmd_c", "recon_cmd_b", "recon_cmd_a"}, 0},
		{"temporal_ordered.yml", []string{"recon_cmd_b", "recon_cmd_a", "recon_cmd_c", "recon_cmd_b", "recon_cmd_c"}, 1},
	} {
		t.Run(tc.file+":"+strings.Join(tc.order, ","), func(t *testing.T) {
			rs, _ := loadCorrelationExample(t, tc.file)
			cr := NewCorrelator(rs, CorrelatorOptions{})
			var alerts []CorrelationAlert
			for i, r := range tc.order {
				at := t0.Add(time.Duration(i) * time.Minute)
				alerts = append(alerts, cr.Observe(det(rs, r, at, "ComputerName", "WS1", "User", "alice"))...)
				// The same commands by another user never complete a group of alice's.
				alerts = append(alerts, cr.Observe(det(rs, r, at, "ComputerName", "WS1", "User", "mallory"+fmt.Sprint(i)))...)
			}
			if len(alerts) != tc.want {
				t.Fatalf("got %d alerts %v, want %d", len(alerts), summarize(alerts), tc.want)
			}
			if tc.want == 1 && alerts[0].GroupBy["User"] != "alice" {
				t.Fatalf("alert for %v, want alice", alerts[0].GroupBy)
			}
		})
	}
	// Outside the 5-minute timespan nothing fires.
	rs, _ := loadCorrelationExample(t, "temporal.yml")
	cr := NewCorrelator(rs, CorrelatorOptions{})
	var alerts []CorrelationAlert
	for i, r := range []string{"recon_cmd_a", "recon_cmd_b", "recon_cmd_c"} {
		alerts = append(alerts, cr.Observe(det(rs, r, t0.Add(time.Duration(i)*4*time.Minute), "ComputerName", "WS1", "User", "alice"))...)
	}
	if len(alerts) != 0 {
		t.Fatalf("events 8 minutes apart fired: %v", summarize(alerts))
	}
}

// specChainExample is the "Failed Logins Followed by Successful Login" example of the
// correlation specification (with the failed-login threshold lowered to keep the test short).
const specChainExample = `
title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
status: experimental
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 528
            - 4624
    condition: selection
`

func TestChainedCorrelation(t *testing.T) {
	rs, refusals := LoadBytes("chain.yml", []byte(specChainExample), LoadOptions{})
	if len(refusals) > 0 {
		t.Fatal(refusals)
	}
	if !rs.RuleByID("failed_login").CorrelationOnly || !rs.RuleByID("successful_login").CorrelationOnly {
		t.Fatal("rules referenced with generate: false must be correlation-only")
	}
	// The whole pipeline: engine matches, correlator correlates.
	eng, _ := NewEngine(rs, EngineOptions{})
	m := eng.NewMatcher()
	cr := NewCorrelator(rs, CorrelatorOptions{})
	feed := func(eid, user string, at time.Time) []CorrelationAlert {
		var rec Record
		rec.Add("Channel", "Security")
		rec.Add("EventID", eid)
		rec.Add("User", user)
		var out []CorrelationAlert
		for _, hit := range m.Match(&rec) {
			out = append(out, cr.Observe(Detection{Rule: hit.Rule, Time: at, Record: &rec})...)
		}
		return out
	}
	var alerts []CorrelationAlert
	// bob logs in successfully first, then fails 10 times: wrong order, no alert.
	alerts = append(alerts, feed("4624", "bob", t0)...)
	for i := 0; i < 10; i++ {
		alerts = append(alerts, feed("4625", "bob", t0.Add(time.Duration(i+1)*time.Second))...)
	}
	// alice fails 10 times, then succeeds.
	for i := 0; i < 10; i++ {
		alerts = append(alerts, feed("4625", "alice", t0.Add(time.Minute+time.Duration(i)*time.Second))...)
	}
	alerts = append(alerts, feed("4624", "alice", t0.Add(2*time.Minute))...)
	if len(alerts) != 1 {
		t.Fatalf("want one alert, got %v", summarize(alerts))
	}
	a := alerts[0]
	if a.RuleID != "b180ead8-d58f-40b2-ae54-c8940995b9b6" || a.GroupBy["User"] != "alice" || len(a.Matches) != 2 || a.Matches[0].Alert == nil || len(a.Matches[0].Alert.Matches) != 10 {
		t.Fatalf("unexpected alert %+v", a)
	}
	// With EmitIntermediate the inner event_count alerts (bob's and alice's) show too.
	cr = NewCorrelator(rs, CorrelatorOptions{EmitIntermediate: true})
	alerts = nil
	for i := 0; i < 10; i++ {
		alerts = append(alerts, feed("4625", "carol", t0.Add(time.Duration(i)*time.Second))...)
	}
	if len(alerts) != 1 || !alerts[0].Intermediate {
		t.Fatalf("want one intermediate alert, got %v", summarize(alerts))
	}
}

// specAliasesExample is the field name aliases example of the correlation specification.
const specAliasesExample = `
title: Internal error then connection
id: 0b3ad2bd-3a68-4fb0-b3a6-8a8d7f0e4bd1
correlation:
    type: temporal
    rules:
        - internal_error
        - new_network_connection
    group-by:
        - internal_ip
        - remote_ip
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_network_connection: source.ip
        remote_ip:
            internal_error: source.ip
            new_network_connection: destination.ip
---
title: Internal error
name: internal_error
logsource: {category: webserver}
detection:
    selection:
        http.response.status_code: 500
    condition: selection
---
title: New network connection
name: new_network_connection
logsource: {category: network, service: connection}
detection:
    selection:
        event.category: network
        event.type: connection
        event.outcome: success
    condition: selection
`

func TestCorrelationAliases(t *testing.T) {
	rs, refusals := LoadBytes("aliases.yml", []byte(specAliasesExample), LoadOptions{})
	if len(refusals) > 0 {
		t.Fatal(refusals)
	}
	cr := NewCorrelator(rs, CorrelatorOptions{})
	var alerts []CorrelationAlert
	// Web server 10.0.0.1 answers 500 to 203.0.113.9, then connects back to it: correlated.
	alerts = append(alerts, cr.Observe(det(rs, "internal_error", t0, "source.ip", "203.0.113.9", "destination.ip", "10.0.0.1"))...)
	// A connection with the addresses the other way round does not match the aliases.
	alerts = append(alerts, cr.Observe(det(rs, "new_network_connection", t0.Add(time.Second), "source.ip", "203.0.113.9", "destination.ip", "10.0.0.1"))...)
	if len(alerts) != 0 {
		t.Fatalf("reversed addresses correlated: %v", summarize(alerts))
	}
	alerts = cr.Observe(det(rs, "new_network_connection", t0.Add(2*time.Second), "source.ip", "10.0.0.1", "destination.ip", "203.0.113.9"))
	if len(alerts) != 1 || alerts[0].GroupBy["internal_ip"] != "10.0.0.1" || alerts[0].GroupBy["remote_ip"] != "203.0.113.9" {
		t.Fatalf("want one alert for 10.0.0.1/203.0.113.9, got %v", summarize(alerts))
	}
}

func TestCorrelatorCaps(t *testing.T) {
	rs, _ := loadCorrelationExample(t, "event_count.yml")
	const id = "5638f7c0-ac70-491d-8465-2a65075e0d86"
	cr := NewCorrelator(rs, CorrelatorOptions{MaxGroups: 2, MaxEventsPerGroup: 5})
	for i := 0; i < 3; i++ {
		cr.Observe(det(rs, id, t0, "ComputerName", fmt.Sprint("host", i)))
	}
	for i := 0; i < 10; i++ {
		cr.Observe(det(rs, id, t0.Add(time.Duration(i)*time.Second), "ComputerName", "host0"))
	}
	st := cr.Stats()
	if st.GroupsDropped != 1 || st.EventsDropped != 6 || st.Groups != 2 {
		t.Fatalf("stats %+v: want 1 group dropped, 6 events dropped, 2 groups", st)
	}
}

func TestCorrelationValidation(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown type":      "title: x\ncorrelation: {type: value_median, rules: [r], group-by: [a], timespan: 1h, condition: {field: f, gt: 1}}",
		"no timespan":       "title: x\ncorrelation: {type: event_count, rules: [r], group-by: [a], condition: {gte: 1}}",
		"bad timespan":      "title: x\ncorrelation: {type: event_count, rules: [r], group-by: [a], timespan: 1y, condition: {gte: 1}}",
		"no condition":      "title: x\ncorrelation: {type: event_count, rules: [r], group-by: [a], timespan: 1h}",
		"no field":          "title: x\ncorrelation: {type: value_count, rules: [r], group-by: [a], timespan: 1h, condition: {gte: 1}}",
		"no group-by":       "title: x\ncorrelation: {type: event_count, rules: [r], timespan: 1h, condition: {gte: 1}}",
		"unknown reference": "title: x\ncorrelation: {type: event_count, rules: [nope], group-by: [a], timespan: 1h, condition: {gte: 1}}",
		"bad operator":      "title: x\ncorrelation: {type: event_count, rules: [r], group-by: [a], timespan: 1h, condition: {ge: 1}}",
		"self cycle":        "title: x\nname: x\ncorrelation: {type: event_count, rules: [x], group-by: [a], timespan: 1h, condition: {gte: 1}}",
	} {
		t.Run(name, func(t *testing.T) {
			rs, refusals := LoadBytes(name+".yml", []byte(doc+"\n---\ntitle: r\nname: r\nlogsource: {product: p}\ndetection: {s: {a: 1}, condition: s}\n"), LoadOptions{})
			if len(refusals) != 1 || len(rs.Correlations) != 0 {
				t.Fatalf("want the correlation refused, got refusals %v", refusals)
			}
			if refusals[0].File != name+".yml" || refusals[0].Error == "" {
				t.Fatalf("refusal must name file and reason: %+v", refusals[0])
			}
		})
	}
}

func summarize(as []CorrelationAlert) []string {
	var out []string
	for _, a := range as {
		out = append(out, fmt.Sprintf("%s%v=%g(%d matches)", a.Title, a.GroupBy, a.Value, len(a.Matches)))
	}
	return out
}

// TestChainedClosedWindows chains a correlation whose windows close on the watermark (a
// "fewer than 3" count) into an outer one: the inner alert produced at window close, and at
// flush, must reach the outer correlation in the same pass.
func TestChainedClosedWindows(t *testing.T) {
	const doc = `
title: Outer
correlation: {type: event_count, rules: [few_logins], group-by: [User], timespan: 1h, condition: {gte: 1}}
---
title: Few logins
name: few_logins
correlation: {type: event_count, rules: [login], group-by: [User], timespan: 1m, condition: {lt: 3}}
---
title: Login
name: login
logsource: {product: linux, service: auth}
detection: {s: {msg|contains: Accepted}, condition: s}
`
	rs, refusals := LoadBytes("c.yml", []byte(doc), LoadOptions{})
	if len(refusals) > 0 {
		t.Fatal(refusals)
	}
	cr := NewCorrelator(rs, CorrelatorOptions{AllowedLateness: time.Second})
	var alerts []CorrelationAlert
	alerts = append(alerts, cr.Observe(det(rs, "login", t0, "User", "a"))...)
	alerts = append(alerts, cr.Observe(det(rs, "login", t0.Add(time.Second), "User", "a"))...)
	for i := 0; i < 3; i++ {
		alerts = append(alerts, cr.Observe(det(rs, "login", t0.Add(time.Duration(i)*time.Second), "User", "b"))...)
	}
	if len(alerts) != 0 {
		t.Fatalf("closed-window correlation fired early: %v", summarize(alerts))
	}
	// The watermark passes the minute: a's window (2 logins) closes and fires the inner
	// correlation, whose alert fires the outer one; b's window (3 logins) does not.
	alerts = cr.Advance(t0.Add(2 * time.Minute))
	if len(alerts) != 1 || alerts[0].Title != "Outer" || alerts[0].GroupBy["User"] != "a" || alerts[0].Matches[0].Alert == nil {
		t.Fatalf("want the outer alert for a, got %v", summarize(alerts))
	}
	cr.Observe(det(rs, "login", t0.Add(3*time.Minute), "User", "c"))
	if alerts = cr.Flush(); len(alerts) != 1 || alerts[0].GroupBy["User"] != "c" {
		t.Fatalf("flush: want the outer alert for c, got %v", summarize(alerts))
	}
}
