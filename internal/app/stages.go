package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/ingest"
	"github.com/vigil-soc/vigil/internal/normalize"
	"github.com/vigil-soc/vigil/internal/pipeline"
	"github.com/vigil-soc/vigil/internal/store"
)

// stage is one pipeline stage as the app runs it: a durable consumer and its handler.
type stage struct {
	name    string
	subject string
	handle  pipeline.Handler
}

// stageBatchBytes bounds the bytes of one stage batch: a few thousand events, enough for the
// store's batching, while a stage's memory stays a few tens of megabytes.
const stageBatchBytes = 4 << 20

// consume runs a stage's consumer with metrics and dead-lettering.
func (a *App) consume(ctx context.Context, st stage, started func()) error {
	cfg := pipeline.ConsumerConfig{
		Name:        st.name,
		Subject:     st.subject,
		Workers:     a.Cfg.Workers(st.name),
		Batch:       16,
		BatchBytes:  stageBatchBytes,
		MaxInflight: a.Cfg.Pipeline.MaxInflight,
		MaxDeliver:  a.Cfg.Pipeline.MaxDeliver,
		Started:     started,
		Dead: func(ctx context.Context, m pipeline.Msg, err error) error {
			a.Metrics.Dead(st.name, 1)
			return a.Store.PutDeadLetters(ctx, []store.DeadLetter{{
				ID: event.DeriveID(event.PrefixDead, st.name, m.Subject, m.ID, string(m.Data)), Stage: st.name,
				Reason: fmt.Sprintf("message failed %d times: %v", m.Delivered, err),
				Origin: event.Origin{Source: "bus", Format: m.Subject}, Data: m.Data, Received: time.Now().UTC(),
			}})
		},
	}
	h := func(ctx context.Context, msgs []pipeline.Msg) error {
		start := time.Now()
		err := st.handle(ctx, msgs)
		a.Metrics.Stage(st.name, len(msgs), time.Since(start), err)
		return err
	}
	return a.Bus.Consume(ctx, cfg, h)
}

// stages returns the pipeline stages this build runs.
func (a *App) stages() []stage {
	return []stage{
		{name: "normalize", subject: pipeline.SubjectRawEvents, handle: a.normalizeStage},
		{name: "alert-intake", subject: pipeline.SubjectRawAlerts, handle: a.alertIntakeStage},
		{name: "detect", subject: pipeline.SubjectEvents, handle: a.detectStage},
		{name: "graph", subject: pipeline.SubjectEvents, handle: a.graphStage},
		{name: "triage", subject: pipeline.SubjectAlerts, handle: a.triageStage},
		{name: "correlate", subject: pipeline.SubjectTriaged, handle: a.correlateStage},
		{name: "investigate", subject: pipeline.SubjectIncidents, handle: a.investigateStage},
		{name: "respond", subject: pipeline.SubjectActions, handle: a.respondStage},
	}
}

// batchMsgID derives the ID of a stage's output message from its input messages, so that a
// redelivered input produces a message the bus recognises as a duplicate.
func batchMsgID(stage string, msgs []pipeline.Msg) string {
	parts := make([]string, 0, len(msgs)+1)
	parts = append(parts, stage)
	for _, m := range msgs {
		parts = append(parts, m.ID)
	}
	return event.DeriveID("m_", parts...)
}

