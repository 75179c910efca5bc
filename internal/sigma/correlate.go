package sigma

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CorrelatorOptions configures a Correlator.
type CorrelatorOptions struct {
	// AllowedLateness is how far behind the newest event time an event may arrive and still
	// count; later ones are dropped and counted in CorrelatorStats.Late. Default 2 minutes.
	AllowedLateness time.Duration
	// MaxEventsPerGroup caps the events kept per correlation group; beyond it the oldest are
	// dropped and counted in CorrelatorStats.EventsDropped. Default 10,000.
	MaxEventsPerGroup int
	// MaxGroups caps the groups per correlation rule; events that would open a group beyond it
	// are dropped and counted in CorrelatorStats.GroupsDropped. Default 100,000.
	MaxGroups int
	// EmitIntermediate also returns the alerts of correlations that only feed other
	// correlations (referenced with generate: false).
	EmitIntermediate bool
}

// Detection is one detection match fed to the Correlator.
type Detection struct {
	Rule *Rule
	// Time is the event time (not the arrival time).
	Time time.Time
	// Record holds the event's fields; the Correlator copies the values it needs.
	Record *Record
	// Ref identifies the event to the caller (its ID); it is returned in the Contribution.
	Ref string
}

// CorrelationAlert is a correlation rule that fired, with the matches that made it fire.
type CorrelationAlert struct {
	Correlation *Correlation `json:"-"`
	RuleID      string       `json:"rule_id,omitempty"`
	Title       string       `json:"title"`
	Level       string       `json:"level,omitempty"`
	Type        string       `json:"type"`
	// GroupBy holds the group-by field values (alias names where aliases are used).
	GroupBy map[string]string `json:"group_by,omitempty"`
	// Start and End are the times of the first and last contributing match.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Value is the aggregate compared with the condition: the event count, the number of
	// distinct values or rules, the sum, the average, or the percentile/share.
	Value float64 `json:"value"`
	// FieldValue is, for value_percentile without a percentile, the value whose share fired.
	FieldValue string `json:"field_value,omitempty"`
	// Intermediate is set on alerts of correlations that only feed other correlations.
	Intermediate bool           `json:"intermediate,omitempty"`
	Matches      []Contribution `json:"matches"`
}

// Contribution is one match that contributed to a correlation alert.
type Contribution struct {
	RuleID string    `json:"rule_id,omitempty"`
	Title  string    `json:"title"`
	Time   time.Time `json:"time"`
	// Fields holds the values of the fields the correlation looked at.
	Fields map[string]string `json:"fields,omitempty"`
	// Alert is set when the contribution is the alert of a chained correlation.
	Alert *CorrelationAlert `json:"alert,omitempty"`
	// Ref is the Detection's Ref: the caller's ID of the contributing event.
	Ref string `json:"ref,omitempty"`
}

// CorrelatorStats counts what the Correlator did, including everything it dropped.
type CorrelatorStats struct {
	Observed      uint64 `json:"observed"`
	Late          uint64 `json:"late"`           // beyond AllowedLateness, dropped
	EventsDropped uint64 `json:"events_dropped"` // oldest events dropped at MaxEventsPerGroup
	GroupsDropped uint64 `json:"groups_dropped"` // events dropped at MaxGroups
	Alerts        uint64 `json:"alerts"`
	Groups        int    `json:"groups"` // groups currently held
}

