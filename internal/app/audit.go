package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-soc/vigil/internal/api"
	"github.com/vigil-soc/vigil/internal/audit"
)

// openAudit opens the audit trail in DIR/audit and records the configuration in force (and
// whether it changed since the last start).
func (a *App) openAudit(ctx context.Context) error {
	l, err := audit.Open(ctx, a.Cfg.Path("audit"), audit.Options{CheckpointEvery: a.Cfg.Audit.CheckpointEvery, Logger: a.Log})
	if err != nil {
		return fmt.Errorf("open the audit trail: %w", err)
	}
	a.auditLog = l
	a.auditor = func(ctx context.Context, actor, action, subject string, data any) error {
		b, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("audit data: %w", err)
		}
		_, err = l.Append(ctx, audit.Entry{Actor: actor, Action: action, Subject: subject, Data: b})
		return err
	}
	// The configuration is recorded by fingerprint: secrets are references, never values.
	y, err := yaml.Marshal(a.Cfg)
	if err != nil {
		return fmt.Errorf("fingerprint the configuration: %w", err)
	}
	sum := sha256.Sum256(y)
	finger := hex.EncodeToString(sum[:])
	prev, _ := a.Store.GetState(ctx, "audit", "config")
	if string(prev) != finger {
		a.audit(ctx, "system:config", "config.changed", "config", map[string]any{"sha256": finger, "previous": string(prev), "rules": a.Cfg.Rules, "rule_count": a.Detector.RuleCount()})
		if err := a.Store.PutState(ctx, "audit", "config", []byte(finger)); err != nil {
			return err
		}
	}
	return nil
}

// audit records a machine or human action in the audit trail. A failure to record is logged
// loudly; the action itself has already happened.
func (a *App) audit(ctx context.Context, actor, action, subject string, data any) {
	if a.auditor == nil {
		return
	}
	if err := a.auditor(context.WithoutCancel(ctx), actor, action, subject, data); err != nil {
		a.Log.Error("audit append failed", "action", action, "subject", subject, "err", err)
	}
}

// watchRules reloads the rule folders now and then and records each change in the audit trail.
func (a *App) watchRules(ctx context.Context, every time.Duration) error {
	if len(a.Cfg.Rules) == 0 {
		return nil
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			changed, err := a.Detector.Reload()
			switch {
			case err != nil:
				a.Log.Error("rule reload failed; keeping the current rules", "err", err)
				a.audit(ctx, "system:detect", "rules.reload_failed", "rules", map[string]any{"error": err.Error()})
			case changed:
				a.Log.Info("rules reloaded", "rules", a.Detector.RuleCount())
				a.audit(ctx, "system:detect", "rules.reloaded", "rules", map[string]any{"rules": a.Detector.RuleCount(), "refused": len(a.Detector.Refusals())})
			}
		}
	}
}

// AuditVerify checks the audit chain of a data directory without opening the rest of it (a
// running server may hold it).
func AuditVerify(ctx context.Context, dataDir string) (audit.Report, error) {
	return audit.VerifyDir(ctx, dataDir+"/audit")
}

// AuditExport writes the audit trail between from and to as JSON lines.
func AuditExport(ctx context.Context, dataDir string, w io.Writer, from, to time.Time) error {
	l, err := audit.Open(ctx, dataDir+"/audit", audit.Options{})
	if err != nil {
		return err
	}
	defer l.Close()
	return l.Export(ctx, w, from, to)
}

// auditService adapts the audit log to api.AuditService.
type auditService struct{ a *App }

var _ api.AuditService = auditService{}

func (s auditService) Entries(ctx context.Context, subject, actor, action string, before uint64, limit int) (any, error) {
	es, err := s.a.auditLog.Entries(ctx, audit.Query{Subject: subject, Actor: actor, Action: action, Before: before, Limit: limit})
	if es == nil {
		es = []audit.Entry{}
	}
	return es, err
}

func (s auditService) Verify(ctx context.Context) (any, error) {
	rep, err := s.a.auditLog.Verify(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]any{"ok": rep.OK, "entries": rep.Entries, "checkpoints": rep.Checkpoints, "first_bad": rep.FirstBad, "problem": rep.Problem, "summary": rep.String()}, nil
}
