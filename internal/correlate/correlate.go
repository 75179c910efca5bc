// Package correlate is the correlation stage: it owns incidents. Every triaged alert is placed:
// a surfaced alert joins an open incident it is related to (shared host, account or address
// within a window, or the same attack campaign in time) or opens a new one; an alert triage
// would auto-close still joins an open incident as context when it concerns one of its
// entities; when an incident opens, recent auto-closed alerts on its hosts are pulled in as its
// precursors. Incidents that turn out to be one campaign merge.
package correlate

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// Options configure a Correlator.
type Options struct {
	// ShareWindow: an alert sharing an entity with an incident active within it joins that
	// incident.
	ShareWindow time.Duration
	// CampaignWindow: a surfaced alert joins the most recently active incident when it was
	// active within this window, even without a shared entity (one attack touching several
	// hosts in quick succession).
	CampaignWindow time.Duration
	// ContextWindow and ContextMinScore: an alert triage did not surface joins an incident as
	// context when it shares an entity with it within the window and scored at least the
	// minimum (its score or its unusual score, see event.Triage.Unusual). Default one hour
	// and 0.12: an unusual alert on a host or account of an intrusion active within the hour
	// is likely its next step (an attacker pausing between steps, such as stopping a service
	// after an escalation, is common), and it costs the analyst nothing more than one alert
	// inside the incident already open.
	ContextWindow   time.Duration
	ContextMinScore float64
	// Lookback: when an incident opens, auto-closed alerts from this long before join it as
	// its precursors (from any host: an attack's first steps rarely hit the host it is later
	// caught on).
	Lookback time.Duration
	// Halo: an alert arriving within this time of an incident's last surfaced activity joins it
	// as context, whatever its host and score (the same attack window). Default 30 minutes;
	// negative disables it.
	Halo time.Duration
	// CampaignSpan bounds how long after its first alert an incident keeps taking alerts on
	// time proximity alone (campaign window, halo); after that only shared entities join, so
	// that a busy environment does not chain everything into one incident.
	CampaignSpan time.Duration
	// MaxAlertIDs bounds the alert IDs an incident lists (AlertCount stays exact).
	MaxAlertIDs int
	// MaxEntities bounds the entities an incident lists.
	MaxEntities int
	// IDPrefix seeds incident IDs (tests use it for stable IDs).
	IDSeed string
	// Users resolves user names to one key per account (shared with the entity graph, which
	// teaches it). Nil uses a table of the correlator's own that nothing teaches.
	Users *Users
}

func (o *Options) defaults() {
	if o.ShareWindow <= 0 {
		o.ShareWindow = 2 * time.Hour
	}
	if o.CampaignWindow <= 0 {
		o.CampaignWindow = 30 * time.Minute
	}
	if o.ContextWindow <= 0 {
		o.ContextWindow = time.Hour
	}
	if o.ContextMinScore <= 0 {
		o.ContextMinScore = 0.12
	}
	if o.Lookback <= 0 {
		o.Lookback = 30 * time.Minute
	}
	if o.Halo == 0 {
		o.Halo = 30 * time.Minute
	}
	if o.CampaignSpan <= 0 {
		o.CampaignSpan = 6 * time.Hour
	}
	if o.MaxAlertIDs <= 0 {
		o.MaxAlertIDs = 1000
	}
	if o.MaxEntities <= 0 {
		o.MaxEntities = 200
	}
	if o.Users == nil {
		o.Users = NewUsers(0)
	}
}

// Placement is where an alert went.
type Placement struct {
	Disposition event.Disposition
	IncidentID  string
	Reason      string
	// Revised lists earlier alerts whose disposition changed (pulled into an incident).
	Revised []Revision
	// Changed lists the incidents this placement created, updated or merged away.
	Changed []*event.Incident
}

// Revision is an earlier alert pulled into an incident.
type Revision struct {
	AlertID     string
	Disposition event.Disposition
	IncidentID  string
	Reason      string
}

type closedRef struct {
	id   string
	at   int64
	kind string
	host string
}

// maxClosed bounds the alerts kept for lookback, and maxClosedDups the duplicates remembered
// per closed alert.
const (
	maxClosed     = 20000
	maxClosedDups = 200
)

type outcome struct {
	disp event.Disposition
	inc  string
}

