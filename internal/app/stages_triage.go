package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/correlate"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/pipeline"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/triage"
	"github.com/vigil-soc/vigil/internal/ueba"
)

// State namespaces in the store's KV.
const (
	nsTriage = "triage"
	keyState = "state"
	// nsCorrelate keeps the correlation state beside its incidents: the user alias table
	// (keyUsers, snapshotted) and the analyst's split decisions (keyDecisions, written with
	// each decision).
	nsCorrelate  = "correlate"
	keyUsers     = "users"
	keyDecisions = "decisions"
	// nsUEBA keeps the detect stage's behavioural profiles, and nsDetect its open correlation
	// windows (keyCorrelations); both are snapshotted every few minutes and on close.
	nsUEBA          = "ueba"
	nsDetect        = "detect"
	keyCorrelations = "correlations"
)

// uebaOptions builds the behavioural detections' options from the configuration.
func uebaOptions(cfg config.Config) ueba.Options {
	t := triageOptions(cfg)
	peers := make(map[string]string, len(cfg.UEBA.PeerGroups))
	for k, v := range cfg.UEBA.PeerGroups {
		peers[event.CanonicalUser(k, "")] = v
	}
	return ueba.Options{Warmup: cfg.UEBA.Warmup.Std(), Criticality: t.Criticality, Privileged: t.Privileged, PeerGroups: peers,
		SprayUsers: cfg.UEBA.SprayUsers, BruteFailures: cfg.UEBA.BruteFailures, FailWindow: cfg.UEBA.FailWindow.Std(),
		TravelKmh: cfg.UEBA.TravelKmh, LoginScore: cfg.UEBA.LoginScore}
}

// triageOptions builds the triage options from the configuration.
func triageOptions(cfg config.Config) triage.Options {
	crit := map[string]string{}
	for _, h := range cfg.Assets.High {
		crit[strings.ToLower(h)] = "high"
	}
	for _, h := range cfg.Assets.Critical {
		crit[strings.ToLower(h)] = "critical"
	}
	priv := make([]string, len(cfg.Triage.Privileged))
	for i, p := range cfg.Triage.Privileged {
		priv[i] = strings.ToLower(p)
	}
	return triage.Options{Threshold: cfg.Triage.Threshold, Warmup: cfg.Triage.Warmup.Std(), Criticality: crit, Privileged: priv}
}

// stageState holds the stateful stages' engines; the mutex serialises their use (a stage
// runs one worker, but feedback and analyst actions come from the API).
type stageState struct {
	mu   sync.Mutex
	tri  *triage.Triager
	cor  *correlate.Correlator
	last time.Time // last snapshot
	// detectSaved is when the detect stage's state was last snapshotted.
	detectSaved atomic.Int64 // unix nanoseconds
	// writes orders the store writes of correlator changes as the changes were made: whoever
	// changed incidents under mu takes writes before releasing mu and holds it until its
	// incidents are stored, so that a correlation batch never overwrites an analyst's merge or
	// split with the copies it took before (and the other way round). Never take mu while
	// holding writes.
	writes sync.Mutex
}

