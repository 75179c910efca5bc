package app

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/correlate"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/normalize"
	"github.com/vigil-soc/vigil/internal/store/sqlite"
	"github.com/vigil-soc/vigil/internal/triage"
)

// EvalOptions configure a triage backtest.
type EvalOptions struct {
	Input  string
	Format string // ait-ads (the only labelled format so far)
	// FeedbackBudget is the share of surfaced incidents a simulated analyst labels. With 0 the
	// replay never reads the labels.
	FeedbackBudget float64
	// Decisions, when set, receives one JSON line per input alert, in input order.
	Decisions io.Writer
	// Explain adds each decision's reason to the decisions output.
	Explain bool
	// DataDir is where the replay keeps its state; empty uses a temporary directory.
	DataDir string
	Triage  triage.Options
	Correl  correlate.Options
}

// Decision is one alert's outcome in a backtest.
type Decision struct {
	Record      int64             `json:"record"`
	Disposition event.Disposition `json:"disposition"`
	Incident    string            `json:"incident"`
	Score       float64           `json:"score"`
	Reason      string            `json:"reason,omitempty"`
}

// EvalReport summarises a backtest. The figures under Evaluation are computed from the labels
// after the replay has made every decision.
type EvalReport struct {
	Alerts       int                       `json:"alerts"`
	Dispositions map[event.Disposition]int `json:"dispositions"`
	Incidents    int                       `json:"incidents"` // surfaced incidents
	Feedback     int                       `json:"feedback_labels"`
	Seconds      float64                   `json:"seconds"`
	AlertsPerSec float64                   `json:"alerts_per_second"`
	Evaluation   *Evaluation               `json:"evaluation,omitempty"`
}

// Evaluation holds the labelled figures of a backtest.
type Evaluation struct {
	Phases          int      `json:"phases"`
	PhasesKept      int      `json:"phases_kept"`
	PhasesLost      []string `json:"phases_lost"`
	FPOnlyIncidents int      `json:"false_positive_only_incidents"`
	AttackIncidents int      `json:"incidents_with_attack_alerts"`
	NaiveGroups     int      `json:"naive_groups"`
	FPOnlyShare     float64  `json:"false_positive_only_share_of_naive"`
	SurfacedShare   float64  `json:"surfaced_share_of_naive"`
}

// evalAlert is one input alert, kept compact: the replay holds hundreds of thousands of them,
// so the row is kept as text (labels removed) and parsed again when the alert's turn comes.
type evalAlert struct {
	row        string // the CSV row with its label columns emptied
	record     int64
	time       int64  // Unix nanoseconds, for the time order
	name, host string // interned, for the naive reference grouping
	path       string
}

// parse rebuilds the alert exactly as the first read made it.
func (ea *evalAlert) parse() (event.Alert, error) {
	return aitAlert(ea.path, strings.Split(ea.row, ","), ea.record)
}

func aitAlert(path string, fields []string, record int64) (event.Alert, error) {
	a, _, err := normalize.AITRow(fields, event.Origin{Source: "eval", Format: "ait-ads", File: path, Record: record})
	if err != nil {
		return a, err
	}
	a.ID = event.DeriveID(event.PrefixAlert, "eval", fmt.Sprint(record))
	return a, nil
}

