package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vigil-soc/vigil/internal/api"
	"github.com/vigil-soc/vigil/internal/audit"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/demo"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/ingest"
	"github.com/vigil-soc/vigil/internal/pipeline"
	"github.com/vigil-soc/vigil/internal/store"
)

// DemoOptions choose what the demo plays.
type DemoOptions struct {
	// Scenarios to play; empty plays all.
	Scenarios []string
	// Now anchors the timeline: the normal day is the day before, the attacks start shortly
	// before Now. Zero means the current time. PrepareDemo must have been given the same.
	Now time.Time
	// Injected plays the variants whose attacker-controlled fields carry instructions to an AI.
	Injected bool
}

// DemoStep is one attack record as the pipeline stored it.
type DemoStep struct {
	Scenario string    `json:"scenario"`
	Step     string    `json:"step"`
	Time     time.Time `json:"time"`
	EventID  string    `json:"event_id"`
	Kind     string    `json:"kind"`
	Class    string    `json:"class"`
	Code     string    `json:"code"`
	Host     string    `json:"host,omitempty"`
	User     string    `json:"user,omitempty"`
	Src      string    `json:"src_ip,omitempty"`
}

// DemoIncident is one incident as GET /api/v1/incidents/{id} returns it, plus the scenario it
// came from and the time from the first malicious event to the first completed containment.
type DemoIncident struct {
	api.IncidentDetail
	Scenario string `json:"scenario,omitempty"`
	// ContainmentSeconds runs on the wall clock from the moment the scenario's first malicious
	// event was handed to vigil to the first completed response action; nil when none
	// completed (for example, every action awaits approval).
	ContainmentSeconds *float64 `json:"containment_seconds"`
}

// DemoReport is what the demo produced, stage by stage.
type DemoReport struct {
	Scenarios   []string       `json:"scenarios"`
	Records     int            `json:"records"`
	Malicious   int            `json:"malicious"`
	Events      int64          `json:"events"`
	ByKind      map[string]int `json:"events_by_kind"`
	DeadLetters int64          `json:"dead_letters"`
	Alerts      int64          `json:"alerts"`
	Incidents   []DemoIncident `json:"incidents"`
	Steps       []DemoStep     `json:"steps"`
	Audit       audit.Report   `json:"audit"`
	Elapsed     time.Duration  `json:"elapsed"`
}

// demoStarts returns when each chosen scenario starts on the simulated timeline.
func demoStarts(now time.Time, scen []string) map[string]time.Time {
	out := map[string]time.Time{}
	for i, name := range scen {
		out[name] = now.Add(-time.Duration(190-90*i) * time.Minute)
	}
	return out
}

func demoScenarios(scen []string) []string {
	if len(scen) == 0 {
		return demo.Scenarios
	}
	return scen
}

// PrepareDemo starts the simulated organisation's services (identity provider, mail, EDRs,
// webhook receiver: local servers speaking the real APIs, seeded with the organisation) and
// points cfg at them, with the organisation's asset inventory. The returned function stops
// them.
func PrepareDemo(cfg *config.Config, now time.Time, scenarios []string) (func(), error) {
	if now.IsZero() {
		return nil, errors.New("demo: a start time is required")
	}
	org := demo.NewOrg()
	starts := demoStarts(now.UTC(), demoScenarios(scenarios))
	conns, stop, err := startDemoServices(org, now.UTC().AddDate(0, 0, -1), starts[demo.ScenarioPasswordSpray], starts[demo.ScenarioOAuthConsent],
		starts[demo.ScenarioRansomware], cfg.Path("demo-secrets"))
	if err != nil {
		return nil, err
	}
	cfg.Connectors = conns
	cfg.Assets.Critical, cfg.Assets.High = nil, nil
	for _, h := range org.Hosts {
		switch h.Criticality {
		case "critical":
			cfg.Assets.Critical = append(cfg.Assets.Critical, h.Name)
		case "high":
			cfg.Assets.High = append(cfg.Assets.High, h.Name)
		}
	}
	cfg.Assets.InternalNets = []string{"10.10.0.0/16"}
	// Remember the demo, so that later commands on this data directory (serve, approve) find
	// the simulated organisation's services again.
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		stop()
		return nil, err
	}
	b, _ := json.Marshal(demoMarker{Now: now.UTC(), Scenarios: scenarios})
	if err := os.WriteFile(cfg.Path(demoMarkerFile), b, 0o600); err != nil {
		stop()
		return nil, fmt.Errorf("write demo marker: %w", err)
	}
	return stop, nil
}

