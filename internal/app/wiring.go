package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/vigil-soc/vigil/internal/ask"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/egress"
	"github.com/vigil-soc/vigil/internal/llm"
)

// wireOutside connects what lies outside vigil: the connectors (identity provider, EDR, mail,
// webhooks) for investigation tools and response actions, the prompt-injection detector, and
// the optional LLM planner.
func (a *App) wireOutside(ctx context.Context) error {
	set, err := buildConnectors(ctx, a.Cfg, a.Log.With("component", "connectors"))
	if err != nil {
		return fmt.Errorf("connectors: %w", err)
	}
	a.respondConns = set.Respond
	a.extraTools = append(a.extraTools, set.Tools...)
	a.idpPrivileged = set.Privileged
	a.notify = asyncNotify(set.Notify, a.Log)
	set.UseIncidentTimes(func(ctx context.Context, id string) (time.Time, time.Time, bool) {
		inc, err := a.Store.GetIncident(ctx, id)
		return inc.FirstSeen, inc.LastSeen, err == nil
	})
	a.injection = detectInjection
	a.ask = &ask.Translator{}
	if a.Cfg.LLM.BaseURL == "" {
		return nil
	}
	hc, err := llmHTTP(a.Cfg.LLM)
	if err != nil {
		return err
	}
	p, err := newLLMPlanner(a.Cfg.LLM, hc, a.audit, a.Log.With("component", "llm"))
	if err != nil {
		return fmt.Errorf("llm: %w", err)
	}
	a.planner = p
	// Questions in plain English share the model and its daily token budget.
	a.ask = &ask.Translator{LLM: p.client, Audit: func(ctx context.Context, action string, data any) {
		a.audit(ctx, "ask", action, "", data)
	}}
	return nil
}

// NewTranslator returns the plain-English question compiler for commands run without a
// server: with the model of cfg.LLM when one is configured (its own token budget), offline
// otherwise.
func NewTranslator(cfg config.Config, log *slog.Logger) (*ask.Translator, error) {
	if cfg.LLM.BaseURL == "" {
		return &ask.Translator{}, nil
	}
	hc, err := llmHTTP(cfg.LLM)
	if err != nil {
		return nil, err
	}
	client, _, err := newLLMClient(cfg.LLM, hc, log) // a nil log discards
	if err != nil {
		return nil, fmt.Errorf("llm: %w", err)
	}
	return &ask.Translator{LLM: client}, nil
}

// llmHTTP returns the egress client for the model of cfg. The model's address is configured
// explicitly, so it may be a local server (Ollama): that one host may be private.
func llmHTTP(cfg config.LLM) (*egress.Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("llm.base_url %q is not a URL", cfg.BaseURL)
	}
	hc, err := egress.New(egress.Options{AllowPrivate: []string{u.Hostname()}, Timeout: cfg.Timeout.Std(), MaxRetries: egress.NoRetries})
	if err != nil {
		return nil, fmt.Errorf("llm client: %w", err)
	}
	return hc, nil
}

// asyncNotify sends notifications in the background so that a slow webhook never delays a
// response action; at most 16 are in flight, more are dropped and logged.
func asyncNotify(send func(ctx context.Context, kind string, payload any), log *slog.Logger) func(ctx context.Context, kind string, payload any) {
	sem := make(chan struct{}, 16)
	return func(ctx context.Context, kind string, payload any) {
		select {
		case sem <- struct{}{}:
		default:
			log.Warn("notification dropped: too many in flight", "kind", kind)
			return
		}
		go func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			send(ctx, kind, payload)
		}()
	}
}

// detectInjection flags attacker-controlled text that tries to instruct an AI.
func detectInjection(text string) (bool, []string) {
	f := llm.Detect(text)
	return f.Suspicious, f.Matches
}
