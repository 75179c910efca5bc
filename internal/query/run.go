package query

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

// Searcher is what Run reads events from; store.Store satisfies it. Run calls it from one
// goroutine at a time. It should honour EventQuery.Match, so that its Limit counts matching
// events; Run checks the events it gets again all the same.
type Searcher interface {
	SearchEvents(ctx context.Context, q store.EventQuery) ([]event.Event, error)
}

var _ Searcher = store.Store(nil)

// DefaultMaxScan is Options.MaxScan when it is not set.
const DefaultMaxScan = 100000

// storeMaxLimit is the most events one store search returns; pageSize is how many Run asks
// for at a time when it needs them all (a variable for tests).
const storeMaxLimit = 10000

var pageSize = storeMaxLimit

// Options tune Run.
type Options struct {
	// Now is the time since and relative times count back from; zero means time.Now().
	Now time.Time
	// MaxScan bounds the events Run examines (those the store's own filters let through) in the
	// main search, and again in first_seen's history lookups; 0 means DefaultMaxScan. When the
	// bound is hit the answer is partial and Result.Truncated is set.
	MaxScan int
}

// Result is the answer to a query: events, or rows when the query counts.
type Result struct {
	Query     string        `json:"query"`             // canonical text
	Events    []event.Event `json:"events,omitempty"`  // when no count stage
	Columns   []string      `json:"columns,omitempty"` // count stage: the by-fields then "count"
	Rows      [][]string    `json:"rows,omitempty"`    // count stage rows, highest count first
	Truncated bool          `json:"truncated"`         // a limit or MaxScan cut the answer
}

