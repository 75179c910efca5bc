package app

import (
	"context"

	"github.com/vigil-soc/vigil/internal/api"
	"github.com/vigil-soc/vigil/internal/triage"
)

// triageService adapts the App to api.TriageService.
type triageService struct{ a *App }

var _ api.TriageService = triageService{}

func (s triageService) AlertFeedback(ctx context.Context, id string, fb triage.Feedback) (any, error) {
	return s.a.AlertFeedback(ctx, id, fb)
}

func (s triageService) IncidentFeedback(ctx context.Context, id string, fb triage.Feedback) (any, error) {
	return s.a.IncidentFeedback(ctx, id, fb)
}

func (s triageService) Suppressions() []triage.Suppression { return s.a.Suppressions() }

func (s triageService) EnableSuppression(ctx context.Context, sp triage.Suppression) (triage.Suppression, error) {
	return s.a.EnableSuppression(ctx, sp)
}

func (s triageService) Precision() map[string]triage.RuleStats { return s.a.Precision() }

func (s triageService) Model() triage.Model { return s.a.Model() }
