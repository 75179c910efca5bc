package detect

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/demo"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/normalize"
)

// scenario returns the normalized events of one demo scenario starting at start.
func scenario(t *testing.T, name string, start time.Time) []event.Event {
	t.Helper()
	recs, err := demo.NewOrg().Scenario(name, start)
	if err != nil {
		t.Fatal(err)
	}
	return normalized(t, recs)
}

func normalized(t *testing.T, recs []demo.Record) []event.Event {
	t.Helper()
	var evs []event.Event
	for i, r := range recs {
		ev, err := normalize.Event(normalize.Input{Raw: r.Data, Origin: event.Origin{Source: "demo", Format: r.Format, Record: int64(i + 1), Received: r.Time}, Hint: r.Hint})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func TestBuiltinRulesLoad(t *testing.T) {
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.Refusals()); n != 0 {
		t.Fatalf("%d builtin rules refused: %v", n, d.Refusals())
	}
	if d.RuleCount() < 15 {
		t.Fatalf("only %d builtin rules", d.RuleCount())
	}
}

// TestDemoScenarios runs the builtin rules over the demo organisation: every attack is
// detected, and the normal day raises nothing.
func TestDemoScenarios(t *testing.T) {
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	org := demo.NewOrg()
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	if alerts := append(d.Detect(normalized(t, org.Background(day))), d.Flush()...); len(alerts) != 0 {
		var titles []string
		for _, a := range alerts {
			titles = append(titles, a.RuleTitle+" on "+a.Host)
		}
		t.Fatalf("the normal day raised %d alerts: %v", len(alerts), titles)
	}
	want := map[string][]string{
		demo.ScenarioRansomware: {
			"Office Application Spawns a Script Interpreter", "Encoded PowerShell Command Line", "Account and Domain Discovery Commands",
			"LSASS Memory Dump via comsvcs.dll MiniDump", "Suspicious Access to LSASS Memory", "PowerShell Connects to a Public Address",
			"Explicit Credentials Used Against a Remote Host", "Executable Written Through an Administrative Share", "PsExec Service Installed",
			"Shadow Copies Deleted or Recovery Disabled", "Ransomware Note or Encrypted File Created",
		},
		demo.ScenarioOAuthConsent:  {"User Consented to an Application With Mail Permissions", "Application Synchronises a Mailbox From Outside"},
		demo.ScenarioPasswordSpray: {"Password Spray Against Okta From One Address", "Inbox Rule Forwards or Hides Mail"},
	}
	for name, titles := range want {
		t.Run(name, func(t *testing.T) {
			d, _ := New(Options{})
			recs, err := org.Scenario(name, day.Add(26*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			evs := normalized(t, recs)
			alerts := append(d.Detect(evs), d.Flush()...)
			got := map[string]event.Alert{}
			for _, a := range alerts {
				got[a.RuleTitle] = a
				if len(a.EventIDs) == 0 {
					t.Errorf("%s: alert without events", a.RuleTitle)
				}
				if a.Source == "sigma" && len(a.Matches) == 0 {
					t.Errorf("%s: alert without matched fields", a.RuleTitle)
				}
				if len(a.Tactics) == 0 || len(a.Techniques) == 0 {
					t.Errorf("%s: no ATT&CK mapping (%v %v)", a.RuleTitle, a.Tactics, a.Techniques)
				}
			}
			for _, title := range titles {
				if _, ok := got[title]; !ok {
					names := make([]string, 0, len(got))
					for k := range got {
						names = append(names, k)
					}
					sort.Strings(names)
					t.Errorf("missing %q; got %v", title, names)
				}
			}
			if a, ok := got["Password Spray Against Okta From One Address"]; ok {
				if a.SrcIP != demo.SprayIP || len(a.EventIDs) < 5 {
					t.Errorf("spray alert: src %q, %d events", a.SrcIP, len(a.EventIDs))
				}
			}
		})
	}
}

func TestDetectIsIdempotent(t *testing.T) {
	d, _ := New(Options{})
	evs := scenario(t, demo.ScenarioRansomware, time.Date(2026, 3, 3, 2, 0, 0, 0, time.UTC))
	a1 := d.Detect(evs)
	d2, _ := New(Options{})
	a2 := d2.Detect(evs)
	if len(a1) != len(a2) || len(a1) == 0 {
		t.Fatalf("%d vs %d alerts", len(a1), len(a2))
	}
	for i := range a1 {
		if a1[i].ID != a2[i].ID {
			t.Fatalf("alert %d: IDs differ across runs: %s %s", i, a1[i].ID, a2[i].ID)
		}
	}
}

// whoamiRule is a Sigma rule for whoami.exe runs.
const whoamiRule = `title: Whoami
id: 11111111-2222-3333-4444-555555555555
logsource: {category: process_creation, product: windows}
detection:
  sel: {Image|endswith: '\whoami.exe'}
  condition: sel
level: low
`

func TestHotReloadAndBadRule(t *testing.T) {
	dir := t.TempDir()
	good := whoamiRule
	if err := os.WriteFile(filepath.Join(dir, "good.yml"), []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := New(Options{Dirs: []string{dir}, NoBuiltin: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.RuleCount() != 1 {
		t.Fatalf("rules = %d", d.RuleCount())
	}
	if changed, err := d.Reload(); err != nil || changed {
		t.Fatalf("reload without change: %v %v", changed, err)
	}
	// A broken rule is refused and named; the good one stays.
	if err := os.WriteFile(filepath.Join(dir, "bad.yml"), []byte("title: Broken\nlogsource: {product: windows}\ndetection:\n  sel: {a|nosuchmodifier: x}\n  condition: sel\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Second)
	os.Chtimes(filepath.Join(dir, "bad.yml"), later, later)
	changed, err := d.Reload()
	if err != nil || !changed {
		t.Fatalf("reload after change: %v %v", changed, err)
	}
	if d.RuleCount() != 1 || len(d.Refusals()) != 1 || !strings.Contains(d.Refusals()[0].File, "bad.yml") {
		t.Fatalf("after a bad rule: %d rules, refusals %v", d.RuleCount(), d.Refusals())
	}
}

// TestMatchValuesSurviveLaterEvents: an alert's matched values are its own event's, even after
// the detector has gone on to other events (the matcher reuses its record buffers).
func TestMatchValuesSurviveLaterEvents(t *testing.T) {
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	evs := scenario(t, demo.ScenarioRansomware, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	byID := map[string]*event.Event{}
	for i := range evs {
		byID[evs[i].ID] = &evs[i]
	}
	alerts := d.Detect(evs)
	checked := 0
	for _, a := range alerts {
		if len(a.EventIDs) != 1 || a.Source != "sigma" {
			continue
		}
		var v any
		if err := json.Unmarshal(byID[a.EventIDs[0]].Raw, &v); err != nil {
			t.Fatal(err)
		}
		raw := strings.Join(stringsOf(v), "\n")
		for _, m := range a.Matches {
			checked++
			if !strings.Contains(raw, m.Value) {
				t.Errorf("%s: matched %s=%q is not in its event %s", a.RuleTitle, m.Field, m.Value, a.EventIDs[0])
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d matched values checked", checked)
	}
}

func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case float64, bool:
		return []string{fmt.Sprint(x)}
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, stringsOf(e)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, stringsOf(e)...)
		}
		return out
	}
	return nil
}

// TestRedeliveryCountsOnce delivers the password-spray scenario as bus messages, then
// delivers every message again: the alerts are the same (the correlation alert included) and
// the behavioural profiles are unchanged; the same events under new message IDs do change
// them, so the comparison can fail.
func TestRedeliveryCountsOnce(t *testing.T) {
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	evs := scenario(t, demo.ScenarioPasswordSpray, time.Date(2026, 3, 3, 2, 0, 0, 0, time.UTC))
	deliver := func(prefix string) map[string]bool {
		ids := map[string]bool{}
		for i := 0; i < len(evs); i += 5 {
			for _, a := range d.DetectOnce(fmt.Sprintf("%s-%d", prefix, i), evs[i:min(i+5, len(evs))]) {
				ids[a.ID+" "+a.RuleTitle] = true
			}
		}
		return ids
	}
	first := deliver("m")
	spray := false
	for k := range first {
		spray = spray || strings.HasSuffix(k, " Password Spray Against Okta From One Address")
	}
	if !spray {
		t.Fatalf("no spray correlation alert among %v", first)
	}
	state, err := d.BehaviorState()
	if err != nil {
		t.Fatal(err)
	}
	again := deliver("m")
	if fmt.Sprint(sortedKeys(again)) != fmt.Sprint(sortedKeys(first)) {
		t.Errorf("redelivery alerts differ:\n first %v\n again %v", sortedKeys(first), sortedKeys(again))
	}
	if st, _ := d.BehaviorState(); string(st) != string(state) {
		t.Error("redelivered events changed the behavioural profiles")
	}
	deliver("other")
	if st, _ := d.BehaviorState(); string(st) == string(state) {
		t.Error("new deliveries of the same events left the profiles as they were: the check above proves nothing")
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestReplayMemoryIsBounded(t *testing.T) {
	var r replayMemory
	for i := range replayWindow + 10 {
		r.put(fmt.Sprint(i), nil)
	}
	if len(r.alerts) != replayWindow {
		t.Fatalf("%d keys remembered, want %d", len(r.alerts), replayWindow)
	}
	if _, ok := r.get("9"); ok {
		t.Error("key 9 should have been forgotten")
	}
	if _, ok := r.get("10"); !ok {
		t.Error("key 10 should be remembered")
	}
}

// TestCorrelationWindowsSurviveReloadAndRestart counts whoami runs per host in a correlation
// (three in ten minutes): two runs, then a rule reload or a restart from the snapshot, then the
// third run must fire it, with the alert ID an uninterrupted detector gives.
func TestCorrelationWindowsSurviveReloadAndRestart(t *testing.T) {
	dir := t.TempDir()
	rules := whoamiRule + `---
title: Whoami three times on one host
id: 11111111-2222-3333-4444-666666666666
correlation:
  type: event_count
  rules: [11111111-2222-3333-4444-555555555555]
  group-by: [Computer]
  timespan: 10m
  condition: {gte: 3}
level: high
`
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	run := func(i int) []event.Event {
		return []event.Event{{ID: fmt.Sprintf("ev_%d", i), Time: t0.Add(time.Duration(i) * time.Minute), Product: "windows", Category: "process_creation",
			Raw: json.RawMessage(`{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\whoami.exe","Computer":"WS1"}`)}}
	}
	corrAlert := func(as []event.Alert) string {
		for _, a := range as {
			if a.RuleTitle == "Whoami three times on one host" {
				return a.ID
			}
		}
		return ""
	}
	open := func() *Detector {
		d, err := New(Options{Dirs: []string{dir}, NoBuiltin: true, NoBehavior: true})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	whole := open()
	var want string
	for i := range 3 {
		want += corrAlert(whole.Detect(run(i)))
	}
	if want == "" {
		t.Fatal("three runs do not fire the correlation")
	}

	reloaded := open()
	reloaded.Detect(run(0))
	reloaded.Detect(run(1))
	if err := os.WriteFile(filepath.Join(dir, "other.yml"), []byte(strings.Replace(whoamiRule, "55555555\n", "77777777\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := reloaded.Reload(); err != nil || !changed {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if got := corrAlert(reloaded.Detect(run(2))); got != want {
		t.Errorf("after a reload: correlation alert %q, want %q", got, want)
	}

	first := open()
	first.Detect(run(0))
	first.Detect(run(1))
	snap, err := first.CorrelationState()
	if err != nil || len(snap) == 0 {
		t.Fatalf("snapshot: %v %q", err, snap)
	}
	restarted := open()
	if err := restarted.RestoreCorrelations(snap); err != nil {
		t.Fatal(err)
	}
	if got := corrAlert(restarted.Detect(run(2))); got != want {
		t.Errorf("after a restart: correlation alert %q, want %q", got, want)
	}
	if err := open().RestoreCorrelations([]byte("{not json")); err == nil {
		t.Error("a damaged snapshot restored without error")
	}
}
