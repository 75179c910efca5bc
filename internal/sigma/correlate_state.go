package sigma

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// CorrelatorState is what a Correlator holds between events: the matches in its open windows
// and the newest event time. It is plain JSON, so that a restart, or a new generation of
// rules after a reload, goes on counting where the last one left off instead of starting
// every window empty.
type CorrelatorState struct {
	MaxTime      time.Time          `json:"max_time"`
	Correlations []CorrelationState `json:"correlations,omitempty"`
}

// CorrelationState holds the open windows of one correlation rule.
type CorrelationState struct {
	// Key identifies the correlation and everything that decides which matches it holds
	// (its ID or title, type, rules, group-by, aliases, timespan and aggregated fields): a
	// correlation whose definition changed does not inherit windows it would not have built.
	Key    string       `json:"key"`
	Groups []GroupState `json:"groups"`
}

// GroupState is one group-by value combination and its matches, oldest first.
type GroupState struct {
	Values  []string     `json:"values"`
	Matches []MatchState `json:"matches"`
}

// MatchState is one match in a window.
type MatchState struct {
	Time         time.Time    `json:"time"`
	Source       int          `json:"source"` // index in the correlation's rules
	Value        string       `json:"value,omitempty"`
	Number       float64      `json:"number,omitempty"`
	HasNumber    bool         `json:"has_number,omitempty"`
	Contribution Contribution `json:"contribution"`
}

// correlationKey is the identity of a correlation for CorrelatorState.
func correlationKey(c *Correlation) string {
	id := c.ID
	if id == "" {
		id = c.Name + "|" + c.Title
	}
	b, _ := json.Marshal(struct {
		ID       string
		Type     string
		Rules    []string
		GroupBy  []string
		Aliases  map[string]map[string]string
		Timespan time.Duration
		Field    []string
	}{id, c.Type, c.Rules, c.GroupBy, c.Aliases, c.Timespan, c.Condition.Field})
	return string(b)
}

// State returns a copy of the open windows.
func (cr *Correlator) State() CorrelatorState {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	st := CorrelatorState{MaxTime: cr.maxTime}
	for _, cs := range cr.corrs {
		if len(cs.groups) == 0 {
			continue
		}
		out := CorrelationState{Key: correlationKey(cs.c)}
		for _, key := range sortedGroupKeys(cs.groups) {
			g := cs.groups[key]
			gs := GroupState{Values: append([]string(nil), g.vals...), Matches: make([]MatchState, len(g.events))}
			for i, e := range g.events {
				gs.Matches[i] = MatchState{Time: e.t, Source: e.src, Value: e.val, Number: e.num, HasNumber: e.hasNum, Contribution: e.contrib}
			}
			out.Groups = append(out.Groups, gs)
		}
		st.Correlations = append(st.Correlations, out)
	}
	return st
}

// Restore adds the windows of st to the Correlator's, for the correlations it has with the
// same key; it returns how many matches it restored and how many it skipped (their
// correlation is gone or changed, or they are malformed). The caps of CorrelatorOptions
// apply as for new matches. Restore into a fresh Correlator, before its first Observe.
func (cr *Correlator) Restore(st CorrelatorState) (restored, skipped int) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	byKey := make(map[string]*corrState, len(cr.corrs))
	for _, cs := range cr.corrs {
		byKey[correlationKey(cs.c)] = cs
	}
	if st.MaxTime.After(cr.maxTime) {
		cr.maxTime = st.MaxTime
	}
	for _, in := range st.Correlations {
		cs := byKey[in.Key]
		for _, gs := range in.Groups {
			if cs == nil || len(gs.Values) != len(cs.c.GroupBy) {
				skipped += len(gs.Matches)
				continue
			}
			key := strings.Join(gs.Values, "\x00") // as add() keys groups
			g := cs.groups[key]
			if g == nil {
				if len(cs.groups) >= cr.opts.MaxGroups {
					cr.stats.GroupsDropped++
					skipped += len(gs.Matches)
					continue
				}
				g = &corrGroup{vals: append([]string(nil), gs.Values...)}
				cs.groups[key] = g
			}
			for _, m := range gs.Matches {
				if m.Source < 0 || m.Source >= len(cs.groupBy) || m.Time.IsZero() {
					skipped++
					continue
				}
				g.events = append(g.events, corrEvent{t: m.Time, src: m.Source, val: m.Value, num: m.Number, hasNum: m.HasNumber, contrib: m.Contribution})
				restored++
			}
			slices.SortStableFunc(g.events, func(a, b corrEvent) int { return a.t.Compare(b.t) })
			if drop := len(g.events) - cr.opts.MaxEventsPerGroup; drop > 0 {
				g.events = g.events[drop:]
				cr.stats.EventsDropped += uint64(drop)
				restored -= drop
				skipped += drop
			}
			if len(g.events) == 0 {
				delete(cs.groups, key)
				continue
			}
			if tick := g.events[0].t.Add(cs.c.Timespan); cr.nextTick.IsZero() || tick.Before(cr.nextTick) {
				cr.nextTick = tick
			}
		}
	}
	return restored, skipped
}