const demoMarkerFile = "demo.json"

type demoMarker struct {
	Now       time.Time `json:"now"`
	Scenarios []string  `json:"scenarios"`
}

// reviveDemo starts the simulated organisation's services again for a data directory the demo
// filled, unless the configuration names real connectors.
func reviveDemo(cfg *config.Config) (func(), error) {
	b, err := os.ReadFile(cfg.Path(demoMarkerFile))
	if err != nil {
		return func() {}, nil
	}
	c := cfg.Connectors
	if c.Graph != nil || c.Okta != nil || c.MDE != nil || c.Falcon != nil || len(c.Webhooks) > 0 {
		return func() {}, nil
	}
	var m demoMarker
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Path(demoMarkerFile), err)
	}
	return PrepareDemo(cfg, m.Now, m.Scenarios)
}

// RunDemo plays the built-in organisation's normal day, then each attack live, through the
// whole pipeline (detection, triage, correlation, investigation, response under policy) and
// reports what each stage produced and how fast the response came.
func (a *App) RunDemo(ctx context.Context, opt DemoOptions) (DemoReport, error) {
	start := time.Now()
	now := opt.Now
	if now.IsZero() {
		now = start.UTC()
	}
	scen := demoScenarios(opt.Scenarios)
	starts := demoStarts(now, scen)
	org := demo.NewOrg()
	background := org.Background(now.AddDate(0, 0, -1))
	demo.Sort(background)

	pctx, stop := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(pctx)
	g.Go(func() error { return a.RunPipeline(gctx, nil) })
	g.Go(func() error { return a.runResponder(gctx, 200*time.Millisecond) })
	g.Go(func() error { return a.refreshChains(gctx, 500*time.Millisecond) })
	defer func() {
		stop()
		_ = g.Wait()
	}()

	var recs []demo.Record
	ids := []string{}
	publish := func(batch []demo.Record) error {
		for i := range batch {
			r := &batch[i]
			n := len(recs) + 1
			b := &pipeline.RawBatch{Source: "demo", Format: r.Format, Hint: r.Hint, Received: time.Now().UTC(),
				Records: []pipeline.RawRecord{{ID: ingest.ContentID(event.PrefixEvent, "demo", r.Data, 0), Record: int64(n), Data: r.Data}}}
			if err := a.publishWait(ctx, pipeline.SubjectRawEvents, b); err != nil {
				return err
			}
			recs = append(recs, *r)
			ids = append(ids, b.Records[0].ID)
		}
		return nil
	}
	settle := func() error {
		for range 2 {
			if err := a.Drain(ctx); err != nil {
				return fmt.Errorf("wait for the pipeline: %w", err)
			}
			if err := a.flushDetect(ctx); err != nil {
				return err
			}
		}
		if err := a.Drain(ctx); err != nil {
			return fmt.Errorf("wait for the pipeline: %w", err)
		}
		return a.waitActions(ctx, 30*time.Second)
	}
	if err := publish(background); err != nil {
		return DemoReport{}, err
	}
	if err := settle(); err != nil {
		return DemoReport{}, err
	}
	// Each attack is played live: the clock starts when its first record is handed over.
	began := map[string]time.Time{}
	scenarioOf := map[string]string{} // event ID → scenario
	for _, name := range scen {
		attack, err := org.Scenario(name, starts[name])
		if err != nil {
			return DemoReport{}, err
		}
		if opt.Injected {
			attack = demo.Inject(attack)
		}
		first := len(ids)
		began[name] = time.Now()
		if err := publish(attack); err != nil {
			return DemoReport{}, err
		}
		for _, id := range ids[first:] {
			scenarioOf[id] = name
		}
		if err := settle(); err != nil {
			return DemoReport{}, err
		}
	}
	if err := a.rebuildChains(ctx); err != nil {
		return DemoReport{}, err
	}
	rep := DemoReport{Scenarios: scen, Records: len(recs), ByKind: map[string]int{}}
	var err error
	if rep.Events, err = a.Store.CountEvents(ctx); err != nil {
		return rep, err
	}
	if rep.DeadLetters, err = a.Store.CountDeadLetters(ctx); err != nil {
		return rep, err
	}
	if rep.Alerts, err = a.Store.CountAlerts(ctx); err != nil {
		return rep, err
	}
	incs, err := a.Store.ListIncidents(ctx, store.IncidentQuery{Limit: 1000})
	if err != nil {
		return rep, err
	}
	for _, inc := range incs {
		if inc.MergedInto != "" {
			continue
		}
		di, err := a.demoIncident(ctx, inc, scenarioOf, began)
		if err != nil {
			return rep, err
		}
		rep.Incidents = append(rep.Incidents, di)
	}
	for i := range recs {
		ev, err := a.Store.GetEvent(ctx, ids[i])
		if err != nil {
			return rep, fmt.Errorf("demo record %d was not stored: %w", i+1, err)
		}
		rep.ByKind[ev.Kind]++
		if !recs[i].Malicious {
			continue
		}
		rep.Malicious++
		st := DemoStep{Scenario: recs[i].Scenario, Step: recs[i].Step, Time: ev.Time, EventID: ev.ID, Kind: ev.Kind, Class: string(ev.Class), Code: ev.Code}
		if ev.Device != nil {
			st.Host = ev.Device.Hostname
		}
		if ev.User != nil {
			st.User = ev.User.Name
		}
		if ev.Src != nil {
			st.Src = ev.Src.IP
		}
		rep.Steps = append(rep.Steps, st)
	}
	sort.SliceStable(rep.Steps, func(i, j int) bool { return rep.Steps[i].Time.Before(rep.Steps[j].Time) })
	if rep.Audit, err = a.auditLog.Verify(ctx); err != nil {
		return rep, err
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// demoIncident builds an incident's detail with its scenario and containment time.
func (a *App) demoIncident(ctx context.Context, inc event.Incident, scenarioOf map[string]string, began map[string]time.Time) (DemoIncident, error) {
	d, err := api.Detail(ctx, a.Store, inc, api.DetailOptions{})
	if err != nil {
		return DemoIncident{}, err
	}
	di := DemoIncident{IncidentDetail: d}
	first := time.Time{}
	for _, al := range d.Alerts {
		for _, id := range al.EventIDs {
			name, ok := scenarioOf[id]
			if !ok {
				continue
			}
			if t := began[name]; first.IsZero() || t.Before(first) {
				first, di.Scenario = t, name
			}
		}
	}
	if first.IsZero() {
		return di, nil
	}
	var done time.Time
	for _, act := range d.Actions {
		if (act.Status == event.ActionCompleted || act.Status == event.ActionRolledBack) && (done.IsZero() || act.CompletedAt.Before(done)) {
			done = act.CompletedAt
		}
	}
	if !done.IsZero() {
		s := math.Round(done.Sub(first).Seconds()*1000) / 1000
		di.ContainmentSeconds = &s
	}
	return di, nil
}

// waitActions waits until no response action is approved or executing (those run now), up to
// limit.
func (a *App) waitActions(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		busy, err := a.Store.ListActions(ctx, store.ActionQuery{Status: []string{event.ActionApproved, event.ActionExecuting}, Limit: 1})
		if err != nil {
			return err
		}
		if len(busy) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
