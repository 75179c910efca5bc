package app

import (
	"context"
)

// audit records a machine or human action in the audit trail.
func (a *App) audit(ctx context.Context, actor, action, subject string, data any) {
	if a.auditor == nil {
		return
	}
	if err := a.auditor(ctx, actor, action, subject, data); err != nil {
		a.Log.Error("audit append failed", "action", action, "subject", subject, "err", err)
	}
}
