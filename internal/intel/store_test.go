package intel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMultiSourceMerge(t *testing.T) {
	s := newStore()
	load(t, s, feodoSource, 2)
	load(t, s, mispSource, 3)
	load(t, s, listSource, 1)
	_, errs := s.LoadReader(context.Background(), Source{Name: "analyst", Format: FormatList, Confidence: 100},
		strings.NewReader("203.0.113.7 # seen beaconing from ws01\n"))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	// 203.0.113.7: feodo, MISP and the analyst list give one match; blocklist has it in no range.
	m := only(t, s, "203.0.113.7", now)
	if got := m.Sources(); !slices.Equal(got, []string{"analyst", "circl-misp", "feodo"}) {
		t.Errorf("sources %q, want analyst, circl-misp, feodo", got)
	}
	if len(m.Sightings) != 3 || m.Confidence != 100 {
		t.Errorf("%d sightings confidence %d", len(m.Sightings), m.Confidence)
	}
	if m.Name != "" || m.Description != "seen beaconing from ws01" {
		t.Errorf("name %q description %q: want the most confident sighting's", m.Name, m.Description)
	}
	if !slices.Equal(m.Malware, []string{"Dridex"}) || !slices.Equal(m.Actors, []string{"TA505"}) {
		t.Errorf("malware %q actors %q", m.Malware, m.Actors)
	}
	// The window: the earliest start (feodo's first_seen), and no end (the analyst's has none).
	if !m.ValidFrom.Equal(time.Date(2024, 4, 2, 10, 21, 3, 0, time.UTC)) || !m.ValidUntil.IsZero() {
		t.Errorf("window %v – %v", m.ValidFrom, m.ValidUntil)
	}
	// An address in the blocklist's range and also exact in MISP: two matches, exact first.
	ms := s.Lookup("198.51.100.130", now)
	if len(ms) != 1 || ms[0].How != HowRange {
		t.Errorf("198.51.100.130: %s", describe(ms))
	}
	ms = s.Lookup("198.51.100.9", now)
	if len(ms) != 1 || ms[0].Value != "198.51.100.0/28" {
		t.Errorf("198.51.100.9: %s", describe(ms))
	}
	// The summary triage shows.
	hit, detail := s.Hit("203.0.113.7", now)
	if !hit || detail != "listed by analyst, circl-misp, feodo (confidence 100): seen beaconing from ws01; malware Dridex; actor TA505" {
		t.Errorf("Hit = %v, %q", hit, detail)
	}
	if hit, _ := s.Hit("192.0.2.250", now); hit {
		t.Error("Hit on an unknown address")
	}
}

func TestSummary(t *testing.T) {
	ms := []Match{
		{How: HowExact, Confidence: 90, Name: "C2", Malware: []string{"Dridex"}, Sightings: []Sighting{{Indicator: Indicator{Source: "a"}}, {Indicator: Indicator{Source: "b"}}}},
		{How: HowRange, Value: "198.51.100.0/24", Sightings: []Sighting{{Indicator: Indicator{Source: "a"}}}},
		{How: HowSubdomain, Value: "evil.example", Partial: true, Actors: []string{"X"}, Sightings: []Sighting{{Indicator: Indicator{Source: "c"}}}},
		{How: HowHost, Value: "evil.example", Sightings: []Sighting{{Indicator: Indicator{Source: "c"}}}},
		{How: HowPattern, Value: "[a:b = 1]", Sightings: []Sighting{{Indicator: Indicator{Source: "d"}}}},
	}
	want := "listed by a, b (confidence 90): C2; malware Dridex | listed by a in range 198.51.100.0/24 | " +
		"listed by c under evil.example (partial); actor X | listed by c (host evil.example) | listed by d by pattern [a:b = 1]"
	if got := Summary(ms); got != want {
		t.Errorf("Summary =\n%s\nwant\n%s", got, want)
	}
}

