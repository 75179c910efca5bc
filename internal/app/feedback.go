package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/triage"
)

// State namespaces for feedback and suppressions.
const (
	nsFeedback = "feedback"
)

// FeedbackResult is what a piece of feedback changed.
type FeedbackResult struct {
	Feedback triage.Feedback `json:"feedback"`
	// Learned holds, per alert the model stepped on, the before/after scores and any proposal.
	Learned []triage.Learned `json:"learned"`
	// Proposals are suppressions the analyst can enable, with the alerts each would have hidden
	// (a replay over the stored alerts of that type).
	Proposals []Proposal `json:"proposals,omitempty"`
	// Profiles lists what the verdict changed in behavioural profiles: a confirmed intrusion's
	// source, lineage or privileged action unlearned, a benign sign-in's network vouched for.
	Profiles []string `json:"profiles,omitempty"`
}

// Proposal is a proposed suppression and its replay.
type Proposal struct {
	Suppression  triage.Suppression `json:"suppression"`
	WouldHide    int                `json:"would_hide"`
	SampleHidden []string           `json:"sample_hidden,omitempty"`
}

// ErrNoTriage is returned for feedback on an alert that was never triaged.
var ErrNoTriage = errors.New("alert has no triage record")

// AlertFeedback applies an analyst's judgement of one alert.
func (a *App) AlertFeedback(ctx context.Context, alertID string, fb triage.Feedback) (FeedbackResult, error) {
	al, err := a.Store.GetAlert(ctx, alertID)
	if err != nil {
		return FeedbackResult{}, err
	}
	fb.AlertID = alertID
	if al.Triage != nil {
		fb.IncidentID = al.Triage.IncidentID
	}
	return a.applyFeedback(ctx, fb, []event.Alert{al})
}

// IncidentFeedback applies a judgement of a whole incident: one model step on the alert that
// scored highest, the label noted for every distinct alert type, and the incident's
// disposition set to the label.
func (a *App) IncidentFeedback(ctx context.Context, incidentID string, fb triage.Feedback) (FeedbackResult, error) {
	alerts, err := a.Store.ListAlerts(ctx, store.AlertQuery{Incident: incidentID, Limit: 5000})
	if err != nil {
		return FeedbackResult{}, err
	}
	if len(alerts) == 0 {
		if _, err := a.Store.GetIncident(ctx, incidentID); err != nil {
			return FeedbackResult{}, err
		}
		return FeedbackResult{}, fmt.Errorf("incident %s has no alerts to learn from: %w", incidentID, ErrNoTriage)
	}
	fb.IncidentID = incidentID
	sort.SliceStable(alerts, func(i, j int) bool { return score(alerts[i]) > score(alerts[j]) })
	res, err := a.applyFeedback(ctx, fb, alerts)
	if err != nil {
		return res, err
	}
	_, err = a.Store.UpdateIncident(ctx, incidentID, func(inc *event.Incident, exists bool) error {
		if !exists {
			return fmt.Errorf("incident %s: %w", incidentID, store.ErrNotFound)
		}
		inc.Disposition = fb.Label
		if fb.Label != triage.LabelTruePositive {
			inc.Status = event.StatusClosed
		}
		inc.Updated = time.Now().UTC()
		return nil
	})
	return res, err
}

func score(a event.Alert) float64 {
	if a.Triage == nil {
		return 0
	}
	return a.Triage.Score
}

