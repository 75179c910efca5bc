package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

// IncidentSummary is one row of the incident queue (GET /api/v1/incidents, `vigil incidents
// list --json`).
type IncidentSummary struct {
	ID          string         `json:"id"`
	Title       string         `json:"title"`
	Status      string         `json:"status"`
	Disposition string         `json:"disposition"`
	Severity    event.Severity `json:"severity_id"`
	Score       float64        `json:"score"`
	Alerts      int            `json:"alerts"`
	Hosts       []string       `json:"hosts"`
	Users       []string       `json:"users"`
	Tactics     []string       `json:"tactics"`
	Steps       int            `json:"steps"`
	Verdict     string         `json:"verdict"`
	FirstSeen   time.Time      `json:"first_seen"`
	LastSeen    time.Time      `json:"last_seen"`
	Updated     time.Time      `json:"updated"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Summarize returns an incident's queue row.
func Summarize(inc *event.Incident) IncidentSummary {
	s := IncidentSummary{ID: inc.ID, Title: inc.Title, Status: inc.Status, Disposition: inc.Disposition, Severity: inc.Severity, Score: inc.Score,
		Alerts: inc.AlertCount, Hosts: nonNil(inc.Hosts), Users: nonNil(inc.Users), Tactics: nonNil(inc.Tactics),
		FirstSeen: inc.FirstSeen, LastSeen: inc.LastSeen, Updated: inc.Updated}
	if inc.Chain != nil {
		s.Steps = len(inc.Chain.Steps)
	}
	if inc.Report != nil {
		s.Verdict = inc.Report.Verdict
	}
	return s
}

// IncidentDetail is one incident with its alerts, entities, attack chain, report and actions
// (GET /api/v1/incidents/{id}).
type IncidentDetail struct {
	event.Incident
	Alerts   []event.Alert     `json:"alerts"`
	Entities []event.EntityRef `json:"entities"`
	Chain    event.Chain       `json:"attack_chain"`
	Report   event.Report      `json:"report"`
	Actions  []event.Action    `json:"actions"`
}

// DetailOptions control how much an incident detail holds.
type DetailOptions struct {
	MaxAlerts int
}

// Detail assembles an incident's detail view from the store.
func Detail(ctx context.Context, st store.Store, inc event.Incident, opt DetailOptions) (IncidentDetail, error) {
	if opt.MaxAlerts <= 0 {
		opt.MaxAlerts = 500
	}
	d := IncidentDetail{Incident: inc, Entities: inc.Entities, Actions: []event.Action{}}
	if d.Entities == nil {
		d.Entities = []event.EntityRef{}
	}
	alerts, err := st.ListAlerts(ctx, store.AlertQuery{Incident: inc.ID, Limit: opt.MaxAlerts})
	if err != nil {
		return d, err
	}
	if alerts == nil {
		alerts = []event.Alert{}
	}
	d.Alerts = alerts
	if inc.Chain != nil {
		d.Chain = *inc.Chain
	}
	if d.Chain.Steps == nil {
		d.Chain.Steps = []event.ChainStep{}
	}
	if d.Chain.Edges == nil {
		d.Chain.Edges = []event.ChainEdge{}
	}
	if inc.Report != nil {
		d.Report = *inc.Report
	} else {
		d.Report = event.Report{Summary: "not investigated yet"}
	}
	if d.Report.Steps == nil {
		d.Report.Steps = []event.ReportStep{}
	}
	if d.Report.Evidence == nil {
		d.Report.Evidence = []event.Evidence{}
	}
	acts, err := st.ListActions(ctx, store.ActionQuery{Incident: inc.ID, Limit: 200})
	if err != nil {
		return d, err
	}
	if acts != nil {
		d.Actions = acts
	}
	return d, nil
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	since, err := parseTime(q.Get("since"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	incs, err := s.Store.ListIncidents(r.Context(), store.IncidentQuery{Status: q.Get("status"), Since: since, Limit: limit})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]IncidentSummary, len(incs))
	for i := range incs {
		out[i] = Summarize(&incs[i])
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	inc, err := s.Store.GetIncident(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if inc.MergedInto != "" {
		w.Header().Set("Location", "/api/v1/incidents/"+inc.MergedInto)
	}
	d, err := Detail(r.Context(), s.Store, inc, DetailOptions{})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// streamIncidents pushes incident changes as server-sent events: one "incident" event with the
// queue row each time an incident changes. It polls the store, so it works the same whichever
// process runs the correlation stage.
func (s *Server) streamIncidents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		s.writeError(w, r, fmt.Errorf("streaming unsupported"))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	since, _ := parseTime(r.URL.Query().Get("since"))
	if since.IsZero() {
		since = time.Now()
	}
	seen := map[string]int64{}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	fmt.Fprint(w, ": vigil incident stream\n\n")
	fl.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepalive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			fl.Flush()
		case <-tick.C:
			incs, err := s.Store.ListIncidents(r.Context(), store.IncidentQuery{Since: since.Add(-time.Second), Limit: 1000})
			if err != nil {
				return
			}
			for i := len(incs) - 1; i >= 0; i-- {
				inc := &incs[i]
				if seen[inc.ID] == inc.Version {
					continue
				}
				seen[inc.ID] = inc.Version
				b, _ := json.Marshal(Summarize(inc))
				fmt.Fprintf(w, "event: incident\nid: %s/%d\ndata: %s\n\n", inc.ID, inc.Version, b)
				if inc.Updated.After(since) {
					since = inc.Updated
				}
			}
			fl.Flush()
		}
	}
}

// IncidentService is what the API needs from the correlation stage: the analyst's merge and
// split of incidents. The composition root provides it and maps the stage's errors (unknown
// incident or alert → store.ErrNotFound, bad input → BadRequest, a state that does not allow
// it → store.ErrConflict). actor is recorded in the audit trail.
type IncidentService interface {
	// Merge folds incident id into incident into and returns into.
	Merge(ctx context.Context, id, into, actor, reason string) (event.Incident, error)
	// Split moves alerts out of incident id into a new incident and returns the new one.
	Split(ctx context.Context, id string, alerts []string, actor, reason string) (event.Incident, error)
}

// mergeRequest is the body of POST /api/v1/incidents/{id}/merge.
type mergeRequest struct {
	Into   string `json:"into"`
	Reason string `json:"reason"`
	// Analyst names the person, as approvals do; without it the actor is the API token.
	Analyst string `json:"analyst"`
}

// splitRequest is the body of POST /api/v1/incidents/{id}/split.
type splitRequest struct {
	Alerts  []string `json:"alerts"`
	Reason  string   `json:"reason"`
	Analyst string   `json:"analyst"`
}

// TokenActor is the audit actor of a write through the API that names no analyst: the bearer
// token is the only identity the API authenticates.
const TokenActor = "api:token"

func actor(analyst string) string {
	if analyst == "" {
		return TokenActor
	}
	return "analyst:" + analyst
}

func (s *Server) mergeIncident(w http.ResponseWriter, r *http.Request) {
	var req mergeRequest
	if err := decodeStrict(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Into == "" {
		s.writeError(w, r, BadRequest("into is required"))
		return
	}
	inc, err := s.Incidents.Merge(r.Context(), r.PathValue("id"), req.Into, actor(req.Analyst), req.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

func (s *Server) splitIncident(w http.ResponseWriter, r *http.Request) {
	var req splitRequest
	if err := decodeStrict(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.Alerts) == 0 {
		s.writeError(w, r, BadRequest("alerts: name at least one alert to split off"))
		return
	}
	inc, err := s.Incidents.Split(r.Context(), r.PathValue("id"), req.Alerts, actor(req.Analyst), req.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/incidents/"+inc.ID)
	writeJSON(w, http.StatusCreated, inc)
}