func TestParentDomains(t *testing.T) {
	s := newStore()
	_, errs := s.LoadReader(context.Background(), Source{Name: "d", Format: FormatList},
		strings.NewReader("*.evil.example\nexact.example\n.dot-prefix.example\nsub.exact.example\n"))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	tests := []struct {
		value string
		want  []string // how:value of each match
	}{
		{"evil.example", []string{"exact:evil.example"}},
		{"a.evil.example", []string{"subdomain:evil.example"}},
		{"A.B.C.Evil.Example.", []string{"subdomain:evil.example"}},
		{"notevil.example", nil},
		{"evil.example.com", nil},
		{"exact.example", []string{"exact:exact.example"}},
		{"www.exact.example", nil},
		{"sub.exact.example", []string{"exact:sub.exact.example"}},
		{"x.dot-prefix.example", []string{"subdomain:dot-prefix.example"}},
		{"http://cdn.evil.example/x", []string{"host:evil.example"}},
		{"http://exact.example:8080/", []string{"host:exact.example"}},
	}
	for _, tt := range tests {
		var got []string
		for _, m := range s.Lookup(tt.value, now) {
			got = append(got, string(m.How)+":"+m.Value)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Lookup(%q) = %q, want %q", tt.value, got, tt.want)
		}
	}
}

func TestCIDRLookups(t *testing.T) {
	s := newStore()
	_, errs := s.LoadReader(context.Background(), Source{Name: "r", Format: FormatList}, strings.NewReader(
		"10.0.0.0/8\n10.1.0.0/16\n10.1.2.0/24\n10.1.2.3\n10.2.0.0/16\n0.0.0.0/0\n2001:db8::/32\n2001:db8:1::/48\n192.0.2.0/24\n192.0.2.0/25\n"))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	tests := []struct {
		value string
		want  []string
	}{
		{"10.1.2.3", []string{"exact:10.1.2.3", "range:10.1.2.0/24", "range:10.1.0.0/16", "range:10.0.0.0/8", "range:0.0.0.0/0"}},
		{"10.1.3.1", []string{"range:10.1.0.0/16", "range:10.0.0.0/8", "range:0.0.0.0/0"}},
		{"10.2.255.255", []string{"range:10.2.0.0/16", "range:10.0.0.0/8", "range:0.0.0.0/0"}},
		{"11.0.0.0", []string{"range:0.0.0.0/0"}},
		{"192.0.2.200", []string{"range:192.0.2.0/24", "range:0.0.0.0/0"}},
		{"192.0.2.1", []string{"range:192.0.2.0/25", "range:192.0.2.0/24", "range:0.0.0.0/0"}},
		{"2001:db8:1::5", []string{"range:2001:db8:1::/48", "range:2001:db8::/32"}},
		{"2001:db9::1", nil},
		{"::ffff:10.1.2.3", []string{"exact:10.1.2.3", "range:10.1.2.0/24", "range:10.1.0.0/16", "range:10.0.0.0/8", "range:0.0.0.0/0"}},
		// A range looked up: the ranges that hold all of it.
		{"10.1.2.0/24", []string{"range:10.1.2.0/24", "range:10.1.0.0/16", "range:10.0.0.0/8", "range:0.0.0.0/0"}},
		{"10.0.0.0/7", []string{"range:0.0.0.0/0"}},
	}
	for _, tt := range tests {
		var got []string
		for _, m := range s.Lookup(tt.value, now) {
			got = append(got, string(m.How)+":"+m.Value)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Lookup(%q) = %q, want %q", tt.value, got, tt.want)
		}
	}
}

