package baseline

import (
	"encoding/json"
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

func TestHoursJSONRoundTrip(t *testing.T) {
	var h Hours
	lam := Lambda(30 * 24 * time.Hour)
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).Unix()
	for i := range 500 {
		h.Add(base+int64(i)*3571, lam)
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 1400 {
		t.Fatalf("histogram JSON is %d bytes", len(b))
	}
	var back Hours
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.At != h.At {
		t.Fatalf("time %d, want %d", back.At, h.At)
	}
	for i := range h.Bins {
		if d := math.Abs(back.Bins[i] - h.Bins[i]); d > 1e-3*math.Max(1, h.Bins[i]) {
			t.Fatalf("bin %d: %v after the round trip, %v before", i, back.Bins[i], h.Bins[i])
		}
	}
	s1, _ := h.Share(base + 10*3600)
	s2, _ := back.Share(base + 10*3600)
	if math.Abs(s1-s2) > 1e-3 {
		t.Fatalf("share %v after, %v before", s2, s1)
	}
}

func TestTopAndEvictionAgree(t *testing.T) {
	tb := NewTable(10)
	lam := Lambda(time.Hour)
	for i := range 10 {
		for range i + 1 {
			tb.Add(string(rune('a'+i)), 0, lam)
		}
	}
	if got := tb.Top(0, lam, 3); len(got) != 3 || got[0] != "j" || got[1] != "i" || got[2] != "h" {
		t.Fatalf("top 3 = %v", got)
	}
	tb.Add("new", 0, lam) // full: the least frequent key goes
	if tb.Get("a") != nil || tb.Get("j") == nil || tb.Get("new") == nil || tb.Evicted != 1 {
		t.Fatalf("eviction kept a=%v j=%v new=%v evicted=%d", tb.Get("a"), tb.Get("j"), tb.Get("new"), tb.Evicted)
	}
}
