package sigma

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestMemoKeepsWhatItReturns stores the literal groups of many values (more than the memo
// holds, some sharing a place, some under two automaton pairs) and checks every lookup: a hit
// returns exactly what was stored last for that value and automaton pair, and the latest
// values are still held.
func TestMemoKeepsWhatItReturns(t *testing.T) {
	rnd := rand.New(rand.NewPCG(31, 32))
	var c memo
	type key struct {
		id uint64
		v  string
	}
	want := map[key][]uint32{}
	var order []key
	hits, misses := 0, 0
	for i := 0; i < 200000; i++ {
		var k key
		if len(order) > 0 && rnd.IntN(3) == 0 {
			k = order[len(order)-1-rnd.IntN(min(len(order), 5000))]
		} else {
			k = key{uint64(rnd.IntN(3)), fmt.Sprintf("value %d %s", rnd.IntN(40000), string(make([]byte, rnd.IntN(100))))}
		}
		slot, h, hit := c.find(k.id, k.v)
		if hit {
			hits++
			if got, ok := want[k]; !ok || !slices.Equal(c.hitsOf(slot), got) {
				t.Fatalf("lookup %d of %q (automata %d): got %v, want %v (stored: %v)", i, k.v, k.id, c.hitsOf(slot), got, ok)
			}
			continue
		}
		misses++
		groups := make([]uint32, rnd.IntN(6))
		for j := range groups {
			groups[j] = rnd.Uint32()
		}
		c.store(slot, h, k.id, k.v, groups)
		want[k] = groups
		order = append(order, k)
		// The value just stored is held.
		if s, _, ok := c.find(k.id, k.v); !ok || !slices.Equal(c.hitsOf(s), groups) {
			t.Fatalf("value %q not held right after it was stored", k.v)
		}
	}
	if hits == 0 || misses == 0 {
		t.Fatalf("%d hits, %d misses", hits, misses)
	}
}

// TestScanStepsAcrossMemoResets matches records of one shape whose images come back record
// after record (so the scan steps replay the literal groups they kept) while unique long
// command lines fill the memo again and again: a step must not replay groups from before a
// reset, whose place in the memo's arena other values' groups take.
func TestScanStepsAcrossMemoResets(t *testing.T) {
	rs, refusals := LoadBytes("steps.yml", []byte(`
title: Evil image
logsource: {product: windows, category: process_creation}
detection: {s: {Image|endswith: '\evil.exe'}, condition: s}
---
title: Secret command line
logsource: {product: windows, category: process_creation}
detection: {s: {CommandLine|contains: 'secret'}, condition: s}
`), LoadOptions{})
	if len(refusals) > 0 {
		t.Fatal(refusals)
	}
	eng, _ := NewEngine(rs, EngineOptions{})
	m := eng.NewMatcher()
	filler := strings.Repeat("x", 4000)
	resets := m.memo.gen
	for i := range 400 {
		image, cli := `C:\good.exe`, fmt.Sprintf("run %d %s", i, filler)
		var want []string
		if i/4%2 == 0 { // four records in a row: the step keeps it
			image = `C:\evil.exe`
			want = append(want, "Evil image")
		}
		if i%3 == 0 {
			cli += " secret"
			want = append(want, "Secret command line")
		}
		var r Record
		r.AddStable("Channel", "Microsoft-Windows-Sysmon/Operational")
		r.AddStable("EventID", "1")
		r.AddStable("Image", image)
		r.AddStable("CommandLine", cli)
		var got []string
		for _, h := range m.Match(&r) {
			got = append(got, h.Rule.Title)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("record %d (%s): matched %q, want %q", i, image, got, want)
		}
	}
	if m.memo.gen-resets < 3 {
		t.Fatalf("the memo was reset %d times, want several", m.memo.gen-resets)
	}
}
