package app

import (
	"context"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-soc/vigil/internal/audit"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

// Minutes of analyst work each automated step stands for, in the "minutes saved" estimate.
// They are the usual Tier-1 handling times; the report states them.
const (
	minutesPerAlertTriage   = 5.0
	minutesPerInvestigation = 20.0
	minutesPerAction        = 10.0
)

// Durations summarises a set of durations in seconds.
type Durations struct {
	N      int      `json:"n"`
	Mean   *float64 `json:"mean"`
	Median *float64 `json:"median"`
	P90    *float64 `json:"p90"`
}

func summarize(xs []float64) Durations {
	d := Durations{N: len(xs)}
	if len(xs) == 0 {
		return d
	}
	sort.Float64s(xs)
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	mean := round(sum / float64(len(xs)))
	med := round(quantile(xs, 0.5))
	p90 := round(quantile(xs, 0.9))
	d.Mean, d.Median, d.P90 = &mean, &med, &p90
	return d
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

func round(x float64) float64 { return math.Round(x*1000) / 1000 }

// RuleFigures are one rule's alert figures.
type RuleFigures struct {
	Rule          string  `json:"rule"`
	Alerts        int64   `json:"alerts"`
	AutoClosed    int64   `json:"auto_closed"`
	Suppressed    int64   `json:"suppressed"`
	Grouped       int64   `json:"grouped"`
	Escalated     int64   `json:"escalated"`
	AutoCloseRate float64 `json:"auto_close_rate"`
}

// DayFigures are one day's figures.
type DayFigures struct {
	Day           string    `json:"day"`
	Alerts        int64     `json:"alerts"`
	AutoClosed    int64     `json:"auto_closed"`
	Suppressed    int64     `json:"suppressed"`
	Escalated     int64     `json:"escalated"`
	AutoCloseRate float64   `json:"auto_close_rate"`
	Incidents     int       `json:"incidents"`
	MTTD          Durations `json:"mttd_seconds"`
	MTTR          Durations `json:"mttr_seconds"`
}

// SOCReport is the SOC's performance over a period (GET /api/v1/metrics/soc).
type SOCReport struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// MTTD: from the first malicious event's time to the incident opening.
	MTTD Durations `json:"mttd_seconds"`
	// MTTA: from the incident opening to its acknowledgement: by the machine (the
	// investigation report) and by a human (the first analyst action on it).
	MTTA      Durations `json:"mtta_seconds"`
	MTTAHuman Durations `json:"mtta_human_seconds"`
	// MTTR: from the incident opening to the first completed containment, or to its
	// resolution when no action was needed.
	MTTR Durations `json:"mttr_seconds"`

	Alerts          int64              `json:"alerts"`
	AutoClosed      int64              `json:"auto_closed"`
	Suppressed      int64              `json:"suppressed"`
	AutoCloseRate   float64            `json:"auto_close_rate"`
	Incidents       int                `json:"incidents"`
	Investigated    int                `json:"investigated"`
	Actions         int                `json:"actions"`
	ActionsDone     int                `json:"actions_completed"`
	AutoContained   int                `json:"actions_automatic"`
	AutoContainRate float64            `json:"auto_contain_rate"`
	PendingApproval int                `json:"actions_pending_approval"`
	Escalated       int                `json:"actions_escalated"`
	MinutesSaved    float64            `json:"analyst_minutes_saved"`
	Assumptions     map[string]float64 `json:"minutes_saved_assumptions"`

	PerRule []RuleFigures `json:"per_rule"`
	PerDay  []DayFigures  `json:"per_day"`
}

// SOCMetrics computes the SOC report for incidents opened and alerts raised in [from, to).
func (a *App) SOCMetrics(ctx context.Context, from, to time.Time) (any, error) {
	return a.socReport(ctx, from, to)
}

func (a *App) socReport(ctx context.Context, from, to time.Time) (SOCReport, error) {
	rep := SOCReport{From: from.UTC(), To: to.UTC(), PerRule: []RuleFigures{}, PerDay: []DayFigures{},
		Assumptions: map[string]float64{"per_auto_closed_alert": minutesPerAlertTriage, "per_investigation": minutesPerInvestigation, "per_automatic_action": minutesPerAction}}
	stats, err := a.Store.AlertStats(ctx, from, to)
	if err != nil {
		return rep, err
	}
	rules := map[string]*RuleFigures{}
	days := map[string]*DayFigures{}
	for _, s := range stats {
		r := rules[s.Rule]
		if r == nil {
			r = &RuleFigures{Rule: s.Rule}
			rules[s.Rule] = r
		}
		d := days[s.Day]
		if d == nil {
			d = &DayFigures{Day: s.Day}
			days[s.Day] = d
		}
		r.Alerts += s.Count
		d.Alerts += s.Count
		rep.Alerts += s.Count
		switch event.Disposition(s.Disposition) {
		case event.AutoClosed:
			r.AutoClosed += s.Count
			d.AutoClosed += s.Count
			rep.AutoClosed += s.Count
		case event.Suppressed:
			r.Suppressed += s.Count
			d.Suppressed += s.Count
			rep.Suppressed += s.Count
		case event.Grouped:
			r.Grouped += s.Count
		case event.Escalated:
			r.Escalated += s.Count
			d.Escalated += s.Count
		}
	}
	rep.AutoCloseRate = rate(rep.AutoClosed+rep.Suppressed, rep.Alerts)

	incs, err := a.Store.ListIncidents(ctx, store.IncidentQuery{Since: from, Limit: 10000})
	if err != nil {
		return rep, err
	}
	human := a.firstAnalystActions(ctx, from)
	var mttd, mtta, mttah, mttr []float64
	dayMTTD := map[string][]float64{}
	dayMTTR := map[string][]float64{}
	for _, inc := range incs {
		if inc.Created.Before(from) || !inc.Created.Before(to) || inc.MergedInto != "" {
			continue
		}
		rep.Incidents++
		day := inc.Created.UTC().Format("2006-01-02")
		if days[day] == nil {
			days[day] = &DayFigures{Day: day}
		}
		days[day].Incidents++
		if !inc.FirstSeen.IsZero() {
			x := nonNeg(inc.Created.Sub(inc.FirstSeen))
			mttd = append(mttd, x)
			dayMTTD[day] = append(dayMTTD[day], x)
		}
		if inc.Report != nil && !inc.Report.Created.IsZero() {
			rep.Investigated++
			mtta = append(mtta, nonNeg(inc.Report.Created.Sub(inc.Created)))
		}
		if t, ok := human[inc.ID]; ok {
			mttah = append(mttah, nonNeg(t.Sub(inc.Created)))
		}
		acts, err := a.Store.ListActions(ctx, store.ActionQuery{Incident: inc.ID, Limit: 200})
		if err != nil {
			return rep, err
		}
		var contained time.Time
		for _, act := range acts {
			rep.Actions++
			switch act.Status {
			case event.ActionCompleted, event.ActionRolledBack:
				rep.ActionsDone++
				if act.ApprovedBy == "" {
					rep.AutoContained++
				}
				if contained.IsZero() || act.CompletedAt.Before(contained) {
					contained = act.CompletedAt
				}
			case event.ActionPending:
				rep.PendingApproval++
			case event.ActionEscalated:
				rep.Escalated++
			}
		}
		switch {
		case !contained.IsZero():
			x := nonNeg(contained.Sub(inc.Created))
			mttr = append(mttr, x)
			dayMTTR[day] = append(dayMTTR[day], x)
		case inc.Status == event.StatusResolved || inc.Status == event.StatusClosed:
			x := nonNeg(inc.Updated.Sub(inc.Created))
			mttr = append(mttr, x)
			dayMTTR[day] = append(dayMTTR[day], x)
		}
	}
	rep.MTTD, rep.MTTA, rep.MTTAHuman, rep.MTTR = summarize(mttd), summarize(mtta), summarize(mttah), summarize(mttr)
	rep.AutoContainRate = rate(int64(rep.AutoContained), int64(rep.ActionsDone))
	rep.MinutesSaved = float64(rep.AutoClosed+rep.Suppressed)*minutesPerAlertTriage + float64(rep.Investigated)*minutesPerInvestigation +
		float64(rep.AutoContained)*minutesPerAction
	for _, r := range rules {
		r.AutoCloseRate = rate(r.AutoClosed+r.Suppressed, r.Alerts)
		rep.PerRule = append(rep.PerRule, *r)
	}
	sort.Slice(rep.PerRule, func(i, j int) bool {
		if rep.PerRule[i].Alerts != rep.PerRule[j].Alerts {
			return rep.PerRule[i].Alerts > rep.PerRule[j].Alerts
		}
		return rep.PerRule[i].Rule < rep.PerRule[j].Rule
	})
	for day, d := range days {
		d.AutoCloseRate = rate(d.AutoClosed+d.Suppressed, d.Alerts)
		d.MTTD, d.MTTR = summarize(dayMTTD[day]), summarize(dayMTTR[day])
		rep.PerDay = append(rep.PerDay, *d)
	}
	sort.Slice(rep.PerDay, func(i, j int) bool { return rep.PerDay[i].Day < rep.PerDay[j].Day })
	return rep, nil
}

// firstAnalystActions returns, per incident, the time of the first analyst action on it
// (feedback, approval, denial, rollback, request) recorded in the audit trail since from.
func (a *App) firstAnalystActions(ctx context.Context, from time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	if a.auditLog == nil {
		return out
	}
	actionIncident := map[string]string{}
	var before uint64
	for range 20 { // at most 200k entries
		es, err := a.auditLog.Entries(ctx, audit.Query{From: from, Before: before, Limit: 10000})
		if err != nil || len(es) == 0 {
			break
		}
		for _, e := range es {
			if !strings.HasPrefix(e.Actor, "analyst:") {
				continue
			}
			inc := e.Subject
			if strings.HasPrefix(inc, event.PrefixAction) {
				if v, ok := actionIncident[inc]; ok {
					inc = v
				} else if act, err := a.Store.GetAction(ctx, inc); err == nil {
					actionIncident[inc] = act.Incident
					inc = act.Incident
				}
			}
			if t, ok := out[inc]; !ok || e.Time.Before(t) {
				out[inc] = e.Time
			}
		}
		before = es[len(es)-1].Seq
	}
	return out
}

func rate(n, d int64) float64 {
	if d == 0 {
		return 0
	}
	return round(float64(n) / float64(d))
}

func nonNeg(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return d.Seconds()
}

// socCollector exports the last day's SOC figures in Prometheus form at scrape time.
type socCollector struct{ a *App }

var (
	socMTTD       = prometheus.NewDesc("vigil_soc_mttd_seconds", "Median time from the first malicious event to the incident opening (last 24h).", nil, nil)
	socMTTA       = prometheus.NewDesc("vigil_soc_mtta_seconds", "Median time from incident opening to the investigation report (last 24h).", nil, nil)
	socMTTR       = prometheus.NewDesc("vigil_soc_mttr_seconds", "Median time from incident opening to containment or resolution (last 24h).", nil, nil)
	socAutoClose  = prometheus.NewDesc("vigil_soc_auto_close_ratio", "Share of alerts auto-closed or suppressed (last 24h).", nil, nil)
	socAutoCont   = prometheus.NewDesc("vigil_soc_auto_contain_ratio", "Share of completed actions that ran without a human approval (last 24h).", nil, nil)
	socSaved      = prometheus.NewDesc("vigil_soc_analyst_minutes_saved", "Estimated analyst minutes saved (last 24h).", nil, nil)
	socRuleAlerts = prometheus.NewDesc("vigil_soc_rule_alerts", "Alerts per rule and disposition (last 24h).", []string{"rule", "disposition"}, nil)
)

func (c socCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{socMTTD, socMTTA, socMTTR, socAutoClose, socAutoCont, socSaved, socRuleAlerts} {
		ch <- d
	}
}

func (c socCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := time.Now().UTC()
	rep, err := c.a.socReport(ctx, now.Add(-24*time.Hour), now)
	if err != nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	med := func(d Durations) float64 {
		if d.Median == nil {
			return math.NaN()
		}
		return *d.Median
	}
	gauge(socMTTD, med(rep.MTTD))
	gauge(socMTTA, med(rep.MTTA))
	gauge(socMTTR, med(rep.MTTR))
	gauge(socAutoClose, rep.AutoCloseRate)
	gauge(socAutoCont, rep.AutoContainRate)
	gauge(socSaved, rep.MinutesSaved)
	for _, r := range rep.PerRule {
		gauge(socRuleAlerts, float64(r.AutoClosed), r.Rule, "auto_closed")
		gauge(socRuleAlerts, float64(r.Suppressed), r.Rule, "suppressed")
		gauge(socRuleAlerts, float64(r.Grouped), r.Rule, "grouped")
		gauge(socRuleAlerts, float64(r.Escalated), r.Rule, "escalated")
	}
}