// EvalTriage replays a labelled alert file in time order through the real triage and
// correlation code and reports what they decided.
func EvalTriage(ctx context.Context, opt EvalOptions) (EvalReport, error) {
	start := time.Now()
	if opt.Format == "" {
		opt.Format = "ait-ads"
	}
	if opt.Format != "ait-ads" {
		return EvalReport{}, fmt.Errorf("eval triage: format %q is not supported (ait-ads)", opt.Format)
	}
	dir := opt.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "vigil-eval-")
		if err != nil {
			return EvalReport{}, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "vigil.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		return EvalReport{}, err
	}
	defer st.Close()

	alerts, err := readAITAlerts(opt.Input)
	if err != nil {
		return EvalReport{}, err
	}
	// Labels stay out of reach of the replay unless the simulated analyst needs them.
	var labels []normalize.Labels
	if opt.FeedbackBudget > 0 {
		if labels, err = readAITLabels(opt.Input); err != nil {
			return EvalReport{}, err
		}
	}
	order := make([]int, len(alerts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return alerts[order[i]].time < alerts[order[j]].time })

	tr, err := triage.New(opt.Triage)
	if err != nil {
		return EvalReport{}, err
	}
	opt.Correl.IDSeed = "eval"
	cor := correlate.New(opt.Correl)
	decisions := make([]Decision, len(alerts))
	index := make(map[string]int, len(alerts))
	features := map[int]map[string]float64{}
	analyst := newSimAnalyst(opt.FeedbackBudget, labels)
	rep := EvalReport{Alerts: len(alerts), Dispositions: map[event.Disposition]int{}}
	for n, i := range order {
		if n&8191 == 0 && ctx.Err() != nil {
			return rep, ctx.Err()
		}
		ea := &alerts[i]
		parsed, err := ea.parse()
		if err != nil {
			return rep, fmt.Errorf("%s: record %d: %w", opt.Input, ea.record, err)
		}
		a := &parsed
		index[a.ID] = i
		d := tr.Triage(a)
		a.Triage = &d.Triage
		p := cor.Place(a)
		decisions[i] = Decision{Record: ea.record, Disposition: p.Disposition, Incident: p.IncidentID, Score: round4(d.Score)}
		if opt.Explain {
			decisions[i].Reason = p.Reason
		}
		for _, r := range p.Revised {
			if j, ok := index[r.AlertID]; ok {
				decisions[j].Disposition, decisions[j].Incident = r.Disposition, r.IncidentID
				if opt.Explain {
					decisions[j].Reason = r.Reason
				}
			}
		}
		// The explanation is in the decision now; the replay keeps hundreds of thousands of
		// alerts, so drop it (the simulated analyst needs the features, not the explanation).
		a.Triage = nil
		if analyst != nil {
			if d.Features != nil {
				features[i] = d.Features
			}
			if p.Disposition == event.Escalated {
				analyst.opened(p.IncidentID, a.Time)
			}
			if p.IncidentID != "" {
				analyst.member(p.IncidentID, i)
			}
			rep.Feedback += analyst.review(a.Time, func(inc string, members []int, verdict string) {
				// One judgement of the incident: a model step on the alert that opened it, and
				// the verdict noted for each distinct alert type it holds so far.
				label, reason := triage.LabelFalsePositive, "expected_activity"
				if verdict == triage.LabelTruePositive {
					label, reason = triage.LabelTruePositive, "confirmed_malicious"
				}
				seen := map[string]bool{}
				for n, j := range members {
					alj, err := alerts[j].parse()
					if err != nil {
						continue // parsed once already: cannot fail
					}
					al := &alj
					k := al.Kind + "|" + al.RuleTitle + "|" + al.Host
					if seen[k] {
						continue
					}
					seen[k] = true
					fb := triage.Feedback{AlertID: al.ID, IncidentID: inc, Label: label, Reason: reason, Analyst: "sim", At: a.Time}
					if n == 0 && features[j] != nil {
						_, _ = tr.Learn(fb, al, features[j])
					} else {
						_ = tr.Note(fb, al)
					}
				}
			})
		}
	}
	// Persist what the replay built, through the same store the pipeline uses.
	for _, inc := range cor.All() {
		inc.Version = 0
		if err := st.PutIncident(ctx, *inc); err != nil {
			return rep, err
		}
	}
	if b, err := json.Marshal(tr.State()); err == nil {
		if err := st.PutState(ctx, "triage", "state", b); err != nil {
			return rep, err
		}
	}
	surfaced := map[string]bool{}
	for _, d := range decisions {
		rep.Dispositions[d.Disposition]++
		if d.Incident != "" && (d.Disposition == event.Escalated || d.Disposition == event.Grouped) {
			surfaced[d.Incident] = true
		}
	}
	rep.Incidents = len(surfaced)
	if opt.Decisions != nil {
		bw := bufio.NewWriter(opt.Decisions)
		enc := json.NewEncoder(bw)
		for _, d := range decisions {
			if err := enc.Encode(d); err != nil {
				return rep, err
			}
		}
		if err := bw.Flush(); err != nil {
			return rep, err
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.AlertsPerSec = float64(len(alerts)) / max(rep.Seconds, 1e-9)
	// Only now, with every decision made, read the labels to evaluate them.
	if labels == nil {
		if labels, err = readAITLabels(opt.Input); err != nil {
			return rep, err
		}
	}
	rep.Evaluation = evaluate(alerts, labels, decisions)
	return rep, nil
}

func round4(x float64) float64 { return float64(int64(x*10000+0.5)) / 10000 }

func openMaybeGzip(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	if m, _ := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return struct {
			io.Reader
			io.Closer
		}{zr, f}, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{br, f}, nil
}

// readAITAlerts reads the alert columns of an AIT-ADS CSV (the labels are dropped here).
func readAITAlerts(path string) ([]evalAlert, error) {
	rc, err := openMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var out []evalAlert
	var n int64
	names := map[string]string{}
	intern := func(s string) string {
		if v, ok := names[s]; ok {
			return v
		}
		if len(names) < 1<<16 {
			names[s] = s
		}
		return s
	}
	for sc.Scan() {
		n++
		if n == 1 {
			if !strings.HasPrefix(sc.Text(), "time,name,ip,host,short") {
				return nil, fmt.Errorf("%s: not an AIT-ADS alert CSV (header %q)", path, sc.Text())
			}
			continue
		}
		fields := strings.Split(sc.Text(), ",")
		if len(fields) == 7 {
			fields[5], fields[6] = "", "" // never let the labels near the alert
		}
		a, err := aitAlert(path, fields, n-1)
		if err != nil {
			return nil, fmt.Errorf("%s: record %d: %w", path, n-1, err)
		}
		out = append(out, evalAlert{row: strings.Join(fields, ","), record: n - 1, time: a.Time.UnixNano(),
			name: intern(a.Message), host: intern(a.Host), path: path})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// readAITLabels reads the label columns, in input order.
func readAITLabels(path string) ([]normalize.Labels, error) {
	rc, err := openMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var out []normalize.Labels
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		f := strings.Split(sc.Text(), ",")
		if len(f) != 7 {
			return nil, errors.New("labels: a row without 7 columns")
		}
		out = append(out, normalize.Labels{TimeLabel: f[5], EventLabel: f[6]})
	}
	return out, sc.Err()
}

// evaluate computes the labelled figures.
func evaluate(alerts []evalAlert, labels []normalize.Labels, ds []Decision) *Evaluation {
	if len(labels) != len(alerts) {
		return nil
	}
	ev := &Evaluation{PhasesLost: []string{}}
	phases := map[string]bool{}
	kept := map[string]bool{}
	incLabels := map[string]map[string]bool{}
	for i, l := range labels {
		if l.TimeLabel != "false_positive" {
			phases[l.TimeLabel] = true
		}
		d := ds[i]
		if d.Incident == "" || (d.Disposition != event.Escalated && d.Disposition != event.Grouped) {
			continue
		}
		if incLabels[d.Incident] == nil {
			incLabels[d.Incident] = map[string]bool{}
		}
		incLabels[d.Incident][l.TimeLabel] = true
		if l.TimeLabel != "false_positive" {
			kept[l.TimeLabel] = true
		}
	}
	for _, ls := range incLabels {
		if len(ls) == 1 && ls["false_positive"] {
			ev.FPOnlyIncidents++
		} else {
			ev.AttackIncidents++
		}
	}
	ev.Phases, ev.PhasesKept = len(phases), len(kept)
	for p := range phases {
		if !kept[p] {
			ev.PhasesLost = append(ev.PhasesLost, p)
		}
	}
	sort.Strings(ev.PhasesLost)
	// The reference: naive grouping by (alert name, host) with a 10-minute gap.
	type key struct{ name, host string }
	last := map[key]time.Time{}
	idx := make([]int, len(alerts))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return alerts[idx[i]].time < alerts[idx[j]].time })
	for _, i := range idx {
		a := &alerts[i]
		k := key{a.name, a.host}
		at := time.Unix(0, a.time)
		if t, ok := last[k]; !ok || at.Sub(t) > 10*time.Minute {
			ev.NaiveGroups++
		}
		last[k] = at
	}
	if ev.NaiveGroups > 0 {
		ev.FPOnlyShare = float64(ev.FPOnlyIncidents) / float64(ev.NaiveGroups)
		ev.SurfacedShare = float64(len(incLabels)) / float64(ev.NaiveGroups)
	}
	return ev
}