// Correlator places alerts into incidents. It is not safe for concurrent use: the correlation
// stage runs it from one goroutine, in alert time order.
type Correlator struct {
	opts Options
	// open holds incidents active within the longest window, most recently active last.
	open []*event.Incident
	// byID indexes every incident this correlator knows, merged ones included.
	byID map[string]*event.Incident
	// closed keeps recent auto-closed alerts (oldest first) for lookback.
	closed []closedRef
	// closedDups holds, per auto-closed alert in closed, the duplicates folded into it while
	// it was closed: when lookback pulls it into an incident, they go with it. Bounded with
	// closed.
	closedDups map[string][]string
	// outcomes remembers each alert's final outcome, for duplicates folded into it.
	outcomes map[string]outcome
	oldest   int64
	seq      int
	now      int64
	// apart holds the pairs of incidents an analyst split apart, which automatic
	// consolidation must not merge again (key: the two IDs in order).
	apart map[[2]string]time.Time
}

// New returns an empty Correlator.
func New(opts Options) *Correlator {
	opts.defaults()
	return &Correlator{opts: opts, byID: map[string]*event.Incident{}, outcomes: map[string]outcome{}, apart: map[[2]string]time.Time{}, closedDups: map[string][]string{}}
}

// Resume adds incidents (open ones loaded from the store after a restart).
func (c *Correlator) Resume(incs []event.Incident) {
	for i := range incs {
		inc := incs[i]
		c.byID[inc.ID] = &inc
		if inc.MergedInto == "" && inc.Status != event.StatusClosed && inc.Status != event.StatusResolved {
			c.open = append(c.open, &inc)
		}
	}
	sort.Slice(c.open, func(i, j int) bool { return c.open[i].LastSeen.Before(c.open[j].LastSeen) })
}

// Incident returns an incident by ID.
func (c *Correlator) Incident(id string) (*event.Incident, bool) {
	inc, ok := c.byID[id]
	return inc, ok
}