// Correlator evaluates correlation rules over a stream of detections. Windows are on event
// time; the watermark is the newest event time seen minus AllowedLateness.
//
// Semantics (the specification leaves the stream details to the tool):
//   - A window spans timespan (inclusive) and holds matches of one group (equal group-by
//     values, after aliasing). Matches missing a group-by field group under an empty value.
//   - Conditions that only set lower bounds (gt/gte) on event_count, value_count, temporal,
//     temporal_ordered and value_sum fire as soon as some window satisfies them, in any
//     arrival order; the matches up to the alert's last one are then consumed, so a burst of
//     200 events with "gte: 100" gives two alerts.
//   - Every other condition (lt/lte/eq/neq or a range), and value_avg and value_percentile,
//     is evaluated when a window closes: windows start at the group's earliest pending match
//     and close when the watermark passes their end; the window's matches are then consumed.
//   - temporal counts distinct referenced rules; temporal_ordered counts the longest prefix of
//     the rules list matched in order of event time (equal times count as ordered).
//   - value_percentile without a percentile key compares each value's share of the window's
//     matches (in percent) with the condition, per value; with a percentile key P (pySigma
//     extension) it compares the P-th percentile of the numeric values.
//   - A correlation referenced by another feeds it its alerts (time: the alert's last match;
//     fields: its group-by values). Such inputs are exempt from the lateness check.
//
// Memory is bounded: state older than a window plus the lateness is dropped, and the caps of
// CorrelatorOptions apply, with counters. A Correlator is safe for concurrent use.
type Correlator struct {
	opts CorrelatorOptions

	// mu guards everything below.
	mu       sync.Mutex
	corrs    []*corrState
	byRule   map[*Rule][]corrInput
	byCorr   map[*Correlation][]corrInput
	maxTime  time.Time
	nextTick time.Time // earliest time at which some window closes or state expires
	stats    CorrelatorStats
}

// corrInput routes matches of one rule (or correlation) to one correlation.
type corrInput struct {
	cs  *corrState
	src int // index in the correlation's rules list
}

type corrState struct {
	c        *Correlation
	groupBy  [][]string // per source: the field name for each group-by entry
	monotone bool
	emit     bool // alerts are returned (not only fed to other correlations)
	groups   map[string]*corrGroup
}

type corrGroup struct {
	vals   []string
	events []corrEvent // sorted by time
}

type corrEvent struct {
	t       time.Time
	src     int
	val     string
	num     float64
	hasNum  bool
	contrib Contribution
}

// NewCorrelator returns a Correlator for the correlation rules of rs.
func NewCorrelator(rs *RuleSet, opts CorrelatorOptions) *Correlator {
	if opts.AllowedLateness <= 0 {
		opts.AllowedLateness = 2 * time.Minute
	}
	if opts.MaxEventsPerGroup <= 0 {
		opts.MaxEventsPerGroup = 10_000
	}
	if opts.MaxGroups <= 0 {
		opts.MaxGroups = 100_000
	}
	cr := &Correlator{opts: opts, byRule: map[*Rule][]corrInput{}, byCorr: map[*Correlation][]corrInput{}}
	for _, c := range innerFirst(rs.Correlations) {
		cs := &corrState{c: c, groups: map[string]*corrGroup{}}
		cs.monotone = c.Condition.monotone() && c.Type != CorrValueAvg && c.Type != CorrValuePercentile
		cs.emit = len(c.users) == 0 || c.Generate
		for _, u := range c.users {
			if u.Generate {
				cs.emit = true
			}
		}
		for i, ref := range c.refs {
			var names []string
			switch {
			case ref.rule != nil:
				names = []string{ref.ref, ref.rule.Name, ref.rule.ID}
			default:
				names = []string{ref.ref, ref.corr.Name, ref.corr.ID}
			}
			fields := make([]string, len(c.GroupBy))
			for gi, g := range c.GroupBy {
				fields[gi] = g
				if m, ok := c.Aliases[g]; ok {
					for _, n := range names {
						if f, ok := m[n]; ok && n != "" {
							fields[gi] = f
							break
						}
					}
				}
			}
			cs.groupBy = append(cs.groupBy, fields)
			in := corrInput{cs: cs, src: i}
			if ref.rule != nil {
				cr.byRule[ref.rule] = append(cr.byRule[ref.rule], in)
			} else {
				cr.byCorr[ref.corr] = append(cr.byCorr[ref.corr], in)
			}
		}
		cr.corrs = append(cr.corrs, cs)
	}
	return cr
}

