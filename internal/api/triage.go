package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/vigil-soc/vigil/internal/triage"
)

// TriageService is what the API needs from the triage stage: feedback, suppressions and the
// model's figures. The composition root provides it.
type TriageService interface {
	AlertFeedback(ctx context.Context, alertID string, fb triage.Feedback) (any, error)
	IncidentFeedback(ctx context.Context, incidentID string, fb triage.Feedback) (any, error)
	Suppressions() []triage.Suppression
	EnableSuppression(ctx context.Context, s triage.Suppression) (triage.Suppression, error)
	Precision() map[string]triage.RuleStats
	Model() triage.Model
}

// feedbackRequest is the body of a feedback POST.
type feedbackRequest struct {
	Label   string `json:"label"`
	Reason  string `json:"reason"`
	Note    string `json:"note"`
	Analyst string `json:"analyst"`
}

func (s *Server) decodeFeedback(r *http.Request) (triage.Feedback, error) {
	var req feedbackRequest
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return triage.Feedback{}, BadRequest("feedback body: %v", err)
	}
	fb := triage.Feedback{Label: req.Label, Reason: req.Reason, Note: req.Note, Analyst: req.Analyst, At: time.Now().UTC()}
	if err := fb.Validate(); err != nil {
		return fb, BadRequest("%v", err)
	}
	return fb, nil
}

func (s *Server) alertFeedback(w http.ResponseWriter, r *http.Request) {
	fb, err := s.decodeFeedback(r)
	if err == nil {
		var res any
		if res, err = s.Triage.AlertFeedback(r.Context(), r.PathValue("id"), fb); err == nil {
			writeJSON(w, http.StatusOK, res)
			return
		}
	}
	s.writeError(w, r, err)
}

func (s *Server) incidentFeedback(w http.ResponseWriter, r *http.Request) {
	fb, err := s.decodeFeedback(r)
	if err == nil {
		var res any
		if res, err = s.Triage.IncidentFeedback(r.Context(), r.PathValue("id"), fb); err == nil {
			writeJSON(w, http.StatusOK, res)
			return
		}
	}
	s.writeError(w, r, err)
}

func (s *Server) listSuppressions(w http.ResponseWriter, r *http.Request) {
	sups := s.Triage.Suppressions()
	if sups == nil {
		sups = []triage.Suppression{}
	}
	writeJSON(w, http.StatusOK, sups)
}

func (s *Server) postSuppression(w http.ResponseWriter, r *http.Request) {
	var sup triage.Suppression
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sup); err != nil {
		s.writeError(w, r, BadRequest("suppression body: %v", err))
		return
	}
	if sup.Owner == "" || sup.Expires.IsZero() || sup.Kind == "" {
		s.writeError(w, r, BadRequest("a suppression needs kind, owner and expires"))
		return
	}
	if sup.Expires.After(time.Now().Add(365 * 24 * time.Hour)) {
		s.writeError(w, r, BadRequest("expires: at most one year ahead"))
		return
	}
	out, err := s.Triage.EnableSuppression(r.Context(), sup)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) triageFigures(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"precision": s.Triage.Precision(), "model": s.Triage.Model()})
}
