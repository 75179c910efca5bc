package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// ResponseService is what the API needs from the response stage: the actions, and the
// analyst's commands on them. The composition root provides it and maps the engine's errors
// (separation of duties → Forbidden, wrong state → store.ErrConflict, bad input → BadRequest).
type ResponseService interface {
	List(ctx context.Context, incident string, status []string, limit int) ([]event.Action, error)
	Get(ctx context.Context, id string) (event.Action, error)
	Request(ctx context.Context, r ActionRequest) (event.Action, error)
	Approve(ctx context.Context, id, analyst, note string) (event.Action, error)
	Deny(ctx context.Context, id, analyst, note string) (event.Action, error)
	Rollback(ctx context.Context, id, analyst, note string) (event.Action, error)
}

// ActionRequest is an analyst's request for a response action (POST /api/v1/actions).
type ActionRequest struct {
	Incident string `json:"incident"`
	Action   string `json:"action"`
	Target   string `json:"target"`
	Analyst  string `json:"analyst"`
}

// decision is the body of approve, deny and rollback.
type decision struct {
	Analyst string `json:"analyst"`
	Note    string `json:"note"`
}

// errForbidden marks a refusal by rule (separation of duties).
var errForbidden = errors.New("forbidden")

// Forbidden wraps a message as a 403 error.
func Forbidden(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errForbidden, fmt.Sprintf(format, args...))
}

func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return BadRequest("body: %v", err)
	}
	return nil
}

func (s *Server) listActions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	var status []string
	if st := q.Get("status"); st != "" {
		status = strings.Split(st, ",")
	}
	acts, err := s.Response.List(r.Context(), q.Get("incident"), status, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if acts == nil {
		acts = []event.Action{}
	}
	writeJSON(w, http.StatusOK, acts)
}

func (s *Server) getAction(w http.ResponseWriter, r *http.Request) {
	a, err := s.Response.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) postAction(w http.ResponseWriter, r *http.Request) {
	var req ActionRequest
	if err := decodeStrict(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Incident == "" || req.Action == "" || req.Target == "" || req.Analyst == "" {
		s.writeError(w, r, BadRequest("incident, action, target and analyst are required"))
		return
	}
	a, err := s.Response.Request(r.Context(), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, a)
}

// actionCommand serves approve, deny and rollback.
func (s *Server) actionCommand(fn func(ctx context.Context, id, analyst, note string) (event.Action, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var d decision
		if err := decodeStrict(r, &d); err != nil {
			s.writeError(w, r, err)
			return
		}
		if d.Analyst == "" {
			s.writeError(w, r, BadRequest("analyst is required"))
			return
		}
		a, err := fn(r.Context(), r.PathValue("id"), d.Analyst, d.Note)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, a)
	}
}

func (s *Server) getEvidence(w http.ResponseWriter, r *http.Request) {
	ev, err := s.Store.GetEvidence(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ev)
}

// AuditService reads and verifies the audit trail.
type AuditService interface {
	// Entries returns entries newest first, filtered by subject, actor and action.
	Entries(ctx context.Context, subject, actor, action string, before uint64, limit int) (any, error)
	// Verify checks the whole chain.
	Verify(ctx context.Context) (any, error)
}

func (s *Server) auditEntries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	before, _ := strconv.ParseUint(q.Get("before"), 10, 64)
	out, err := s.Audit.Entries(r.Context(), q.Get("subject"), q.Get("actor"), q.Get("action"), before, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) auditVerify(w http.ResponseWriter, r *http.Request) {
	out, err := s.Audit.Verify(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// SOCMetrics computes the SOC's figures over a period.
type SOCMetrics func(ctx context.Context, from, to time.Time) (any, error)

func (s *Server) socMetrics(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to := time.Now().UTC()
	from := to.Add(-30 * 24 * time.Hour)
	if v := q.Get("from"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			s.writeError(w, r, BadRequest("from: %v", err))
			return
		}
		from = t
	}
	if v := q.Get("to"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			s.writeError(w, r, BadRequest("to: %v", err))
			return
		}
		to = t
	}
	out, err := s.SOC(r.Context(), from, to)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
