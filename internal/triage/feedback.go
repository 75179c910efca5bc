package triage

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// Labels an analyst can give.
const (
	LabelTruePositive  = "true_positive"
	LabelFalsePositive = "false_positive"
	LabelBenign        = "benign"
)

// Reason codes for feedback, so that corrections are structured.
var ReasonCodes = map[string]string{
	"confirmed_malicious":  "confirmed malicious activity",
	"expected_activity":    "expected activity (admin work, scheduled job, scanner)",
	"known_benign_tool":    "a known, sanctioned tool",
	"test_or_exercise":     "a test or exercise",
	"detection_logic":      "the rule logic is wrong or too broad",
	"duplicate":            "already handled elsewhere",
	"insufficient_context": "not enough information to decide",
}

// Feedback is an analyst's judgement of an alert.
type Feedback struct {
	ID         string    `json:"id"`
	AlertID    string    `json:"alert_id"`
	IncidentID string    `json:"incident_id,omitempty"`
	Label      string    `json:"label"`
	Reason     string    `json:"reason"`
	Note       string    `json:"note,omitempty"`
	Analyst    string    `json:"analyst"`
	At         time.Time `json:"at"`
}

// Errors callers branch on.
var (
	ErrLabel  = errors.New("label must be true_positive, false_positive or benign")
	ErrReason = errors.New("unknown reason code")
)

// Validate checks the label and reason code.
func (f *Feedback) Validate() error {
	switch f.Label {
	case LabelTruePositive, LabelFalsePositive, LabelBenign:
	default:
		return fmt.Errorf("feedback %q: %w", f.Label, ErrLabel)
	}
	if _, ok := ReasonCodes[f.Reason]; !ok {
		codes := make([]string, 0, len(ReasonCodes))
		for c := range ReasonCodes {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		return fmt.Errorf("reason %q: %w (want one of %s)", f.Reason, ErrReason, strings.Join(codes, ", "))
	}
	if f.Analyst == "" {
		return errors.New("feedback needs the analyst's name")
	}
	return nil
}

// Learned is what one piece of feedback changed.
type Learned struct {
	// Before and After are the alert's score under the model before and after the update.
	Before float64 `json:"before"`
	After  float64 `json:"after"`
	// Proposal is a suppression the analyst can enable (false positives of expected activity).
	Proposal *Suppression `json:"proposal,omitempty"`
	// Precision is the alert type's precision after the feedback.
	Precision float64 `json:"precision"`
}

// Learn applies feedback on an alert whose triage recorded the model inputs: it moves the
// model towards the label, updates the alert type's precision figures and, for false positives
// and benign alerts, teaches the baselines that this alert type on this host is familiar and
// proposes a suppression.
func (t *Triager) Learn(fb Feedback, a *event.Alert, features map[string]float64) (Learned, error) {
	return t.learn(fb, a, features, true)
}

// Note applies feedback to the baselines and the alert type's figures without a model step:
// for the other alerts of an incident an analyst judged as a whole (one judgement is one
// training example, not one per alert).
func (t *Triager) Note(fb Feedback, a *event.Alert) error {
	_, err := t.learn(fb, a, nil, false)
	return err
}

func (t *Triager) learn(fb Feedback, a *event.Alert, features map[string]float64, step bool) (Learned, error) {
	if err := fb.Validate(); err != nil {
		return Learned{}, err
	}
	if step && len(features) == 0 {
		return Learned{}, fmt.Errorf("alert %s: no recorded triage features to learn from", a.ID)
	}
	kind := alertType(a)
	rs := t.st.Rules[kind]
	if rs == nil {
		rs = &RuleStats{}
		t.st.Rules[kind] = rs
	}
	y := 0.0
	switch fb.Label {
	case LabelTruePositive:
		rs.TP++
		y = 1
	case LabelFalsePositive:
		rs.FP++
	case LabelBenign:
		rs.Benign++
	}
	var out Learned
	if step {
		x := make(map[string]float64, len(features))
		for f, v := range features {
			x[f] = v
		}
		out.Before = t.st.Model.learn(x, y, t.opts.LearningRate)
		out.After = t.score(x)
	}
	out.Precision = rs.Precision()
	pk := pairKey(kind, strings.ToLower(a.Host))
	if y == 0 {
		if _, ok := t.st.Familiar[pk]; !ok {
			t.benignOn[kind]++
		}
		t.st.Familiar[pk] = fb.At.Unix()
		if fb.Reason == "expected_activity" || fb.Reason == "known_benign_tool" || fb.Reason == "test_or_exercise" {
			out.Proposal = &Suppression{
				ID:      event.DeriveID("sp_", kind, a.Host, fb.Analyst, fb.At.String()),
				Kind:    kind,
				Host:    a.Host,
				Owner:   fb.Analyst,
				Reason:  fmt.Sprintf("%s: %s", ReasonCodes[fb.Reason], fb.Note),
				Created: fb.At,
				Expires: fb.At.Add(30 * 24 * time.Hour),
				// Proposed until the owner enables it after looking at the replay.
				Proposed: true,
			}
		}
	} else if _, ok := t.st.Familiar[pk]; ok {
		delete(t.st.Familiar, pk)
		if t.benignOn[kind]--; t.benignOn[kind] <= 0 {
			delete(t.benignOn, kind)
		}
	}
	return out, nil
}

func (t *Triager) score(x map[string]float64) float64 {
	var z float64
	for f, v := range x {
		z += t.st.Model.Coef[f] * v
	}
	return sigmoid(z)
}

// Precision returns the feedback figures per alert kind.
func (t *Triager) Precision() map[string]RuleStats {
	out := make(map[string]RuleStats, len(t.st.Rules))
	for k, v := range t.st.Rules {
		out[k] = *v
	}
	return out
}

// AddSuppression installs (or, for a proposal, records) a suppression.
func (t *Triager) AddSuppression(s Suppression) error {
	if s.Kind == "" || s.Owner == "" || s.Expires.IsZero() {
		return errors.New("a suppression needs a kind, an owner and an expiry")
	}
	for i := range t.st.Suppressions {
		if t.st.Suppressions[i].ID == s.ID {
			t.st.Suppressions[i] = s
			return nil
		}
	}
	t.st.Suppressions = append(t.st.Suppressions, s)
	return nil
}

// Replay reports which of the given alerts a suppression would have hidden, so that an analyst
// sees its effect before enabling it.
func Replay(s Suppression, alerts []event.Alert) []string {
	s.Proposed = false
	var hidden []string
	for i := range alerts {
		if s.Matches(&alerts[i], alerts[i].Time) {
			hidden = append(hidden, alerts[i].ID)
		}
	}
	return hidden
}
