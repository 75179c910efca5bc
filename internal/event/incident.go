package event

import "time"

// Incident statuses.
const (
	StatusOpen          = "open"
	StatusInvestigating = "investigating"
	StatusContained     = "contained"
	StatusResolved      = "resolved"
	StatusClosed        = "closed"
	StatusMerged        = "merged"
)

// Incident is a group of related alerts that an analyst looks at as one case. The correlation
// stage owns it; the investigation stage attaches the report.
type Incident struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status string `json:"status"`
	// Disposition is the triage decision that opened the incident ("escalated" when an analyst
	// must look at it, "auto_closed"/"suppressed" when it holds only noise), or the analyst's
	// later classification ("true_positive", "false_positive", "benign").
	Disposition string    `json:"disposition"`
	Severity    Severity  `json:"severity_id"`
	Score       float64   `json:"score"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	// FirstSeen and LastSeen bound the event times of the incident's alerts.
	FirstSeen  time.Time   `json:"first_seen"`
	LastSeen   time.Time   `json:"last_seen"`
	AlertIDs   []string    `json:"alert_ids"`
	AlertCount int         `json:"alert_count"`
	Hosts      []string    `json:"hosts"`
	Users      []string    `json:"users"`
	Tactics    []string    `json:"tactics"`
	Techniques []string    `json:"techniques"`
	Entities   []EntityRef `json:"entities"`
	Chain      *Chain      `json:"attack_chain,omitempty"`
	Report     *Report     `json:"report,omitempty"`
	ActionIDs  []string    `json:"action_ids,omitempty"`
	// MergedInto names the incident this one was merged into.
	MergedInto string `json:"merged_into,omitempty"`
	// Version increases on every update (optimistic concurrency).
	Version int64 `json:"version"`
}

// Chain is an incident's attack chain: the ordered steps and the edges linking them.
type Chain struct {
	Steps []ChainStep `json:"steps"`
	Edges []ChainEdge `json:"edges"`
	// Blast lists every entity the attack touched and whether it is still active.
	Blast []BlastEntity `json:"blast_radius,omitempty"`
}

// ChainStep is one step of an attack chain: an alert or a key event.
type ChainStep struct {
	Index     int       `json:"index"`
	Time      time.Time `json:"time"`
	Host      string    `json:"host,omitempty"`
	User      string    `json:"user,omitempty"`
	Tactic    string    `json:"tactic,omitempty"`
	Technique string    `json:"technique,omitempty"`
	Title     string    `json:"title"`
	AlertID   string    `json:"alert_id,omitempty"`
	EventIDs  []string  `json:"event_ids,omitempty"`
	// Link says how this step connects to the previous one ("same host", "logon from HOST",
	// "process tree", ...).
	Link string `json:"link,omitempty"`
}

// ChainEdge links two entities or steps of a chain.
type ChainEdge struct {
	From     string    `json:"from"` // entity key, "host:web01"
	To       string    `json:"to"`
	Kind     string    `json:"kind"` // logon, spawn, remote_service, smb, wmi, connect, consent, ...
	Time     time.Time `json:"time"`
	EventIDs []string  `json:"event_ids,omitempty"`
	// User is the account the edge happened as, when known.
	User string `json:"user,omitempty"`
	// Detail says more: logon type, share name, service name, permissions.
	Detail string `json:"detail,omitempty"`
}

// BlastEntity is an entity touched by an attack.
type BlastEntity struct {
	Entity   EntityRef `json:"entity"`
	Active   bool      `json:"active"`
	LastSeen time.Time `json:"last_seen"`
}

// Verdicts an investigation can reach.
const (
	VerdictTruePositive       = "true_positive"
	VerdictFalsePositive      = "false_positive"
	VerdictBenignTruePositive = "benign_true_positive"
	VerdictNeedsHuman         = "needs_human"
)

// Report is an investigation's written result.
type Report struct {
	Verdict    string       `json:"verdict"`
	Confidence float64      `json:"confidence"`
	Summary    string       `json:"summary"`
	Steps      []ReportStep `json:"steps"`
	Evidence   []Evidence   `json:"evidence"`
	Timeline   []ChainStep  `json:"timeline,omitempty"`
	Affected   []EntityRef  `json:"affected,omitempty"`
	// Recommended lists response actions the investigator suggests.
	Recommended []string  `json:"recommended,omitempty"`
	Planner     string    `json:"planner,omitempty"` // "deterministic" or "llm:<model>"
	Created     time.Time `json:"created"`
}

// ReportStep is one step of an investigation's reasoning, citing evidence IDs.
type ReportStep struct {
	Text     string   `json:"text"`
	Evidence []string `json:"evidence"`
}

// Evidence is one item an investigation relied on: a tool call's result or a stored event.
type Evidence struct {
	ID         string `json:"id"`
	IncidentID string `json:"incident_id,omitempty"`
	Kind       string `json:"kind"` // "event", "tool", "alert"
	// Tool names the tool that produced it, with its input.
	Tool  string         `json:"tool,omitempty"`
	Input map[string]any `json:"input,omitempty"`
	// EventID names the stored event for kind "event".
	EventID string    `json:"event_id,omitempty"`
	AlertID string    `json:"alert_id,omitempty"`
	Summary string    `json:"summary"`
	Data    any       `json:"data,omitempty"`
	Created time.Time `json:"created"`
}
