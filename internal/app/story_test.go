package app

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/vigil-soc/vigil/internal/api"
	"github.com/vigil-soc/vigil/internal/audit"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/demo"
	"github.com/vigil-soc/vigil/internal/event"
)

// demoApp plays the demo (with its simulated services) in a fresh data directory.
// openTestApp opens an App on cfg that logs nowhere, closed when the test ends.
func openTestApp(tb testing.TB, cfg config.Config) *App {
	tb.Helper()
	a, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return a
}

func demoApp(t *testing.T, injected bool, scen ...string) (*App, DemoReport) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	now := time.Now().UTC()
	stop, err := PrepareDemo(&cfg, now, scen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	ctx := context.Background()
	a := openTestApp(t, cfg)
	rep, err := a.RunDemo(ctx, DemoOptions{Scenarios: scen, Now: now, Injected: injected})
	if err != nil {
		t.Fatal(err)
	}
	return a, rep
}

func byScenario(rep DemoReport) map[string]DemoIncident {
	out := map[string]DemoIncident{}
	for _, inc := range rep.Incidents {
		if inc.Scenario != "" {
			out[inc.Scenario] = inc
		}
	}
	return out
}

func actionsByName(inc DemoIncident) map[string]event.Action {
	out := map[string]event.Action{}
	for _, a := range inc.Actions {
		out[a.Name+" "+a.Target] = a
	}
	return out
}

// apiServer serves the app's API as serve does.
func apiServer(t *testing.T, a *App) (*httptest.Server, func(method, path string, body any) (int, []byte)) {
	t.Helper()
	srv := &api.Server{Store: a.Store, Bus: a.Bus, Token: "t0ken", Metrics: a.Metrics, Log: a.Log,
		Triage: triageService{a}, Response: responseService{a}, Audit: auditService{a}, SOC: a.SOCMetrics, Incidents: incidentService{a}}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	call := func(method, path string, body any) (int, []byte) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, ts.URL+path, rd)
		req.Header.Set("Authorization", "Bearer t0ken")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	return ts, call
}

