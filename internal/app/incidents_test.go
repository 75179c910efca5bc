package app

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/correlate"
	"github.com/vigil-soc/vigil/internal/demo"
	"github.com/vigil-soc/vigil/internal/event"
)

type incidentView struct {
	event.Incident
	Alerts []event.Alert `json:"alerts"`
}

func alertIDs(as []event.Alert) []string {
	out := make([]string, len(as))
	for i := range as {
		out[i] = as[i].ID
	}
	slices.Sort(out)
	return out
}

type auditView struct {
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
}

// TestAnalystMergeAndSplitThroughTheAPI merges one demo incident into another and splits its
// alerts back out through the API, with the error cases and the audit entries.
func TestAnalystMergeAndSplitThroughTheAPI(t *testing.T) {
	a, rep := demoApp(t, false)
	incs := byScenario(rep)
	spray, rw, oauth := incs[demo.ScenarioPasswordSpray].ID, incs[demo.ScenarioRansomware].ID, incs[demo.ScenarioOAuthConsent].ID
	if spray == "" || rw == "" || oauth == "" {
		t.Fatalf("demo incidents: %v", incs)
	}
	ts, call := apiServer(t, a)
	get := func(id string) incidentView {
		t.Helper()
		code, body := call("GET", "/api/v1/incidents/"+id, nil)
		var v incidentView
		if code != 200 || json.Unmarshal(body, &v) != nil {
			t.Fatalf("GET %s: %d %s", id, code, body)
		}
		return v
	}
	before := get(spray)
	sprayAlerts := alertIDs(before.Alerts)
	rwBefore := get(rw)
	if len(sprayAlerts) == 0 || len(rwBefore.Alerts) == 0 {
		t.Fatalf("no alerts: spray %d, ransomware %d", len(sprayAlerts), len(rwBefore.Alerts))
	}

	for _, tc := range []struct {
		name, path string
		body       any
		want       int
	}{
		{"unknown incident", "/api/v1/incidents/in_nope/merge", map[string]string{"into": rw}, 404},
		{"unknown target", "/api/v1/incidents/" + spray + "/merge", map[string]string{"into": "in_nope"}, 404},
		{"into itself", "/api/v1/incidents/" + spray + "/merge", map[string]string{"into": spray}, 400},
		{"no target", "/api/v1/incidents/" + spray + "/merge", map[string]string{"reason": "x"}, 400},
		{"unknown field", "/api/v1/incidents/" + spray + "/merge", map[string]string{"into": rw, "bogus": "x"}, 400},
	} {
		if code, body := call("POST", tc.path, tc.body); code != tc.want {
			t.Errorf("merge, %s: HTTP %d, want %d: %s", tc.name, code, tc.want, body)
		}
	}

	code, body := call("POST", "/api/v1/incidents/"+spray+"/merge", map[string]string{"into": rw, "reason": "same intrusion set", "analyst": "erin"})
	var merged event.Incident
	if code != 200 || json.Unmarshal(body, &merged) != nil || merged.ID != rw {
		t.Fatalf("merge: %d %s", code, body)
	}
	if merged.AlertCount != rwBefore.AlertCount+before.AlertCount {
		t.Errorf("merged alert count %d, want %d + %d", merged.AlertCount, rwBefore.AlertCount, before.AlertCount)
	}
	for _, h := range before.Hosts {
		if !slices.Contains(merged.Hosts, h) {
			t.Errorf("merged incident lacks host %s of the merged one: %v", h, merged.Hosts)
		}
	}
	// The merged incident redirects; the target lists its alerts and has a chain.
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/incidents/"+spray, nil)
	req.Header.Set("Authorization", "Bearer t0ken")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "/api/v1/incidents/"+rw {
		t.Errorf("merged incident Location %q", loc)
	}
	after := get(rw)
	for _, id := range sprayAlerts {
		if !slices.Contains(alertIDs(after.Alerts), id) {
			t.Errorf("target does not list the merged incident's alert %s", id)
		}
	}
	if after.Chain == nil || len(after.Chain.Steps) <= len(rwBefore.Chain.Steps) {
		t.Errorf("target chain not rebuilt with the merged alerts: %v", after.Chain)
	}
	if code, body = call("POST", "/api/v1/incidents/"+spray+"/merge", map[string]string{"into": rw}); code != 409 {
		t.Errorf("merging a merged incident: %d %s", code, body)
	}
	if code, body = call("POST", "/api/v1/incidents/"+oauth+"/merge", map[string]string{"into": spray}); code != 409 {
		t.Errorf("merging into a merged incident: %d %s", code, body)
	}

	// Split the spray alerts back out of the ransomware incident.
	for _, tc := range []struct {
		name, id string
		body     any
		want     int
	}{
		{"no alerts", rw, map[string]any{"alerts": []string{}}, 400},
		{"unknown alert", rw, map[string]any{"alerts": []string{"al_nope"}}, 404},
		{"unknown incident", "in_nope", map[string]any{"alerts": sprayAlerts}, 404},
		{"alert of another incident", rw, map[string]any{"alerts": []string{get(oauth).Alerts[0].ID}}, 400},
		{"every alert", oauth, map[string]any{"alerts": alertIDs(get(oauth).Alerts)}, 409},
		{"merged incident", spray, map[string]any{"alerts": sprayAlerts}, 409},
	} {
		if code, body := call("POST", "/api/v1/incidents/"+tc.id+"/split", tc.body); code != tc.want {
			t.Errorf("split, %s: HTTP %d, want %d: %s", tc.name, code, tc.want, body)
		}
	}
	code, body = call("POST", "/api/v1/incidents/"+rw+"/split", map[string]any{"alerts": sprayAlerts, "reason": "different actor after all"})
	var split event.Incident
	if code != 201 || json.Unmarshal(body, &split) != nil || split.ID == "" || split.ID == rw || split.ID == spray {
		t.Fatalf("split: %d %s", code, body)
	}
	nv := get(split.ID)
	if !slices.Equal(alertIDs(nv.Alerts), sprayAlerts) || nv.AlertCount != len(sprayAlerts) {
		t.Errorf("split-off incident alerts %v, want %v", alertIDs(nv.Alerts), sprayAlerts)
	}
	for _, h := range before.Hosts {
		if !slices.Contains(nv.Hosts, h) {
			t.Errorf("split-off incident lacks host %s: %v", h, nv.Hosts)
		}
	}
	if nv.Chain == nil || len(nv.Chain.Steps) == 0 {
		t.Error("split-off incident has no chain")
	}
	rest := get(rw)
	if !slices.Equal(alertIDs(rest.Alerts), alertIDs(rwBefore.Alerts)) || rest.AlertCount != rwBefore.AlertCount {
		t.Errorf("after the split the source holds %d alerts (%d listed), want %d", rest.AlertCount, len(rest.Alerts), rwBefore.AlertCount)
	}

	// The decision is stored with the correlation state, and the correlator holds it.
	b, err := a.Store.GetState(context.Background(), nsCorrelate, keyDecisions)
	var ds []correlate.Apart
	if err != nil || json.Unmarshal(b, &ds) != nil || len(ds) != 1 || !(ds[0].A == rw && ds[0].B == split.ID || ds[0].B == rw && ds[0].A == split.ID) {
		t.Errorf("stored decisions %s %v", b, err)
	}

	// A closed incident takes no merge.
	if _, err := a.Store.UpdateIncident(context.Background(), oauth, func(inc *event.Incident, _ bool) error {
		inc.Status = event.StatusClosed
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if code, body = call("POST", "/api/v1/incidents/"+split.ID+"/merge", map[string]string{"into": oauth}); code != 409 {
		t.Errorf("merging into a closed incident: %d %s", code, body)
	}

	// Both decisions are in the audit trail with their actors, and the trail verifies.
	code, body = call("GET", "/api/v1/audit?action=incident.merge", nil)
	var es []auditView
	if code != 200 || json.Unmarshal(body, &es) != nil || len(es) != 1 {
		t.Fatalf("merge audit entries: %d %s", code, body)
	}
	if e := es[0]; e.Actor != "analyst:erin" || e.Subject != spray || !strings.Contains(string(e.Data), rw) || !strings.Contains(string(e.Data), "same intrusion set") || !strings.Contains(string(e.Data), sprayAlerts[0]) {
		t.Errorf("merge audit entry %+v %s", e, e.Data)
	}
	code, body = call("GET", "/api/v1/audit?action=incident.split", nil)
	if code != 200 || json.Unmarshal(body, &es) != nil || len(es) != 1 {
		t.Fatalf("split audit entries: %d %s", code, body)
	}
	if e := es[0]; e.Actor != "api:token" || e.Subject != rw || !strings.Contains(string(e.Data), split.ID) || !strings.Contains(string(e.Data), "different actor after all") {
		t.Errorf("split audit entry %+v %s", e, e.Data)
	}
	if code, body = call("GET", "/api/v1/audit/verify", nil); code != 200 || !strings.Contains(string(body), `"ok":true`) {
		t.Errorf("audit verify: %d %s", code, body)
	}

	// After a restart the correlator resumes both halves of the split, keeps them apart, and
	// still knows the demo's users by their SIDs.
	learnt := a.graph.Users().Len()
	if learnt == 0 {
		t.Error("the demo's events taught no user aliases")
	}
	ts.Close()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b2, err := Open(context.Background(), a.Cfg, a.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if _, ok := b2.stateful.cor.Incident(split.ID); !ok {
		t.Error("split-off incident not resumed")
	}
	if ds := b2.stateful.cor.Decisions(); len(ds) != 1 {
		t.Errorf("decisions after restart: %+v", ds)
	}
	if n := b2.graph.Users().Len(); n != learnt {
		t.Errorf("user alias table after restart: %d entries, want %d", n, learnt)
	}
}
