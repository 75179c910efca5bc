// Package triage is the triage stage: it scores every alert with an additive, explainable model
// over behavioural features (how new, rare and bursty the alert is for its host, what else the
// host raised, the rule's feedback history, the asset and user at stake, threat intelligence),
// folds duplicates, applies analyst suppressions and the auto-close policy, and learns from
// analyst feedback. Its output is a decision per alert: surface it to an analyst (the
// correlation stage then opens or joins an incident), auto-close it, or suppress it, always with
// the reasons.
package triage

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/baseline"
	"github.com/vigil-soc/vigil/internal/event"
)

// Options configure a Triager.
type Options struct {
	// Warmup is how long the baselines learn before novelty counts (for the whole system, and
	// for each host from its first alert, halved).
	Warmup time.Duration
	// HalfLife is the memory of the baselines.
	HalfLife time.Duration
	// Dormancy is the silence after which an alert type returning on a host is notable: at
	// an hour of the day the type never fired on the host, or at any hour after twice as long.
	Dormancy time.Duration
	// DedupWindow folds identical alerts (same type and entities) arriving within it.
	DedupWindow time.Duration
	// Threshold is the probability at or above which an alert is surfaced.
	Threshold float64
	// LearningRate of feedback updates.
	LearningRate float64
	// Classes are never auto-closed; Exceptions release them case by case.
	Classes    []Class
	Exceptions []Exception
	// Criticality of assets by lower-case host name: "critical", "high", "medium", "low".
	Criticality map[string]string
	// Privileged lists privileged accounts (lower case; a trailing * matches a prefix).
	Privileged []string
	// Intel, when set, reports whether a value (IP, domain, hash) is a known indicator.
	Intel func(value string) (hit bool, detail string)
	// MaxKeys bounds each baseline table.
	MaxKeys int
	// Coef overrides prior model coefficients by feature name.
	Coef map[string]float64
}

func (o *Options) defaults() {
	if o.Warmup <= 0 {
		o.Warmup = 24 * time.Hour
	}
	if o.HalfLife <= 0 {
		o.HalfLife = 7 * 24 * time.Hour
	}
	if o.Dormancy <= 0 {
		o.Dormancy = 24 * time.Hour
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = 10 * time.Minute
	}
	if o.Threshold <= 0 {
		o.Threshold = 0.5
	}
	if o.LearningRate <= 0 {
		o.LearningRate = 0.3
	}
	if o.Classes == nil {
		o.Classes = DefaultClasses()
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 50000
	}
}

// State is everything a Triager learns; it serialises to JSON for persistence.
type State struct {
	Start  int64                      `json:"start"` // unix seconds of the first alert
	Last   int64                      `json:"last"`
	Pairs  *baseline.Table            `json:"pairs"`  // kind on host
	Kinds  *baseline.Table            `json:"kinds"`  // kind anywhere
	Hosts  *baseline.Table            `json:"hosts"`  // host activity
	Short  *baseline.Table            `json:"short"`  // kind on host, short memory (bursts)
	Recent map[string]*baseline.Table `json:"recent"` // per host: unusual kinds, last hour
	Hours  map[string]uint32          `json:"hours"`  // kind on host: hours of the day seen (bit mask)
	// Returns counts, per kind on host, its returns after a silence (see Options.Dormancy).
	Returns map[string]uint8 `json:"returns,omitempty"`
	// Rules holds feedback counts per alert kind.
	Rules map[string]*RuleStats `json:"rules"`
	// Familiar lists kind-on-host pairs an analyst marked benign.
	Familiar map[string]int64 `json:"familiar"`
	// Dedup maps a group key to the representative alert and when it was last seen.
	Dedup        map[string]dedupEntry `json:"dedup"`
	Model        *Model                `json:"model"`
	Suppressions []Suppression         `json:"suppressions"`
}

// RuleStats are feedback counts for one alert kind.
type RuleStats struct {
	TP     int `json:"tp"`
	FP     int `json:"fp"`
	Benign int `json:"benign"`
}

// Precision is the share of true positives among labelled alerts, with a uniform prior.
func (r *RuleStats) Precision() float64 {
	return float64(r.TP+1) / float64(r.TP+r.FP+r.Benign+2)
}

type dedupEntry struct {
	Alert string `json:"a"`
	Last  int64  `json:"t"`
	Count int    `json:"n"`
}

