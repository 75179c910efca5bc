package query

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

// AlertLister is what WithAlerts reads alerts from (store.Store is one).
type AlertLister interface {
	ListAlerts(ctx context.Context, q store.AlertQuery) ([]event.Alert, error)
}

// maxAlertsPerSearch bounds the alerts one search reads.
const maxAlertsPerSearch = 100000

// alertPage is how many new alerts a search reads at a time, newest first: a hunt mostly wants
// the newest few matches, so a page is read only when the ones before it did not fill the limit.
var alertPage = 2000

// WithAlerts returns a Searcher that answers from the stored events and, beside them, from the
// alerts (vigil's detections and other tools' alerts) as detection_finding events: a hunt sees
// the detections with the telemetry, and "class = detection_finding host = dc01 | since 24h" is
// every alert on dc01 of the day. An alert reads as an event with its ID, time, rule
// (code = rule ID, finding.title, finding.rule_id, finding.tool = its source), severity, host,
// user, addresses, message, ATT&CK tags (finding.tags), and its triage outcome in
// unmapped.disposition, unmapped.score, unmapped.incident and unmapped.level.
func WithAlerts(events Searcher, alerts AlertLister) Searcher {
	return &withAlerts{events: events, alerts: alerts}
}

type withAlerts struct {
	events Searcher
	alerts AlertLister
}

func (w *withAlerts) SearchEvents(ctx context.Context, q store.EventQuery) ([]event.Event, error) {
	evs, err := w.events.SearchEvents(ctx, q)
	if err != nil {
		return evs, err
	}
	if q.Class != "" && q.Class != event.ClassFinding {
		return evs, nil
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	found, err := w.searchAlerts(ctx, q, limit)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return evs, nil
	}
	out := append(evs, found...)
	slices.SortStableFunc(out, func(a, b event.Event) int { return b.Time.Compare(a.Time) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// searchAlerts returns the newest limit alerts in q's time range that match q, as events,
// newest first. It reads them from the newest in pages, as runner.scan reads events: each page
// ends at the oldest time of the one before, inclusive (the store's end bound is exclusive,
// and alerts can share a time), skips the alerts of that time already read, and asks for that
// many more. At most maxAlertsPerSearch alerts are read.
func (w *withAlerts) searchAlerts(ctx context.Context, q store.EventQuery, limit int) ([]event.Event, error) {
	var found []event.Event
	to := q.To
	boundary := map[string]bool{} // the alerts already read at the oldest time reached
	for read := 0; read < maxAlertsPerSearch; {
		n := min(alertPage+len(boundary), maxAlertsPerSearch-read)
		as, err := w.alerts.ListAlerts(ctx, store.AlertQuery{From: q.From, To: to, Limit: n, NewestFirst: true})
		if err != nil {
			return nil, fmt.Errorf("search alerts: %w", err)
		}
		read += len(as)
		for i := range as {
			if boundary[as[i].ID] {
				continue
			}
			ev := AlertEvent(&as[i])
			if !alertMatches(&ev, &q) {
				continue
			}
			found = append(found, ev)
			if len(found) >= limit {
				return found, nil // newest first: the rest are older than every one kept
			}
		}
		if len(as) < n {
			return found, nil // no more
		}
		// The page holds every alert read so far at its oldest time (it began at that time
		// when the one before ended there).
		last := as[len(as)-1].Time
		clear(boundary)
		for i := len(as) - 1; i >= 0 && as[i].Time.Equal(last); i-- {
			boundary[as[i].ID] = true
		}
		to = last.Add(time.Nanosecond)
	}
	return found, nil
}

// alertMatches applies an event query's filters to an alert read as an event, as the store
// applies them to events. Contains is a coarse filter the store may apply; Match, which Run
// always sets, evaluates the free text itself, so it is left to Match here.
func alertMatches(ev *event.Event, q *store.EventQuery) bool {
	if len(q.IDs) > 0 && !slices.Contains(q.IDs, ev.ID) || !q.Holds(ev) {
		return false
	}
	return q.Match == nil || q.Match(ev)
}

// AlertEvent reads an alert as a detection_finding event (see WithAlerts).
func AlertEvent(a *event.Alert) event.Event {
	ev := event.Event{
		ID: a.ID, Time: a.Time, Class: event.ClassFinding, ClassUID: event.ClassFinding.UID(), Kind: a.Source,
		Code: a.RuleID, Message: a.Message, Severity: a.Severity, Origin: a.Origin,
		Finding: &event.Finding{Tool: a.Source, RuleID: a.RuleID, Title: a.RuleTitle, Category: a.Kind,
			Tags: append(slices.Clone(a.Techniques), a.Tags...)},
	}
	if ev.Message == "" {
		ev.Message = a.RuleTitle
	}
	if a.Host != "" {
		ev.Device = &event.Device{Hostname: a.Host}
	}
	if a.User != "" {
		ev.User = &event.User{Name: a.User}
	}
	if a.SrcIP != "" {
		ev.Src = &event.Endpoint{IP: a.SrcIP}
	}
	if a.DstIP != "" {
		ev.Dst = &event.Endpoint{IP: a.DstIP}
	}
	um := map[string]string{}
	if a.Level != "" {
		um["level"] = a.Level
	}
	if t := a.Triage; t != nil {
		um["disposition"] = string(t.Disposition)
		um["score"] = strconv.FormatFloat(t.Score, 'f', 2, 64)
		if t.IncidentID != "" {
			um["incident"] = t.IncidentID
		}
	}
	if len(um) > 0 {
		ev.Unmapped = um
	}
	return ev
}
