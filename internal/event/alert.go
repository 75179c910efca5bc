package event

import (
	"encoding/json"
	"time"
)

// Alert is a detection: produced by vigil's own detection stage (a Sigma rule, a Sigma
// correlation, a behavioural detection) or received from another tool (Wazuh, Suricata, an EDR,
// a generic JSON alert). Alerts from other tools enter the pipeline at triage.
type Alert struct {
	ID string `json:"id"`
	// Time is the time of the (first) event that raised the alert.
	Time time.Time `json:"time"`
	// Created is when vigil created the alert record.
	Created time.Time `json:"created"`
	// Source is the detector family: "sigma", "sigma_correlation", "behavior", "wazuh",
	// "suricata", "aminer", "external".
	Source string `json:"source"`
	// RuleID and RuleTitle identify the rule or signature; Name is the human title shown in
	// queues (usually RuleTitle).
	RuleID    string   `json:"rule_id,omitempty"`
	RuleTitle string   `json:"rule_title"`
	Severity  Severity `json:"severity_id"`
	// Level is the detector's own level string ("high", Wazuh "10", Suricata "2").
	Level string `json:"level,omitempty"`
	// Kind is a short, stable alert-type key used for grouping and baselines (rule ID, or a
	// detector-specific short name).
	Kind       string   `json:"kind"`
	Tags       []string `json:"tags,omitempty"`
	Tactics    []string `json:"tactics,omitempty"`    // ATT&CK tactic IDs, TA0001...
	Techniques []string `json:"techniques,omitempty"` // ATT&CK technique IDs, T1059.001...
	// FalsePositives are the rule author's notes on known benign causes.
	FalsePositives []string `json:"falsepositives,omitempty"`
	// EventIDs are the stored events that raised the alert (the primary evidence).
	EventIDs []string `json:"event_ids,omitempty"`
	// Matches are the field values that satisfied the rule.
	Matches []FieldMatch `json:"matches,omitempty"`
	// Entities are the things the alert is about.
	Entities []EntityRef `json:"entities,omitempty"`
	Host     string      `json:"host,omitempty"`
	User     string      `json:"user,omitempty"`
	SrcIP    string      `json:"src_ip,omitempty"`
	DstIP    string      `json:"dst_ip,omitempty"`
	Message  string      `json:"message,omitempty"`
	// Count is how many identical alerts were folded into this one.
	Count int `json:"count"`
	// Raw is the alert as another tool sent it (empty for vigil's own alerts).
	Raw    json.RawMessage `json:"raw,omitempty"`
	Origin Origin          `json:"origin"`

	// Triage outcome, filled by the triage stage.
	Triage *Triage `json:"triage,omitempty"`
}

// FieldMatch is one field and the value that satisfied a detection.
type FieldMatch struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// Disposition is the triage decision for an alert.
type Disposition string

// Dispositions.
const (
	Escalated  Disposition = "escalated"   // opens an incident an analyst must look at
	Grouped    Disposition = "grouped"     // joins an incident already open
	Suppressed Disposition = "suppressed"  // matched a suppression rule or folded as a duplicate
	AutoClosed Disposition = "auto_closed" // scored as noise under the auto-close policy
)

// Triage is the scored, explained triage decision for one alert.
type Triage struct {
	Score float64 `json:"score"`
	// Unusual is the score under the model's prior coefficients: how unusual the alert is for
	// its entities, before analysts' corrections moved the coefficients every alert shares
	// (their judgements of its own alert type still count). The correlation stage lets an
	// alert join an incident as context on it, so that learning "fewer alerts need an analyst"
	// does not also cut an intrusion's quieter steps off its incident.
	Unusual     float64        `json:"unusual,omitempty"`
	Disposition Disposition    `json:"disposition"`
	Reason      string         `json:"reason"`
	Explanation []Contribution `json:"explanation"`
	IncidentID  string         `json:"incident,omitempty"`
	// GroupKey is the dedup key identical alerts share.
	GroupKey string `json:"group_key,omitempty"`
	// DuplicateOf names the alert this one was folded into, when it is a duplicate.
	DuplicateOf string `json:"duplicate_of,omitempty"`
	// Class is the protected class (never auto-closed) the alert belongs to, if any.
	Class string    `json:"class,omitempty"`
	At    time.Time `json:"at"`
	// Features are the triage model's inputs, kept so that analyst feedback can train on them.
	Features map[string]float64 `json:"features,omitempty"`
	// Placed is when the correlation stage placed the alert (empty before).
	Placed time.Time `json:"placed,omitempty"`
}

// Contribution is one additive term of a triage score: the score's logit is the sum of all
// contributions' Weight. Weight is the model coefficient of the feature times its Value.
type Contribution struct {
	Feature string  `json:"feature"`
	Weight  float64 `json:"weight"`
	Value   float64 `json:"value"`
	Detail  string  `json:"detail"`
}