// Triager scores and decides alerts. It is not safe for concurrent use: the triage stage runs
// it from one goroutine, in alert time order.
type Triager struct {
	opts Options
	st   *State
	lam  float64
	lamS float64 // burst memory
	lamR float64 // recent-activity memory
	// benignOn counts, per alert kind, the hosts on which an analyst marked it benign (derived
	// from State.Familiar, rebuilt on Restore).
	benignOn map[string]int
	dedup    int64
}

// New returns a Triager with fresh state.
func New(opts Options) (*Triager, error) {
	opts.defaults()
	for i := range opts.Classes {
		if err := opts.Classes[i].compile(); err != nil {
			return nil, err
		}
	}
	t := &Triager{opts: opts, lam: baseline.Lambda(opts.HalfLife), lamS: baseline.Lambda(10 * time.Minute),
		lamR: baseline.Lambda(time.Hour), dedup: int64(opts.DedupWindow / time.Second), benignOn: map[string]int{}}
	t.st = &State{
		Pairs: baseline.NewTable(opts.MaxKeys), Kinds: baseline.NewTable(opts.MaxKeys), Hosts: baseline.NewTable(opts.MaxKeys),
		Short: baseline.NewTable(opts.MaxKeys), Recent: map[string]*baseline.Table{}, Hours: map[string]uint32{}, Returns: map[string]uint8{},
		Rules: map[string]*RuleStats{}, Familiar: map[string]int64{}, Dedup: map[string]dedupEntry{}, Model: DefaultModel(),
	}
	for f, c := range opts.Coef {
		if _, ok := t.st.Model.Coef[f]; !ok {
			return nil, fmt.Errorf("coefficient for unknown feature %q", f)
		}
		t.st.Model.Coef[f] = c
	}
	return t, nil
}

// Restore replaces the learned state (from a snapshot).
func (t *Triager) Restore(st *State) {
	def := DefaultModel()
	if st.Model == nil {
		st.Model = def
	}
	for f, c := range def.Coef {
		if _, ok := st.Model.Coef[f]; !ok {
			st.Model.Coef[f] = c
		}
	}
	if st.Hours == nil {
		st.Hours = map[string]uint32{}
	}
	if st.Returns == nil {
		st.Returns = map[string]uint8{}
	}
	if st.Rules == nil {
		st.Rules = map[string]*RuleStats{}
	}
	if st.Familiar == nil {
		st.Familiar = map[string]int64{}
	}
	if st.Dedup == nil {
		st.Dedup = map[string]dedupEntry{}
	}
	if st.Recent == nil {
		st.Recent = map[string]*baseline.Table{}
	}
	t.st = st
	t.benignOn = map[string]int{}
	for pk := range st.Familiar {
		kind, _, _ := strings.Cut(pk, "\x00")
		t.benignOn[kind]++
	}
}

// State returns the learned state, for persistence.
func (t *Triager) State() *State { return t.st }

// Model returns the current model.
func (t *Triager) Model() *Model { return t.st.Model }

// Decision is the triage outcome for one alert.
type Decision struct {
	event.Triage
	// Surface is set when the alert needs an analyst (the correlation stage decides between
	// opening an incident and joining one).
	Surface bool
	// Features are the model inputs, kept for feedback.
	Features map[string]float64
}

func pairKey(kind, host string) string { return kind + "\x00" + host }

func (t *Triager) mature(now int64, host *baseline.Counter) bool {
	w := int64(t.opts.Warmup / time.Second)
	if now-t.st.Start < w {
		return false
	}
	return host != nil && host.N > 0 && now-host.First >= w/2
}

