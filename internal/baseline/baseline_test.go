package baseline

import (
	"math"
	"testing"
	"time"
)

func TestCounterDecay(t *testing.T) {
	lam := Lambda(time.Hour)
	var c Counter
	c.Add(0, lam)
	c.Add(0, lam)
	if v := c.Value(3600, lam); math.Abs(v-1) > 1e-9 {
		t.Fatalf("two observations after one half-life = %v, want 1", v)
	}
	c.Add(3600, lam)
	if v := c.Value(3600, lam); math.Abs(v-2) > 1e-9 || c.N != 3 || c.First != 0 || c.At != 3600 {
		t.Fatalf("counter %+v value %v", c, v)
	}
}

func TestTableBounded(t *testing.T) {
	lam := Lambda(time.Hour)
	tb := NewTable(100)
	for i := range 50 {
		for range 10 {
			tb.Add(string(rune('A'+i)), 0, lam) // heavy keys
		}
	}
	for i := range 1000 {
		tb.Add("one-off-"+string(rune(i)), 1, lam)
	}
	if tb.Len() > 100 {
		t.Fatalf("table grew to %d", tb.Len())
	}
	if tb.Evicted == 0 {
		t.Fatal("no eviction counted")
	}
	for i := range 50 {
		if tb.Get(string(rune('A'+i))) == nil {
			t.Fatalf("heavy key %c evicted before one-offs", 'A'+i)
		}
	}
}

func TestHoursShare(t *testing.T) {
	lam := Lambda(30 * 24 * time.Hour)
	var h Hours
	day := int64(86400)
	for d := range 10 {
		h.Add(int64(d)*day+9*3600, lam) // every day at 09:xx
	}
	if s, _ := h.Share(20*day + 9*3600 + 1800); s < 0.99 {
		t.Fatalf("share at the usual hour = %v", s)
	}
	if s, _ := h.Share(20*day + 3*3600); s != 0 {
		t.Fatalf("share at 03:00 = %v", s)
	}
}