// applyFeedback steps the model on the first alert (the one the judgement is about) and notes
// the label for the other distinct alert types.
func (a *App) applyFeedback(ctx context.Context, fb triage.Feedback, alerts []event.Alert) (FeedbackResult, error) {
	if fb.At.IsZero() {
		fb.At = time.Now().UTC()
	}
	if err := fb.Validate(); err != nil {
		return FeedbackResult{}, err
	}
	fb.ID = event.NewID(event.PrefixFeedback)
	subject := fb.IncidentID
	if subject == "" {
		subject = fb.AlertID
	}
	a.audit(ctx, "analyst:"+fb.Analyst, "triage.feedback", subject, map[string]any{"alert": fb.AlertID, "incident": fb.IncidentID,
		"label": fb.Label, "reason": fb.Reason, "note": fb.Note, "feedback": fb.ID})
	res := FeedbackResult{Feedback: fb}
	st := a.stateful
	st.mu.Lock()
	seen := map[string]bool{}
	for i := range alerts {
		al := &alerts[i]
		if al.Triage == nil {
			continue
		}
		key := al.Kind + "|" + al.RuleTitle + "|" + al.Host
		if seen[key] {
			continue
		}
		seen[key] = true
		one := fb
		one.AlertID = al.ID
		if len(res.Learned) == 0 && len(al.Triage.Features) > 0 {
			l, err := st.tri.Learn(one, al, al.Triage.Features)
			if err != nil {
				st.mu.Unlock()
				return res, err
			}
			res.Learned = append(res.Learned, l)
			if l.Proposal != nil {
				res.Proposals = append(res.Proposals, Proposal{Suppression: *l.Proposal})
			}
			continue
		}
		if err := st.tri.Note(one, al); err != nil {
			st.mu.Unlock()
			return res, err
		}
	}
	st.mu.Unlock()
	if len(res.Learned) == 0 {
		return res, fmt.Errorf("%w: nothing to learn from", ErrNoTriage)
	}
	if err := a.behaviourVerdict(ctx, fb, alerts, &res); err != nil {
		return res, err
	}
	for i := range res.Proposals {
		p := &res.Proposals[i]
		past, err := a.Store.ListAlerts(ctx, store.AlertQuery{From: time.Now().Add(-30 * 24 * time.Hour), Limit: 100000})
		if err != nil {
			return res, err
		}
		hidden := triage.Replay(p.Suppression, past)
		p.WouldHide = len(hidden)
		p.SampleHidden = hidden[:min(len(hidden), 10)]
		if err := a.saveSuppression(ctx, p.Suppression); err != nil {
			return res, err
		}
	}
	b, err := json.Marshal(fb)
	if err != nil {
		return res, err
	}
	if err := a.Store.PutState(ctx, nsFeedback, fb.At.UTC().Format(time.RFC3339Nano)+"_"+fb.ID, b); err != nil {
		return res, err
	}
	return res, a.saveStageState(ctx)
}

// behaviourVerdict applies the verdict to the behavioural profiles behind the behavioural
// alerts judged, so that a confirmed intrusion never becomes an entity's normal and a benign
// sign-in source is not news again; each change is audited.
func (a *App) behaviourVerdict(ctx context.Context, fb triage.Feedback, alerts []event.Alert, res *FeedbackResult) error {
	if a.Detector == nil || a.Detector.Behavior() == nil {
		return nil
	}
	b := a.Detector.Behavior()
	for i := range alerts {
		al := &alerts[i]
		if al.Source != "behavior" {
			continue
		}
		changed := b.Verdict(al.Kind, al.Matches, fb.Label == triage.LabelTruePositive, al.Time)
		if len(changed) == 0 {
			continue
		}
		res.Profiles = append(res.Profiles, changed...)
		a.audit(ctx, "analyst:"+fb.Analyst, "ueba.verdict", al.ID, map[string]any{"feedback": fb.ID, "label": fb.Label, "changed": changed})
	}
	if len(res.Profiles) == 0 {
		return nil
	}
	return a.saveDetectState(ctx)
}

// saveSuppression records a suppression (proposed or active) in the triage state.
func (a *App) saveSuppression(ctx context.Context, s triage.Suppression) error {
	a.stateful.mu.Lock()
	err := a.stateful.tri.AddSuppression(s)
	a.stateful.mu.Unlock()
	if err != nil {
		return err
	}
	return a.saveStageState(ctx)
}

// Suppressions lists the suppressions, proposed ones included.
func (a *App) Suppressions() []triage.Suppression {
	a.stateful.mu.Lock()
	defer a.stateful.mu.Unlock()
	return append([]triage.Suppression(nil), a.stateful.tri.State().Suppressions...)
}

// EnableSuppression activates a proposed suppression (or installs a new one); owner and expiry
// are required.
func (a *App) EnableSuppression(ctx context.Context, s triage.Suppression) (triage.Suppression, error) {
	if s.ID == "" {
		s.ID = event.NewID("sp_")
	}
	if s.Created.IsZero() {
		s.Created = time.Now().UTC()
	}
	s.Proposed = false
	a.audit(ctx, "analyst:"+s.Owner, "triage.suppression", s.ID, s)
	return s, a.saveSuppression(ctx, s)
}

// Precision returns the per-alert-type feedback figures.
func (a *App) Precision() map[string]triage.RuleStats {
	a.stateful.mu.Lock()
	defer a.stateful.mu.Unlock()
	return a.stateful.tri.Precision()
}

// Model returns the triage model's coefficients.
func (a *App) Model() triage.Model {
	a.stateful.mu.Lock()
	defer a.stateful.mu.Unlock()
	m := *a.stateful.tri.Model()
	m.Coef = maps(m.Coef)
	return m
}

func maps(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
