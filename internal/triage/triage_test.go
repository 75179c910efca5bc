package triage

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func alert(id string, at time.Duration, kind, title, host string) event.Alert {
	return event.Alert{ID: id, Time: t0.Add(at), Kind: kind, RuleTitle: title, Host: host, Source: "test"}
}

// background feeds two days of routine alerts so that the baselines are mature.
func background(t *testing.T, tr *Triager) {
	t.Helper()
	for m := 0; m < 48*60; m += 7 {
		for _, h := range []string{"web01", "mail", "db01"} {
			a := alert(fmt.Sprintf("bg-%s-%d", h, m), time.Duration(m)*time.Minute, "W-Sys-Cav", "ClamAV database update", h)
			tr.Triage(&a)
		}
	}
}

func TestScoreIsSumOfContributions(t *testing.T) {
	tr, _ := New(Options{Criticality: map[string]string{"db01": "critical"}, Privileged: []string{"admin*"}})
	background(t, tr)
	for i, a := range []event.Alert{
		alert("a1", 49*time.Hour, "S-Nmap", "ET SCAN Nmap scan", "web01"),
		alert("a2", 49*time.Hour+time.Minute, "W-Sys-Cav", "ClamAV database update", "web01"),
		{ID: "a3", Time: t0.Add(50 * time.Hour), Kind: "sigma:x", RuleTitle: "LSASS dump", Host: "db01", User: "admin-bob", Severity: event.SeverityCritical, Tactics: []string{"TA0006"}},
	} {
		d := tr.Triage(&a)
		var sum float64
		for _, c := range d.Explanation {
			sum += c.Weight
			if got := tr.Model().Coef[c.Feature] * c.Value; math.Abs(got-c.Weight) > 1e-9 {
				t.Errorf("alert %d: contribution %s weight %v != coef × value %v", i, c.Feature, c.Weight, got)
			}
			if c.Detail == "" {
				t.Errorf("alert %d: contribution %s without a detail", i, c.Feature)
			}
		}
		if math.Abs(sum-logit(d.Score)) > 1e-6 {
			t.Errorf("alert %d: contributions sum to %v, logit(score) = %v", i, sum, logit(d.Score))
		}
	}
}

func TestNoveltySurfacesAndRoutineCloses(t *testing.T) {
	tr, _ := New(Options{})
	background(t, tr)
	routine := alert("r", 49*time.Hour, "W-Sys-Cav", "ClamAV database update", "mail")
	d := tr.Triage(&routine)
	if d.Surface || d.Disposition != event.AutoClosed {
		t.Fatalf("routine alert surfaced: %+v", d.Triage)
	}
	novel := alert("n", 49*time.Hour+time.Minute, "S-Nmap", "ET SCAN Nmap scan", "web01")
	d = tr.Triage(&novel)
	if !d.Surface || d.Disposition != event.Escalated {
		t.Fatalf("a never-seen alert type surfaced not: %+v", d.Triage)
	}
	if !strings.Contains(d.Reason, "first time") {
		t.Fatalf("reason does not explain the novelty: %s", d.Reason)
	}
}

func TestWarmupHoldsNovelty(t *testing.T) {
	tr, _ := New(Options{})
	a := alert("early", time.Hour, "S-Nmap", "ET SCAN Nmap scan", "web01")
	if d := tr.Triage(&a); d.Surface {
		t.Fatalf("novelty surfaced during warm-up: %+v", d.Triage)
	}
}

func TestDuplicatesFold(t *testing.T) {
	tr, _ := New(Options{})
	a := alert("a", 0, "k", "title", "h")
	b := alert("b", 5*time.Minute, "k", "title", "h")
	c := alert("c", 30*time.Minute, "k", "title", "h")
	tr.Triage(&a)
	if d := tr.Triage(&b); d.DuplicateOf != "a" {
		t.Fatalf("duplicate not folded: %+v", d.Triage)
	}
	if d := tr.Triage(&c); d.DuplicateOf != "" {
		t.Fatalf("alert outside the dedup window folded: %+v", d.Triage)
	}
}

// TestLateOldAlertIsNoDuplicate: an alert far older than its group's latest one (another file
// of an import, a late forwarder) is judged on its own, not folded into months-newer activity.
func TestLateOldAlertIsNoDuplicate(t *testing.T) {
	tr, _ := New(Options{})
	recent := alert("recent", 90*24*time.Hour, "k", "title", "h")
	old := alert("old", time.Hour, "k", "title", "h")
	near := alert("near", 90*24*time.Hour-3*time.Minute, "k", "title", "h")
	tr.Triage(&recent)
	if d := tr.Triage(&old); d.DuplicateOf != "" {
		t.Fatalf("alert 89 days older folded as a duplicate: %+v", d.Triage)
	}
	tr2, _ := New(Options{})
	tr2.Triage(&recent)
	if d := tr2.Triage(&near); d.DuplicateOf != "recent" {
		t.Fatalf("slightly out-of-order duplicate not folded: %+v", d.Triage)
	}
}

