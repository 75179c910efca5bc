package intel

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// benchStore holds three feeds: 100,000 addresses, 20,000 CIDR ranges (nested /16, /24 and
// /28) and 100,000 domains, with a few STIX patterns evaluated on every domain lookup.
func benchStore(b *testing.B) *Store {
	b.Helper()
	s := newStore()
	var ips, ranges, domains strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&ips, "%d.%d.%d.%d\n", 11+i>>16, i>>8&0xff, i&0xff, 7)
		fmt.Fprintf(&domains, "host%d.bad%d.example\n", i, i%1000)
	}
	for j := range 5_000 {
		o1, o2 := 100+j>>8, j&0xff
		fmt.Fprintf(&ranges, "%d.%d.0.0/16\n%d.%d.1.0/24\n%d.%d.1.16/28\n%d.%d.2.0/24\n", o1, o2, o1, o2, o1, o2, o1, o2)
	}
	for _, f := range []struct {
		name string
		doc  string
	}{{"ips", ips.String()}, {"ranges", ranges.String()}, {"domains", domains.String()}} {
		if _, errs := s.LoadReader(context.Background(), Source{Name: f.name, Format: FormatList}, strings.NewReader(f.doc)); len(errs) != 0 {
			b.Fatal(errs[0])
		}
	}
	bundle := `{"type":"bundle","objects":[
	 {"type":"indicator","id":"indicator--1","pattern":"[domain-name:value LIKE '%.dyn-dns.example']","valid_from":"2024-01-01T00:00:00Z"},
	 {"type":"indicator","id":"indicator--2","pattern":"[domain-name:value MATCHES '^[a-z]{20,}\\\\.top$']","valid_from":"2024-01-01T00:00:00Z"}]}`
	if _, errs := s.LoadReader(context.Background(), Source{Name: "stix", Format: FormatSTIX}, strings.NewReader(bundle)); len(errs) != 0 {
		b.Fatal(errs[0])
	}
	return s
}

func BenchmarkLookup(b *testing.B) {
	s := benchStore(b)
	cases := []struct {
		name, value string
		matches     int
	}{
		{"exact-ip-hit", "11.1.2.7", 1},
		{"exact-ip-miss", "11.1.2.8", 0},
		{"cidr-hit-nested", "100.17.1.20", 3},
		{"cidr-miss", "99.1.2.3", 0},
		{"ipv6-miss", "2001:db8::1", 0},
		{"domain-hit", "host4242.bad242.example", 1},
		{"domain-miss-deep", "a.b.c.d.e.f.example", 0},
		{"sha256-miss", "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f", 0},
	}
	for _, c := range cases {
		if got := len(s.Lookup(c.value, now)); got != c.matches {
			b.Fatalf("%s: %d matches, want %d", c.name, got, c.matches)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Lookup(c.value, now)
			}
		})
	}
}

// BenchmarkRangeSet measures the range index alone: 100,000 ranges.
func BenchmarkRangeSet(b *testing.B) {
	m := map[netip.Prefix][]int32{}
	for i := range 100_000 {
		a := netip.AddrFrom4([4]byte{byte(10 + i>>14), byte(i >> 6), byte(i << 2), 0})
		m[netip.PrefixFrom(a, 22+i%8).Masked()] = []int32{int32(i)}
	}
	rs := buildRanges(m)
	a := netip.MustParseAddr("12.100.64.1")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		rs.each(a, func(netip.Prefix, string, []int32) { n++ })
	}
	_ = n
}