// Triage scores and decides one alert and updates the baselines with it. Alerts must come in
// (roughly) time order.
func (t *Triager) Triage(a *event.Alert) Decision {
	now := a.Time.Unix()
	if t.st.Start == 0 || now < t.st.Start {
		t.st.Start = now
	}
	if now > t.st.Last {
		t.st.Last = now
	}
	host := strings.ToLower(a.Host)
	kind := alertType(a)
	gk := groupKey(a, kind, host)
	d := Decision{Triage: event.Triage{GroupKey: gk, At: a.Time}}

	// Duplicates fold into the first alert of their group, when they arrive within the window
	// of its latest one on either side: an older alert replayed late (another file of an import,
	// a delayed forwarder) is no duplicate of one months newer.
	if e, ok := t.st.Dedup[gk]; ok && absDiff(now, e.Last) <= t.dedup && e.Alert != a.ID {
		e.Last, e.Count = max(e.Last, now), e.Count+1
		t.st.Dedup[gk] = e
		t.observe(kind, host, now, a)
		d.DuplicateOf = e.Alert
		d.Reason = fmt.Sprintf("duplicate of %s (%d so far)", e.Alert, e.Count)
		d.Disposition = event.Grouped // the correlation stage resolves it to its representative's outcome
		return d
	}
	t.st.Dedup[gk] = dedupEntry{Alert: a.ID, Last: now, Count: 1}
	if len(t.st.Dedup) > t.opts.MaxKeys {
		t.pruneDedup(now)
	}

	x, details := t.features(a, kind, host, now)
	t.observe(kind, host, now, a)
	d.Features = x
	d.Triage.Features = x
	var z, prior float64
	for f, v := range x {
		c := t.st.Model.Coef[f] * v
		z += c
		prior += priorCoef[f] * v
		if v != 0 {
			d.Explanation = append(d.Explanation, event.Contribution{Feature: f, Weight: c, Value: v, Detail: details[f]})
		}
	}
	d.Unusual = sigmoid(prior)
	sort.Slice(d.Explanation, func(i, j int) bool {
		return math.Abs(d.Explanation[i].Weight) > math.Abs(d.Explanation[j].Weight)
	})
	d.Score = sigmoid(z)

	for i := range t.st.Suppressions {
		s := &t.st.Suppressions[i]
		if s.Matches(a, a.Time) {
			s.Hits++
			d.Disposition = event.Suppressed
			d.Reason = fmt.Sprintf("suppressed by %s (owner %s, until %s): %s", s.ID, s.Owner, s.Expires.Format("2006-01-02"), s.Reason)
			return d
		}
	}
	class := t.class(a)
	d.Class = class
	switch {
	case d.Score >= t.opts.Threshold:
		d.Surface = true
		d.Disposition = event.Escalated
		d.Reason = fmt.Sprintf("score %.2f ≥ %.2f: %s", d.Score, t.opts.Threshold, topReasons(d.Explanation))
	case class != "" && !t.excepted(class, a):
		d.Surface = true
		d.Disposition = event.Escalated
		d.Reason = fmt.Sprintf("never auto-closed: %s (score %.2f)", class, d.Score)
	default:
		d.Disposition = event.AutoClosed
		d.Reason = fmt.Sprintf("score %.2f < %.2f: %s", d.Score, t.opts.Threshold, topReasons(d.Explanation))
		if class != "" {
			d.Reason += "; class " + class + " released by an analyst exception"
		}
	}
	return d
}

// priorCoef are the model's prior coefficients, which Unusual is computed with.
var priorCoef = DefaultModel().Coef

// alertType is the key the baselines learn per: the detector's kind and the alert's title
// (two titles under one kind are two different alerts).
func alertType(a *event.Alert) string {
	if a.Kind == "" {
		return a.Source + ":" + a.RuleTitle
	}
	return a.Kind + "|" + a.RuleTitle
}

func topReasons(cs []event.Contribution) string {
	var parts []string
	for _, c := range cs {
		if len(parts) == 3 {
			break
		}
		parts = append(parts, fmt.Sprintf("%+.2f %s", c.Weight, c.Detail))
	}
	return strings.Join(parts, ", ")
}

func groupKey(a *event.Alert, kind, host string) string {
	return strings.Join([]string{kind, host, strings.ToLower(a.User), a.SrcIP, a.DstIP}, "|")
}

func (t *Triager) pruneDedup(now int64) {
	for k, e := range t.st.Dedup {
		if now-e.Last > t.dedup {
			delete(t.st.Dedup, k)
		}
	}
}

func (t *Triager) class(a *event.Alert) string {
	for i := range t.opts.Classes {
		if t.opts.Classes[i].matches(a) {
			return t.opts.Classes[i].Name
		}
	}
	return ""
}

func (t *Triager) excepted(class string, a *event.Alert) bool {
	for i := range t.opts.Exceptions {
		if t.opts.Exceptions[i].applies(class, a, a.Time) {
			return true
		}
	}
	return false
}

