package correlate

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func mk(id string, at time.Duration, host string, d event.Disposition, score float64) *event.Alert {
	return &event.Alert{ID: id, Time: t0.Add(at), Host: host, RuleTitle: "t-" + id, Kind: "k-" + id,
		Entities: []event.EntityRef{{Kind: event.EntityHost, Value: host}},
		Triage:   &event.Triage{Disposition: d, Score: score}}
}

func TestSharedHostJoinsAndDistantHostOpens(t *testing.T) {
	c := New(Options{Halo: -1})
	p1 := c.Place(mk("a", 0, "web01", event.Escalated, 0.9))
	if p1.Disposition != event.Escalated || p1.IncidentID == "" {
		t.Fatalf("first surfaced alert: %+v", p1)
	}
	p2 := c.Place(mk("b", time.Hour, "web01", event.Escalated, 0.8))
	if p2.Disposition != event.Grouped || p2.IncidentID != p1.IncidentID {
		t.Fatalf("same host within the share window: %+v", p2)
	}
	p3 := c.Place(mk("c", 5*time.Hour, "db01", event.Escalated, 0.8))
	if p3.Disposition != event.Escalated || p3.IncidentID == p1.IncidentID {
		t.Fatalf("other host hours later: %+v", p3)
	}
	inc, _ := c.Incident(p1.IncidentID)
	if inc.AlertCount != 2 || len(inc.Hosts) != 1 {
		t.Fatalf("incident %+v", inc)
	}
}

func TestCampaignWindowAndSpan(t *testing.T) {
	c := New(Options{CampaignWindow: 30 * time.Minute, CampaignSpan: 2 * time.Hour, Halo: -1})
	p1 := c.Place(mk("a", 0, "web01", event.Escalated, 0.9))
	p2 := c.Place(mk("b", 20*time.Minute, "db01", event.Escalated, 0.9))
	if p2.IncidentID != p1.IncidentID {
		t.Fatalf("another host within the campaign window did not join: %+v", p2)
	}
	// Keep the incident active past its span with alerts on its own hosts.
	for i := 1; i <= 6; i++ {
		c.Place(mk("w"+string(rune('0'+i)), time.Duration(20+25*i)*time.Minute, "web01", event.Escalated, 0.9))
	}
	p3 := c.Place(mk("c", 3*time.Hour, "mail", event.Escalated, 0.9))
	if p3.IncidentID == p1.IncidentID {
		t.Fatal("an incident past its campaign span took an unrelated host on timing alone")
	}
}

func TestContextAndLookback(t *testing.T) {
	c := New(Options{ContextMinScore: 0.2, Lookback: 30 * time.Minute, Halo: -1})
	pre := c.Place(mk("pre", 0, "web01", event.AutoClosed, 0.05))
	old := c.Place(mk("old", -2*time.Hour, "web01", event.AutoClosed, 0.05))
	if pre.Disposition != event.AutoClosed || old.Disposition != event.AutoClosed {
		t.Fatal("low alerts with no incident should auto-close")
	}
	p := c.Place(mk("a", 10*time.Minute, "web01", event.Escalated, 0.9))
	if len(p.Revised) != 1 || p.Revised[0].AlertID != "pre" || p.Revised[0].IncidentID != p.IncidentID {
		t.Fatalf("lookback revisions %+v", p.Revised)
	}
	ctx := c.Place(mk("ctx", 20*time.Minute, "web01", event.AutoClosed, 0.3))
	if ctx.Disposition != event.Grouped || ctx.IncidentID != p.IncidentID {
		t.Fatalf("context alert on the incident's host: %+v", ctx)
	}
	low := c.Place(mk("low", 21*time.Minute, "web01", event.AutoClosed, 0.1))
	if low.Disposition != event.AutoClosed {
		t.Fatalf("alert below the context score joined: %+v", low)
	}
	other := c.Place(mk("other", 22*time.Minute, "db01", event.AutoClosed, 0.9))
	if other.Disposition != event.AutoClosed {
		t.Fatalf("context alert without a shared entity joined: %+v", other)
	}
}

