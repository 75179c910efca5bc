package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/vigil-soc/vigil/internal/api"
	"github.com/vigil-soc/vigil/internal/correlate"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

// maxSplitAlerts bounds the alerts of an incident a split reads to recompute both halves.
const maxSplitAlerts = 20000

// MergeIncidents folds incident src into incident into on an analyst's decision. The change
// goes through the correlator (under the stage lock), so that live correlation afterwards sends
// what would have joined src to into; src's stored alerts move to into, into's attack chain is
// rebuilt, and the decision is recorded in the audit trail. It returns the target incident.
func (a *App) MergeIncidents(ctx context.Context, src, into, actor, reason string) (event.Incident, error) {
	if src == into {
		return event.Incident{}, api.BadRequest("cannot merge %s into itself", src)
	}
	if into == "" {
		return event.Incident{}, api.BadRequest("into is required")
	}
	s, err := a.Store.GetIncident(ctx, src)
	if err != nil {
		return event.Incident{}, err
	}
	t, err := a.Store.GetIncident(ctx, into)
	if err != nil {
		return event.Incident{}, err
	}
	switch {
	case s.MergedInto != "":
		return event.Incident{}, fmt.Errorf("%w: %s was already merged into %s", store.ErrConflict, src, s.MergedInto)
	case t.MergedInto != "":
		return event.Incident{}, fmt.Errorf("%w: %s was merged into %s; merge into that one", store.ErrConflict, into, t.MergedInto)
	case t.Status == event.StatusClosed || t.Status == event.StatusResolved:
		return event.Incident{}, fmt.Errorf("%w: %s is %s", store.ErrConflict, into, t.Status)
	}
	st := a.stateful
	st.mu.Lock()
	st.cor.Adopt(s)
	st.cor.Adopt(t)
	changed, err := st.cor.Merge(src, into)
	if err != nil {
		st.mu.Unlock()
		return event.Incident{}, correlateError(err)
	}
	copies := copyIncidents(changed)
	decisions := st.cor.Decisions()
	st.writes.Lock()
	st.mu.Unlock()
	moved, err := a.moveAlerts(ctx, src, into, nil)
	if err == nil {
		copies, err = a.writeCorrelated(ctx, copies)
	}
	st.writes.Unlock()
	if err != nil {
		return event.Incident{}, fmt.Errorf("merge %s into %s: %w", src, into, err)
	}
	if err := a.saveDecisions(ctx, decisions); err != nil {
		return event.Incident{}, err
	}
	a.audit(ctx, actor, "incident.merge", src, map[string]any{"incident": src, "into": into, "alerts": moved, "alert_count": s.AlertCount, "reason": reason})
	if err := a.publishIncidents(ctx, "merge", copies); err != nil {
		a.Log.Warn("publish merged incidents", "into", into, "err", err)
	}
	return copies[0], nil
}

