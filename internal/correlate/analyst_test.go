package correlate

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

func TestAnalystMerge(t *testing.T) {
	c := New(Options{CampaignWindow: time.Second, Halo: -1})
	pa := c.Place(mk("a", 0, "web01", event.Escalated, 0.9))
	pb := c.Place(mk("b", 10*time.Minute, "db01", event.Escalated, 0.7))
	if pa.IncidentID == pb.IncidentID {
		t.Fatal("unrelated alerts share an incident")
	}
	for _, tc := range []struct {
		name      string
		src, into string
		want      error
	}{
		{"itself", pa.IncidentID, pa.IncidentID, ErrInvalid},
		{"unknown source", "in_nope", pa.IncidentID, ErrUnknownIncident},
		{"unknown target", pb.IncidentID, "in_nope", ErrUnknownIncident},
	} {
		if _, err := c.Merge(tc.src, tc.into); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	changed, err := c.Merge(pb.IncidentID, pa.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	a, b := changed[0], changed[1]
	if a.ID != pa.IncidentID || b.MergedInto != a.ID || b.Status != event.StatusMerged {
		t.Fatalf("merge result: %+v / %+v", a, b)
	}
	if a.AlertCount != 2 || !slices.Contains(a.Hosts, "db01") || !slices.Contains(a.AlertIDs, "b") {
		t.Fatalf("target after merge: %+v", a)
	}
	if _, err := c.Merge(pb.IncidentID, pa.IncidentID); !errors.Is(err, ErrState) {
		t.Errorf("merging a merged incident again: %v", err)
	}
	if _, err := c.Merge(pa.IncidentID, pb.IncidentID); !errors.Is(err, ErrState) {
		t.Errorf("merging into a merged incident: %v", err)
	}
	// New alerts on the merged incident's host, and duplicates of its alerts, go to the target.
	if p := c.Place(mk("c", 20*time.Minute, "db01", event.Escalated, 0.9)); p.IncidentID != pa.IncidentID || p.Disposition != event.Grouped {
		t.Errorf("new alert on the merged incident's host: %+v", p)
	}
	dup := mk("dup", 21*time.Minute, "db01", event.Escalated, 0)
	dup.Triage.DuplicateOf = "b"
	if p := c.Place(dup); p.IncidentID != pa.IncidentID {
		t.Errorf("duplicate of a merged incident's alert: %+v", p)
	}
	// A closed target refuses.
	pz := c.Place(mk("z", 30*time.Minute, "mail01", event.Escalated, 0.9))
	closed := event.Incident{ID: "in_closed", Status: event.StatusClosed, FirstSeen: t0, LastSeen: t0}
	c.Adopt(closed)
	if _, err := c.Merge(pz.IncidentID, "in_closed"); !errors.Is(err, ErrState) {
		t.Errorf("merging into a closed incident: %v", err)
	}
}

func TestAnalystSplitHoldsAgainstNewAlerts(t *testing.T) {
	c := New(Options{Halo: -1})
	a := mk("a", 0, "web01", event.Escalated, 0.9)
	b := mk("b", 5*time.Minute, "db01", event.Escalated, 0.6)
	b.Tactics = []string{"TA0008"}
	pa := c.Place(a)
	if pb := c.Place(b); pb.IncidentID != pa.IncidentID {
		t.Fatalf("campaign window did not group: %+v", pb)
	}
	src := pa.IncidentID
	for _, tc := range []struct {
		name        string
		moved, kept []event.Alert
		want        error
	}{
		{"none", nil, []event.Alert{*a, *b}, ErrInvalid},
		{"all", []event.Alert{*a, *b}, nil, ErrState},
	} {
		if _, _, err := c.Split(src, tc.moved, tc.kept); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, _, err := c.Split("in_nope", []event.Alert{*b}, []event.Alert{*a}); !errors.Is(err, ErrUnknownIncident) {
		t.Errorf("unknown incident: %v", err)
	}
	n, changed, err := c.Split(src, []event.Alert{*b}, []event.Alert{*a})
	if err != nil {
		t.Fatal(err)
	}
	s := changed[0]
	if s.ID != src || s.AlertCount != 1 || slices.Contains(s.Hosts, "db01") || len(s.Tactics) != 0 || !slices.Equal(s.AlertIDs, []string{"a"}) {
		t.Fatalf("source after split: %+v", s)
	}
	if n.ID == src || n.AlertCount != 1 || !slices.Equal(n.Hosts, []string{"db01"}) || !slices.Equal(n.Tactics, []string{"TA0008"}) || n.Title != "t-b" || !n.FirstSeen.Equal(b.Time) {
		t.Fatalf("new incident: %+v", n)
	}
	if _, _, err := c.Split(src, []event.Alert{*b}, []event.Alert{*a}); !errors.Is(err, ErrState) {
		t.Errorf("the same split twice: %v", err)
	}
	// A new alert on the split-off host joins the new incident; a duplicate of a moved alert
	// follows it.
	if p := c.Place(mk("c", 10*time.Minute, "db01", event.Escalated, 0.8)); p.IncidentID != n.ID {
		t.Errorf("new alert on the split-off host: %+v", p)
	}
	dup := mk("dup", 11*time.Minute, "db01", event.Escalated, 0)
	dup.Triage.DuplicateOf = "b"
	if p := c.Place(dup); p.IncidentID != n.ID {
		t.Errorf("duplicate of a moved alert: %+v", p)
	}
	// An alert touching both joins one of them and does not fold them back together.
	link := mk("link", 12*time.Minute, "web01", event.Escalated, 0.9)
	link.Entities = append(link.Entities, event.EntityRef{Kind: event.EntityHost, Value: "db01"})
	p := c.Place(link)
	if p.IncidentID != src {
		t.Errorf("linking alert joined %s, want the older %s", p.IncidentID, src)
	}
	if got, _ := c.Incident(n.ID); got.MergedInto != "" {
		t.Fatalf("a new alert re-merged the split incident into %s", got.MergedInto)
	}

	// After a restart the decision still holds.
	r := New(Options{Halo: -1})
	var incs []event.Incident
	for _, inc := range c.All() {
		incs = append(incs, *inc)
	}
	r.Resume(incs)
	r.RestoreDecisions(c.Decisions())
	if len(r.Decisions()) != 1 {
		t.Fatalf("decisions after restore: %+v", r.Decisions())
	}
	link2 := mk("link2", 13*time.Minute, "db01", event.Escalated, 0.9)
	link2.Entities = append(link2.Entities, event.EntityRef{Kind: event.EntityHost, Value: "web01"})
	r.Place(link2)
	if got, _ := r.Incident(n.ID); got.MergedInto != "" {
		t.Fatalf("after restart a new alert re-merged the split incident into %s", got.MergedInto)
	}
	if got, _ := r.Incident(src); got.MergedInto != "" {
		t.Fatalf("after restart the source merged into %s", got.MergedInto)
	}
}

func TestSplitDecisionSurvivesMergeIntoThird(t *testing.T) {
	c := New(Options{Halo: -1, CampaignWindow: time.Second})
	a := mk("a", 0, "web01", event.Escalated, 0.9)
	b := mk("b", time.Minute, "web01", event.Escalated, 0.9)
	b.Entities = append(b.Entities, event.EntityRef{Kind: event.EntityHost, Value: "db01"})
	pa := c.Place(a)
	c.Place(b)
	n, _, err := c.Split(pa.IncidentID, []event.Alert{*b}, []event.Alert{*a})
	if err != nil {
		t.Fatal(err)
	}
	// The analyst folds a third incident into the source; the split-off one stays apart from it.
	pc := c.Place(mk("c", 2*time.Minute, "mail01", event.Escalated, 0.9))
	if _, err := c.Merge(pa.IncidentID, pc.IncidentID); err != nil {
		t.Fatal(err)
	}
	link := mk("link", 3*time.Minute, "db01", event.Escalated, 0.9)
	link.Entities = append(link.Entities, event.EntityRef{Kind: event.EntityHost, Value: "mail01"})
	c.Place(link)
	if got, _ := c.Incident(n.ID); got.MergedInto != "" {
		t.Fatalf("split-off incident merged into %s", got.MergedInto)
	}
	if got, _ := c.Incident(pc.IncidentID); got.MergedInto != "" {
		t.Fatalf("target merged into %s", got.MergedInto)
	}
}
