// Package api is vigil's HTTP API: ingestion endpoints (JSON events and alerts, Splunk HEC),
// reads of stored events, alerts, incidents and evidence, hunting queries and plain-English
// questions (/api/v1/search, /api/v1/ask), stats, health and metrics. Every route
// except /healthz needs the bearer token. Errors are mapped to status codes in one place
// (writeError).
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/ask"
	"github.com/vigil-soc/vigil/internal/ingest"
	"github.com/vigil-soc/vigil/internal/pipeline"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/telemetry"
)

// Server holds the API's dependencies.
type Server struct {
	Store   store.Store
	Bus     pipeline.Publisher
	Token   string
	Metrics *telemetry.Metrics
	Log     *slog.Logger
	// MaxBodyBytes caps a request body (default 64 MiB).
	MaxBodyBytes int64
	// BatchSize is the most records per bus message (default 1000).
	BatchSize int
	// Ready reports whether the pipeline is up; /healthz answers 503 until it is.
	Ready func() error
	// Triage serves feedback and suppressions; nil leaves those routes out.
	Triage TriageService
	// Response serves the actions and the analyst's approvals; nil leaves those routes out.
	Response ResponseService
	// Audit serves the audit trail; nil leaves those routes out.
	Audit AuditService
	// Incidents serves the analyst's merge and split of incidents; nil leaves those routes out.
	Incidents IncidentService
	// SOC computes the SOC metrics (MTTD, MTTA, MTTR, automation rates); nil leaves the route out.
	SOC SOCMetrics
	// Ask compiles questions for POST /api/v1/ask; nil compiles offline.
	Ask *ask.Translator
	// Extra routes added by later stages (pattern → handler); they get the same auth.
	Extra map[string]http.Handler
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	auth := func(route string, h http.HandlerFunc) {
		mux.Handle(route, s.instrument(route, s.authenticate(h)))
	}
	auth("POST /api/v1/events", s.postEvents)
	auth("POST /api/v1/alerts", s.postAlerts)
	auth("POST /services/collector/event", s.postHEC)
	auth("POST /services/collector", s.postHEC)
	auth("POST /services/collector/event/1.0", s.postHEC)
	auth("POST /services/collector/raw", s.postHECRaw)
	auth("GET /services/collector/health", s.hecHealth)
	auth("GET /api/v1/stats", s.stats)
	auth("GET /api/v1/events", s.searchEvents)
	auth("GET /api/v1/events/{id}", s.getEvent)
	auth("GET /api/v1/alerts", s.listAlerts)
	auth("GET /api/v1/alerts/{id}", s.getAlert)
	auth("GET /api/v1/dead-letters", s.deadLetters)
	auth("GET /api/v1/incidents", s.listIncidents)
	auth("GET /api/v1/incidents/{id}", s.getIncident)
	auth("GET /api/v1/stream/incidents", s.streamIncidents)
	auth("GET /api/v1/evidence/{id}", s.getEvidence)
	auth("GET /api/v1/search", s.search)
	auth("POST /api/v1/ask", s.ask)
	if s.Response != nil {
		auth("GET /api/v1/actions", s.listActions)
		auth("GET /api/v1/actions/{id}", s.getAction)
		auth("POST /api/v1/actions", s.postAction)
		auth("POST /api/v1/actions/{id}/approve", s.actionCommand(s.Response.Approve))
		auth("POST /api/v1/actions/{id}/deny", s.actionCommand(s.Response.Deny))
		auth("POST /api/v1/actions/{id}/rollback", s.actionCommand(s.Response.Rollback))
	}
	if s.Incidents != nil {
		auth("POST /api/v1/incidents/{id}/merge", s.mergeIncident)
		auth("POST /api/v1/incidents/{id}/split", s.splitIncident)
	}
	if s.Audit != nil {
		auth("GET /api/v1/audit", s.auditEntries)
		auth("GET /api/v1/audit/verify", s.auditVerify)
	}
	if s.SOC != nil {
		auth("GET /api/v1/metrics/soc", s.socMetrics)
	}
	if s.Triage != nil {
		auth("POST /api/v1/alerts/{id}/feedback", s.alertFeedback)
		auth("POST /api/v1/incidents/{id}/feedback", s.incidentFeedback)
		auth("GET /api/v1/suppressions", s.listSuppressions)
		auth("POST /api/v1/suppressions", s.postSuppression)
		auth("GET /api/v1/triage", s.triageFigures)
	}
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.authenticate(s.Metrics.Handler().ServeHTTP))
	}
	for pattern, h := range s.Extra {
		auth(pattern, h.ServeHTTP)
	}
	return mux
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.Ready != nil {
		if err := s.Ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting", "error": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// authenticate checks "Authorization: Bearer TOKEN" (or "Splunk TOKEN" for HEC clients) in
// constant time.
func (s *Server) authenticate(h http.HandlerFunc) http.HandlerFunc {
	want := []byte(s.Token)
	return func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		var tok string
		switch {
		case strings.HasPrefix(got, "Bearer "):
			tok = strings.TrimPrefix(got, "Bearer ")
		case strings.HasPrefix(got, "Splunk "):
			tok = strings.TrimPrefix(got, "Splunk ")
		}
		if len(want) == 0 || subtle.ConstantTimeCompare([]byte(tok), want) != 1 {
			s.Metrics.Rejected(routeSource(r), "auth")
			if strings.HasPrefix(r.URL.Path, "/services/collector") {
				code, text := 2, "Token is required"
				if tok != "" {
					code, text = 4, "Invalid token"
				}
				w.Header().Set("WWW-Authenticate", `Splunk realm="vigil"`)
				writeJSON(w, http.StatusUnauthorized, map[string]any{"text": text, "code": code})
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or invalid bearer token"})
			return
		}
		h(w, r)
	}
}

func routeSource(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, "/services/collector") {
		return "hec"
	}
	return "http"
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (sw *statusWriter) WriteHeader(code int) {
	sw.code = code
	sw.ResponseWriter.WriteHeader(code)
}

// Flush lets streaming handlers (server-sent events) flush through the wrapper.
func (sw *statusWriter) Flush() {
	if f, ok := sw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) instrument(route string, h http.Handler) http.Handler {
	if s.Metrics == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		s.Metrics.HTTPRequests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		s.Metrics.HTTPLatency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// writeError maps an error to a status code and a JSON body. It is the only place that does.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var rec *ingest.RecordError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &rec):
		s.Metrics.Rejected(routeSource(r), "malformed")
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": rec.Error(), "record": rec.Record})
	case errors.As(err, &tooBig):
		s.Metrics.Rejected(routeSource(r), "too_large")
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": fmt.Sprintf("body larger than %d bytes", tooBig.Limit)})
	case errors.Is(err, pipeline.ErrFull):
		s.Metrics.Rejected(routeSource(r), "full")
		s.Log.Warn("ingest refused with 503: the bus is at its limit", "err", err)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "ingest is at capacity; retry later"})
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]any{"error": err.Error()})
	case errors.Is(err, errBadRequest):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
	case errors.Is(err, errForbidden):
		writeJSON(w, http.StatusForbidden, map[string]any{"error": err.Error()})
	case errors.Is(err, store.ErrConflict):
		writeJSON(w, http.StatusConflict, map[string]any{"error": err.Error()})
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "request cancelled"})
	default:
		s.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "internal error"})
	}
}

// errBadRequest marks invalid request parameters.
var errBadRequest = errors.New("bad request")

// BadRequest wraps a message as a 400 error for handlers added by other packages.
func BadRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

// WriteJSON and WriteError let routes added through Extra answer like the built-in ones.
func (s *Server) WriteJSON(w http.ResponseWriter, code int, v any) { writeJSON(w, code, v) }

// WriteError maps err to a status code, as the built-in routes do.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeError(w, r, err)
}
