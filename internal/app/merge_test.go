package app

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/pipeline"
	"github.com/vigil-soc/vigil/internal/store"
)

// TestAutomaticMergeMovesAlertsIntoTheCampaign: when live correlation folds one incident into
// another (an alert links their hosts), the merged incident's stored alerts move to the one it
// joined, so that its alert list and attack chain cover both.
func TestAutomaticMergeMovesAlertsIntoTheCampaign(t *testing.T) {
	a, _ := demoApp(t, false, "password-spray")
	ctx := context.Background()
	at := time.Date(2031, 3, 4, 10, 0, 0, 0, time.UTC)
	mk := func(id, title, host, user string, dt time.Duration, ents ...event.EntityRef) event.Alert {
		return event.Alert{ID: id, RuleTitle: title, Source: "sigma", Host: host, User: user, Time: at.Add(dt),
			Severity: event.SeverityHigh, Tactics: []string{"TA0002"}, EventIDs: []string{"ev_" + id}, Entities: ents,
			Triage: &event.Triage{Score: 0.95, Disposition: event.Escalated, Reason: "test"}}
	}
	host := func(h string) event.EntityRef { return event.EntityRef{Kind: event.EntityHost, Value: h} }
	first := mk("al_mergetest_1", "Mimikatz on ws77", "ws77", `lab\mallory`, 0, host("ws77"))
	second := mk("al_mergetest_2", "PsExec service on srv77", "srv77", `lab\svc77`, 45*time.Minute, host("srv77"))
	link := mk("al_mergetest_3", "Remote service from ws77 to srv77", "srv77", "", 50*time.Minute, host("ws77"), host("srv77"))
	place := func(als ...event.Alert) {
		t.Helper()
		if _, err := a.Store.PutAlerts(ctx, als); err != nil {
			t.Fatal(err)
		}
		recs := make([][]byte, len(als))
		for i := range als {
			b, err := json.Marshal(&als[i])
			if err != nil {
				t.Fatal(err)
			}
			recs[i] = b
		}
		lines := pipeline.EncodeLines(recs)
		if err := a.correlateStage(ctx, []pipeline.Msg{{Subject: "test", ID: als[0].ID, Data: lines, Delivered: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	incidentOf := func(id string) string {
		t.Helper()
		got, err := a.Store.GetAlert(ctx, id)
		if err != nil || got.Triage == nil {
			t.Fatalf("alert %s: %v", id, err)
		}
		return got.Triage.IncidentID
	}
	place(first)
	place(second)
	i1, i2 := incidentOf(first.ID), incidentOf(second.ID)
	if i1 == "" || i2 == "" || i1 == i2 {
		t.Fatalf("setup: the first two alerts should open two incidents, got %q and %q", i1, i2)
	}
	place(link)
	src, err := a.Store.GetIncident(ctx, i2)
	if err != nil {
		t.Fatal(err)
	}
	target := i1
	if src.MergedInto == "" {
		// The correlator folds the younger into the older; accept either direction.
		if other, err := a.Store.GetIncident(ctx, i1); err == nil && other.MergedInto == i2 {
			target = i2
		} else {
			t.Fatalf("the linking alert did not merge %s and %s", i1, i2)
		}
	} else if src.MergedInto != i1 {
		t.Fatalf("%s merged into %s, want %s", i2, src.MergedInto, i1)
	}
	for _, id := range []string{first.ID, second.ID, link.ID} {
		if got := incidentOf(id); got != target {
			t.Errorf("alert %s stored under %s, want the campaign %s", id, got, target)
		}
	}
	under, err := a.Store.ListAlerts(ctx, store.AlertQuery{Incident: target, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	ids := alertIDs(under)
	for _, id := range []string{first.ID, second.ID, link.ID} {
		if !slices.Contains(ids, id) {
			t.Errorf("campaign %s does not list %s: %v", target, id, ids)
		}
	}
	inc, err := a.Store.GetIncident(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	titles := map[string]bool{}
	if inc.Chain != nil {
		for _, s := range inc.Chain.Steps {
			titles[s.Title] = true
		}
	}
	for _, want := range []string{first.RuleTitle, second.RuleTitle} {
		if !titles[want] {
			t.Errorf("chain of %s lacks %q: %v", target, want, titles)
		}
	}
}
