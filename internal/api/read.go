package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

// Stats is the body of GET /api/v1/stats.
type Stats struct {
	Events      int64 `json:"events"`
	Alerts      int64 `json:"alerts"`
	Incidents   int64 `json:"incidents"`
	DeadLetters int64 `json:"dead_letters"`
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	var st Stats
	var err error
	ctx := r.Context()
	if st.Events, err = s.Store.CountEvents(ctx); err == nil {
		if st.Alerts, err = s.Store.CountAlerts(ctx); err == nil {
			if st.Incidents, err = s.Store.CountIncidents(ctx); err == nil {
				st.DeadLetters, err = s.Store.CountDeadLetters(ctx)
			}
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// EventView is one stored event, raw and normalized.
type EventView struct {
	ID         string          `json:"id"`
	Raw        json.RawMessage `json:"raw"`
	Normalized event.Event     `json:"normalized"`
}

// ViewEvent splits an event into its raw record and its normalized form.
func ViewEvent(ev event.Event) EventView {
	raw := ev.Raw
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	ev.Raw = nil
	return EventView{ID: ev.ID, Raw: raw, Normalized: ev}
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) {
	ev, err := s.Store.GetEvent(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ViewEvent(ev))
}

func parseTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, BadRequest("time %q: want RFC 3339 or a duration back from now (24h)", v)
}

func (s *Server) searchEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, err := parseTime(q.Get("from"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	to, err := parseTime(q.Get("to"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	evs, err := s.Store.SearchEvents(r.Context(), store.EventQuery{
		From: from, To: to, Host: q.Get("host"), User: q.Get("user"), IP: q.Get("ip"),
		Class: event.Class(q.Get("class")), Code: q.Get("code"), Process: q.Get("process"), Limit: limit,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	views := make([]EventView, len(evs))
	for i, ev := range evs {
		views[i] = ViewEvent(ev)
	}
	writeJSON(w, http.StatusOK, views)
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) {
	a, err := s.Store.GetAlert(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	as, err := s.Store.ListAlerts(r.Context(), store.AlertQuery{Incident: q.Get("incident"), RuleID: q.Get("rule_id"), Limit: limit})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if as == nil {
		as = []event.Alert{}
	}
	writeJSON(w, http.StatusOK, as)
}

func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	dls, err := s.Store.ListDeadLetters(r.Context(), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if dls == nil {
		dls = []store.DeadLetter{}
	}
	writeJSON(w, http.StatusOK, dls)
}