// TestLookbackIgnoresLaterAlerts: alerts replayed out of order (a later file of an import) are
// not precursors of an incident that opened before them, and stay available to later incidents.
func TestLookbackIgnoresLaterAlerts(t *testing.T) {
	c := New(Options{Lookback: 30 * time.Minute, Halo: -1, ContextMinScore: 0.9})
	c.Place(mk("future", 60*24*time.Hour, "dc1", event.AutoClosed, 0.05))
	p := c.Place(mk("a", 0, "web01", event.Escalated, 0.9))
	if len(p.Revised) != 0 {
		t.Fatalf("an alert two months later became a precursor: %+v", p.Revised)
	}
	q := c.Place(mk("b", 60*24*time.Hour+10*time.Minute, "dc1", event.Escalated, 0.9))
	if len(q.Revised) != 1 || q.Revised[0].AlertID != "future" {
		t.Fatalf("the later incident lost its precursor: %+v", q.Revised)
	}
}

func TestHalo(t *testing.T) {
	c := New(Options{Halo: 30 * time.Minute})
	p := c.Place(mk("a", 0, "web01", event.Escalated, 0.9))
	h := c.Place(mk("h", 10*time.Minute, "mail", event.AutoClosed, 0.01))
	if h.Disposition != event.Grouped || h.IncidentID != p.IncidentID {
		t.Fatalf("alert within the halo: %+v", h)
	}
	far := c.Place(mk("far", 2*time.Hour, "mail", event.AutoClosed, 0.01))
	if far.Disposition != event.AutoClosed {
		t.Fatalf("alert outside the halo: %+v", far)
	}
}

func TestMergeAndDuplicates(t *testing.T) {
	c := New(Options{CampaignWindow: time.Minute, Halo: -1})
	p1 := c.Place(mk("a", 0, "web01", event.Escalated, 0.9))
	p2 := c.Place(mk("b", 10*time.Minute, "db01", event.Escalated, 0.9))
	if p1.IncidentID == p2.IncidentID {
		t.Fatal("unrelated incidents merged early")
	}
	link := mk("link", 20*time.Minute, "web01", event.Escalated, 0.9)
	link.Entities = append(link.Entities, event.EntityRef{Kind: event.EntityHost, Value: "db01"})
	p3 := c.Place(link)
	if p3.IncidentID != p1.IncidentID || len(p3.Changed) != 2 {
		t.Fatalf("linking alert: %+v", p3)
	}
	merged, _ := c.Incident(p2.IncidentID)
	if merged.MergedInto != p1.IncidentID || merged.Status != event.StatusMerged {
		t.Fatalf("merged incident %+v", merged)
	}
	// A duplicate of b follows b into the surviving incident.
	dup := mk("dup", 21*time.Minute, "db01", event.Escalated, 0)
	dup.Triage.DuplicateOf = "b"
	if p := c.Place(dup); p.IncidentID != p1.IncidentID || p.Disposition != event.Grouped {
		t.Fatalf("duplicate of a merged incident's alert: %+v", p)
	}
	sup := mk("s", 22*time.Minute, "web01", event.Suppressed, 0.9)
	if p := c.Place(sup); p.Disposition != event.Suppressed || p.IncidentID != "" {
		t.Fatalf("suppressed alert placed: %+v", p)
	}
}

// By default an unusual alert on an incident's host joins it as context for an hour after the
// incident's last surfaced activity.
func TestContextWindowDefault(t *testing.T) {
	c := New(Options{Halo: -1})
	p := c.Place(mk("a", 0, "web01", event.Escalated, 0.9))
	in := c.Place(mk("in", 50*time.Minute, "web01", event.AutoClosed, 0.2))
	if in.Disposition != event.Grouped || in.IncidentID != p.IncidentID {
		t.Fatalf("unusual alert 50 minutes later on the incident's host: %+v", in)
	}
	out := c.Place(mk("out", 70*time.Minute, "web01", event.AutoClosed, 0.2))
	if out.Disposition != event.AutoClosed {
		t.Fatalf("alert 70 minutes after the last surfaced activity joined: %+v", out)
	}
}

