package app

import (
	"context"
	"fmt"
	"sort"
	"time"

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
	// before Now. Zero means the current time.
	Now time.Time
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

// DemoReport is what the demo produced, stage by stage.
type DemoReport struct {
	Scenarios   []string         `json:"scenarios"`
	Records     int              `json:"records"`
	Malicious   int              `json:"malicious"`
	Events      int64            `json:"events"`
	ByKind      map[string]int   `json:"events_by_kind"`
	DeadLetters int64            `json:"dead_letters"`
	Alerts      int64            `json:"alerts"`
	Incidents   []event.Incident `json:"incidents"`
	Steps       []DemoStep       `json:"steps"`
	Elapsed     time.Duration    `json:"elapsed"`
}

// RunDemo plays the built-in organisation's normal day and the chosen attacks through the
// pipeline, waits until every stage is done, and reports what each produced.
func (a *App) RunDemo(ctx context.Context, opt DemoOptions) (DemoReport, error) {
	start := time.Now()
	now := opt.Now
	if now.IsZero() {
		now = start.UTC()
	}
	scen := opt.Scenarios
	if len(scen) == 0 {
		scen = demo.Scenarios
	}
	org := demo.NewOrg()
	recs := org.Background(now.AddDate(0, 0, -1))
	for i, name := range scen {
		attack, err := org.Scenario(name, now.Add(-time.Duration(190-90*i)*time.Minute))
		if err != nil {
			return DemoReport{}, err
		}
		recs = append(recs, attack...)
	}
	demo.Sort(recs)

	pctx, stop := context.WithCancel(ctx)
	perr := make(chan error, 1)
	go func() { perr <- a.RunPipeline(pctx, nil) }()
	defer func() {
		stop()
		<-perr
	}()
	ids := make([]string, len(recs))
	for i := range recs {
		r := &recs[i]
		b := &pipeline.RawBatch{Source: "demo", Format: r.Format, Hint: r.Hint, Received: time.Now().UTC(),
			Records: []pipeline.RawRecord{{ID: ingest.ContentID(event.PrefixEvent, "demo", r.Data, 0), Record: int64(i + 1), Data: r.Data}}}
		ids[i] = b.Records[0].ID
		if err := a.publishWait(ctx, pipeline.SubjectRawEvents, b); err != nil {
			return DemoReport{}, err
		}
	}
	if err := a.Drain(ctx); err != nil {
		return DemoReport{}, fmt.Errorf("wait for the pipeline: %w", err)
	}
	if err := a.flushDetect(ctx); err != nil {
		return DemoReport{}, err
	}
	if err := a.Drain(ctx); err != nil {
		return DemoReport{}, fmt.Errorf("wait for the pipeline: %w", err)
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
	if rep.Incidents, err = a.Store.ListIncidents(ctx, store.IncidentQuery{Limit: 1000}); err != nil {
		return rep, err
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
	rep.Elapsed = time.Since(start)
	return rep, nil
}