// innerFirst orders correlations so that every correlation comes after those it references,
// so that sweeping and flushing in this order propagates chained alerts in one pass.
func innerFirst(corrs []*Correlation) []*Correlation {
	var out []*Correlation
	done := map[*Correlation]bool{}
	var visit func(c *Correlation)
	visit = func(c *Correlation) {
		if done[c] {
			return
		}
		done[c] = true
		for _, r := range c.refs {
			if r.corr != nil {
				visit(r.corr)
			}
		}
		out = append(out, c)
	}
	for _, c := range corrs {
		visit(c)
	}
	return out
}

// Watermark returns the current watermark: the newest event time minus the allowed lateness.
func (cr *Correlator) Watermark() time.Time {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.watermark()
}

func (cr *Correlator) watermark() time.Time {
	if cr.maxTime.IsZero() {
		return time.Time{}
	}
	return cr.maxTime.Add(-cr.opts.AllowedLateness)
}

// Stats returns the counters.
func (cr *Correlator) Stats() CorrelatorStats {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	st := cr.stats
	for _, cs := range cr.corrs {
		st.Groups += len(cs.groups)
	}
	return st
}

// Observe feeds one detection and returns the correlation alerts it completes (including
// closed windows the advancing watermark completes).
func (cr *Correlator) Observe(d Detection) []CorrelationAlert {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	cr.stats.Observed++
	ins := cr.byRule[d.Rule]
	if len(ins) == 0 {
		return cr.advance(d.Time)
	}
	if wm := cr.watermark(); !wm.IsZero() && d.Time.Before(wm) {
		cr.stats.Late++
		return nil
	}
	get := func(string) (string, bool) { return "", false }
	if d.Record != nil {
		get = d.Record.Get
	}
	var out []CorrelationAlert
	for _, in := range ins {
		out = append(out, cr.add(in, d.Time, get, Contribution{RuleID: d.Rule.ID, Title: d.Rule.Title, Time: d.Time, Ref: d.Ref})...)
	}
	return append(out, cr.advance(d.Time)...)
}

// Advance moves the watermark as if an event at time t had arrived (for idle streams) and
// returns the alerts of the windows that closes.
func (cr *Correlator) Advance(t time.Time) []CorrelationAlert {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.advance(t)
}

// Flush closes every open window (end of stream) and returns the resulting alerts.
func (cr *Correlator) Flush() []CorrelationAlert {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	var out []CorrelationAlert
	for _, cs := range cr.corrs {
		if cs.monotone {
			clear(cs.groups)
			continue
		}
		for _, key := range sortedGroupKeys(cs.groups) {
			g := cs.groups[key]
			for len(g.events) > 0 {
				out = append(out, cr.closeWindow(cs, g)...)
			}
			delete(cs.groups, key)
		}
	}
	return out
}

func sortedGroupKeys(m map[string]*corrGroup) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (cr *Correlator) advance(t time.Time) []CorrelationAlert {
	if t.After(cr.maxTime) {
		cr.maxTime = t
	}
	wm := cr.watermark()
	if cr.nextTick.IsZero() || wm.Before(cr.nextTick) {
		return nil
	}
	return cr.sweep(wm)
}

