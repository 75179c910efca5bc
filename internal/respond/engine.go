package respond

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

// Request asks for an action.
type Request struct {
	ID          string
	Incident    string
	Action      string
	Target      string
	Verdict     string
	Confidence  float64
	Autonomy    string
	RequestedBy string
}

// Options configure an Engine.
type Options struct {
	Store      store.Actions
	Connectors *Connectors
	Policy     *Policy
	// Criticality of hosts by short lower-case name.
	Criticality func(host string) string
	// Privileged reports whether an account is privileged.
	Privileged func(user string) bool
	// MaxAttempts before an action is escalated (default 4).
	MaxAttempts int
	// Backoff is the first retry delay; it doubles per attempt (default 2s).
	Backoff time.Duration
	// Audit records every decision and execution.
	Audit func(ctx context.Context, actor, action, subject string, data any)
	// Notify is told of every change of an action's status (for webhooks and the UI).
	Notify func(ctx context.Context, a event.Action)
	Log    *slog.Logger
	Now    func() time.Time
}

// Engine decides, runs, verifies, retries and rolls back actions. It is safe for concurrent
// use; one action runs at most once at a time.
type Engine struct {
	opts    Options
	catalog map[string]*Spec
	// mu guards running.
	mu      sync.Mutex
	running map[string]bool
}

// NewEngine returns an Engine.
func NewEngine(opts Options) *Engine {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 4
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 2 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Connectors == nil {
		opts.Connectors = &Connectors{}
	}
	if opts.Audit == nil {
		opts.Audit = func(context.Context, string, string, string, any) {}
	}
	if opts.Notify == nil {
		opts.Notify = func(context.Context, event.Action) {}
	}
	if opts.Criticality == nil {
		opts.Criticality = func(string) string { return "unknown" }
	}
	if opts.Privileged == nil {
		opts.Privileged = func(string) bool { return false }
	}
	return &Engine{opts: opts, catalog: Catalog(), running: map[string]bool{}}
}

// Submit records a request, applies the policy and, when the policy allows, runs the action.
// Submitting the same request again (a redelivery) does not act twice.
func (e *Engine) Submit(ctx context.Context, r Request) (event.Action, error) {
	spec, ok := e.catalog[r.Action]
	if !ok {
		return event.Action{}, fmt.Errorf("%s: %w", r.Action, ErrUnknownAction)
	}
	kind, value := splitTarget(r.Target)
	if !contains(spec.Kinds, kind) {
		return event.Action{}, fmt.Errorf("%w: %s needs a target of kind %s, not %q", ErrInvalid, r.Action, strings.Join(spec.Kinds, " or "), r.Target)
	}
	if r.ID == "" {
		r.ID = event.DeriveID(event.PrefixAction, r.Incident, r.Action, r.Target)
	}
	facts := Facts{Action: r.Action, TargetKind: kind, Target: value, Verdict: r.Verdict, Confidence: r.Confidence, Autonomy: r.Autonomy,
		RequestedBy: r.RequestedBy, Reversible: spec.Reversible, Criticality: "unknown"}
	if kind == "host" {
		facts.Criticality = e.opts.Criticality(value)
	}
	if kind == "user" {
		facts.Privileged = e.opts.Privileged(value)
	}
	decision, rule, perr := e.opts.Policy.Decide(facts)
	fresh := false
	a, err := e.opts.Store.UpdateAction(ctx, r.ID, func(a *event.Action, exists bool) error {
		if exists {
			return nil // already known: this is a redelivery
		}
		fresh = true
		now := e.opts.Now().UTC()
		*a = event.Action{ID: r.ID, Incident: r.Incident, Name: r.Action, Target: r.Target, Decision: decision, PolicyRule: rule,
			Verdict: r.Verdict, Confidence: r.Confidence, Autonomy: r.Autonomy, Criticality: facts.Criticality, Privileged: facts.Privileged,
			RequestedBy: r.RequestedBy, RequestedAt: now, Connector: e.opts.Connectors.Names[spec.Capability]}
		switch decision {
		case Automatic:
			a.Status, a.Reason = event.ActionApproved, "policy rule "+rule+" allows it automatically"
		case Forbidden:
			a.Status, a.Reason = event.ActionForbidden, "policy rule "+rule+" forbids it"
		default:
			a.Status, a.Reason = event.ActionPending, "policy rule "+rule+" asks a human"
		}
		if perr != nil {
			a.Reason += " (policy error: " + perr.Error() + ")"
		}
		return nil
	})
	if err != nil {
		return a, err
	}
	if fresh {
		e.opts.Audit(ctx, "system:respond", "response.decision", a.ID, map[string]any{"incident": a.Incident, "action": a.Name, "target": a.Target, "decision": a.Decision, "rule": a.PolicyRule, "facts": facts})
		if a.Status != event.ActionApproved {
			e.opts.Notify(ctx, a)
		}
	}
	if fresh && (a.Status == event.ActionApproved) {
		ran, err := e.Run(ctx, a.ID)
		if errors.Is(err, ErrState) {
			return e.opts.Store.GetAction(ctx, a.ID) // another worker finished it first
		}
		return ran, err
	}
	// A redelivery of a known request never acts by itself: an interrupted or failed action is
	// resumed by Retry, which verifies before acting.
	return a, nil
}