// observe updates the baselines with one alert.
func (t *Triager) observe(kind, host string, now int64, a *event.Alert) {
	pk := pairKey(kind, host)
	if pc := t.st.Pairs.Get(pk); pc != nil && t.dormantReturn(pk, pc.At, now) && t.st.Returns[pk] < math.MaxUint8 {
		t.st.Returns[pk]++
	}
	t.st.Pairs.Add(pk, now, t.lam)
	t.st.Kinds.Add(kind, now, t.lam)
	t.st.Hosts.Add(host, now, t.lam)
	t.st.Short.Add(pk, now, t.lamS)
	t.st.Hours[pk] |= 1 << uint(time.Unix(now, 0).UTC().Hour())
	if len(t.st.Hours) > t.opts.MaxKeys {
		for k := range t.st.Hours {
			if t.st.Pairs.Get(k) == nil {
				delete(t.st.Hours, k)
			}
		}
	}
	if len(t.st.Returns) > t.opts.MaxKeys {
		for k := range t.st.Returns {
			if t.st.Pairs.Get(k) == nil {
				delete(t.st.Returns, k)
			}
		}
	}
}

// dormantReturn reports whether an alert type last seen on a host at last, returning at now,
// comes back after a silence: longer than the dormancy period and at an hour of the day it
// never fired, or longer than twice the period at any hour. The hour tells a daily job that
// skipped a day (it comes back at its usual hour) from news; a job that runs every day would
// not be silent for two periods, so a silence that long is news whatever the hour.
func (t *Triager) dormantReturn(pk string, last, now int64) bool {
	d := int64(t.opts.Dormancy / time.Second)
	if now-last <= d {
		return false
	}
	return now-last > 2*d || t.st.Hours[pk]&(1<<uint(time.Unix(now, 0).UTC().Hour())) == 0
}