// TestDemoTellsTheWholeStory plays the three attacks of the simulated organisation end to
// end: each is detected, investigated to the right verdict with resolvable evidence, and
// contained under policy where the policy allows; the rest awaits a human; the audit trail
// verifies.
func TestDemoTellsTheWholeStory(t *testing.T) {
	a, rep := demoApp(t, false)
	incs := byScenario(rep)
	if len(incs) != 3 {
		t.Fatalf("incidents by scenario: %d of 3 (%d incidents in all)", len(incs), len(rep.Incidents))
	}
	_, call := apiServer(t, a)
	for name, inc := range incs {
		r := inc.Report
		if r.Verdict != event.VerdictTruePositive || r.Confidence < 0.9 {
			t.Errorf("%s: verdict %s %.2f", name, r.Verdict, r.Confidence)
		}
		if len(r.Steps) < 3 || len(r.Evidence) < 5 {
			t.Errorf("%s: %d steps, %d evidence items", name, len(r.Steps), len(r.Evidence))
		}
		// Every cited evidence ID resolves through the API, and event evidence names a stored event.
		for _, st := range r.Steps {
			for _, id := range st.Evidence {
				if code, _ := call("GET", "/api/v1/evidence/"+id, nil); code != 200 {
					t.Errorf("%s: evidence %s cited by %q: HTTP %d", name, id, st.Text, code)
				}
			}
		}
		for _, ev := range r.Evidence {
			if ev.Kind == "event" {
				if code, _ := call("GET", "/api/v1/events/"+ev.EventID, nil); code != 200 {
					t.Errorf("%s: event %s: HTTP %d", name, ev.EventID, code)
				}
			}
		}
		if inc.ContainmentSeconds == nil || *inc.ContainmentSeconds <= 0 || *inc.ContainmentSeconds > 60 {
			t.Errorf("%s: containment_seconds %v", name, inc.ContainmentSeconds)
		}
		// The incident detail as the API serves it carries the report and the actions.
		code, body := call("GET", "/api/v1/incidents/"+inc.ID, nil)
		var d struct {
			Report  map[string]any   `json:"report"`
			Actions []map[string]any `json:"actions"`
		}
		if code != 200 || json.Unmarshal(body, &d) != nil || d.Report["verdict"] != "true_positive" || len(d.Actions) != len(inc.Actions) {
			t.Errorf("%s: GET incident: %d %s", name, code, body[:min(len(body), 200)])
		}
	}
	oauth := actionsByName(incs[demo.ScenarioOAuthConsent])
	if oauth["revoke_grant app:"+demo.MaliciousAppID].Status != event.ActionCompleted || oauth[`revoke_sessions user:example\carol`].Status != event.ActionCompleted {
		t.Errorf("oauth consent actions: %+v", oauth)
	}
	spray := actionsByName(incs[demo.ScenarioPasswordSpray])
	for _, k := range []string{`revoke_sessions user:example\bob`, `delete_inbox_rule user:example\bob`, "block_indicator ip:" + demo.SprayIP} {
		if spray[k].Status != event.ActionCompleted {
			t.Errorf("password spray %s: %s %s", k, spray[k].Status, spray[k].LastError)
		}
	}
	// Investigations read the behavioural profiles of the accounts and hosts involved.
	profiled := 0
	for _, inc := range incs {
		for _, ev := range inc.Report.Evidence {
			if ev.Tool == "entity.profile" && strings.Contains(ev.Summary, "normal behaviour: ") && strings.Contains(ev.Summary, "usual hours (UTC)") {
				profiled++
			}
		}
	}
	if profiled == 0 {
		t.Error("no investigation evidence shows an account's behavioural profile")
	}
	// The behavioural detections saw the spray succeed: an alert of its own in the incident,
	// with the evidence as matched fields, and the profiles persisted.
	code, body := call("GET", "/api/v1/alerts?rule_id=ueba.spray_then_success", nil)
	var behav []event.Alert
	if code != 200 || json.Unmarshal(body, &behav) != nil || len(behav) != 1 {
		t.Fatalf("behavioural spray alert: %d %s", code, body[:min(len(body), 300)])
	}
	if b := behav[0]; b.Source != "behavior" || b.SrcIP != demo.SprayIP || b.Triage == nil || b.Triage.IncidentID != incs[demo.ScenarioPasswordSpray].ID ||
		len(b.Matches) == 0 || len(b.EventIDs) < 6 || !strings.Contains(b.Message, "then signed in as") {
		t.Errorf("behavioural spray alert: %+v", b)
	}
	if st, err := a.Store.GetState(context.Background(), nsUEBA, keyState); err != nil || !strings.Contains(string(st), `"users"`) {
		t.Errorf("behavioural profiles not persisted: %v", err)
	}
	// The analyst confirms it: the spray's source is unlearned from the account's profile (so
	// its return is news again), and the change is audited.
	code, body = call("POST", "/api/v1/alerts/"+behav[0].ID+"/feedback", map[string]string{"label": "true_positive", "reason": "confirmed_malicious", "analyst": "erin"})
	var fbRes FeedbackResult
	if code != 200 || json.Unmarshal(body, &fbRes) != nil || !strings.Contains(strings.Join(fbRes.Profiles, ";"), "unlearned address "+demo.SprayIP) {
		t.Errorf("feedback on the behavioural alert: %d %s", code, body[:min(len(body), 400)])
	}
	if entries, err := a.auditLog.Entries(context.Background(), audit.Query{Action: "ueba.verdict", Subject: behav[0].ID}); err != nil || len(entries) != 1 || entries[0].Actor != "analyst:erin" {
		t.Errorf("ueba.verdict audit entries: %v %+v", err, entries)
	}
	if err := a.saveDetectState(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, err := a.Store.GetState(context.Background(), nsDetect, keyCorrelations); err != nil || !strings.Contains(string(st), `"max_time":"20`) {
		t.Errorf("correlation windows not persisted: %v %.200s", err, st)
	}
	rw := actionsByName(incs[demo.ScenarioRansomware])
	if rw["contain_host host:ws01"].Status != event.ActionCompleted {
		t.Errorf("ws01 not contained: %+v", rw["contain_host host:ws01"])
	}
	for _, k := range []string{"contain_host host:srv-db01", "contain_host host:srv-file01", `disable_account user:example\dave`} {
		if rw[k].Status != event.ActionPending {
			t.Errorf("%s on a critical asset or privileged account: %s (rule %s)", k, rw[k].Status, rw[k].PolicyRule)
		}
	}
	if !rep.Audit.OK || rep.Audit.Entries < 50 {
		t.Errorf("audit: %s", rep.Audit.String())
	}

	// A human approves the database server's containment through the API, then rolls it back.
	db := rw["contain_host host:srv-db01"]
	code, body = call("POST", "/api/v1/actions/"+db.ID+"/approve", map[string]string{"analyst": "erin", "note": "confirmed with the DBA"})
	var act event.Action
	if code != 200 || json.Unmarshal(body, &act) != nil || act.Status != event.ActionCompleted || act.ApprovedBy != "erin" {
		t.Fatalf("approve: %d %s", code, body)
	}
	if code, body = call("POST", "/api/v1/actions/"+db.ID+"/rollback", map[string]string{"analyst": "erin"}); code != 200 || !strings.Contains(string(body), event.ActionRolledBack) {
		t.Fatalf("rollback: %d %s", code, body)
	}
	dave := rw[`disable_account user:example\dave`]
	if code, body = call("POST", "/api/v1/actions/"+dave.ID+"/deny", map[string]string{"analyst": "erin", "note": "dave is on call"}); code != 200 {
		t.Fatalf("deny: %d %s", code, body)
	}
	if code, _ = call("POST", "/api/v1/actions/"+dave.ID+"/approve", map[string]string{"analyst": "frank"}); code != 409 {
		t.Errorf("approving a denied action: HTTP %d", code)
	}
	// Separation of duties: an analyst's own request on a critical host needs someone else.
	code, body = call("POST", "/api/v1/actions", map[string]string{"incident": incs[demo.ScenarioRansomware].ID, "action": "contain_host", "target": "host:dc01", "analyst": "erin"})
	if code != 202 || json.Unmarshal(body, &act) != nil || act.Status != event.ActionPending {
		t.Fatalf("request: %d %s", code, body)
	}
	if code, _ = call("POST", "/api/v1/actions/"+act.ID+"/approve", map[string]string{"analyst": "erin"}); code != 403 {
		t.Errorf("self-approval on a critical host: HTTP %d", code)
	}
	if code, _ = call("POST", "/api/v1/actions/"+act.ID+"/approve", map[string]string{"analyst": "frank"}); code != 200 {
		t.Errorf("approval by another analyst: HTTP %d", code)
	}
	// The analysts' actions are in the audit trail, and the trail still verifies.
	code, body = call("GET", "/api/v1/audit?actor=analyst:erin", nil)
	if code != 200 || strings.Count(string(body), `"action"`) < 3 {
		t.Errorf("audit entries for erin: %d %s", code, body[:min(len(body), 300)])
	}
	code, body = call("GET", "/api/v1/audit/verify", nil)
	if code != 200 || !strings.Contains(string(body), `"ok":true`) {
		t.Errorf("audit verify: %d %s", code, body)
	}
	// SOC metrics reflect what happened.
	code, body = call("GET", "/api/v1/metrics/soc", nil)
	var soc SOCReport
	if code != 200 || json.Unmarshal(body, &soc) != nil {
		t.Fatalf("soc metrics: %d %s", code, body)
	}
	// Two incidents had a human's attention: the approval above and erin's verdict on the
	// spray's behavioural alert.
	if soc.Incidents != 3 || soc.Investigated != 3 || soc.AutoContained < 5 || soc.MTTA.N != 3 || soc.MTTR.N != 3 || soc.MTTAHuman.N != 2 ||
		soc.AutoContainRate <= 0 || soc.AutoContainRate >= 1 || soc.MinutesSaved <= 0 || len(soc.PerRule) == 0 {
		t.Errorf("soc metrics: %+v", soc)
	}
}

// TestInjectedDemoKeepsVerdictsAndActsOnlyWithAHuman plays the variants whose user agent, app
// name, inbox rule name and command line tell an AI to call it a false positive.
func TestInjectedDemoKeepsVerdictsAndActsOnlyWithAHuman(t *testing.T) {
	_, rep := demoApp(t, true)
	incs := byScenario(rep)
	if len(incs) != 3 {
		t.Fatalf("incidents by scenario: %d of 3", len(incs))
	}
	for name, inc := range incs {
		if inc.Report.Verdict != event.VerdictTruePositive {
			t.Errorf("%s: the injection changed the verdict to %s", name, inc.Report.Verdict)
		}
		if !strings.Contains(inc.Report.Summary, "instruct an AI") {
			t.Errorf("%s: the summary does not flag the injection: %s", name, inc.Report.Summary)
		}
		if len(inc.Actions) == 0 {
			t.Errorf("%s: no actions recommended", name)
		}
		for _, a := range inc.Actions {
			if a.Status != event.ActionPending || a.Autonomy != "human_review" {
				t.Errorf("%s: %s %s is %s (autonomy %s)", name, a.Name, a.Target, a.Status, a.Autonomy)
			}
		}
		if inc.ContainmentSeconds != nil {
			t.Errorf("%s: contained without a human", name)
		}
	}
}

// TestAuditVerifyNamesTamperedEntry: after the demo, changing one byte of one stored entry, or
// deleting one, makes the verification fail and name that entry.
func TestAuditVerifyNamesTamperedEntry(t *testing.T) {
	a, _ := demoApp(t, false, demo.ScenarioOAuthConsent)
	dir := a.Cfg.DataDir
	a.Close()
	ctx := context.Background()
	rep, err := AuditVerify(ctx, dir)
	// The trail holds ten entries or so when the demo returns; how many depends on timing (a
	// loaded CI run closed the app with nine). Three distinct entries to tamper with are what
	// the test needs.
	if err != nil || !rep.OK || rep.Entries < 5 {
		t.Fatalf("intact: %+v %v", rep, err)
	}
	n := rep.Entries
	db, err := sql.Open("sqlite", filepath.Join(dir, "audit", "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	triggers, err := db.Query(`SELECT name FROM sqlite_master WHERE type='trigger'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for triggers.Next() {
		var s string
		triggers.Scan(&s)
		names = append(names, s)
	}
	triggers.Close()
	for _, s := range names {
		if _, err := db.Exec(`DROP TRIGGER "` + s + `"`); err != nil {
			t.Fatal(err)
		}
	}
	cols, err := auditColumns(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []int{1, n / 2, n} {
		for _, col := range cols {
			var orig any
			if err := db.QueryRow(fmt.Sprintf(`SELECT %s FROM entries WHERE seq=?`, col), seq).Scan(&orig); err != nil {
				t.Fatal(err)
			}
			var flipped any
			switch v := orig.(type) {
			case int64:
				flipped = v ^ 1
			case string:
				if v == "" {
					continue
				}
				b := []byte(v)
				b[len(b)/2] ^= 0x01
				flipped = string(b)
			case []byte:
				if len(v) == 0 {
					continue
				}
				b := append([]byte(nil), v...)
				b[len(b)/2] ^= 0x01
				flipped = b
			default:
				t.Fatalf("column %s holds %T", col, orig)
			}
			if _, err := db.Exec(fmt.Sprintf(`UPDATE entries SET %s=? WHERE seq=?`, col), flipped, seq); err != nil {
				t.Fatal(err)
			}
			rep, err := AuditVerify(ctx, dir)
			if err == nil && rep.OK {
				t.Errorf("entry %d column %s flipped: verify passed", seq, col)
			} else if err == nil && (rep.FirstBad != uint64(seq) || !strings.Contains(rep.Problem, fmt.Sprint(seq))) {
				t.Errorf("entry %d column %s flipped: reported %d %q", seq, col, rep.FirstBad, rep.Problem)
			}
			if _, err := db.Exec(fmt.Sprintf(`UPDATE entries SET %s=? WHERE seq=?`, col), orig, seq); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rep, err := AuditVerify(ctx, dir); err != nil || !rep.OK {
		t.Fatalf("restored: %+v %v", rep, err)
	}
	if _, err := db.Exec(`DELETE FROM entries WHERE seq=?`, n/2); err != nil {
		t.Fatal(err)
	}
	rep, err = AuditVerify(ctx, dir)
	if err == nil && (rep.OK || !strings.Contains(rep.Problem, fmt.Sprint(n/2))) {
		t.Errorf("deleted entry %d: %+v", n/2, rep)
	}
}

// auditColumns returns the stored columns of an audit entry (all of which the hash covers,
// except seq itself which is the row's place).
func auditColumns(db *sql.DB) ([]string, error) {
	rows, err := db.Query(`SELECT name FROM pragma_table_info('entries')`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		if s != "seq" {
			out = append(out, s)
		}
	}
	return out, rows.Err()
}