// Approve approves a pending action and runs it. On critical assets (and privileged accounts)
// the requester cannot approve their own request.
func (e *Engine) Approve(ctx context.Context, id, approver, note string) (event.Action, error) {
	if approver == "" {
		return event.Action{}, fmt.Errorf("%w: an approval needs the approver's name", ErrInvalid)
	}
	a, err := e.opts.Store.UpdateAction(ctx, id, func(a *event.Action, exists bool) error {
		if !exists {
			return fmt.Errorf("action %s: %w", id, store.ErrNotFound)
		}
		if a.Status != event.ActionPending && a.Status != event.ActionEscalated {
			return fmt.Errorf("action %s is %s: %w", id, a.Status, ErrState)
		}
		if (a.Criticality == "critical" || a.Criticality == "high" || a.Privileged) && strings.EqualFold(strings.TrimPrefix(a.RequestedBy, "analyst:"), strings.TrimPrefix(approver, "analyst:")) {
			return fmt.Errorf("action %s requested by %s: %w", id, a.RequestedBy, ErrSeparation)
		}
		a.Status, a.ApprovedBy, a.ApprovedAt = event.ActionApproved, approver, e.opts.Now().UTC()
		a.Attempts, a.LastError = 0, ""
		if note != "" {
			a.Reason = "approved: " + note
		}
		return nil
	})
	if err != nil {
		return a, err
	}
	e.opts.Audit(ctx, "analyst:"+strings.TrimPrefix(approver, "analyst:"), "response.approve", id, map[string]any{"action": a.Name, "target": a.Target, "note": note})
	return e.Run(ctx, id)
}

// Deny refuses a pending action.
func (e *Engine) Deny(ctx context.Context, id, who, note string) (event.Action, error) {
	if who == "" {
		return event.Action{}, fmt.Errorf("%w: a denial needs the analyst's name", ErrInvalid)
	}
	a, err := e.opts.Store.UpdateAction(ctx, id, func(a *event.Action, exists bool) error {
		if !exists {
			return fmt.Errorf("action %s: %w", id, store.ErrNotFound)
		}
		if a.Status != event.ActionPending && a.Status != event.ActionEscalated {
			return fmt.Errorf("action %s is %s: %w", id, a.Status, ErrState)
		}
		a.Status, a.DeniedBy, a.Reason = event.ActionDenied, who, "denied: "+note
		return nil
	})
	if err == nil {
		e.opts.Audit(ctx, "analyst:"+strings.TrimPrefix(who, "analyst:"), "response.deny", id, map[string]any{"action": a.Name, "target": a.Target, "note": note})
		e.opts.Notify(ctx, a)
	}
	return a, err
}