// features computes the model inputs for an alert, before the alert updates the baselines.
func (t *Triager) features(a *event.Alert, kind, host string, now int64) (map[string]float64, map[string]string) {
	x := map[string]float64{FBias: 1}
	det := map[string]string{FBias: "base rate of alerts needing an analyst"}
	if v, ok := severityValue[a.Severity]; ok && v != 0 {
		x[FSeverity], det[FSeverity] = v, fmt.Sprintf("rule severity %s", a.Severity)
	}
	pk := pairKey(kind, host)
	hc := t.st.Hosts.Get(host)
	pc := t.st.Pairs.Get(pk)
	kc := t.st.Kinds.Get(kind)
	if t.mature(now, hc) {
		switch {
		case pc == nil:
			x[FNovelPair], det[FNovelPair] = 1, fmt.Sprintf("first time %s raised %q", orAny(host), a.RuleTitle)
		case t.dormantReturn(pk, pc.At, now):
			// The longer the silence (in dormancy periods), the more notable the return; a
			// type that came back from silence before is intermittent, and each return is less
			// news than the last.
			silence := float64(now-pc.At) / t.opts.Dormancy.Seconds()
			before := int(t.st.Returns[pk])
			x[FDormant] = math.Min(3, 1+math.Log2(silence)) / float64(1+before)
			det[FDormant] = fmt.Sprintf("returns after %s of silence", (time.Duration(now-pc.At) * time.Second).Round(time.Hour))
			if t.st.Hours[pk]&(1<<uint(time.Unix(now, 0).UTC().Hour())) == 0 {
				det[FDormant] += ", at an hour it never fired"
			}
			if before > 0 {
				det[FDormant] += fmt.Sprintf(" (it came back from silence %d time(s) before)", before)
			}
		}
		if kc == nil {
			x[FNovelKind], det[FNovelKind] = 1, "alert type never seen before anywhere"
		}
		// Rarity: how unexpected one more of this alert is on this host, from its long-run rate.
		hours := math.Min(float64(now-hc.First), t.opts.HalfLife.Seconds()) / 3600
		n := 0.0
		if pc != nil {
			n = pc.Value(now, t.lam)
		}
		if s := math.Log2((hours + 1) / (n + 1)); s > 1 {
			x[FRarity] = (s - 1) / 2
			det[FRarity] = fmt.Sprintf("rare on this host: %.1f in %.0f h", n, hours)
		}
		// Routine: an alert type this host raises all the time is less likely to need anyone.
		if n >= 3 {
			x[FRoutine] = math.Min(2, math.Log2(1+n)/4)
			det[FRoutine] = fmt.Sprintf("routine on this host: about %.0f recently", n)
		}
		// Burst: the last minutes against the long-run rate.
		if pc != nil {
			short := t.st.Short.Get(pk).Value(now, t.lamS)
			expected := n / (t.opts.HalfLife.Seconds() / math.Ln2) * (10 * 60 / math.Ln2)
			if short >= 5 {
				if r := math.Log2((short + 1) / (expected + 1)); r > 2 {
					x[FBurst] = (r - 2) / 2
					det[FBurst] = fmt.Sprintf("burst: %.0f in minutes against %.1f expected", short, expected)
				}
			}
		}
		// Several unusual alert types on the same host within the hour point at one activity.
		if x[FRarity] > 0 || x[FNovelPair] > 0 || x[FDormant] > 0 {
			rt := t.st.Recent[host]
			if rt == nil {
				if len(t.st.Recent) >= t.opts.MaxKeys {
					clear(t.st.Recent)
				}
				rt = baseline.NewTable(256)
				t.st.Recent[host] = rt
			}
			k := 0
			for key, c := range rt.Items {
				if key != kind && c.Value(now, t.lamR) > 0.5 {
					k++
				}
			}
			if k >= 1 {
				x[FSpread] = math.Log2(float64(1 + k))
				det[FSpread] = fmt.Sprintf("%d other unusual alert types on %s in the last hour", k, host)
			}
			rt.Add(kind, now, t.lamR)
		}
	}
	if rs := t.st.Rules[kind]; rs != nil && rs.TP+rs.FP+rs.Benign > 0 {
		x[FRuleHistory] = math.Log(rs.Precision() / (1 - rs.Precision()))
		det[FRuleHistory] = fmt.Sprintf("analysts confirmed %d of %d alerts of this type", rs.TP, rs.TP+rs.FP+rs.Benign)
	}
	if _, ok := t.st.Familiar[pk]; ok {
		x[FFamiliar], det[FFamiliar] = 1, "an analyst marked this alert type on this host benign"
	} else if n := t.benignOn[kind]; n > 0 {
		// What analysts judged benign on other hosts is likely benign here too, though less so
		// than on the host they judged.
		x[FPeerBenign] = math.Min(1.5, math.Log2(1+float64(n)))
		det[FPeerBenign] = fmt.Sprintf("an analyst marked this alert type benign on %d other host(s)", n)
	}
	switch t.opts.Criticality[host] {
	case "critical":
		x[FAsset], det[FAsset] = 1, host+" is a critical asset"
	case "high":
		x[FAsset], det[FAsset] = 0.5, host+" is a high-value asset"
	}
	if u := strings.ToLower(a.User); u != "" && t.privileged(u) {
		x[FPrivileged], det[FPrivileged] = 1, u+" is a privileged account"
	}
	if t.opts.Intel != nil {
		for _, v := range []string{a.SrcIP, a.DstIP} {
			if v == "" {
				continue
			}
			if hit, why := t.opts.Intel(v); hit {
				x[FIntel], det[FIntel] = 1, fmt.Sprintf("%s is a known indicator: %s", v, why)
				break
			}
		}
	}
	if v, why := tacticStage(a.Tactics); v != 0 {
		x[FTactic], det[FTactic] = v, why
	}
	return x, det
}

// severityValue maps a rule's severity to the model input: high-severity signatures surface
// on their own unless the host raises them routinely.
var severityValue = map[event.Severity]float64{
	event.SeverityInfo: -1, event.SeverityLow: -0.5, event.SeverityMedium: 0, event.SeverityHigh: 1, event.SeverityCritical: 1.5,
}

func orAny(host string) string {
	if host == "" {
		return "the environment"
	}
	return host
}

func (t *Triager) privileged(u string) bool {
	for _, p := range t.opts.Privileged {
		if strings.HasSuffix(p, "*") && strings.HasPrefix(u, strings.TrimSuffix(p, "*")) || p == u {
			return true
		}
	}
	return false
}

// tacticStage weighs how far into an attack the alert's tactics are.
func tacticStage(tactics []string) (float64, string) {
	best, name := 0.0, ""
	for _, t := range tactics {
		v, n := 0.0, ""
		switch t {
		case "TA0040", "TA0010", "TA0006", "TA0008", "TA0004":
			v, n = 1, "late attack stage ("+t+")"
		case "TA0011", "TA0003", "TA0005", "TA0002", "TA0009":
			v, n = 0.5, "attack stage "+t
		case "TA0043", "TA0007":
			v, n = -0.25, "reconnaissance or discovery ("+t+")"
		}
		if math.Abs(v) > math.Abs(best) {
			best, name = v, n
		}
	}
	return best, name
}

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}