// normalizeStage turns raw records into normalized events, stores them (and dead letters for
// records that cannot be normalized) and passes the events on to detection. Each event is
// encoded to JSON once, for the store and the bus.
func (a *App) normalizeStage(ctx context.Context, msgs []pipeline.Msg) error {
	var evs []event.Event
	var dead []store.DeadLetter
	ends := make([]int, len(msgs)) // evs[ends[i-1]:ends[i]] came from msgs[i]
	for mi, m := range msgs {
		var b pipeline.RawBatch
		if err := b.UnmarshalBinary(m.Data); err != nil {
			return fmt.Errorf("message %s: %w", m.ID, err)
		}
		for i := range b.Records {
			rec := &b.Records[i]
			origin := b.Origin(i)
			if b.Format == ingest.MalformedFormat {
				dead = append(dead, malformedDeadLetter(rec, origin, b.Hint))
				continue
			}
			ev, err := normalizeRecord(rec.Data, origin, b.Hint)
			if err != nil {
				dead = append(dead, store.DeadLetter{ID: event.DeriveID(event.PrefixDead, rec.ID), Stage: "normalize",
					Reason: recordReason(origin, err), Origin: origin, Data: rec.Data, Received: origin.Received})
				continue
			}
			ev.ID = rec.ID
			a.enrichGeo(&ev)
			evs = append(evs, ev)
		}
		ends[mi] = len(evs)
	}
	encoded := make([][]byte, len(evs))
	for i := range evs {
		js, err := json.Marshal(&evs[i])
		if err != nil {
			return fmt.Errorf("encode event %s: %w", evs[i].ID, err)
		}
		encoded[i] = js
	}
	if _, err := a.Store.PutEvents(ctx, evs, encoded); err != nil {
		return err
	}
	if len(dead) > 0 {
		if err := a.Store.PutDeadLetters(ctx, dead); err != nil {
			return err
		}
		a.Metrics.Dead("normalize", len(dead))
	}
	from := 0
	for mi, m := range msgs {
		if err := pipeline.PublishLines(ctx, a.Bus, pipeline.SubjectEvents, "normalize:"+m.ID, encoded[from:ends[mi]]); err != nil {
			return err
		}
		from = ends[mi]
	}
	return nil
}

func recordReason(o event.Origin, err error) string {
	where := o.Source
	if o.File != "" {
		where = o.File
	}
	return fmt.Sprintf("%s: record %d: %v", where, o.Record, err)
}

func malformedDeadLetter(rec *pipeline.RawRecord, origin event.Origin, format string) store.DeadLetter {
	var body struct {
		Reason string `json:"reason"`
		Data   string `json:"data"`
	}
	if err := json.Unmarshal(rec.Data, &body); err != nil {
		body.Reason, body.Data = "malformed record", string(rec.Data)
	}
	origin.Format = format
	return store.DeadLetter{ID: rec.ID, Stage: "ingest", Reason: body.Reason, Origin: origin, Data: []byte(body.Data), Received: origin.Received}
}

// hecEnvelope is a Splunk HEC event envelope.
type hecEnvelope struct {
	Event      json.RawMessage `json:"event"`
	Time       json.Number     `json:"time"`
	Host       string          `json:"host"`
	Source     string          `json:"source"`
	Sourcetype string          `json:"sourcetype"`
}

// normalizeRecord unwraps transport envelopes (HEC, JSON strings carrying text lines) and
// normalizes the record.
func normalizeRecord(data []byte, origin event.Origin, hint string) (event.Event, error) {
	var env *hecEnvelope
	if origin.Format == ingest.FormatHEC {
		env = &hecEnvelope{}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(env); err != nil {
			return event.Event{}, fmt.Errorf("HEC envelope: %w", err)
		}
		data = env.Event
		origin.Format = ingest.FormatJSON
		if env.Sourcetype != "" {
			hint = env.Sourcetype
		}
	}
	if len(data) > 0 && data[0] == '"' && (origin.Format == ingest.FormatJSON || origin.Format == "") {
		var line string
		if err := json.Unmarshal(data, &line); err != nil {
			return event.Event{}, fmt.Errorf("text record: %w", err)
		}
		data = []byte(line)
		origin.Format = ingest.FormatSyslog
	}
	ev, err := normalize.Event(normalize.Input{Raw: data, Origin: origin, Hint: hint})
	if err != nil {
		return ev, err
	}
	if env != nil {
		applyHEC(&ev, env)
	}
	return ev, nil
}

// applyHEC fills what the envelope knows and the record did not say.
func applyHEC(ev *event.Event, env *hecEnvelope) {
	if env.Host != "" && (ev.Device == nil || ev.Device.Hostname == "") {
		if ev.Device == nil {
			ev.Device = &event.Device{}
		}
		ev.Device.Hostname = env.Host
	}
	if env.Time != "" && (ev.Time.IsZero() || ev.Time.Equal(ev.Origin.Received)) {
		if f, err := env.Time.Float64(); err == nil && f > 0 {
			sec := int64(f)
			ev.Time = time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
		}
	}
}