// Run executes an approved (or failed, or interrupted) action once: it first reads back the
// target's state, so that an action interrupted by a crash after it took effect is not repeated;
// then executes, verifies, and records success, or a failure to retry with backoff, or an
// escalation once retries are exhausted.
func (e *Engine) Run(ctx context.Context, id string) (event.Action, error) {
	e.mu.Lock()
	if e.running[id] {
		e.mu.Unlock()
		return e.opts.Store.GetAction(ctx, id)
	}
	e.running[id] = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.running, id)
		e.mu.Unlock()
	}()
	a, err := e.opts.Store.UpdateAction(ctx, id, func(a *event.Action, exists bool) error {
		if !exists {
			return fmt.Errorf("action %s: %w", id, store.ErrNotFound)
		}
		switch a.Status {
		case event.ActionApproved, event.ActionFailed, event.ActionExecuting:
		default:
			return fmt.Errorf("action %s is %s: %w", id, a.Status, ErrState)
		}
		a.Status = event.ActionExecuting
		a.Attempts++
		a.ExecutedAt = e.opts.Now().UTC()
		return nil
	})
	if err != nil {
		return a, err
	}
	spec := e.catalog[a.Name]
	kind, value := splitTarget(a.Target)
	// Idempotency: if the effect is already there (a retry after a crash), do not act again.
	var saved []byte
	done, detail, verr := false, "", error(nil)
	if a.Attempts > 1 && e.connectorFor(spec) {
		done, detail, verr = spec.verify(ctx, e.opts.Connectors, kind, value, a.RequestedAt)
	}
	var runErr error
	if !done || verr != nil {
		saved, runErr = spec.execute(ctx, e.opts.Connectors, kind, value)
		if runErr == nil {
			done, detail, verr = spec.verify(ctx, e.opts.Connectors, kind, value, a.RequestedAt)
			if verr == nil && !done {
				runErr = fmt.Errorf("%w: %s", ErrNotVerified, detail)
			} else if verr != nil {
				runErr = fmt.Errorf("verify: %w", verr)
			}
		}
	}
	a, err = e.opts.Store.UpdateAction(ctx, id, func(a *event.Action, _ bool) error {
		now := e.opts.Now().UTC()
		if runErr == nil {
			a.Status, a.CompletedAt, a.Verification, a.LastError = event.ActionCompleted, now, detail, ""
			if saved != nil {
				a.Saved = saved
			}
			return nil
		}
		a.LastError = runErr.Error()
		if a.Attempts >= e.opts.MaxAttempts || errors.Is(runErr, ErrNoConnector) {
			a.Status = event.ActionEscalated
			a.Reason = fmt.Sprintf("failed %d times; a human must act: %v", a.Attempts, runErr)
			return nil
		}
		a.Status = event.ActionFailed
		a.NextAttempt = now.Add(e.opts.Backoff << (a.Attempts - 1))
		return nil
	})
	if err != nil {
		return a, err
	}
	e.opts.Audit(ctx, "system:respond", "response.execute", id, map[string]any{"incident": a.Incident, "action": a.Name, "target": a.Target,
		"status": a.Status, "attempt": a.Attempts, "error": a.LastError, "verification": a.Verification, "connector": a.Connector})
	e.opts.Notify(ctx, a)
	if a.Status == event.ActionEscalated {
		e.opts.Log.Error("response action escalated", "action", a.ID, "name", a.Name, "target", a.Target, "err", a.LastError)
	}
	return a, nil
}

func (e *Engine) connectorFor(spec *Spec) bool {
	c := e.opts.Connectors
	switch spec.Capability {
	case "endpoint":
		return c.Endpoint != nil
	case "identity":
		return c.Identity != nil
	case "grants":
		return c.Grants != nil
	case "indicators":
		return c.Indicators != nil
	case "mail":
		return c.Mail != nil
	}
	return false
}

// Retry runs the failed actions whose backoff has passed (and resumes actions interrupted in
// flight by a crash); it returns how many it ran.
func (e *Engine) Retry(ctx context.Context) (int, error) {
	as, err := e.opts.Store.ListActions(ctx, store.ActionQuery{Status: []string{event.ActionFailed, event.ActionExecuting, event.ActionApproved}, Limit: 500})
	if err != nil {
		return 0, err
	}
	n := 0
	now := e.opts.Now()
	for _, a := range as {
		if a.Status == event.ActionFailed && now.Before(a.NextAttempt) {
			continue
		}
		if _, err := e.Run(ctx, a.ID); err != nil && !errors.Is(err, ErrState) {
			e.opts.Log.Warn("retry", "action", a.ID, "err", err)
		}
		n++
	}
	return n, nil
}

// Rollback undoes a completed action where the catalog allows.
func (e *Engine) Rollback(ctx context.Context, id, who, note string) (event.Action, error) {
	if who == "" {
		return event.Action{}, fmt.Errorf("%w: a rollback needs the analyst's name", ErrInvalid)
	}
	a, err := e.opts.Store.GetAction(ctx, id)
	if err != nil {
		return a, err
	}
	spec := e.catalog[a.Name]
	if !spec.Reversible || spec.rollback == nil {
		return a, fmt.Errorf("%s: %w", a.Name, ErrNoRollback)
	}
	if a.Status != event.ActionCompleted {
		return a, fmt.Errorf("action %s is %s: %w", id, a.Status, ErrState)
	}
	kind, value := splitTarget(a.Target)
	if !e.connectorFor(spec) {
		return a, fmt.Errorf("%s: %w", spec.Capability, ErrNoConnector)
	}
	if err := spec.rollback(ctx, e.opts.Connectors, kind, value, a.Saved); err != nil {
		e.opts.Audit(ctx, "analyst:"+who, "response.rollback_failed", id, map[string]any{"error": err.Error()})
		return a, fmt.Errorf("roll back %s: %w", id, err)
	}
	a, err = e.opts.Store.UpdateAction(ctx, id, func(a *event.Action, _ bool) error {
		a.Status, a.RolledBackAt, a.RolledBackBy, a.Reason = event.ActionRolledBack, e.opts.Now().UTC(), who, "rolled back: "+note
		return nil
	})
	if err == nil {
		e.opts.Audit(ctx, "analyst:"+strings.TrimPrefix(who, "analyst:"), "response.rollback", id, map[string]any{"action": a.Name, "target": a.Target, "note": note})
		e.opts.Notify(ctx, a)
	}
	return a, err
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
