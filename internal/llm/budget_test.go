package llm

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func TestBudgetReserveCommitRelease(t *testing.T) {
	b := NewBudget(Limits{PerIncident: 1000, PerDay: 1500}, nil)
	r1, err := b.Reserve("A", 600)
	if err != nil {
		t.Fatal(err)
	}
	// An open reservation counts: a second one that would overrun the incident is refused.
	if _, err := b.Reserve("A", 500); !errors.Is(err, ErrBudget) {
		t.Fatalf("incident over budget: %v", err)
	}
	r1.Commit(Usage{PromptTokens: 200, CompletionTokens: 100}) // total from the parts
	if inc, day := b.Used("A"); inc != 300 || day != 300 {
		t.Fatalf("after commit: %d %d", inc, day)
	}
	r1.Commit(Usage{TotalTokens: 999}) // a second settle does nothing
	r1.Release()
	if inc, _ := b.Used("A"); inc != 300 {
		t.Fatalf("second settle changed the count: %d", inc)
	}
	r2, err := b.Reserve("A", 700)
	if err != nil {
		t.Fatal(err)
	}
	r2.Release()
	if inc, day := b.Used("A"); inc != 300 || day != 300 {
		t.Fatalf("after release: %d %d", inc, day)
	}
	// The day budget spans incidents.
	rb, err := b.Reserve("B", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reserve("C", 300); !errors.Is(err, ErrBudget) {
		t.Fatalf("day over budget: %v", err)
	}
	// Usage above the estimate is charged in full; the next reservation is refused.
	rb.Commit(Usage{TotalTokens: 1150})
	if _, day := b.Used(""); day != 1450 {
		t.Fatalf("day = %d", day)
	}
	if _, err := b.Reserve("", 100); !errors.Is(err, ErrBudget) {
		t.Fatalf("overspent day still reserves: %v", err)
	}
	// No usage reported: the estimate stays charged.
	b2 := NewBudget(Limits{}, nil)
	r, _ := b2.Reserve("X", 40)
	r.Commit(Usage{})
	if inc, _ := b2.Used("X"); inc != 40 {
		t.Fatalf("no usage: %d", inc)
	}
	b2.Forget("X")
	if inc, _ := b2.Used("X"); inc != 0 {
		t.Fatalf("forget: %d", inc)
	}
}

func TestBudgetUnlimited(t *testing.T) {
	b := NewBudget(Limits{}, nil)
	for range 100 {
		r, err := b.Reserve("A", 1<<40)
		if err != nil {
			t.Fatal(err)
		}
		r.Commit(Usage{TotalTokens: 1 << 40})
	}
}

func TestBudgetDayResetsAtUTCMidnight(t *testing.T) {
	// 23:59 UTC is already the next day in Berlin: the reset follows UTC, not local time.
	berlin := time.FixedZone("CET", 3600)
	clk := &clock{t: time.Date(2025, 6, 1, 23, 59, 0, 0, time.UTC).In(berlin)}
	b := NewBudget(Limits{PerDay: 1000, PerIncident: 5000}, clk.now)
	r, err := b.Reserve("A", 900)
	if err != nil {
		t.Fatal(err)
	}
	r.Commit(Usage{TotalTokens: 900})
	open, err := b.Reserve("A", 100) // reserved before midnight, committed after
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reserve("B", 10); !errors.Is(err, ErrBudget) {
		t.Fatalf("before midnight: %v", err)
	}
	clk.set(time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC))
	if _, day := b.Used(""); day != 0 {
		t.Fatalf("day did not reset: %d", day)
	}
	open.Commit(Usage{TotalTokens: 80}) // spent after midnight, counted today
	if inc, day := b.Used("A"); day != 80 || inc != 980 {
		t.Fatalf("after midnight: incident %d, day %d", inc, day)
	}
	// The per-incident budget does not reset at midnight.
	if _, err := b.Reserve("A", 4100); !errors.Is(err, ErrBudget) {
		t.Fatalf("incident budget reset with the day: %v", err)
	}
	if _, err := b.Reserve("B", 900); err != nil {
		t.Fatalf("new day refused: %v", err)
	}
}

func TestBudgetConcurrent(t *testing.T) {
	const limit = 10_000
	b := NewBudget(Limits{PerDay: limit, PerIncident: limit / 2}, nil)
	var wg sync.WaitGroup
	var granted atomic.Int64
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inc := []string{"A", "B", "C"}[g%3]
			for range 200 {
				r, err := b.Reserve(inc, 37)
				if err != nil {
					if !errors.Is(err, ErrBudget) {
						t.Error(err)
					}
					continue
				}
				granted.Add(1)
				if _, day := b.Used(inc); day > limit {
					t.Errorf("day budget overrun: %d", day)
				}
				if granted.Load()%2 == 0 {
					r.Commit(Usage{TotalTokens: 37})
				} else {
					r.Release()
				}
			}
		}()
	}
	wg.Wait()
	_, day := b.Used("")
	if day > limit || day <= 0 {
		t.Fatalf("day = %d", day)
	}
	for _, inc := range []string{"A", "B", "C"} {
		if n, _ := b.Used(inc); n > limit/2 {
			t.Errorf("incident %s = %d", inc, n)
		}
	}
}

func TestBudgetIncidentCountsBounded(t *testing.T) {
	b := NewBudget(Limits{PerIncident: 100}, nil)
	r, err := b.Reserve("first", 90)
	if err != nil {
		t.Fatal(err)
	}
	r.Commit(Usage{TotalTokens: 90})
	// Fewer than maxIncidents others: the first incident's count survives a generation change.
	for i := range maxIncidents {
		if _, err := b.Reserve(fmt.Sprintf("other-%d", i), 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Reserve("first", 20); !errors.Is(err, ErrBudget) {
		t.Fatalf("count of a recent incident forgotten: %v", err)
	}
	for i := range 2 * maxIncidents {
		if _, err := b.Reserve(fmt.Sprintf("more-%d", i), 1); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(b.incidents) + len(b.older); n > 2*maxIncidents {
		t.Fatalf("%d incident counts held, want at most %d", n, 2*maxIncidents)
	}
	if inc, _ := b.Used("first"); inc != 0 {
		t.Fatalf("long-idle incident still counted: %d", inc)
	}
}
