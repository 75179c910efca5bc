package correlate

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// maxApart bounds the split decisions kept (the oldest go first).
const maxApart = 10000

// Apart is an analyst's decision that two incidents are separate cases: automatic
// consolidation never merges them again.
type Apart struct {
	A  string    `json:"a"`
	B  string    `json:"b"`
	At time.Time `json:"at"`
}

func pair(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}

func (c *Correlator) isApart(a, b *event.Incident) bool {
	if len(c.apart) == 0 {
		return false
	}
	_, ok := c.apart[pair(a.ID, b.ID)]
	return ok
}

// Decisions returns the analyst's split decisions still in force, oldest first, for
// persistence.
func (c *Correlator) Decisions() []Apart {
	out := make([]Apart, 0, len(c.apart))
	for k, at := range c.apart {
		out = append(out, Apart{A: k[0], B: k[1], At: at})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].At.Before(out[j].At) || out[i].At.Equal(out[j].At) && out[i].A+out[i].B < out[j].A+out[j].B
	})
	return out
}

// RestoreDecisions adds persisted split decisions.
func (c *Correlator) RestoreDecisions(ds []Apart) {
	for _, d := range ds {
		if d.A != "" && d.B != "" && d.A != d.B {
			c.apart[pair(d.A, d.B)] = d.At
		}
	}
	c.trimApart()
}

func (c *Correlator) trimApart() {
	if len(c.apart) <= maxApart {
		return
	}
	ds := c.Decisions()
	for _, d := range ds[:len(ds)-maxApart] {
		delete(c.apart, pair(d.A, d.B))
	}
}

// Adopt makes an incident the correlator does not hold (older than what it resumed, or in a
// status it does not resume) known to it, so that an analyst can merge or split it; it can take
// alerts again unless it is closed, resolved or merged. An incident already known is left as
// it is.
func (c *Correlator) Adopt(inc event.Incident) {
	if _, ok := c.byID[inc.ID]; ok {
		return
	}
	p := &inc
	c.byID[inc.ID] = p
	if takesAlerts(p) {
		c.open = append(c.open, p)
		c.sortOpen()
	}
}

func takesAlerts(inc *event.Incident) bool {
	return inc.MergedInto == "" && inc.Status != event.StatusClosed && inc.Status != event.StatusResolved && inc.Status != event.StatusMerged
}

func (c *Correlator) sortOpen() {
	sort.SliceStable(c.open, func(i, j int) bool { return c.open[i].LastSeen.Before(c.open[j].LastSeen) })
}

// Merge folds incident src into incident into on an analyst's decision: into takes src's
// alerts, entities, tactics and time range, src is marked merged into it, and alerts that
// would have joined src join into from now on (its entities are into's). It returns the two
// changed incidents, into first. A split decision between the two is withdrawn.
func (c *Correlator) Merge(src, into string) ([]*event.Incident, error) {
	s, ok := c.byID[src]
	if !ok {
		return nil, fmt.Errorf("merge %s: %w", src, ErrUnknownIncident)
	}
	t, ok := c.byID[into]
	if !ok {
		return nil, fmt.Errorf("merge into %s: %w", into, ErrUnknownIncident)
	}
	switch {
	case s == t:
		return nil, fmt.Errorf("merge %s into itself: %w", src, ErrInvalid)
	case s.MergedInto != "":
		return nil, fmt.Errorf("%s was already merged into %s: %w", src, s.MergedInto, ErrState)
	case t.MergedInto != "":
		return nil, fmt.Errorf("%s was merged into %s (merge into that one): %w", into, t.MergedInto, ErrState)
	case !takesAlerts(t):
		return nil, fmt.Errorf("%s is %s: %w", into, t.Status, ErrState)
	}
	c.merge(t, s)
	delete(c.apart, pair(s.ID, t.ID))
	t.Updated = time.Now().UTC()
	s.Updated = t.Updated
	if !slices.Contains(c.open, t) {
		c.open = append(c.open, t)
	}
	c.sortOpen()
	return []*event.Incident{t, s}, nil
}

