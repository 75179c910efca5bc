package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/api"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/pipeline"
	"github.com/vigil-soc/vigil/internal/respond"
	"github.com/vigil-soc/vigil/internal/store"
)

// newResponder builds the response engine from the policy, the connectors and the assets.
func (a *App) newResponder() (*respond.Engine, error) {
	rules := respond.DefaultPolicy()
	if len(a.Cfg.Respond.Policy) > 0 {
		rules = rules[:0]
		for _, r := range a.Cfg.Respond.Policy {
			rules = append(rules, respond.Rule{Name: r.Name, When: r.When, Decision: r.Decision})
		}
	}
	pol, err := respond.CompilePolicy(rules)
	if err != nil {
		return nil, fmt.Errorf("respond.%w", err)
	}
	crit := a.criticality()
	priv := a.privilegedFunc()
	conns := a.respondConns
	return respond.NewEngine(respond.Options{
		Store:       a.Store,
		Connectors:  &conns,
		Policy:      pol,
		Criticality: func(h string) string { return crit(h) },
		Privileged:  priv,
		MaxAttempts: a.Cfg.Respond.MaxAttempts,
		Backoff:     a.Cfg.Respond.Backoff.Std(),
		Audit:       a.audit,
		Notify:      a.notifyAction,
		Log:         a.Log.With("component", "respond"),
	}), nil
}

// criticality returns a host's criticality from the asset configuration.
func (a *App) criticality() func(host string) string {
	crit := map[string]string{}
	for _, h := range a.Cfg.Assets.High {
		crit[shortName(h)] = "high"
	}
	for _, h := range a.Cfg.Assets.Critical {
		crit[shortName(h)] = "critical"
	}
	return func(h string) string {
		if c, ok := crit[shortName(h)]; ok {
			return c
		}
		return "medium"
	}
}