// sweep closes the windows that end before the watermark and drops expired state.
func (cr *Correlator) sweep(wm time.Time) []CorrelationAlert {
	var out []CorrelationAlert
	next := time.Time{}
	cr.nextTick = time.Time{} // add() may lower it for state chained alerts create meanwhile
	note := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, cs := range cr.corrs {
		ts := cs.c.Timespan
		for _, key := range sortedGroupKeys(cs.groups) {
			g := cs.groups[key]
			if cs.monotone {
				// Matches before wm-timespan can share no window with a future match.
				cut := sort.Search(len(g.events), func(i int) bool { return !g.events[i].t.Before(wm.Add(-ts)) })
				g.events = g.events[cut:]
			} else {
				for len(g.events) > 0 && wm.After(g.events[0].t.Add(ts)) {
					out = append(out, cr.closeWindow(cs, g)...)
				}
			}
			if len(g.events) == 0 {
				delete(cs.groups, key)
				continue
			}
			note(g.events[0].t.Add(ts))
		}
	}
	if !next.IsZero() && (cr.nextTick.IsZero() || next.Before(cr.nextTick)) {
		cr.nextTick = next
	}
	return out
}

// add inserts one input into its correlation and returns the alerts it completes.
func (cr *Correlator) add(in corrInput, t time.Time, get func(string) (string, bool), contrib Contribution) []CorrelationAlert {
	cs := in.cs
	c := cs.c
	fields := map[string]string{}
	vals := make([]string, len(c.GroupBy))
	// Record values alias the caller's reused buffers: copy what is kept.
	for gi, f := range cs.groupBy[in.src] {
		v, _ := get(f)
		v = strings.Clone(v)
		vals[gi] = v
		fields[c.GroupBy[gi]] = v
	}
	ev := corrEvent{t: t, src: in.src}
	if len(c.Condition.Field) > 0 {
		parts := make([]string, 0, len(c.Condition.Field))
		present := false
		for _, f := range c.Condition.Field {
			v, ok := get(f)
			v = strings.Clone(v)
			present = present || ok
			parts = append(parts, v)
			fields[f] = v
		}
		if present {
			ev.val = strings.Join(parts, "\x00")
			if n, err := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64); err == nil && !math.IsNaN(n) {
				ev.num, ev.hasNum = n, true
			}
		} else {
			ev.val = "\x01missing"
		}
	}
	contrib.Fields = fields
	ev.contrib = contrib
	key := strings.Join(vals, "\x00")
	g := cs.groups[key]
	if g == nil {
		if len(cs.groups) >= cr.opts.MaxGroups {
			cr.stats.GroupsDropped++
			return nil
		}
		g = &corrGroup{vals: vals}
		cs.groups[key] = g
	}
	i := sort.Search(len(g.events), func(i int) bool { return g.events[i].t.After(t) })
	g.events = slices.Insert(g.events, i, ev)
	if len(g.events) > cr.opts.MaxEventsPerGroup {
		drop := len(g.events) - cr.opts.MaxEventsPerGroup
		g.events = g.events[drop:]
		cr.stats.EventsDropped += uint64(drop)
		i -= drop
	}
	tick := g.events[0].t.Add(c.Timespan)
	if cr.nextTick.IsZero() || tick.Before(cr.nextTick) {
		cr.nextTick = tick
	}
	if !cs.monotone {
		return nil
	}
	// Check every window that ends at a match at or after the new one and contains it.
	for j := max(i, 0); j < len(g.events) && !g.events[j].t.After(t.Add(c.Timespan)); j++ {
		end := g.events[j].t
		start := sort.Search(j+1, func(k int) bool { return !g.events[k].t.Before(end.Add(-c.Timespan)) })
		if v, ok := cs.evaluate(g.events[start : j+1]); ok {
			a := cs.alert(g, g.events[start:j+1], v, "")
			g.events = slices.Delete(g.events, 0, j+1)
			return cr.emit(cs, a)
		}
	}
	return nil
}