// SplitID returns the ID of the incident an analyst's split of alerts out of src creates: the
// same request always names the same incident, so a retried split is recognised.
func (c *Correlator) SplitID(src string, alerts []string) string {
	ids := slices.Clone(alerts)
	slices.Sort(ids)
	return event.DeriveID(event.PrefixIncident, append([]string{c.opts.IDSeed, "split", src}, ids...)...)
}

// Split moves alerts out of incident src into a new incident on an analyst's decision. moved
// are the alerts to move, kept the alerts src keeps (as many as the caller could read); both
// incidents' alerts, entities, tactics, severity and time ranges are recomputed from them. The
// moved alerts' duplicates follow them, and the two incidents are recorded as apart, so that
// automatic consolidation does not merge them back. It returns the new incident and the
// changed ones (src, then the new one).
func (c *Correlator) Split(src string, moved, kept []event.Alert) (*event.Incident, []*event.Incident, error) {
	s, ok := c.byID[src]
	if !ok {
		return nil, nil, fmt.Errorf("split %s: %w", src, ErrUnknownIncident)
	}
	switch {
	case s.MergedInto != "":
		return nil, nil, fmt.Errorf("%s was merged into %s: %w", src, s.MergedInto, ErrState)
	case len(moved) == 0:
		return nil, nil, fmt.Errorf("split %s: no alerts to move: %w", src, ErrInvalid)
	case len(kept) == 0:
		return nil, nil, fmt.Errorf("split %s: moving every alert would leave it empty: %w", src, ErrState)
	}
	ids := make([]string, len(moved))
	for i := range moved {
		ids[i] = moved[i].ID
	}
	id := c.SplitID(src, ids)
	if _, ok := c.byID[id]; ok {
		return nil, nil, fmt.Errorf("split %s: these alerts were split into %s already: %w", src, id, ErrState)
	}
	count := s.AlertCount
	c.rebuild(s, kept)
	// AlertCount stays exact when the caller could not read every alert the incident holds.
	s.AlertCount = max(len(kept), count-len(moved))
	now := time.Now().UTC()
	n := &event.Incident{ID: id, Status: event.StatusOpen, Disposition: s.Disposition, Created: now}
	if n.Disposition == "" {
		n.Disposition = string(event.Escalated)
	}
	c.rebuild(n, moved)
	n.Updated, s.Updated = now, now
	c.byID[id] = n
	c.open = append(c.open, n)
	c.sortOpen()
	for _, a := range ids {
		if o, ok := c.outcomes[a]; ok {
			c.outcomes[a] = outcome{o.disp, id}
		}
	}
	c.apart[pair(s.ID, id)] = now
	c.trimApart()
	return n, []*event.Incident{s, n}, nil
}

// rebuild recomputes an incident's correlation fields from its alerts, in fresh slices (copies
// for the store may share the old ones).
func (c *Correlator) rebuild(inc *event.Incident, alerts []event.Alert) {
	as := slices.Clone(alerts)
	sort.SliceStable(as, func(i, j int) bool { return as[i].Time.Before(as[j].Time) })
	inc.AlertIDs, inc.AlertCount = nil, 0
	inc.Entities, inc.Hosts, inc.Users, inc.Tactics, inc.Techniques = nil, nil, nil, nil, nil
	inc.Severity, inc.Score, inc.Title = 0, 0, ""
	if len(as) == 0 {
		return
	}
	inc.FirstSeen, inc.LastSeen = as[0].Time, as[0].Time
	for i := range as {
		a := &as[i]
		var keys []string
		if !isContext(a) {
			keys = c.alertKeys(a)
			if keys == nil {
				keys = []string{}
			}
		}
		c.addAlert(inc, a, keys)
	}
	if inc.Title == "" {
		inc.Title = as[0].RuleTitle // only context alerts: named after the first
	}
}

// isContext reports whether the correlator placed an alert as context or as a precursor (it
// then adds no entities to its incident).
func isContext(a *event.Alert) bool {
	return a.Triage != nil && (strings.HasPrefix(a.Triage.Reason, "context for ") || strings.HasPrefix(a.Triage.Reason, "precursor of "))
}