// TestRangeSetAgainstBruteForce checks the range index on random nested ranges.
func TestRangeSetAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randAddr := func(v6 bool) netip.Addr {
		if v6 {
			var b [16]byte
			b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
			for i := 4; i < 16; i++ {
				b[i] = byte(rng.IntN(4)) // few distinct values, so ranges nest and collide
			}
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(8)), byte(rng.IntN(16))})
	}
	for round := range 50 {
		m := map[netip.Prefix][]int32{}
		var all []netip.Prefix
		for i := range 200 {
			v6 := rng.IntN(3) == 0
			bits := 8 + rng.IntN(25)
			if v6 {
				bits = 32 + rng.IntN(97)
			}
			p := netip.PrefixFrom(randAddr(v6), bits).Masked()
			if _, ok := m[p]; !ok {
				all = append(all, p)
			}
			m[p] = append(m[p], int32(i))
		}
		rs := buildRanges(m)
		for range 500 {
			a := randAddr(rng.IntN(3) == 0)
			var want []netip.Prefix
			for _, p := range all {
				if p.Contains(a) {
					want = append(want, p)
				}
			}
			slices.SortFunc(want, func(x, y netip.Prefix) int { return y.Bits() - x.Bits() })
			var got []netip.Prefix
			rs.each(a, func(p netip.Prefix, _ string, refs []int32) {
				got = append(got, p)
				if !slices.Equal(refs, m[p]) {
					t.Errorf("round %d: refs of %s = %v, want %v", round, p, refs, m[p])
				}
			})
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: ranges holding %s = %v, want %v", round, a, got, want)
			}
		}
	}
}

func TestReloadReplacesSource(t *testing.T) {
	s := newStore()
	src := Source{Name: "feed", Format: FormatList}
	if _, errs := s.LoadReader(context.Background(), src, strings.NewReader("192.0.2.1\n192.0.2.2\n")); len(errs) != 0 {
		t.Fatal(errs)
	}
	if _, errs := s.LoadReader(context.Background(), src, strings.NewReader("192.0.2.2\n192.0.2.3\n")); len(errs) != 0 {
		t.Fatal(errs)
	}
	none(t, s, "192.0.2.1", now) // dropped from the feed
	only(t, s, "192.0.2.2", now)
	only(t, s, "192.0.2.3", now)
	if st := s.Stats(); len(st) != 1 || st[0].Indicators != 2 {
		t.Errorf("stats %+v", st)
	}
	if !s.Remove("feed") || s.Remove("feed") {
		t.Error("Remove")
	}
	none(t, s, "192.0.2.2", now)
}

func TestLoadFailuresKeepTheSource(t *testing.T) {
	s := newStore()
	load(t, s, listSource, 1)
	// A missing file: the store keeps what it had.
	_, errs := s.Load(context.Background(), Source{Name: "blocklist", Path: "testdata/no-such-file.txt"})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "no-such-file") {
		t.Errorf("errors %v", errs)
	}
	only(t, s, "203.0.113.9", now)
	// A cancelled load: likewise.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	big := strings.Repeat("192.0.2.77\n", 5000)
	_, errs = s.LoadReader(ctx, Source{Name: "blocklist", Format: FormatList}, strings.NewReader(big))
	if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
		t.Errorf("cancelled load: %v", errs)
	}
	only(t, s, "203.0.113.9", now)
	none(t, s, "192.0.2.77", now)
}

func TestSourceValidation(t *testing.T) {
	s := newStore()
	for _, src := range []Source{
		{},
		{Name: " "},
		{Name: "x"}, // no path
		{Name: "x", Path: "p", Confidence: 101},
		{Name: "x", Path: "p", Type: "ip"},
	} {
		_, errs := s.Load(context.Background(), src)
		if len(errs) != 1 || !errors.Is(errs[0], ErrSource) {
			t.Errorf("Load(%+v) = %v, want ErrSource", src, errs)
		}
	}
	_, errs := s.LoadReader(context.Background(), Source{Name: "x", Format: "yaml"}, strings.NewReader(""))
	if len(errs) != 1 || !errors.Is(errs[0], ErrFormat) {
		t.Errorf("unknown format: %v", errs)
	}
}

func TestPrune(t *testing.T) {
	s := newStore()
	load(t, s, stixSource, 7)
	feodo := feodoSource
	load(t, s, feodo, 2)
	before := 0
	for _, st := range s.Stats() {
		before += st.Indicators
	}
	// At now: the revoked and the expired STIX indicators, and feodo's offline C2, go.
	removed := s.Prune(now)
	if removed != 3 {
		t.Errorf("Prune removed %d, want 3", removed)
	}
	after := 0
	for _, st := range s.Stats() {
		after += st.Indicators
		if st.Revoked != 0 || st.Expired != 0 {
			t.Errorf("%s: %d revoked %d expired after Prune", st.Source, st.Revoked, st.Expired)
		}
	}
	if after != before-3 {
		t.Errorf("%d indicators after, %d before", after, before)
	}
	// Expired ones are gone even for a lookup in the past.
	none(t, s, "old-campaign.example", time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC))
	// Not yet valid ones stay.
	only(t, s, "future-campaign.example", time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC))
	only(t, s, "198.51.100.3", now)
	if s.Prune(now) != 0 {
		t.Error("a second Prune removed more")
	}
}