// SplitIncident moves alerts out of incident src into a new incident on an analyst's
// decision: both incidents' entities, tactics and attack chains are recomputed, the moved
// alerts are relabelled, and the correlator records that the two are separate cases so that
// automatic consolidation does not merge them back. It returns the new incident.
func (a *App) SplitIncident(ctx context.Context, src string, alertIDs []string, actor, reason string) (event.Incident, error) {
	ids := slices.Clone(alertIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 || ids[0] == "" {
		return event.Incident{}, api.BadRequest("alerts: name at least one alert to split off")
	}
	s, err := a.Store.GetIncident(ctx, src)
	if err != nil {
		return event.Incident{}, err
	}
	if s.MergedInto != "" {
		return event.Incident{}, fmt.Errorf("%w: %s was merged into %s; split that one", store.ErrConflict, src, s.MergedInto)
	}
	listed, err := a.Store.ListAlerts(ctx, store.AlertQuery{IDs: ids, Limit: len(ids)})
	if err != nil {
		return event.Incident{}, err
	}
	if len(listed) != len(ids) {
		found := map[string]bool{}
		for _, al := range listed {
			found[al.ID] = true
		}
		for _, id := range ids {
			if !found[id] {
				return event.Incident{}, fmt.Errorf("alert %s: %w", id, store.ErrNotFound)
			}
		}
	}
	// The stage lock, then the write lock: alerts a correlation batch placed are stored
	// before the incident's alerts are read, and no batch places alerts meanwhile.
	st := a.stateful
	st.mu.Lock()
	st.writes.Lock()
	n, moved, copies, decisions, err := a.splitLocked(ctx, s, ids, listed)
	st.mu.Unlock()
	if err != nil {
		st.writes.Unlock()
		return event.Incident{}, err
	}
	// Decisions first: a crash after the incidents are written must not let consolidation
	// merge them back.
	err = a.saveDecisions(ctx, decisions)
	if err == nil {
		_, err = a.moveAlerts(ctx, "", n.ID, moved)
	}
	if err == nil {
		copies, err = a.writeCorrelated(ctx, copies)
	}
	st.writes.Unlock()
	if err != nil {
		return event.Incident{}, fmt.Errorf("split %s: %w", src, err)
	}
	a.audit(ctx, actor, "incident.split", src, map[string]any{"incident": src, "new_incident": n.ID, "alerts": ids, "reason": reason})
	if err := a.publishIncidents(ctx, "split", copies); err != nil {
		a.Log.Warn("publish split incidents", "incident", src, "err", err)
	}
	return copies[1], nil
}

// splitLocked reads the incident's alerts and splits it in the correlator. Callers hold
// stageState.mu and stageState.writes.
func (a *App) splitLocked(ctx context.Context, s event.Incident, ids []string, listed []event.Alert) (*event.Incident, []event.Alert, []event.Incident, []correlate.Apart, error) {
	cor := a.stateful.cor
	cor.Adopt(s)
	cur, _ := cor.Incident(s.ID)
	// The incident's alerts: those stored under it, and those it lists (alerts of incidents
	// merged into it keep their first incident in the store).
	all, err := a.incidentAlerts(ctx, s.ID, cur.AlertIDs)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var moved, kept []event.Alert
	for _, al := range all {
		if _, ok := slices.BinarySearch(ids, al.ID); ok {
			moved = append(moved, al)
		} else {
			kept = append(kept, al)
		}
	}
	if len(moved) != len(ids) {
		for _, al := range listed {
			if !slices.ContainsFunc(moved, func(m event.Alert) bool { return m.ID == al.ID }) {
				return nil, nil, nil, nil, api.BadRequest("alert %s is not in incident %s", al.ID, s.ID)
			}
		}
	}
	n, changed, err := cor.Split(s.ID, moved, kept)
	if err != nil {
		return nil, nil, nil, nil, correlateError(err)
	}
	return n, moved, copyIncidents(changed), cor.Decisions(), nil
}

// incidentAlerts reads an incident's alerts: those stored under its ID and those it lists.
func (a *App) incidentAlerts(ctx context.Context, id string, listed []string) ([]event.Alert, error) {
	under, err := a.Store.ListAlerts(ctx, store.AlertQuery{Incident: id, Limit: maxSplitAlerts})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, al := range under {
		seen[al.ID] = true
	}
	var more []string
	for _, x := range listed {
		if !seen[x] {
			more = append(more, x)
		}
	}
	for start := 0; start < len(more); start += 500 {
		got, err := a.Store.ListAlerts(ctx, store.AlertQuery{IDs: more[start:min(start+500, len(more))], Limit: 500})
		if err != nil {
			return nil, err
		}
		under = append(under, got...)
	}
	return under, nil
}

// moveAlerts relabels stored alerts to incident to: those stored under from (when from is
// set), or the given ones. It returns the IDs it moved.
func (a *App) moveAlerts(ctx context.Context, from, to string, alerts []event.Alert) ([]string, error) {
	if from != "" {
		var err error
		if alerts, err = a.Store.ListAlerts(ctx, store.AlertQuery{Incident: from, Limit: 100000}); err != nil {
			return nil, err
		}
	}
	ids := make([]string, 0, len(alerts))
	up := make([]event.Alert, 0, len(alerts))
	for _, al := range alerts {
		if al.Triage == nil {
			continue
		}
		tr := *al.Triage
		tr.IncidentID = to
		al.Triage = &tr
		up = append(up, al)
		ids = append(ids, al.ID)
	}
	return ids, a.Store.UpdateAlerts(ctx, up)
}

// writeCorrelated stores incidents the correlator changed (chains rebuilt for those not merged
// away), keeping the fields analysts, the investigation and the response own. Callers hold
// stageState.writes.
func (a *App) writeCorrelated(ctx context.Context, incs []event.Incident) ([]event.Incident, error) {
	out := make([]event.Incident, 0, len(incs))
	for i := range incs {
		inc := incs[i]
		if inc.MergedInto == "" {
			ch, err := a.chainFor(ctx, &inc)
			if err != nil {
				return nil, err
			}
			inc.Chain = ch
		}
		up, err := a.Store.UpdateIncident(ctx, inc.ID, func(cur *event.Incident, exists bool) error {
			mergeCorrelated(cur, &inc, exists)
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, up)
	}
	return out, nil
}

func copyIncidents(incs []*event.Incident) []event.Incident {
	out := make([]event.Incident, len(incs))
	for i, inc := range incs {
		out[i] = *inc
	}
	return out
}

func (a *App) saveDecisions(ctx context.Context, ds []correlate.Apart) error {
	b, err := json.Marshal(ds)
	if err != nil {
		return fmt.Errorf("encode split decisions: %w", err)
	}
	if err := a.Store.PutState(ctx, nsCorrelate, keyDecisions, b); err != nil {
		return fmt.Errorf("save split decisions: %w", err)
	}
	return nil
}

// correlateError maps the correlator's errors to the API's kinds.
func correlateError(err error) error {
	switch {
	case errors.Is(err, correlate.ErrUnknownIncident):
		return fmt.Errorf("%w: %v", store.ErrNotFound, err)
	case errors.Is(err, correlate.ErrInvalid):
		return api.BadRequest("%v", err)
	case errors.Is(err, correlate.ErrState):
		return fmt.Errorf("%w: %v", store.ErrConflict, err)
	}
	return err
}

// incidentService adapts the App to api.IncidentService.
type incidentService struct{ a *App }

var _ api.IncidentService = incidentService{}

func (s incidentService) Merge(ctx context.Context, id, into, actor, reason string) (event.Incident, error) {
	return s.a.MergeIncidents(ctx, id, into, actor, reason)
}

func (s incidentService) Split(ctx context.Context, id string, alerts []string, actor, reason string) (event.Incident, error) {
	return s.a.SplitIncident(ctx, id, alerts, actor, reason)
}