// Run evaluates q against the events s holds. Events come back newest first unless a sort stage
// orders them otherwise. Comparisons the store can answer exactly (host, user, IP, process,
// class and code equality, free text, the time range) are pushed down to it; the whole query is
// also evaluated in EventQuery.Match, so the store's Limit counts matching events.
func Run(ctx context.Context, s Searcher, q *Query, opts Options) (*Result, error) {
	if s == nil {
		return nil, ErrNoSearcher
	}
	if q == nil {
		q = &Query{}
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	r := &runner{s: s, max: opts.MaxScan}
	if r.max <= 0 {
		r.max = DefaultMaxScan
	}
	res := &Result{Query: q.String()}
	p := q.plan(now)

	want := p.limit + 1 // one more than asked tells whether the limit cut the answer
	if p.firstSeen != nil || p.count != nil || p.sort != nil {
		want = 0 // these need every matching event
	}
	evs, err := r.scan(ctx, p.base, p.match, want)
	if err != nil {
		return nil, fmt.Errorf("run query: %w", err)
	}
	if p.firstSeen != nil {
		r.phase() // history lookups have their own budget
		if evs, err = r.firstSeen(ctx, p.firstSeen, evs); err != nil {
			return nil, fmt.Errorf("run query: first_seen: %w", err)
		}
	}
	res.Truncated = r.truncated
	if p.count != nil {
		res.Columns, res.Rows = countRows(p.count.fields, evs)
		if len(res.Rows) > p.limit {
			res.Rows, res.Truncated = res.Rows[:p.limit], true
		}
		return res, nil
	}
	if p.sort != nil {
		sortEvents(evs, p.sort.f, p.sort.desc)
	}
	if len(evs) > p.limit {
		evs, res.Truncated = evs[:p.limit], true
	}
	if p.fields != nil {
		evs = project(evs, p.fields.fields)
	}
	res.Events = evs
	return res, nil
}

// plan is a query made ready to run at one instant.
type plan struct {
	base                           store.EventQuery // the pushed-down filters
	match                          func(*event.Event) bool
	limit                          int
	firstSeen, count, sort, fields *stage
}

func (q *Query) plan(now time.Time) plan {
	p := plan{limit: DefaultLimit}
	var from, to time.Time // the time range of the stages; zero is open
	exprs := []node{}
	if q.expr != nil {
		exprs = append(exprs, q.expr)
	}
	for i := range q.stages {
		st := &q.stages[i]
		switch st.kind {
		case stSince:
			from = later(from, now.Add(-st.dur.value()))
		case stBetween:
			from = later(from, st.from.at(now))
			to = earlier(to, st.to.at(now))
		case stWhere:
			exprs = append(exprs, st.expr)
		case stFirstSeen:
			p.firstSeen = st
		case stCount:
			p.count = st
		case stSort:
			p.sort = st
		case stLimit:
			p.limit = st.n
		case stFields:
			p.fields = st
		}
	}
	p.match = func(ev *event.Event) bool {
		if !from.IsZero() && ev.Time.Before(from) || !to.IsZero() && !ev.Time.Before(to) {
			return false
		}
		for _, x := range exprs {
			if !eval(x, ev, now) {
				return false
			}
		}
		return true
	}
	pushFrom(&p.base, from)
	pushTo(&p.base, to)
	for _, x := range exprs {
		terms := []node{x}
		if a, ok := x.(*andNode); ok {
			terms = a.xs
		}
		for _, t := range terms {
			pushTerm(&p.base, t, now)
		}
	}
	return p
}

func later(a, b time.Time) time.Time {
	if a.IsZero() || b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// The store compares times as Unix nanoseconds, so only times that fit are pushed down; the
// others are left to Match.
var (
	minNano = time.Unix(0, -1<<63+1)
	maxNano = time.Unix(0, 1<<63-2)
)

func inNanoRange(t time.Time) bool { return t.After(minNano) && t.Before(maxNano) }

func pushFrom(q *store.EventQuery, t time.Time) {
	if !t.IsZero() && inNanoRange(t) && (q.From.IsZero() || t.After(q.From)) {
		q.From = t
	}
}

func pushTo(q *store.EventQuery, t time.Time) {
	if !t.IsZero() && inNanoRange(t) && (q.To.IsZero() || t.Before(q.To)) {
		q.To = t
	}
}

// pushTerm narrows q by one top-level and-term, when the store's filter is exactly as wide as
// the term or wider. Match still evaluates the whole query, so a pushed-down term only spares
// work.
func pushTerm(q *store.EventQuery, n node, now time.Time) {
	switch n := n.(type) {
	case *textNode:
		// Contains looks for the text in the event's JSON line; plain text appears there
		// verbatim (ignoring case) whenever a field holds it.
		if q.Contains == "" && plain(n.raw) {
			q.Contains = n.raw
		}
	case *cmpNode:
		if len(n.vals) != 1 {
			return
		}
		v := &n.vals[0]
		if n.f.kind == kindTime {
			t := v.tv.at(now)
			switch n.op {
			case ">":
				pushFrom(q, t.Add(1))
			case ">=":
				pushFrom(q, t)
			case "<":
				pushTo(q, t)
			case "<=":
				pushTo(q, t.Add(1))
			}
			return
		}
		if n.op == "=" && !v.glob && !v.cidr {
			pushEqual(q, n.f.name, v.raw)
		}
	}
}

// pushEqual sets the store filter for name = val (case-insensitive), when the store compares
// the same way. The store lower-cases host and process names as Run does, compares user
// names with store.UserMatches as Run does (a bare name under any domain), and also looks for
// them in the event's JSON line, which holds plain values verbatim; it compares IPs and
// codes exactly, which is the same for values without letters; and classes exactly, which is
// the same because events carry only the lower-case class constants.
func pushEqual(q *store.EventQuery, name, val string) {
	switch name {
	case "device.hostname":
		if q.Host == "" && plain(val) {
			q.Host = val
		}
	case "user.name":
		if q.User == "" && plain(val) {
			q.User = val
		}
	case "process.name":
		if q.Process == "" && plain(val) {
			q.Process = val
		}
	case "src_endpoint.ip", "dst_endpoint.ip", "ip":
		if q.IP == "" && letterless(val) {
			q.IP = val
		}
	case "code":
		if q.Code == "" && letterless(val) {
			q.Code = val
		}
	case "class":
		c := event.Class(strings.ToLower(val))
		if q.Class == "" && (c.UID() != 0 || c == event.ClassUnknown) {
			q.Class = c
		}
	}
}

// plain reports whether s is not empty and JSON encodes it without escapes other than for
// the characters the store's line filter already steps around (quote, backslash, <, >, &).
func plain(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// letterless reports whether s is printable ASCII without letters, so that exact and
// case-insensitive comparison agree.
func letterless(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || 'a' <= c|0x20 && c|0x20 <= 'z' {
			return false
		}
	}
	return true
}

// runner holds the work budget of one Run.
type runner struct {
	s         Searcher
	stop      context.CancelFunc // ends the search under way: its budget is spent
	max       int                // events the current phase may examine
	examined  int                // events the current phase has examined
	hit       bool               // the current phase ran out of budget
	truncated bool               // some phase ran out of budget, or pages could not advance
}

// phase starts a new budget of max events.
func (r *runner) phase() { r.examined, r.hit = 0, false }

// budgeted wraps pred so that it counts examined events and rejects every event once the
// budget is spent.
func (r *runner) budgeted(pred func(*event.Event) bool) func(*event.Event) bool {
	return func(ev *event.Event) bool {
		if r.examined >= r.max {
			r.hit, r.truncated = true, true
			if r.stop != nil {
				r.stop() // the store need not read on
			}
			return false
		}
		r.examined++
		return pred(ev)
	}
}

// scan returns the events of base that match pred, newest first: up to want of them, or all
// within the budget when want is 0. It reads the store in pages of at most pageSize events,
// each ending where the previous stopped.
func (r *runner) scan(ctx context.Context, base store.EventQuery, pred func(*event.Event) bool, want int) ([]event.Event, error) {
	q := base
	q.Match = r.budgeted(pred)
	var out []event.Event
	boundary := map[string]bool{} // IDs already returned at the oldest time reached
	var boundaryAt time.Time
	for {
		// The events at the boundary come back first; ask for that many more.
		q.Limit = min(storeMaxLimit, pageSize+len(boundary))
		if want > 0 {
			q.Limit = min(storeMaxLimit, want-len(out)+len(boundary))
		}
		before := r.examined
		sctx, cancel := context.WithCancel(ctx)
		r.stop = cancel
		evs, err := r.s.SearchEvents(sctx, q)
		cancel()
		r.stop = nil
		if err != nil && !(r.hit && ctx.Err() == nil && errors.Is(err, context.Canceled)) {
			return nil, err
		}
		// Stopped for the budget, the store returned what it had found: go on with that.
		if called := r.examined - before; called < len(evs) {
			// The Searcher ignored Match: count what it returned instead.
			r.examined = min(r.max, before+len(evs))
			if r.examined >= r.max {
				r.hit, r.truncated = true, true
			}
		}
		added := 0
		for i := range evs {
			if boundary[evs[i].ID] {
				continue
			}
			added++
			if pred(&evs[i]) { // again, in case the Searcher ignored Match
				out = append(out, evs[i])
			}
		}
		if r.hit || len(evs) < q.Limit || want > 0 && len(out) >= want {
			return out, nil
		}
		// The next page holds the events at or before the oldest one so far; those at that
		// very instant already returned are skipped.
		last := evs[len(evs)-1].Time
		if added == 0 || !inNanoRange(last.Add(1)) {
			r.truncated = true // more events at one instant than a search returns
			return out, nil
		}
		if !last.Equal(boundaryAt) {
			clear(boundary)
			boundaryAt = last
		}
		for i := len(evs) - 1; i >= 0 && evs[i].Time.Equal(last); i-- {
			boundary[evs[i].ID] = true
		}
		q.To = last.Add(1)
	}
}

// firstSeen keeps the events whose F value had not been seen with their K value in the window
// before them. evs is newest first; so is the result.
func (r *runner) firstSeen(ctx context.Context, st *stage, evs []event.Event) ([]event.Event, error) {
	within := DefaultWithin
	if st.within {
		within = st.dur.value()
	}
	type pair struct{ k, f string }
	groups := map[pair][]int{}
	var order []pair
	for i := range evs {
		p := pair{strings.ToLower(st.by.gets[0](&evs[i])), strings.ToLower(st.f.gets[0](&evs[i]))}
		if p.k == "" || p.f == "" {
			continue
		}
		if groups[p] == nil {
			order = append(order, p)
		}
		groups[p] = append(groups[p], i)
	}
	keep := make([]bool, len(evs))
	for _, p := range order {
		idx := groups[p]
		var prev, last time.Time // the latest candidate strictly before this one; the previous one
		hasPrev, hasLast := false, false
		for j := len(idx) - 1; j >= 0; j-- { // oldest first
			t := evs[idx[j]].Time
			if hasLast && last.Before(t) {
				prev, hasPrev = last, true
			}
			last, hasLast = t, true
			from := t.Add(-within)
			if hasPrev && !prev.Before(from) {
				continue // an earlier candidate of the pair is itself in the window
			}
			seen, err := r.seenBefore(ctx, st, p.k, p.f, from, t)
			if err != nil {
				return nil, err
			}
			if !seen && r.hit {
				break // out of budget: this one and the rest cannot be told
			}
			keep[idx[j]] = !seen
		}
	}
	out := evs[:0]
	for i := range evs {
		if keep[i] {
			out = append(out, evs[i])
		}
	}
	return out, nil
}

// seenBefore reports whether the store holds an event in [from, to) whose K and F values are
// k and f (lower case).
func (r *runner) seenBefore(ctx context.Context, st *stage, k, f string, from, to time.Time) (bool, error) {
	if r.examined >= r.max {
		r.hit, r.truncated = true, true
		return false, nil
	}
	r.examined++ // a lookup costs at least one
	var q store.EventQuery
	pushFrom(&q, from)
	pushTo(&q, to)
	pushEqual(&q, st.by.name, k)
	pushEqual(&q, st.f.name, f)
	getK, getF := st.by.gets[0], st.f.gets[0]
	evs, err := r.scan(ctx, q, func(ev *event.Event) bool {
		return !ev.Time.Before(from) && ev.Time.Before(to) && equalLower(getK(ev), k) && equalLower(getF(ev), f)
	}, 1)
	return len(evs) > 0, err
}

// countRows groups evs by the values of by (case-insensitively; a group shows the values of
// its newest event) and returns the columns and the rows, highest count first, then by values.
func countRows(by []*field, evs []event.Event) ([]string, [][]string) {
	cols := make([]string, 0, len(by)+1)
	for _, f := range by {
		cols = append(cols, f.name)
	}
	cols = append(cols, "count")
	type group struct {
		vals, lower []string
		n           int
	}
	groups := map[string]*group{}
	var order []*group
	var key strings.Builder
	for i := range evs {
		vals := make([]string, len(by))
		lower := make([]string, len(by))
		key.Reset()
		for j, f := range by {
			vals[j] = f.gets[0](&evs[i])
			lower[j] = strings.ToLower(vals[j])
			key.WriteString(strconv.Itoa(len(lower[j])))
			key.WriteByte(':')
			key.WriteString(lower[j])
		}
		g := groups[key.String()]
		if g == nil {
			g = &group{vals: vals, lower: lower}
			groups[key.String()] = g
			order = append(order, g)
		}
		g.n++
	}
	if len(by) == 0 && len(order) == 0 {
		order = append(order, &group{}) // the total, even when it is zero
	}
	slices.SortStableFunc(order, func(a, b *group) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		if c := slices.Compare(a.lower, b.lower); c != 0 {
			return c
		}
		return slices.Compare(a.vals, b.vals)
	})
	rows := make([][]string, len(order))
	for i, g := range order {
		rows[i] = append(slices.Clip(g.vals), strconv.Itoa(g.n))
	}
	return cols, rows
}

// sortEvents orders evs by f, stably. Ascending puts events without the field first, then
// numbers in numeric order, then other values case-insensitively; descending is the reverse.
func sortEvents(evs []event.Event, f *field, desc bool) {
	type key struct {
		rank int // 0 missing, 1 number, 2 text
		num  float64
		s    string
		t    time.Time
	}
	keys := make([]key, len(evs))
	for i := range evs {
		if f.kind == kindTime {
			keys[i] = key{rank: 1, t: evs[i].Time}
			continue
		}
		s := f.gets[0](&evs[i])
		switch n, ok := parseNumber(s); {
		case s == "":
		case ok:
			keys[i] = key{rank: 1, num: n}
		default:
			keys[i] = key{rank: 2, s: strings.ToLower(s)}
		}
	}
	idx := make([]int, len(evs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int {
		a, b := keys[i], keys[j]
		c := cmp.Compare(a.rank, b.rank)
		if c == 0 {
			c = a.t.Compare(b.t)
		}
		if c == 0 {
			c = cmp.Compare(a.num, b.num)
		}
		if c == 0 {
			c = strings.Compare(a.s, b.s)
		}
		if desc {
			return -c
		}
		return c
	})
	sorted := make([]event.Event, len(evs))
	for i, j := range idx {
		sorted[i] = evs[j]
	}
	copy(evs, sorted)
}

// project returns evs with only the given fields (and the event ID) kept.
func project(evs []event.Event, fields []*field) []event.Event {
	out := make([]event.Event, len(evs))
	for i := range evs {
		out[i].ID = evs[i].ID
		for _, f := range fields {
			f.copy(&out[i], &evs[i])
		}
	}
	return out
}