// An alert whose score fell under the context minimum (analysts' corrections lowered every
// score) still joins as context when its unusual score, before those corrections, reaches it.
func TestContextOnUnusualScore(t *testing.T) {
	c := New(Options{Halo: -1, ContextMinScore: 0.12})
	p := c.Place(mk("a", 0, "web01", event.Escalated, 0.9))
	low := mk("low", 10*time.Minute, "web01", event.AutoClosed, 0.06)
	if got := c.Place(low); got.Disposition != event.AutoClosed {
		t.Fatalf("alert under the minimum joined: %+v", got)
	}
	unusual := mk("unusual", 11*time.Minute, "web01", event.AutoClosed, 0.06)
	unusual.Triage.Unusual = 0.2
	if got := c.Place(unusual); got.Disposition != event.Grouped || got.IncidentID != p.IncidentID {
		t.Fatalf("alert unusual enough did not join: %+v", got)
	}
}

// An auto-closed alert of the incident's halo that arrived before the alert opening the incident
// (out of order) joins it, as it would have had it come after; one far later stays closed.
func TestHaloAlertArrivedEarlyJoins(t *testing.T) {
	c := New(Options{Halo: 30 * time.Minute, Lookback: 2 * time.Hour})
	if p := c.Place(mk("early", 5*time.Minute, "mail", event.AutoClosed, 0.01)); p.Disposition != event.AutoClosed {
		t.Fatalf("no incident yet: %+v", p)
	}
	c.Place(mk("far", 50*time.Minute, "mail", event.AutoClosed, 0.01))
	p := c.Place(mk("a", 0, "web01", event.Escalated, 0.9))
	if len(p.Revised) != 1 || p.Revised[0].AlertID != "early" || p.Revised[0].IncidentID != p.IncidentID || p.Revised[0].Disposition != event.Grouped {
		t.Fatalf("revisions %+v", p.Revised)
	}
	// In order, the same alert joins by the halo: the outcome does not depend on the order.
	d := New(Options{Halo: 30 * time.Minute})
	q := d.Place(mk("a", 0, "web01", event.Escalated, 0.9))
	if h := d.Place(mk("early", 5*time.Minute, "mail", event.AutoClosed, 0.01)); h.Disposition != event.Grouped || h.IncidentID != q.IncidentID {
		t.Fatalf("in order: %+v", h)
	}
}

// Duplicates folded into an alert while it was auto-closed join the incident that later pulls
// the alert in (as precursor or as early-arrived context), instead of staying closed.
func TestPulledAlertBringsItsDuplicates(t *testing.T) {
	c := New(Options{Halo: 30 * time.Minute, Lookback: time.Hour})
	first := mk("sync1", 2*time.Minute, "mail", event.AutoClosed, 0.01)
	c.Place(first)
	dup := mk("sync2", 5*time.Minute, "mail", event.Grouped, 0)
	dup.Triage.DuplicateOf = "sync1"
	if p := c.Place(dup); p.Disposition != event.AutoClosed || p.IncidentID != "" {
		t.Fatalf("duplicate of a closed alert: %+v", p)
	}
	p := c.Place(mk("a", 0, "web01", event.Escalated, 0.9))
	var got []string
	for _, r := range p.Revised {
		if r.IncidentID == p.IncidentID && r.Disposition == event.Grouped {
			got = append(got, r.AlertID)
		}
	}
	if strings.Join(got, ",") != "sync1,sync2" {
		t.Fatalf("revisions %+v", p.Revised)
	}
	inc, _ := c.Incident(p.IncidentID)
	if inc.AlertCount != 3 {
		t.Fatalf("incident counts %d alerts", inc.AlertCount)
	}
	// A later duplicate resolves to the incident too.
	dup3 := mk("sync3", 8*time.Minute, "mail", event.Grouped, 0)
	dup3.Triage.DuplicateOf = "sync1"
	if q := c.Place(dup3); q.IncidentID != p.IncidentID {
		t.Fatalf("later duplicate: %+v", q)
	}
}