// alertKeys returns the keys of an alert's entities, users resolved to their account.
func (c *Correlator) alertKeys(a *event.Alert) []string {
	var keys []string
	for _, e := range a.Entities {
		if e.Value != "" {
			keys = append(keys, c.entity(e).Key())
		}
	}
	if a.Host != "" {
		keys = append(keys, string(event.EntityHost)+":"+strings.ToLower(a.Host))
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

func (c *Correlator) shares(inc *event.Incident, keys []string) bool {
	for _, e := range inc.Entities {
		if slices.Contains(keys, c.entityKey(e)) {
			return true
		}
	}
	return false
}

// entityKey is an incident entity's key as of now: a user is resolved again, because the alias
// table may have learned, after the incident took the name, which account it belongs to.
func (c *Correlator) entityKey(e event.EntityRef) string {
	if e.Kind == event.EntityUser {
		if r := c.user(e.Value); r != e.Value {
			return string(e.Kind) + ":" + r
		}
	}
	return e.Key()
}

// user is a user name resolved to its account's canonical name as of now.
func (c *Correlator) user(name string) string {
	if c.opts.Users != nil {
		if r := c.opts.Users.Resolve(name); r != "" {
			return r
		}
	}
	return name
}

// Place decides where an alert goes, given its triage decision (a.Triage must be set).
func (c *Correlator) Place(a *event.Alert) Placement {
	t := a.Time.Unix()
	if t > c.now {
		c.now = t
	}
	c.expire(t)
	tr := a.Triage
	keys := c.alertKeys(a)
	host := strings.ToLower(a.Host)

	if tr.DuplicateOf != "" {
		if o, ok := c.outcomes[tr.DuplicateOf]; ok {
			p := Placement{Disposition: o.disp, IncidentID: o.inc, Reason: tr.Reason}
			if o.disp == event.Escalated {
				p.Disposition = event.Grouped
			}
			if inc := c.byID[o.inc]; inc != nil {
				inc = c.resolve(inc)
				p.IncidentID = inc.ID
				c.addAlert(inc, a, keys)
				p.Changed = []*event.Incident{inc}
			}
			c.outcomes[a.ID] = outcome{p.Disposition, p.IncidentID}
			if p.IncidentID == "" {
				if ds := c.closedDups[tr.DuplicateOf]; len(ds) < maxClosedDups {
					c.closedDups[tr.DuplicateOf] = append(ds, a.ID)
				}
			}
			return p
		}
	}
	var p Placement
	switch tr.Disposition {
	case event.Suppressed:
		p = Placement{Disposition: event.Suppressed, Reason: tr.Reason}
	case event.Escalated:
		p = c.placeSurfaced(a, keys, t)
	default:
		p = c.placeClosed(a, keys, host, t)
	}
	c.outcomes[a.ID] = outcome{p.Disposition, p.IncidentID}
	if len(c.outcomes) > 500000 {
		clear(c.outcomes) // bounded memory; duplicates of very old alerts then stand alone
	}
	return p
}

func (c *Correlator) placeSurfaced(a *event.Alert, keys []string, t int64) Placement {
	share := int64(c.opts.ShareWindow / time.Second)
	camp := int64(c.opts.CampaignWindow / time.Second)
	var related []*event.Incident
	for _, inc := range c.open {
		if gap(inc, t) <= share && c.shares(inc, keys) {
			related = append(related, inc)
		}
	}
	if len(related) == 0 {
		// The nearest incident in time, when it is close enough (alerts can arrive out of
		// order, so "near" is measured against the incident's whole time range).
		var best *event.Incident
		for _, inc := range c.open {
			if g := gap(inc, t); g <= camp && c.young(inc, t) && (best == nil || g < gap(best, t)) {
				best = inc
			}
		}
		if best != nil {
			related = append(related, best)
		}
	}
	if len(related) == 0 {
		inc := c.newIncident(a)
		c.addAlert(inc, a, keys)
		p := Placement{Disposition: event.Escalated, IncidentID: inc.ID, Reason: "opens " + inc.ID + ": " + a.Triage.Reason}
		p.Revised = c.lookback(inc, t)
		p.Changed = append([]*event.Incident{inc}, c.consolidate(inc)...)
		if inc.MergedInto != "" {
			// Alerts that arrived out of order made this a part of an existing incident.
			p.Disposition = event.Grouped
			p.IncidentID = c.resolve(inc).ID
			p.Reason = "joins " + p.IncidentID + " (merged): " + a.Triage.Reason
		}
		return p
	}
	// Join the oldest related incident; the others turn out to be the same campaign.
	sort.Slice(related, func(i, j int) bool { return related[i].Created.Before(related[j].Created) })
	target := related[0]
	var changed []*event.Incident
	for _, other := range related[1:] {
		if c.isApart(target, other) {
			continue // an analyst split them apart
		}
		c.merge(target, other)
		changed = append(changed, other)
	}
	c.addAlert(target, a, keys)
	changed = append([]*event.Incident{target}, changed...)
	changed = append(changed, c.consolidate(target)...)
	return Placement{Disposition: event.Grouped, IncidentID: target.ID, Reason: "joins " + target.ID + " (" + c.why(target, keys) + "): " + a.Triage.Reason, Changed: changed}
}

// consolidate merges open incidents that share a host or an account with inc and overlap it in
// time (within the share window), so that the outcome does not depend on the order in which
// related alerts arrived. The younger incident folds into the older. It returns the incidents
// it changed.
func (c *Correlator) consolidate(inc *event.Incident) []*event.Incident {
	share := c.opts.ShareWindow
	var changed []*event.Incident
	for _, o := range slices.Clone(c.open) {
		if o == inc || o.MergedInto != "" || inc.MergedInto != "" {
			continue
		}
		if o.FirstSeen.After(inc.LastSeen.Add(share)) || inc.FirstSeen.After(o.LastSeen.Add(share)) {
			continue
		}
		if !c.sharesIdentity(o, inc) || c.isApart(o, inc) {
			continue
		}
		older, younger := o, inc
		if inc.Created.Before(o.Created) || inc.Created.Equal(o.Created) && inc.FirstSeen.Before(o.FirstSeen) {
			older, younger = inc, o
		}
		c.merge(older, younger)
		changed = append(changed, older, younger)
		inc = older
	}
	return changed
}

// sharesIdentity reports whether two incidents share a host or an account.
func (c *Correlator) sharesIdentity(a, b *event.Incident) bool {
	for _, h := range a.Hosts {
		if slices.Contains(b.Hosts, h) {
			return true
		}
	}
	for _, u := range a.Users {
		ru := c.user(u)
		for _, v := range b.Users {
			if v == u || c.user(v) == ru {
				return true
			}
		}
	}
	return false
}

// gap is how far t lies outside the incident's time range, in seconds (0 inside it).
func gap(inc *event.Incident, t int64) int64 {
	switch f, l := inc.FirstSeen.Unix(), inc.LastSeen.Unix(); {
	case t < f:
		return f - t
	case t > l:
		return t - l
	}
	return 0
}

// young reports whether an incident still takes alerts on time proximity alone.
func (c *Correlator) young(inc *event.Incident, t int64) bool {
	return t-inc.FirstSeen.Unix() <= int64(c.opts.CampaignSpan/time.Second) && inc.LastSeen.Unix()-inc.FirstSeen.Unix() <= int64(c.opts.CampaignSpan/time.Second)
}

func (c *Correlator) why(inc *event.Incident, keys []string) string {
	for _, e := range inc.Entities {
		if k := c.entityKey(e); slices.Contains(keys, k) {
			return "shares " + k
		}
	}
	return "same campaign window"
}

func (c *Correlator) placeClosed(a *event.Alert, keys []string, host string, t int64) Placement {
	ctx := int64(c.opts.ContextWindow / time.Second)
	// Unusual, the score before analysts' corrections of the shared coefficients, decides too:
	// those corrections say fewer alerts need an analyst, not that an intrusion's quieter steps
	// are unrelated to it.
	if max(a.Triage.Score, a.Triage.Unusual) >= c.opts.ContextMinScore {
		for i := len(c.open) - 1; i >= 0; i-- {
			inc := c.open[i]
			if gap(inc, t) <= ctx && c.shares(inc, keys) {
				c.addAlert(inc, a, nil)
				return Placement{Disposition: event.Grouped, IncidentID: inc.ID, Reason: "context for " + inc.ID + " (" + c.why(inc, keys) + "): " + a.Triage.Reason, Changed: []*event.Incident{inc}}
			}
		}
	}
	if halo := int64(c.opts.Halo / time.Second); halo > 0 {
		var best *event.Incident
		for _, inc := range c.open {
			if g := gap(inc, t); g <= halo && c.young(inc, t) && (best == nil || g < gap(best, t)) {
				best = inc
			}
		}
		if best != nil {
			c.addAlert(best, a, nil)
			return Placement{Disposition: event.Grouped, IncidentID: best.ID, Reason: "context for " + best.ID + " (within its attack window): " + a.Triage.Reason, Changed: []*event.Incident{best}}
		}
	}
	// Keep what the lookback window needs, bounded.
	c.closed = append(c.closed, closedRef{id: a.ID, at: t, kind: a.Kind, host: host})
	lb := int64(c.opts.Lookback / time.Second)
	i := 0
	for i < len(c.closed) && (t-c.closed[i].at > lb || len(c.closed)-i > maxClosed) {
		i++
	}
	for _, r := range c.closed[:i] {
		delete(c.closedDups, r.id)
	}
	if i > len(c.closed)/2 {
		c.closed = slices.Clone(c.closed[i:])
	} else if i > 0 {
		c.closed = c.closed[i:]
	}
	return Placement{Disposition: event.AutoClosed, Reason: a.Triage.Reason}
}

// lookback pulls the recent auto-closed alerts into a new incident as its precursors, and
// the auto-closed alerts of its halo that arrived before it (out of time order: a late source,
// a redelivery under load), which would have joined it as context had they come after it, so
// that the incident does not depend on the order of arrival.
func (c *Correlator) lookback(inc *event.Incident, t int64) []Revision {
	lb := int64(c.opts.Lookback / time.Second)
	halo := int64(c.opts.Halo / time.Second)
	var out []Revision
	later := c.closed[:0] // closed alerts newer than the incident (replayed out of order) stay
	for _, r := range c.closed {
		reason := ""
		switch {
		case r.at > t && halo > 0 && r.at-t <= halo:
			reason = "context for " + inc.ID + " (within its attack window, arrived before it)"
		case r.at > t:
			later = append(later, r)
			continue
		case t-r.at > lb:
			delete(c.closedDups, r.id) // leaves closed
			continue
		default:
			where := r.host
			if where == "" {
				where = "the environment"
			}
			reason = "precursor of " + inc.ID + " on " + where
		}
		// The alert, then the duplicates folded into it while it was closed.
		for k, id := range append([]string{r.id}, c.closedDups[r.id]...) {
			why := reason
			if k > 0 {
				why += " (a duplicate of " + r.id + ")"
			}
			out = append(out, Revision{AlertID: id, Disposition: event.Grouped, IncidentID: inc.ID, Reason: why})
			c.outcomes[id] = outcome{event.Grouped, inc.ID}
			inc.AlertCount++
			if len(inc.AlertIDs) < c.opts.MaxAlertIDs {
				inc.AlertIDs = append(inc.AlertIDs, id)
			}
		}
		delete(c.closedDups, r.id)
	}
	c.closed = later
	return out
}

func (c *Correlator) newIncident(a *event.Alert) *event.Incident {
	c.seq++
	now := time.Now().UTC()
	inc := &event.Incident{
		ID:          event.DeriveID(event.PrefixIncident, c.opts.IDSeed, a.ID),
		Title:       a.RuleTitle,
		Status:      event.StatusOpen,
		Disposition: string(event.Escalated),
		Severity:    a.Severity,
		Score:       a.Triage.Score,
		Created:     now,
		Updated:     now,
		FirstSeen:   a.Time,
		LastSeen:    a.Time,
	}
	c.byID[inc.ID] = inc
	c.open = append(c.open, inc)
	return inc
}

// addAlert records an alert in an incident; keys are the entities to add (nil adds none, for
// context alerts).
func (c *Correlator) addAlert(inc *event.Incident, a *event.Alert, keys []string) {
	inc.AlertCount++
	if len(inc.AlertIDs) < c.opts.MaxAlertIDs {
		inc.AlertIDs = append(inc.AlertIDs, a.ID)
	}
	if a.Time.Before(inc.FirstSeen) {
		inc.FirstSeen = a.Time
	}
	if keys != nil && a.Time.After(inc.LastSeen) {
		inc.LastSeen = a.Time
		c.touch(inc)
	}
	if keys != nil {
		if a.Severity > inc.Severity {
			inc.Severity = a.Severity
		}
		if a.Triage != nil && a.Triage.Score > inc.Score {
			inc.Score = a.Triage.Score
			inc.Title = a.RuleTitle // the incident is named after its strongest alert
		}
		for _, e := range a.Entities {
			addEntity(inc, c.entity(e), c.opts.MaxEntities)
		}
		if a.Host != "" {
			addEntity(inc, event.EntityRef{Kind: event.EntityHost, Value: strings.ToLower(a.Host), Role: "host"}, c.opts.MaxEntities)
		}
		for _, t := range a.Tactics {
			if !slices.Contains(inc.Tactics, t) {
				inc.Tactics = append(inc.Tactics, t)
			}
		}
		for _, t := range a.Techniques {
			if !slices.Contains(inc.Techniques, t) && len(inc.Techniques) < 100 {
				inc.Techniques = append(inc.Techniques, t)
			}
		}
	}
	inc.Updated = time.Now().UTC()
}

// entity returns an alert's entity as the incident keeps it: a user resolved to its account's
// canonical name, with the name the alert gave as an alias when it differs.
func (c *Correlator) entity(e event.EntityRef) event.EntityRef {
	if e.Kind != event.EntityUser {
		return event.EntityRef{Kind: e.Kind, Value: e.Value}
	}
	r := c.opts.Users.Resolve(e.Value)
	if r == "" {
		return event.EntityRef{Kind: e.Kind, Value: e.Value}
	}
	out := event.EntityRef{Kind: e.Kind, Value: r}
	if v := strings.ToLower(e.Value); v != r {
		out.Aliases = []string{v}
	}
	return out
}

// addEntity adds an entity to an incident, or its new aliases to the entity already there.
// Existing elements are never written in place: copies of the incident taken for the store
// share the slices.
func addEntity(inc *event.Incident, e event.EntityRef, maxN int) {
	for i, x := range inc.Entities {
		if x.Kind == e.Kind && x.Value == e.Value {
			if len(e.Aliases) == 0 {
				return
			}
			y := event.EntityRef{Kind: x.Kind, Value: x.Value, Aliases: slices.Clone(x.Aliases)}
			for _, al := range e.Aliases {
				addAlias(&y, al)
			}
			if len(y.Aliases) != len(x.Aliases) {
				ents := slices.Clone(inc.Entities)
				ents[i] = y
				inc.Entities = ents
			}
			return
		}
	}
	if len(inc.Entities) >= maxN {
		return
	}
	inc.Entities = append(inc.Entities, event.EntityRef{Kind: e.Kind, Value: e.Value, Aliases: slices.Clone(e.Aliases)})
	switch e.Kind {
	case event.EntityHost:
		inc.Hosts = append(inc.Hosts, e.Value)
	case event.EntityUser:
		inc.Users = append(inc.Users, e.Value)
	}
}

// touch moves an incident to the end of the open list (most recently active).
func (c *Correlator) touch(inc *event.Incident) {
	i := slices.Index(c.open, inc)
	if i < 0 || i == len(c.open)-1 {
		return
	}
	c.open = append(append(c.open[:i:i], c.open[i+1:]...), inc)
}

// merge folds other into target.
func (c *Correlator) merge(target, other *event.Incident) {
	other.MergedInto = target.ID
	other.Status = event.StatusMerged
	target.AlertCount += other.AlertCount
	for _, id := range other.AlertIDs {
		if len(target.AlertIDs) < c.opts.MaxAlertIDs {
			target.AlertIDs = append(target.AlertIDs, id)
		}
	}
	for _, e := range other.Entities {
		addEntity(target, e, c.opts.MaxEntities)
	}
	for _, t := range other.Tactics {
		if !slices.Contains(target.Tactics, t) {
			target.Tactics = append(target.Tactics, t)
		}
	}
	for _, t := range other.Techniques {
		if !slices.Contains(target.Techniques, t) && len(target.Techniques) < 100 {
			target.Techniques = append(target.Techniques, t)
		}
	}
	if other.FirstSeen.Before(target.FirstSeen) {
		target.FirstSeen = other.FirstSeen
	}
	if other.LastSeen.After(target.LastSeen) {
		target.LastSeen = other.LastSeen
	}
	if other.Severity > target.Severity {
		target.Severity = other.Severity
	}
	if other.Score > target.Score {
		target.Score, target.Title = other.Score, other.Title
	}
	c.open = slices.DeleteFunc(c.open, func(x *event.Incident) bool { return x == other })
	for id, o := range c.outcomes {
		if o.inc == other.ID {
			c.outcomes[id] = outcome{o.disp, target.ID}
		}
	}
	// What was kept apart from the merged incident stays apart from the one it joined.
	for k, at := range c.apart {
		if k[0] != other.ID && k[1] != other.ID {
			continue
		}
		delete(c.apart, k)
		peer := k[0]
		if peer == other.ID {
			peer = k[1]
		}
		if peer != target.ID {
			c.apart[pair(peer, target.ID)] = at
		}
	}
}

// resolve follows merges to the surviving incident.
func (c *Correlator) resolve(inc *event.Incident) *event.Incident {
	for i := 0; inc.MergedInto != "" && i < 100; i++ {
		next := c.byID[inc.MergedInto]
		if next == nil {
			break
		}
		inc = next
	}
	return inc
}

// expire drops incidents from the open list once no window can reach them.
func (c *Correlator) expire(t int64) {
	horizon := int64(max(c.opts.ShareWindow, c.opts.CampaignWindow, c.opts.ContextWindow) / time.Second)
	i := 0
	for i < len(c.open) && t-c.open[i].LastSeen.Unix() > horizon {
		i++
	}
	if i > 0 {
		c.open = slices.Clone(c.open[i:])
	}
	if len(c.byID) > 200000 {
		for id, inc := range c.byID {
			if t-inc.LastSeen.Unix() > 7*24*3600 {
				delete(c.byID, id)
			}
		}
	}
}

// Open returns the incidents that can still take alerts.
func (c *Correlator) Open() []*event.Incident { return c.open }

// All returns every incident the correlator knows, merged ones included, oldest first.
func (c *Correlator) All() []*event.Incident {
	out := make([]*event.Incident, 0, len(c.byID))
	for _, inc := range c.byID {
		out = append(out, inc)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].FirstSeen.Before(out[j].FirstSeen) || out[i].FirstSeen.Equal(out[j].FirstSeen) && out[i].ID < out[j].ID
	})
	return out
}
