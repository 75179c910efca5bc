package event

import (
	"encoding/json"
	"time"
)

// Action statuses.
const (
	ActionPending    = "pending_approval" // waits for a human
	ActionApproved   = "approved"         // approved, about to run
	ActionExecuting  = "executing"        // running (a crash here is resumed: verify first)
	ActionCompleted  = "completed"        // done and verified by read-back
	ActionFailed     = "failed"           // last attempt failed; will be retried
	ActionEscalated  = "escalated"        // retries exhausted; a human must act
	ActionDenied     = "denied"           // a human said no
	ActionForbidden  = "forbidden"        // policy says never automatically or by request
	ActionRolledBack = "rolled_back"      // undone
)

// Action is a response action on one target, with its whole history.
type Action struct {
	ID       string `json:"id"`
	Incident string `json:"incident"`
	// Name is the catalog action: contain_host, disable_account, revoke_sessions,
	// reset_password, revoke_grant, block_indicator, quarantine_message, delete_inbox_rule.
	Name string `json:"action"`
	// Target is an entity key: host:ws01, user:example\bob, app:<id>, ip:203.0.113.7.
	Target string `json:"target"`
	Status string `json:"status"`
	// Decision is the policy's ruling: automatic, approval or forbidden, and the rule that made it.
	Decision   string `json:"decision"`
	PolicyRule string `json:"policy_rule,omitempty"`
	Reason     string `json:"reason,omitempty"`

	Verdict     string  `json:"verdict,omitempty"`
	Confidence  float64 `json:"confidence,omitempty"`
	Autonomy    string  `json:"autonomy,omitempty"`
	Criticality string  `json:"criticality,omitempty"`
	Privileged  bool    `json:"privileged,omitempty"`

	RequestedBy string    `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
	ApprovedBy  string    `json:"approved_by,omitempty"`
	ApprovedAt  time.Time `json:"approved_at,omitempty"`
	DeniedBy    string    `json:"denied_by,omitempty"`

	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitempty"`
	ExecutedAt  time.Time `json:"executed_at,omitempty"`
	CompletedAt time.Time `json:"completed_at,omitempty"`
	// Verification is what the read-back showed.
	Verification string `json:"verification,omitempty"`
	Connector    string `json:"connector,omitempty"`
	// Saved holds what rollback needs (the deleted grant, the removed rule).
	Saved        json.RawMessage `json:"saved,omitempty"`
	RolledBackAt time.Time       `json:"rolled_back_at,omitempty"`
	RolledBackBy string          `json:"rolled_back_by,omitempty"`
	Version      int64           `json:"version"`
}