func TestStats(t *testing.T) {
	s := newStore()
	load(t, s, stixSource, 7)
	load(t, s, listSource, 1)
	st := s.Stats()
	if len(st) != 2 || st[0].Source != "acme-stix" || st[1].Source != "blocklist" {
		t.Fatalf("stats %+v", st)
	}
	if st[1].ByType[TypeIPv4] != 3 || st[1].ByType[TypeIPv6] != 1 || st[1].ByType[TypeDomain] != 4 || st[1].Format != FormatList || !st[1].LoadedAt.Equal(now) {
		t.Errorf("blocklist stats %+v", st[1])
	}
	if st[0].Revoked != 1 || st[0].Expired != 1 {
		t.Errorf("stix stats %+v", st[0])
	}
	if inds := s.Indicators("blocklist"); len(inds) != 10 || inds[0].Source != "blocklist" {
		t.Errorf("Indicators: %d", len(inds))
	}
	if s.Indicators("nope") != nil {
		t.Error("Indicators of an unknown source")
	}
}

func TestLookupOddValues(t *testing.T) {
	s := newStore()
	load(t, s, stixSource, 7)
	for _, v := range []string{"", " ", "not a value", "http://", "\x00", strings.Repeat("a.", 300) + "example", "1.2.3.4/99"} {
		if ms := s.Lookup(v, now); ms != nil {
			t.Errorf("Lookup(%q) = %s", v, describe(ms))
		}
	}
}

// TestConcurrentLoadAndLookup runs lookups while sources load and prune (run with -race).
func TestConcurrentLoadAndLookup(t *testing.T) {
	s := newStore()
	load(t, s, listSource, 1)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if len(s.Lookup("203.0.113.9", now)) != 1 {
					t.Error("lookup lost the blocklist during a reload")
					return
				}
				s.Lookup("192.0.2.5", now)
			}
		})
	}
	for i := range 20 {
		doc := fmt.Sprintf("192.0.2.%d\n", i)
		s.LoadReader(context.Background(), Source{Name: "churn", Format: FormatList, TTL: time.Hour}, strings.NewReader(doc))
		s.Load(context.Background(), listSource)
		s.Prune(now.Add(2 * time.Hour))
	}
	close(stop)
	wg.Wait()
}

func TestSniffFormat(t *testing.T) {
	tests := []struct {
		path, head string
		want       Format
	}{
		{"feed.json", `{"type": "bundle", "objects": [{"description": "MISP \"Event\""}]}`, FormatSTIX},
		{"feed", `  [{"type":"indicator"}]`, FormatSTIX},
		{"event.json", `{"Event": {"info": "x"}}`, FormatMISP},
		{"search.json", "\ufeff" + `{"response": []}`, FormatMISP},
		{"export.csv", "uuid,event_id,category,type,value,comment,to_ids,date\n", FormatMISPCSV},
		{"export.txt", `"uuid","event_id","category","type","value"` + "\n", FormatMISPCSV},
		{"feodo.csv.gz", "# first_seen_utc,dst_ip\n", FormatCSV},
		{"drop.txt", "; Spamhaus DROP\n192.0.2.0/24\n", FormatList},
		{"", "192.0.2.1\n", FormatList},
	}
	for _, tt := range tests {
		if got := sniffFormat(tt.path, bufio.NewReader(strings.NewReader(tt.head))); got != tt.want {
			t.Errorf("sniffFormat(%q, %q) = %s, want %s", tt.path, tt.head, got, tt.want)
		}
	}
}
