package llm

import (
	"fmt"
	"sync"
	"time"
)

// Limits are token budgets. Zero (or negative) means no limit of that kind.
type Limits struct {
	// PerIncident bounds the tokens spent on one incident, over all its calls, until Forget.
	PerIncident int64
	// PerDay bounds the tokens spent over all incidents in one UTC day; it resets at UTC midnight.
	PerDay int64
}

// Budget accounts tokens against Limits. Before a call the caller reserves an estimate (Reserve);
// after it, it commits what the server reported (Reservation.Commit) or releases the estimate when
// nothing was spent (Reservation.Release). Reservations count against the limits while they are
// open, so concurrent calls cannot together overrun a budget. A Budget is safe for concurrent use.
type Budget struct {
	limits Limits
	now    func() time.Time

	// mu guards the fields below.
	mu sync.Mutex
	// day is the UTC midnight that starts the day dayUsed counts.
	day     time.Time
	dayUsed int64
	// incidents maps an incident to the tokens committed and reserved for it; older holds the
	// previous generation (see count). Together they keep at most 2*maxIncidents entries.
	incidents map[string]int64
	older     map[string]int64
}

// maxIncidents bounds the incidents a generation of the per-incident counts holds. An incident's
// count is forgotten only after this many other incidents have been charged since its last call.
const maxIncidents = 1 << 16

// count returns incident's count, moving it from the older generation into the current one, and
// starts a new generation when the current one is full. b.mu is held.
func (b *Budget) count(incident string) int64 {
	if used, ok := b.incidents[incident]; ok {
		return used
	}
	used, ok := b.older[incident]
	if ok {
		delete(b.older, incident)
	}
	if len(b.incidents) >= maxIncidents {
		b.older, b.incidents = b.incidents, make(map[string]int64)
	}
	b.incidents[incident] = used
	return used
}

// NewBudget returns a Budget enforcing l. now is the clock (time.Now when nil); tests inject one
// to cross UTC midnight.
func NewBudget(l Limits, now func() time.Time) *Budget {
	if now == nil {
		now = time.Now
	}
	return &Budget{limits: l, now: now, incidents: map[string]int64{}}
}

// Reservation is tokens set aside for one call. Commit or Release it exactly once; later calls do
// nothing.
type Reservation struct {
	b        *Budget
	incident string
	tokens   int64
	day      time.Time
	done     bool // guarded by b.mu
}

// Tokens returns the reserved estimate.
func (r *Reservation) Tokens() int64 { return r.tokens }

// rollover starts a new day's count when the clock has passed UTC midnight. b.mu is held.
func (b *Budget) rollover() {
	t := b.now().UTC()
	today := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !today.Equal(b.day) {
		b.day = today
		b.dayUsed = 0
	}
}

// Reserve sets estimate tokens aside for a call on incident ("" for none). It returns an error
// wrapping ErrBudget, and reserves nothing, when the reservation would exceed a limit.
func (b *Budget) Reserve(incident string, estimate int64) (*Reservation, error) {
	estimate = max(estimate, 1)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rollover()
	if l := b.limits.PerDay; l > 0 && b.dayUsed+estimate > l {
		return nil, fmt.Errorf("%w: day: %d of %d tokens used, %d more asked", ErrBudget, b.dayUsed, l, estimate)
	}
	if incident != "" {
		used := b.count(incident)
		if l := b.limits.PerIncident; l > 0 && used+estimate > l {
			return nil, fmt.Errorf("%w: incident %s: %d of %d tokens used, %d more asked", ErrBudget, incident, used, l, estimate)
		}
		b.incidents[incident] = used + estimate
	}
	b.dayUsed += estimate
	return &Reservation{b: b, incident: incident, tokens: estimate, day: b.day}, nil
}

// Commit replaces the reservation by the tokens the server reported. When the server reported
// none, the estimate stays charged. Usage above the estimate is charged in full, so the next
// Reserve may be refused.
func (r *Reservation) Commit(u Usage) {
	spent := u.total()
	if spent <= 0 {
		spent = r.tokens
	}
	r.settle(spent)
}

// Release returns the reservation: the call spent nothing (it was never sent, or the server
// refused it).
func (r *Reservation) Release() { r.settle(0) }

func (r *Reservation) settle(spent int64) {
	b := r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.done {
		return
	}
	r.done = true
	b.rollover()
	if r.day.Equal(b.day) {
		b.dayUsed = max(b.dayUsed-r.tokens+spent, 0)
	} else {
		// Reserved before midnight: yesterday's count is gone; what was spent counts today.
		b.dayUsed += spent
	}
	if r.incident != "" {
		if used, ok := b.incidents[r.incident]; ok {
			b.incidents[r.incident] = max(used-r.tokens+spent, 0)
		} else if used, ok := b.older[r.incident]; ok {
			b.older[r.incident] = max(used-r.tokens+spent, 0)
		}
	}
}

// Used returns the tokens committed and reserved for incident and for the current UTC day.
func (b *Budget) Used(incident string) (incidentTokens, dayTokens int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rollover()
	if used, ok := b.incidents[incident]; ok {
		return used, b.dayUsed
	}
	return b.older[incident], b.dayUsed
}

// Forget drops the count of a finished incident, so the map of incidents stays small. A later
// investigation of the same incident starts a new per-incident budget.
func (b *Budget) Forget(incident string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.incidents, incident)
	delete(b.older, incident)
}