// closeWindow evaluates and consumes the window that starts at the group's earliest match.
func (cr *Correlator) closeWindow(cs *corrState, g *corrGroup) []CorrelationAlert {
	c := cs.c
	end := g.events[0].t.Add(c.Timespan)
	n := sort.Search(len(g.events), func(i int) bool { return g.events[i].t.After(end) })
	win := g.events[:n]
	var out []CorrelationAlert
	if c.Type == CorrValuePercentile && !c.Condition.HasPercentile {
		counts := map[string]int{}
		for _, e := range win {
			counts[e.val]++
		}
		vals := make([]string, 0, len(counts))
		for v := range counts {
			vals = append(vals, v)
		}
		sort.Strings(vals)
		for _, v := range vals {
			if v == "\x01missing" {
				continue
			}
			share := 100 * float64(counts[v]) / float64(len(win))
			if c.Condition.Holds(share) {
				var sel []corrEvent
				for _, e := range win {
					if e.val == v {
						sel = append(sel, e)
					}
				}
				out = append(out, cr.emit(cs, cs.alert(g, sel, share, strings.ReplaceAll(v, "\x00", ",")))...)
			}
		}
	} else if v, ok := cs.evaluate(win); ok {
		out = cr.emit(cs, cs.alert(g, win, v, ""))
	}
	g.events = slices.Delete(g.events, 0, n)
	return out
}

// evaluate computes the correlation's aggregate over a window and tests the condition.
func (cs *corrState) evaluate(win []corrEvent) (float64, bool) {
	c := cs.c
	var v float64
	switch c.Type {
	case CorrEventCount:
		v = float64(len(win))
	case CorrValueCount:
		seen := map[string]bool{}
		for _, e := range win {
			if e.val != "\x01missing" {
				seen[e.val] = true
			}
		}
		v = float64(len(seen))
	case CorrTemporal:
		seen := map[int]bool{}
		for _, e := range win {
			seen[e.src] = true
		}
		v = float64(len(seen))
	case CorrTemporalOrdered:
		need := 0
		for _, e := range win {
			if e.src == need {
				need++
			}
		}
		v = float64(need)
	case CorrValueSum, CorrValueAvg, CorrValuePercentile:
		var nums []float64
		for _, e := range win {
			if e.hasNum {
				nums = append(nums, e.num)
			}
		}
		if len(nums) == 0 {
			return 0, false
		}
		switch c.Type {
		case CorrValueSum:
			for _, n := range nums {
				v += n
			}
		case CorrValueAvg:
			for _, n := range nums {
				v += n
			}
			v /= float64(len(nums))
		default:
			slices.Sort(nums)
			// Nearest-rank percentile.
			rank := int(math.Ceil(c.Condition.Percentile / 100 * float64(len(nums))))
			v = nums[max(rank-1, 0)]
		}
	}
	return v, c.Condition.Holds(v)
}

func (cs *corrState) alert(g *corrGroup, win []corrEvent, v float64, fieldValue string) CorrelationAlert {
	c := cs.c
	a := CorrelationAlert{
		Correlation: c, RuleID: c.ID, Title: c.Title, Level: c.Level, Type: c.Type,
		Start: win[0].t, End: win[len(win)-1].t, Value: v, FieldValue: fieldValue,
		Intermediate: !cs.emit,
	}
	if len(c.GroupBy) > 0 {
		a.GroupBy = map[string]string{}
		for i, f := range c.GroupBy {
			a.GroupBy[f] = g.vals[i]
		}
	}
	for _, e := range win {
		a.Matches = append(a.Matches, e.contrib)
	}
	return a
}

// emit returns the alert (when it is to be emitted) and feeds it to the correlations that
// reference its correlation, returning what they complete in turn.
func (cr *Correlator) emit(cs *corrState, a CorrelationAlert) []CorrelationAlert {
	cr.stats.Alerts++
	var out []CorrelationAlert
	if cs.emit || cr.opts.EmitIntermediate {
		out = append(out, a)
	}
	ap := &a
	for _, in := range cr.byCorr[cs.c] {
		get := func(name string) (string, bool) {
			v, ok := ap.GroupBy[name]
			return v, ok
		}
		out = append(out, cr.add(in, a.End, get, Contribution{RuleID: a.RuleID, Title: a.Title, Time: a.End, Alert: ap})...)
	}
	return out
}