func TestProtectedClassAndExceptions(t *testing.T) {
	priv := event.Alert{ID: "p", Time: t0.Add(time.Hour), Kind: "W-Aut-Sud", RuleTitle: "Successful sudo to ROOT executed.", Host: "web01"}
	tr, _ := New(Options{})
	d := tr.Triage(&priv)
	if !d.Surface || d.Class != "privilege_escalation" || !strings.Contains(d.Reason, "never auto-closed") {
		t.Fatalf("protected class auto-closed: %+v", d.Triage)
	}
	exc := Exception{Class: "privilege_escalation", Host: "web01", Owner: "alice", Reason: "patching window", Expires: t0.Add(2 * time.Hour)}
	tr, _ = New(Options{Exceptions: []Exception{exc}})
	if d := tr.Triage(&priv); d.Surface {
		t.Fatalf("exception ignored: %+v", d.Triage)
	}
	later := priv
	later.ID, later.Time = "p2", t0.Add(3*time.Hour)
	if d := tr.Triage(&later); !d.Surface {
		t.Fatalf("expired exception still applies: %+v", d.Triage)
	}
}

func TestSuppressions(t *testing.T) {
	tr, _ := New(Options{})
	if err := tr.AddSuppression(Suppression{ID: "s1", Kind: "k|t", Host: "h", Owner: "bob", Reason: "scanner", Expires: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := tr.AddSuppression(Suppression{ID: "bad"}); err == nil {
		t.Fatal("suppression without owner and expiry accepted")
	}
	a := alert("a", 10*time.Minute, "k", "t", "h")
	if d := tr.Triage(&a); d.Disposition != event.Suppressed || !strings.Contains(d.Reason, "bob") {
		t.Fatalf("suppression not applied: %+v", d.Triage)
	}
	b := alert("b", 2*time.Hour, "k", "t", "h")
	if d := tr.Triage(&b); d.Disposition == event.Suppressed {
		t.Fatal("expired suppression applied")
	}
	hidden := Replay(Suppression{Kind: "k", Owner: "x", Expires: t0.Add(24 * time.Hour), Proposed: true}, []event.Alert{a, b, alert("c", 0, "other", "t", "h")})
	if len(hidden) != 2 {
		t.Fatalf("replay hid %v", hidden)
	}
}

func TestFeedbackMovesScores(t *testing.T) {
	for _, c := range []struct {
		label string
		up    bool
	}{{LabelFalsePositive, false}, {LabelTruePositive, true}} {
		tr, _ := New(Options{})
		background(t, tr)
		a := alert("x1", 49*time.Hour, "S-Odd", "Odd thing", "web01")
		d1 := tr.Triage(&a)
		reason := "expected_activity"
		if c.up {
			reason = "confirmed_malicious"
		}
		l, err := tr.Learn(Feedback{AlertID: a.ID, Label: c.label, Reason: reason, Analyst: "ann", At: a.Time}, &a, d1.Features)
		if err != nil {
			t.Fatal(err)
		}
		if (l.After > l.Before) != c.up {
			t.Fatalf("%s: model score %.3f -> %.3f", c.label, l.Before, l.After)
		}
		// The same alert type later on the same host: the feedback shows in its score.
		b := alert("x2", 80*time.Hour, "S-Odd", "Odd thing", "web01")
		d2 := tr.Triage(&b)
		ref, _ := New(Options{})
		background(t, ref)
		ref.Triage(&a)
		d0 := ref.Triage(&b)
		if (d2.Score > d0.Score) != c.up {
			t.Fatalf("%s: later score %.3f, without feedback %.3f", c.label, d2.Score, d0.Score)
		}
		if !c.up && l.Proposal == nil {
			t.Fatal("no suppression proposed for expected activity")
		}
		if !c.up && !l.Proposal.Proposed {
			t.Fatal("a proposal must not be active before its owner enables it")
		}
	}
}

func TestFeedbackValidation(t *testing.T) {
	tr, _ := New(Options{})
	a := alert("a", 0, "k", "t", "h")
	d := tr.Triage(&a)
	if _, err := tr.Learn(Feedback{Label: "maybe", Reason: "expected_activity", Analyst: "x"}, &a, d.Features); !errors.Is(err, ErrLabel) {
		t.Fatalf("bad label: %v", err)
	}
	if _, err := tr.Learn(Feedback{Label: LabelBenign, Reason: "because", Analyst: "x"}, &a, d.Features); !errors.Is(err, ErrReason) {
		t.Fatalf("bad reason: %v", err)
	}
}

// restart returns a new Triager holding tr's state, through its JSON snapshot.
func restart(t *testing.T, tr *Triager) *Triager {
	t.Helper()
	b, err := json.Marshal(tr.State())
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	restored, _ := New(Options{})
	restored.Restore(&st)
	return restored
}

func TestStateRoundTrip(t *testing.T) {
	tr, _ := New(Options{})
	background(t, tr)
	restored := restart(t, tr)
	for i := range 20 {
		a := alert(fmt.Sprint("y", i), 49*time.Hour+time.Duration(i)*time.Minute, fmt.Sprint("K", i%4), "t", "web01")
		b := a
		d1, d2 := tr.Triage(&a), restored.Triage(&b)
		if d1.Score != d2.Score || d1.Disposition != d2.Disposition {
			t.Fatalf("alert %d: %v/%s after restore, %v/%s before", i, d2.Score, d2.Disposition, d1.Score, d1.Disposition)
		}
	}
}

func BenchmarkTriage(b *testing.B) {
	tr, _ := New(Options{})
	hosts := []string{"web01", "mail", "db01", "vpn", "fw"}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		a := alert(fmt.Sprint(i), time.Duration(i)*time.Second, fmt.Sprint("K", i%60), "title", hosts[i%5])
		tr.Triage(&a)
		i++
	}
}

// A benign verdict on one host carries, more weakly, to the same alert type on other hosts,
// and to nothing else; it survives a restart and a later true-positive verdict withdraws it.
func TestBenignVerdictGeneralisesToPeers(t *testing.T) {
	tr, _ := New(Options{})
	background(t, tr)
	a := alert("p1", 49*time.Hour, "S-Odd", "Odd thing", "web01")
	d := tr.Triage(&a)
	if _, err := tr.Learn(Feedback{AlertID: a.ID, Label: LabelBenign, Reason: "expected_activity", Analyst: "ann", At: a.Time}, &a, d.Features); err != nil {
		t.Fatal(err)
	}
	ref, _ := New(Options{})
	background(t, ref)
	ra := a
	ref.Triage(&ra)

	peer := alert("p2", 60*time.Hour, "S-Odd", "Odd thing", "mail")
	other := alert("p3", 60*time.Hour, "S-Other", "Other thing", "db01")
	got, want := tr.Triage(&peer), ref.Triage(&peer)
	if got.Features[FPeerBenign] == 0 || got.Score >= want.Score {
		t.Fatalf("same type on a peer host: score %.3f (features %v), without the verdict %.3f", got.Score, got.Features, want.Score)
	}
	if !strings.Contains(explain(got), "benign on 1 other host") {
		t.Fatalf("explanation does not name the peer verdict: %s", explain(got))
	}
	if g := tr.Triage(&other); g.Features[FPeerBenign] != 0 {
		t.Fatalf("another alert type picked up the verdict: %v", g.Features)
	}

	// Restart: the peer index is rebuilt from the persisted verdicts.
	restored := restart(t, tr)
	again := alert("p4", 70*time.Hour, "S-Odd", "Odd thing", "vpn")
	if g := restored.Triage(&again); g.Features[FPeerBenign] == 0 {
		t.Fatalf("peer verdict lost on restore: %v", g.Features)
	}

	// The analyst changes their mind on web01: nothing is left to generalise from.
	if err := restored.Note(Feedback{AlertID: a.ID, Label: LabelTruePositive, Reason: "confirmed_malicious", Analyst: "ann", At: again.Time}, &a); err != nil {
		t.Fatal(err)
	}
	last := alert("p5", 80*time.Hour, "S-Odd", "Odd thing", "db01")
	if g := restored.Triage(&last); g.Features[FPeerBenign] != 0 {
		t.Fatalf("withdrawn verdict still generalises: %v", g.Features)
	}
}

func explain(d Decision) string {
	var parts []string
	for _, c := range d.Explanation {
		parts = append(parts, c.Detail)
	}
	return strings.Join(parts, "; ")
}

// An alert type that keeps coming back from silence is intermittent: its first return counts
// fully, each later one less (divided by one plus the returns before it), with the count in
// the explanation; the count survives a restart.
func TestRepeatedReturnsFromSilenceCountLess(t *testing.T) {
	tr, _ := New(Options{})
	background(t, tr)
	returns := []time.Duration{26 * time.Hour, 53 * time.Hour, 80 * time.Hour, 107 * time.Hour, 134 * time.Hour}
	var feat []float64
	var details []string
	for i, at := range returns {
		if i == 3 { // a restart between the third and fourth return
			tr = restart(t, tr)
		}
		// Keep the host busy (its baseline mature) without touching the intermittent type.
		for m := time.Duration(0); m < 26*time.Hour && i > 0; m += 30 * time.Minute {
			bg := alert(fmt.Sprintf("bg%d-%d", i, m), returns[i-1]+m, "W-Sys-Cav", "ClamAV database update", "web01")
			tr.Triage(&bg)
		}
		a := alert(fmt.Sprint("ret", i), at, "W-Sys-Bak", "Backup job failed", "web01")
		d := tr.Triage(&a)
		feat = append(feat, d.Features[FDormant])
		detail := ""
		for _, c := range d.Explanation {
			if c.Feature == FDormant {
				detail = c.Detail
			}
		}
		details = append(details, detail)
	}
	if feat[0] != 0 {
		t.Fatalf("the first sighting counts as a return: %v", feat)
	}
	for i := 1; i < len(feat); i++ {
		silence := float64(returns[i]-returns[i-1]) / float64(24*time.Hour)
		want := math.Min(3, 1+math.Log2(silence)) / float64(i)
		if math.Abs(feat[i]-want) > 1e-9 {
			t.Errorf("return %d: feature %v, want %v (all: %v)", i, feat[i], want, feat)
		}
		if hasCount := strings.Contains(details[i], fmt.Sprintf("came back from silence %d time(s) before", i-1)); hasCount != (i > 1) {
			t.Errorf("return %d: explanation %q", i, details[i])
		}
	}
}

// A return after a silence is news when it comes at an hour the type never fired (a daily job
// that skipped a day comes back at its usual hour), or at any hour after two days: a job that
// runs every day would not have been silent that long.
func TestDormantReturnHourAndLongSilence(t *testing.T) {
	cases := []struct {
		name    string
		silence time.Duration
		dormant bool
	}{
		{"a day later at its usual hour", 24*time.Hour + 20*time.Minute, false},
		{"a day and a half later, at an hour it never fired", 36 * time.Hour, true},
		{"two days later at its usual hour", 48*time.Hour + 20*time.Minute, true},
		{"three days later at its usual hour", 72*time.Hour + 20*time.Minute, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, _ := New(Options{})
			background(t, tr)
			first := 49 * time.Hour // 01:00, the background ends at 48 h
			a := alert("first", first, "W-Sys-Bak", "Backup job failed", "web01")
			tr.Triage(&a)
			// Keep the host busy without touching the job's type.
			for m := time.Duration(0); m < c.silence; m += 30 * time.Minute {
				bg := alert(fmt.Sprint("bg", m), first+m, "W-Sys-Cav", "ClamAV database update", "web01")
				tr.Triage(&bg)
			}
			b := alert("back", first+c.silence, "W-Sys-Bak", "Backup job failed", "web01")
			d := tr.Triage(&b)
			got := d.Features[FDormant] > 0
			if got != c.dormant {
				t.Fatalf("dormant return: %v, want %v (%s)", got, c.dormant, explain(d))
			}
			newHour := (first+c.silence)/time.Hour%24 != first/time.Hour%24
			if got && strings.Contains(explain(d), "at an hour it never fired") != newHour {
				t.Errorf("explanation %q: the hour is new: %v", explain(d), newHour)
			}
		})
	}
}