// alertIntakeStage normalizes alerts from other tools, stores them and passes them to triage.
func (a *App) alertIntakeStage(ctx context.Context, msgs []pipeline.Msg) error {
	var alerts []event.Alert
	var dead []store.DeadLetter
	for _, m := range msgs {
		var b pipeline.RawBatch
		if err := b.UnmarshalBinary(m.Data); err != nil {
			return fmt.Errorf("message %s: %w", m.ID, err)
		}
		for i := range b.Records {
			rec := &b.Records[i]
			origin := b.Origin(i)
			al, err := normalizeAlert(rec.Data, origin, b.Hint)
			if err != nil {
				dead = append(dead, store.DeadLetter{ID: event.DeriveID(event.PrefixDead, rec.ID), Stage: "alert-intake",
					Reason: recordReason(origin, err), Origin: origin, Data: rec.Data, Received: origin.Received})
				continue
			}
			al.ID = rec.ID
			if al.Created.IsZero() {
				al.Created = origin.Received
			}
			alerts = append(alerts, al)
		}
	}
	if len(dead) > 0 {
		if err := a.Store.PutDeadLetters(ctx, dead); err != nil {
			return err
		}
		a.Metrics.Dead("alert-intake", len(dead))
	}
	return a.storeAlerts(ctx, "alert-intake", alerts, batchMsgID("alert-intake", msgs))
}

var errAITColumns = errors.New("want 5 columns: time,name,ip,host,short")

func normalizeAlert(data []byte, origin event.Origin, hint string) (event.Alert, error) {
	if origin.Format == ingest.FormatAITADS {
		fields := strings.Split(string(data), ",")
		if len(fields) != len(ingest.AITColumns) {
			return event.Alert{}, errAITColumns
		}
		al, _, err := normalize.AITRow(append(fields, "", ""), origin)
		return al, err
	}
	return normalize.Alert(normalize.Input{Raw: data, Origin: origin, Hint: hint})
}

// detectStage runs the detection rules over stored events and passes the alerts to triage.
func (a *App) detectStage(ctx context.Context, msgs []pipeline.Msg) error {
	var alerts []event.Alert
	for _, m := range msgs {
		evs, err := pipeline.DecodeLines[event.Event](m.Data)
		if err != nil {
			return fmt.Errorf("message %s: %w", m.ID, err)
		}
		if m.ID == "" {
			alerts = append(alerts, a.Detector.Detect(evs)...)
			continue
		}
		// A redelivered message counts once in correlation windows and profiles.
		alerts = append(alerts, a.Detector.DetectOnce(m.ID, evs)...)
	}
	if err := a.storeAlerts(ctx, "detect", alerts, batchMsgID("detect", msgs)); err != nil {
		return err
	}
	// The behavioural profiles are large and change slowly: a snapshot of them and of the open
	// correlation windows every few minutes is enough (and one on close).
	if time.Since(time.Unix(0, a.stateful.detectSaved.Load())) > 5*time.Minute {
		if err := a.saveDetectState(ctx); err != nil {
			a.Log.Warn("detect state snapshot failed", "err", err)
		}
	}
	return nil
}

// storeAlerts stores new alerts and publishes them to triage. Alerts already stored (a
// redelivered batch) are published again; triage is idempotent on alert IDs.
func (a *App) storeAlerts(ctx context.Context, stage string, alerts []event.Alert, msgID string) error {
	if len(alerts) == 0 {
		return nil
	}
	if _, err := a.Store.PutAlerts(ctx, alerts); err != nil {
		return err
	}
	encoded := make([][]byte, len(alerts))
	for i := range alerts {
		js, err := json.Marshal(&alerts[i])
		if err != nil {
			return fmt.Errorf("encode alert %s: %w", alerts[i].ID, err)
		}
		encoded[i] = js
	}
	return pipeline.PublishLines(ctx, a.Bus, pipeline.SubjectAlerts, msgID, encoded)
}

// flushDetect closes the open correlation windows (end of an import) and stores the alerts.
func (a *App) flushDetect(ctx context.Context) error {
	alerts := a.Detector.Flush()
	return a.storeAlerts(ctx, "detect", alerts, event.DeriveID("m_", "detect-flush", time.Now().String()))
}