// simAnalyst labels a share of surfaced incidents some time after they open, from the labels
// of the alerts they hold by then, as a real analyst reviewing the queue would.
type simAnalyst struct {
	budget  float64
	seen    int // surfaced incidents so far
	labels  []normalize.Labels
	delay   time.Duration
	pending []pendingReview
	members map[string][]int
}

type pendingReview struct {
	inc string
	due time.Time
}

func newSimAnalyst(budget float64, labels []normalize.Labels) *simAnalyst {
	if budget <= 0 || labels == nil {
		return nil
	}
	return &simAnalyst{budget: budget, labels: labels, delay: 30 * time.Minute, members: map[string][]int{}}
}

// opened queues an incident for review when it falls within the budget: the first surfaced
// incident, then every 1/budget-th, as an analyst sampling the queue at that rate would.
func (s *simAnalyst) opened(inc string, at time.Time) {
	s.seen++
	k := float64(s.seen)
	if math.Floor(k*s.budget+1-s.budget) > math.Floor((k-1)*s.budget+1-s.budget) {
		s.pending = append(s.pending, pendingReview{inc: inc, due: at.Add(s.delay)})
	}
}

func (s *simAnalyst) member(inc string, i int) {
	if m := s.members[inc]; len(m) < 2000 {
		s.members[inc] = append(m, i)
	}
}

// review labels the incidents whose review is due and returns how many it labelled.
func (s *simAnalyst) review(now time.Time, label func(inc string, members []int, verdict string)) int {
	n := 0
	for len(s.pending) > 0 && !s.pending[0].due.After(now) {
		r := s.pending[0]
		s.pending = s.pending[1:]
		verdict := triage.LabelFalsePositive
		for _, i := range s.members[r.inc] {
			if s.labels[i].Attack() {
				verdict = triage.LabelTruePositive
				break
			}
		}
		label(r.inc, s.members[r.inc], verdict)
		n++
	}
	return n
}