// Unusual is the score under the prior coefficients: a false positive on one alert type moves
// the shared coefficients and so the score of another type's alert, but not its Unusual score;
// the analyst's judgement of the type itself still lowers that type's Unusual.
func TestUnusualIgnoresSharedCoefficientDrift(t *testing.T) {
	run := func(feedback bool) (other, same Decision) {
		tr, _ := New(Options{})
		background(t, tr)
		a := alert("x1", 49*time.Hour, "S-Odd", "Odd thing", "web01")
		d := tr.Triage(&a)
		if d.Unusual != d.Score {
			t.Fatalf("before any feedback Unusual %.4f differs from the score %.4f", d.Unusual, d.Score)
		}
		if feedback {
			if _, err := tr.Learn(Feedback{AlertID: a.ID, Label: LabelFalsePositive, Reason: "expected_activity", Analyst: "ann", At: a.Time}, &a, d.Features); err != nil {
				t.Fatal(err)
			}
		}
		b := alert("y1", 50*time.Hour, "S-Rare", "Rare thing", "db01")
		c := alert("x2", 51*time.Hour, "S-Odd", "Odd thing", "web01")
		return tr.Triage(&b), tr.Triage(&c)
	}
	o0, s0 := run(false)
	o1, s1 := run(true)
	if !(o1.Score < o0.Score) {
		t.Fatalf("the shared coefficients did not move: another type's score %.4f -> %.4f", o0.Score, o1.Score)
	}
	if math.Abs(o1.Unusual-o0.Unusual) > 1e-12 {
		t.Fatalf("another type's Unusual moved with the coefficients: %.4f -> %.4f", o0.Unusual, o1.Unusual)
	}
	if !(s1.Unusual < s0.Unusual) {
		t.Fatalf("the judged type's own Unusual did not drop: %.4f -> %.4f", s0.Unusual, s1.Unusual)
	}
}