// privilegedFunc reports whether an account is privileged: by the configured patterns, or by
// its roles at the identity provider when one is connected (asked once, then cached).
func (a *App) privilegedFunc() func(user string) bool {
	pats := make([]string, len(a.Cfg.Triage.Privileged))
	for i, p := range a.Cfg.Triage.Privileged {
		pats[i] = strings.ToLower(p)
	}
	var mu sync.Mutex
	cache := map[string]bool{}
	return func(user string) bool {
		name := strings.ToLower(user)
		if i := strings.LastIndexByte(name, '\\'); i >= 0 {
			name = name[i+1:]
		}
		for _, p := range pats {
			if pre, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(name, pre) || p == name {
				return true
			}
		}
		if a.idpPrivileged == nil {
			return false
		}
		mu.Lock()
		v, ok := cache[user]
		mu.Unlock()
		if ok {
			return v
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		v, err := a.idpPrivileged(ctx, user)
		if err != nil {
			// Unknown privilege is treated as privileged: a human looks before acting.
			a.Log.Warn("privilege lookup failed; treating the account as privileged", "user", user, "err", err)
			return true
		}
		mu.Lock()
		if len(cache) > 10000 {
			clear(cache)
		}
		cache[user] = v
		mu.Unlock()
		return v
	}
}

// notifyAction sends webhook notifications of actions that need a human or have finished.
func (a *App) notifyAction(ctx context.Context, act event.Action) {
	if a.notify == nil {
		return
	}
	kind := ""
	switch act.Status {
	case event.ActionPending:
		kind = "action_pending"
	case event.ActionEscalated:
		kind = "action_escalated"
	case event.ActionCompleted:
		kind = "action_completed"
	default:
		return
	}
	a.notify(ctx, kind, act)
}

// respondStage takes the actions the investigation recommends and submits them to the
// engine, which decides under policy and runs what it may.
func (a *App) respondStage(ctx context.Context, msgs []pipeline.Msg) error {
	for _, m := range msgs {
		reqs, err := pipeline.DecodeLines[ActionRequest](m.Data)
		if err != nil {
			return fmt.Errorf("message %s: %w", m.ID, err)
		}
		for _, r := range reqs {
			_, err := a.responder.Submit(ctx, respond.Request{ID: r.ID, Incident: r.Incident, Action: r.Action, Target: r.Target,
				Verdict: r.Verdict, Confidence: r.Confidence, Autonomy: r.Autonomy, RequestedBy: r.By})
			if errors.Is(err, respond.ErrUnknownAction) || errors.Is(err, respond.ErrInvalid) {
				a.Log.Warn("recommended action rejected", "incident", r.Incident, "action", r.Action, "target", r.Target, "err", err)
				continue
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// runResponder retries failed actions after their backoff and resumes interrupted ones.
func (a *App) runResponder(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := a.responder.Retry(ctx); err != nil && ctx.Err() == nil {
			a.Log.Warn("response retries", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ListActions returns response actions by incident and status, oldest first.
func (a *App) ListActions(ctx context.Context, incident string, status []string) ([]event.Action, error) {
	return a.Store.ListActions(ctx, store.ActionQuery{Incident: incident, Status: status, Limit: 1000})
}

// responseService adapts the App to api.ResponseService, turning the engine's errors into the
// API's.
type responseService struct{ a *App }

var _ api.ResponseService = responseService{}

func (s responseService) List(ctx context.Context, incident string, status []string, limit int) ([]event.Action, error) {
	return s.a.Store.ListActions(ctx, store.ActionQuery{Incident: incident, Status: status, Limit: limit})
}

func (s responseService) Get(ctx context.Context, id string) (event.Action, error) {
	return s.a.Store.GetAction(ctx, id)
}

func (s responseService) Request(ctx context.Context, r api.ActionRequest) (event.Action, error) {
	act, err := s.a.RequestAction(ctx, r.Incident, r.Action, r.Target, r.Analyst)
	return act, apiError(err)
}

func (s responseService) Approve(ctx context.Context, id, analyst, note string) (event.Action, error) {
	act, err := s.a.responder.Approve(ctx, id, analyst, note)
	return act, apiError(err)
}

func (s responseService) Deny(ctx context.Context, id, analyst, note string) (event.Action, error) {
	act, err := s.a.responder.Deny(ctx, id, analyst, note)
	return act, apiError(err)
}

func (s responseService) Rollback(ctx context.Context, id, analyst, note string) (event.Action, error) {
	act, err := s.a.responder.Rollback(ctx, id, analyst, note)
	return act, apiError(err)
}

// RequestAction asks for an action on an incident's entity on behalf of an analyst: the
// incident's verdict and autonomy feed the policy like a machine request.
func (a *App) RequestAction(ctx context.Context, incident, action, target, analyst string) (event.Action, error) {
	if analyst == "" {
		return event.Action{}, api.BadRequest("analyst is required")
	}
	inc, err := a.Store.GetIncident(ctx, incident)
	if err != nil {
		return event.Action{}, err
	}
	r := respond.Request{Incident: incident, Action: action, Target: target, RequestedBy: "analyst:" + analyst, Autonomy: "automatic"}
	if inc.Report != nil {
		r.Verdict, r.Confidence = inc.Report.Verdict, inc.Report.Confidence
	}
	if r.Verdict == "" {
		r.Verdict = "needs_human"
	}
	r.ID = event.DeriveID(event.PrefixAction, incident, action, target, "analyst", analyst)
	return a.responder.Submit(ctx, r)
}

// Approve, Deny and Rollback are the analyst's response commands.
func (a *App) Approve(ctx context.Context, id, analyst, note string) (event.Action, error) {
	return a.responder.Approve(ctx, id, analyst, note)
}

// Deny refuses a pending action.
func (a *App) Deny(ctx context.Context, id, analyst, note string) (event.Action, error) {
	return a.responder.Deny(ctx, id, analyst, note)
}

// Rollback undoes a completed action.
func (a *App) Rollback(ctx context.Context, id, analyst, note string) (event.Action, error) {
	return a.responder.Rollback(ctx, id, analyst, note)
}

func apiError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, respond.ErrSeparation):
		return api.Forbidden("%v", err)
	case errors.Is(err, respond.ErrState), errors.Is(err, respond.ErrNoRollback):
		return fmt.Errorf("%w: %v", store.ErrConflict, err)
	case errors.Is(err, respond.ErrUnknownAction), errors.Is(err, respond.ErrInvalid):
		return api.BadRequest("%v", err)
	}
	return err
}