// openStageState restores the triage state and the open incidents.
func (a *App) openStageState(ctx context.Context) error {
	opts := triageOptions(a.Cfg)
	opts.Intel = a.intelHit
	tr, err := triage.New(opts)
	if err != nil {
		return err
	}
	// A snapshot that cannot be read is not fatal: the state is learned afresh.
	if err := a.restoreState(ctx, nsUEBA, keyState, "behavioural profiles unreadable; learning them afresh", a.Detector.RestoreBehavior); err != nil {
		return err
	}
	if err := a.restoreState(ctx, nsDetect, keyCorrelations, "correlation windows unreadable; starting them empty", a.Detector.RestoreCorrelations); err != nil {
		return err
	}
	if err := a.restoreState(ctx, nsTriage, keyState, "triage state unreadable; starting fresh baselines", func(b []byte) error {
		var st triage.State
		if err := json.Unmarshal(b, &st); err != nil {
			return err
		}
		tr.Restore(&st)
		return nil
	}); err != nil {
		return err
	}
	users := a.graph.Users()
	if err := a.restoreState(ctx, nsCorrelate, keyUsers, "user alias table unreadable; learning it afresh", func(b []byte) error {
		var us correlate.UsersState
		if err := json.Unmarshal(b, &us); err != nil {
			return err
		}
		users.Restore(us)
		return nil
	}); err != nil {
		return err
	}
	cor := correlate.New(correlate.Options{Users: users})
	// Incidents still taking alerts: open ones, and those being investigated or contained.
	var open []event.Incident
	for _, status := range []string{event.StatusOpen, event.StatusInvestigating, event.StatusContained} {
		incs, err := a.Store.ListIncidents(ctx, store.IncidentQuery{Status: status, Since: time.Now().Add(-7 * 24 * time.Hour), Limit: 10000})
		if err != nil {
			return err
		}
		open = append(open, incs...)
	}
	cor.Resume(open)
	switch b, err := a.Store.GetState(ctx, nsCorrelate, keyDecisions); {
	case err == nil:
		var ds []correlate.Apart
		if err := json.Unmarshal(b, &ds); err != nil {
			return fmt.Errorf("read the analysts' split decisions: %w", err)
		}
		cor.RestoreDecisions(ds)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	a.stateful = &stageState{tri: tr, cor: cor}
	return nil
}

// restoreState hands the snapshot under ns/key, if there is one, to restore; a snapshot restore
// cannot read is logged with unreadable and skipped. Only a failing store is an error.
func (a *App) restoreState(ctx context.Context, ns, key, unreadable string, restore func([]byte) error) error {
	b, err := a.Store.GetState(ctx, ns, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	if err := restore(b); err != nil {
		a.Log.Warn(unreadable, "err", err)
	}
	return nil
}

// saveStageState snapshots the triage state and the user alias table.
func (a *App) saveStageState(ctx context.Context) error {
	a.stateful.mu.Lock()
	b, err := json.Marshal(a.stateful.tri.State())
	a.stateful.last = time.Now()
	a.stateful.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode triage state: %w", err)
	}
	if err := a.Store.PutState(ctx, nsTriage, keyState, b); err != nil {
		return err
	}
	if b, err = json.Marshal(a.graph.Users().State()); err != nil {
		return fmt.Errorf("encode user alias table: %w", err)
	}
	return a.Store.PutState(ctx, nsCorrelate, keyUsers, b)
}

// saveDetectState snapshots the detect stage's behavioural profiles and open correlation
// windows.
func (a *App) saveDetectState(ctx context.Context) error {
	b, err := a.Detector.BehaviorState()
	if err != nil {
		return fmt.Errorf("encode behavioural profiles: %w", err)
	}
	if b != nil {
		if err := a.Store.PutState(ctx, nsUEBA, keyState, b); err != nil {
			return err
		}
	}
	if b, err = a.Detector.CorrelationState(); err != nil {
		return fmt.Errorf("encode correlation windows: %w", err)
	}
	if b != nil {
		if err := a.Store.PutState(ctx, nsDetect, keyCorrelations, b); err != nil {
			return err
		}
	}
	a.stateful.detectSaved.Store(time.Now().UnixNano())
	return nil
}

// triageStage scores and decides alerts. Alerts already triaged (a redelivered batch) pass
// through unchanged, so that the baselines count each alert once.
func (a *App) triageStage(ctx context.Context, msgs []pipeline.Msg) error {
	var in []event.Alert
	for _, m := range msgs {
		as, err := pipeline.DecodeLines[event.Alert](m.Data)
		if err != nil {
			return fmt.Errorf("message %s: %w", m.ID, err)
		}
		in = append(in, as...)
	}
	if len(in) == 0 {
		return nil
	}
	stored, err := a.storedAlerts(ctx, in)
	if err != nil {
		return err
	}
	st := a.stateful
	st.mu.Lock()
	var changed []event.Alert
	out := make([]event.Alert, 0, len(in))
	for i := range in {
		al := in[i]
		if s, ok := stored[al.ID]; ok && s.Triage != nil {
			out = append(out, s)
			continue
		}
		d := st.tri.Triage(&al)
		tr := d.Triage
		al.Triage = &tr
		changed = append(changed, al)
		out = append(out, al)
	}
	snapshot := time.Since(st.last) > 30*time.Second
	st.mu.Unlock()
	if err := a.Store.UpdateAlerts(ctx, changed); err != nil {
		return err
	}
	if snapshot {
		if err := a.saveStageState(ctx); err != nil {
			a.Log.Warn("triage snapshot failed", "err", err)
		}
	}
	return a.publishAlerts(ctx, pipeline.SubjectTriaged, batchMsgID("triage", msgs), out)
}

func (a *App) storedAlerts(ctx context.Context, as []event.Alert) (map[string]event.Alert, error) {
	ids := make([]string, len(as))
	for i := range as {
		ids[i] = as[i].ID
	}
	out := make(map[string]event.Alert, len(as))
	for start := 0; start < len(ids); start += 500 {
		got, err := a.Store.ListAlerts(ctx, store.AlertQuery{IDs: ids[start:min(start+500, len(ids))], Limit: 500})
		if err != nil {
			return nil, err
		}
		for _, x := range got {
			out[x.ID] = x
		}
	}
	return out, nil
}

func (a *App) publishAlerts(ctx context.Context, subject, msgID string, as []event.Alert) error {
	encoded := make([][]byte, len(as))
	for i := range as {
		js, err := json.Marshal(&as[i])
		if err != nil {
			return fmt.Errorf("encode alert %s: %w", as[i].ID, err)
		}
		encoded[i] = js
	}
	return pipeline.PublishLines(ctx, a.Bus, subject, msgID, encoded)
}

// correlateStage places triaged alerts into incidents, records each alert's final disposition
// and writes the incidents it changed.
func (a *App) correlateStage(ctx context.Context, msgs []pipeline.Msg) error {
	var in []event.Alert
	for _, m := range msgs {
		as, err := pipeline.DecodeLines[event.Alert](m.Data)
		if err != nil {
			return fmt.Errorf("message %s: %w", m.ID, err)
		}
		in = append(in, as...)
	}
	stored, err := a.storedAlerts(ctx, in)
	if err != nil {
		return err
	}
	st := a.stateful
	st.mu.Lock()
	updates := map[string]event.Alert{}
	revisions := map[string]correlate.Revision{}
	incidents := map[string]*event.Incident{}
	for i := range in {
		al := in[i]
		if s, ok := stored[al.ID]; ok && s.Triage != nil && !s.Triage.Placed.IsZero() {
			continue // placed before a crash
		}
		if al.Triage == nil {
			continue
		}
		p := st.cor.Place(&al)
		al.Triage.Disposition = p.Disposition
		al.Triage.IncidentID = p.IncidentID
		al.Triage.Reason = p.Reason
		al.Triage.Placed = time.Now().UTC()
		updates[al.ID] = al
		for _, r := range p.Revised {
			revisions[r.AlertID] = r
		}
		for _, inc := range p.Changed {
			incidents[inc.ID] = inc
		}
	}
	copies := make(map[string]event.Incident, len(incidents))
	for id, inc := range incidents {
		copies[id] = *inc
	}
	st.writes.Lock()
	st.mu.Unlock()
	defer st.writes.Unlock()

	// Alerts pulled into incidents after the fact (lookback) get their new disposition.
	if len(revisions) > 0 {
		ids := make([]event.Alert, 0, len(revisions))
		for id := range revisions {
			ids = append(ids, event.Alert{ID: id})
		}
		old, err := a.storedAlerts(ctx, ids)
		if err != nil {
			return err
		}
		for id, r := range revisions {
			al, ok := updates[id]
			if !ok {
				if al, ok = old[id]; !ok || al.Triage == nil {
					continue
				}
			}
			al.Triage.Disposition, al.Triage.IncidentID, al.Triage.Reason = r.Disposition, r.IncidentID, r.Reason
			updates[id] = al
		}
	}
	list := make([]event.Alert, 0, len(updates))
	for _, al := range updates {
		list = append(list, al)
	}
	if err := a.Store.UpdateAlerts(ctx, list); err != nil {
		return err
	}
	// Incidents merged away by this batch hand their stored alerts to the incident they joined,
	// before its chain is rebuilt from the alerts stored under it. Moving is idempotent, so a
	// redelivered batch moves nothing twice.
	for id, inc := range copies {
		if inc.MergedInto != "" {
			if _, err := a.moveAlerts(ctx, id, inc.MergedInto, nil); err != nil {
				return fmt.Errorf("move the alerts of merged incident %s: %w", id, err)
			}
		}
	}
	var changed []event.Incident
	for id, inc := range copies {
		if inc.MergedInto == "" {
			ch, err := a.chainFor(ctx, &inc)
			if err != nil {
				return err
			}
			inc.Chain = ch
		}
		up, err := a.Store.UpdateIncident(ctx, id, func(cur *event.Incident, exists bool) error {
			mergeCorrelated(cur, &inc, exists)
			return nil
		})
		if err != nil {
			return err
		}
		changed = append(changed, up)
	}
	return a.publishIncidents(ctx, "correlate", changed)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// mergeCorrelated copies the fields the correlation stage owns onto the stored incident,
// keeping those analysts, the investigation and the response own.
func mergeCorrelated(cur, c *event.Incident, exists bool) {
	status, disposition, report, actions := cur.Status, cur.Disposition, cur.Report, cur.ActionIDs
	version := cur.Version
	*cur = *c
	cur.Version = version
	if exists {
		if status != "" && status != event.StatusOpen {
			cur.Status = status // an analyst or the response changed it
		}
		if c.Status == event.StatusMerged {
			cur.Status = event.StatusMerged
		}
		if disposition != "" {
			cur.Disposition = disposition
		}
		cur.Report, cur.ActionIDs = report, actions
	}
}
