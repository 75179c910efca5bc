// Package baseline keeps behavioural baselines (UEBA): per-entity profiles learned online from
// what is observed, with exponential decay and bounded memory. The detect stage uses them for
// behavioural detections on events, the triage stage for the novelty, rarity and burst features
// of alerts. Profiles serialise to bytes so that stages can persist them.
package baseline

import (
	"math"
	"sort"
	"strconv"
	"time"
)

// Counter is an exponentially decayed count: each observation adds one, and the total halves
// every half-life. It also remembers when it was first and last incremented.
type Counter struct {
	V     float64 `json:"v"`
	At    int64   `json:"t"` // unix seconds of the last update
	First int64   `json:"f"`
	N     uint64  `json:"n"` // undecayed total
}

// Value returns the decayed count at t.
func (c *Counter) Value(t int64, lambda float64) float64 {
	if c.N == 0 {
		return 0
	}
	dt := float64(t - c.At)
	if dt <= 0 {
		return c.V
	}
	return c.V * math.Exp(-lambda*dt)
}

// Add records one observation at t.
func (c *Counter) Add(t int64, lambda float64) {
	if c.N == 0 {
		c.First = t
	}
	c.V = c.Value(t, lambda) + 1
	if t > c.At {
		c.At = t
	}
	c.N++
}

// Lambda returns the decay rate for a half-life.
func Lambda(halfLife time.Duration) float64 {
	return math.Ln2 / halfLife.Seconds()
}

// Table is a bounded map of decayed counters. When it is full, adding a new key evicts the key
// with the smallest decayed count (a heavy-hitter sketch: frequent keys stay, one-offs go), and
// the eviction is counted. It is not safe for concurrent use.
type Table struct {
	Max     int                 `json:"max"`
	Items   map[string]*Counter `json:"items"`
	Evicted uint64              `json:"evicted"`
}

// NewTable returns a table holding at most max keys.
func NewTable(max int) *Table { return &Table{Max: max, Items: map[string]*Counter{}} }

// Get returns the counter of key, or nil.
func (t *Table) Get(key string) *Counter { return t.Items[key] }

// Remove forgets key (an analyst's verdict can unlearn what an intrusion taught).
func (t *Table) Remove(key string) { delete(t.Items, key) }

// Add records an observation of key at time now and returns its counter.
func (t *Table) Add(key string, now int64, lambda float64) *Counter {
	c := t.Items[key]
	if c == nil {
		if t.Max > 0 && len(t.Items) >= t.Max {
			t.evict(now, lambda)
		}
		c = &Counter{}
		t.Items[key] = c
	}
	c.Add(now, lambda)
	return c
}

func (t *Table) evict(now int64, lambda float64) {
	// Evict the smallest tenth in one pass, so that eviction is amortised.
	all := t.ranked(now, lambda)
	n := max(1, len(all)/10)
	for _, x := range all[len(all)-n:] {
		delete(t.Items, x.k)
	}
	t.Evicted += uint64(n)
}

type ranked struct {
	k string
	v float64
}

// ranked returns the keys with their decayed counts at now, largest first (ties by key).
func (t *Table) ranked(now int64, lambda float64) []ranked {
	all := make([]ranked, 0, len(t.Items))
	for k, c := range t.Items {
		all = append(all, ranked{k, c.Value(now, lambda)})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v || all[i].v == all[j].v && all[i].k < all[j].k })
	return all
}

// Top returns the n keys with the highest decayed counts at now, largest first.
func (t *Table) Top(now int64, lambda float64, n int) []string {
	all := t.ranked(now, lambda)
	out := make([]string, 0, min(n, len(all)))
	for _, x := range all[:min(n, len(all))] {
		out = append(out, x.k)
	}
	return out
}

// Len returns the number of keys.
func (t *Table) Len() int { return len(t.Items) }

// Hours is a decayed hour-of-week histogram (168 bins), for "usual hours".
type Hours struct {
	Bins [168]float64 `json:"bins"`
	At   int64        `json:"t"`
}

func hourOfWeek(t int64) int {
	tm := time.Unix(t, 0).UTC()
	return int(tm.Weekday())*24 + tm.Hour()
}

// Add records an observation at t.
func (h *Hours) Add(t int64, lambda float64) {
	if h.At != 0 && t > h.At {
		f := math.Exp(-lambda * float64(t-h.At))
		for i := range h.Bins {
			h.Bins[i] *= f
		}
	}
	if t > h.At {
		h.At = t
	}
	h.Bins[hourOfWeek(t)]++
}

// Share returns the share of observations that fell within ±1 hour of t's hour of the day on
// any day (daily rhythm), and the total weight behind it.
func (h *Hours) Share(t int64) (share, total float64) {
	hod := time.Unix(t, 0).UTC().Hour()
	var in float64
	for i, v := range h.Bins {
		total += v
		d := (i%24 - hod + 24) % 24
		if d <= 1 || d >= 23 {
			in += v
		}
	}
	if total == 0 {
		return 0, 0
	}
	return in / total, total
}

// MarshalJSON writes the bins with four significant digits (a profile's shape, not its exact
// counts), which keeps a user's histogram near 1 KB.
func (h Hours) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 1024)
	b = append(b, `{"bins":[`...)
	for i, v := range h.Bins {
		if i > 0 {
			b = append(b, ',')
		}
		if v == 0 {
			b = append(b, '0')
			continue
		}
		b = strconv.AppendFloat(b, v, 'g', 4, 64)
	}
	b = append(b, `],"t":`...)
	b = strconv.AppendInt(b, h.At, 10)
	return append(b, '}'), nil
}
