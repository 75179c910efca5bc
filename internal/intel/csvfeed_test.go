package intel

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var feodoSource = Source{
	Name:       "feodo",
	Path:       "testdata/feodo_ipblocklist.csv",
	TTL:        30 * 24 * time.Hour,
	Confidence: 90,
	CSV:        CSVOptions{Value: "dst_ip", FirstSeen: "first_seen_utc", LastSeen: "last_online", Malware: "malware"},
}

func TestCSVFeedHeaderInComment(t *testing.T) {
	s := newStore()
	st := load(t, s, feodoSource, 2)
	if st.Format != FormatCSV || st.Indicators != 4 || st.Entries != 6 {
		t.Errorf("stats %+v, want csv, 4 indicators of 6 entries", st)
	}
	_, errs := s.Load(context.Background(), feodoSource)
	if err := errorFor(errs, "line 14"); err == nil || !strings.Contains(err.Error(), "198.51.100.300") {
		t.Errorf("line 14: %v", errs)
	}
	if err := errorFor(errs, "line 15"); err == nil || !strings.Contains(err.Error(), "last seen") {
		t.Errorf("line 15: %v", errs)
	}
	m := only(t, s, "203.0.113.7", now)
	if !slices.Equal(m.Malware, []string{"Dridex"}) || m.Confidence != 90 || m.Sightings[0].ID != "line 10" {
		t.Errorf("match %+v", m)
	}
	if want := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC); !m.ValidUntil.Equal(want) {
		t.Errorf("valid until %v, want last_online + 30 days = %v", m.ValidUntil, want)
	}
	if want := time.Date(2024, 4, 2, 10, 21, 3, 0, time.UTC); !m.ValidFrom.Equal(want) {
		t.Errorf("valid from %v, want first_seen %v", m.ValidFrom, want)
	}
	// Offline since March: expired by its TTL.
	none(t, s, "198.51.100.161", now)
	only(t, s, "198.51.100.161", time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC))
}

func TestCSVFeedColumnNumbers(t *testing.T) {
	s := newStore()
	src := Source{Name: "feodo", Path: "testdata/feodo_ipblocklist.csv", CSV: CSVOptions{Value: "2", Malware: "6", LastSeen: "5"}}
	st := load(t, s, src, 2)
	if st.Indicators != 4 {
		t.Errorf("indicators %d, want 4", st.Indicators)
	}
	if m := only(t, s, "198.51.100.160", now); !slices.Equal(m.Malware, []string{"QakBot"}) {
		t.Errorf("malware %q", m.Malware)
	}
}

func TestCSVFeedTypeColumn(t *testing.T) {
	s := newStore()
	src := threatfoxSource
	st := load(t, s, src, 2)
	if st.Indicators != 4 {
		t.Errorf("indicators %d, want 4", st.Indicators)
	}
	_, errs := s.Load(context.Background(), src)
	if err := errorFor(errs, "line 12"); err == nil || !strings.Contains(err.Error(), "not an sha256 hash") {
		t.Errorf("line 12: %v", errs)
	}
	if err := errorFor(errs, "line 13"); err == nil || !strings.Contains(err.Error(), "confidence") {
		t.Errorf("line 13: %v", errs)
	}
	m := only(t, s, "198.51.100.80", now) // "ip:port" value
	if m.Confidence != 100 || !slices.Equal(m.Malware, []string{"Cobalt Strike"}) || !slices.Equal(m.Sightings[0].Labels, []string{"c2", "CobaltStrike"}) {
		t.Errorf("match %+v", m)
	}
	if m := only(t, s, "update-check.example", now); m.Confidence != 75 || m.Sightings[0].LastSeen.IsZero() {
		t.Errorf("domain match %+v", m)
	}
	only(t, s, "A6105C0A611B41B08F1209506350279E", now)
	if ms := s.Lookup("https://cdn-files.example/load/stage.bin", now); len(ms) != 1 || ms[0].Type != TypeURL {
		t.Errorf("url: %s", describe(ms))
	}
}

func TestCSVShapes(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		csv  CSVOptions
		typ  Type
		want []string // values that match
		errs int
	}{
		{"header row with a usual name", "ip,comment\n192.0.2.1,c2\n192.0.2.2,c2\n", CSVOptions{}, "", []string{"192.0.2.1", "192.0.2.2"}, 0},
		{"no header", "192.0.2.1,c2\n192.0.2.2,c2\n", CSVOptions{}, "", []string{"192.0.2.1", "192.0.2.2"}, 0},
		{"undeclared header", "address,comment\n192.0.2.1,c2\n", CSVOptions{Value: "1"}, "", []string{"192.0.2.1"}, 0},
		{"declared header", "address;comment\n192.0.2.1;c2\n", CSVOptions{Header: true, Value: "address", Comma: ';'}, "", []string{"192.0.2.1"}, 0},
		{"forced type", "evil.example\n192.0.2.1\n", CSVOptions{}, TypeDomain, []string{"evil.example"}, 1},
		{"type column with unsupported types", "value,type\n192.0.2.1,ip-dst\ninvoice.exe,filename\nx,bogus\n", CSVOptions{}, "", []string{"192.0.2.1"}, 1},
		{"composite type", "value,type\nreport.doc|" + strings.Repeat("ab", 16) + ",filename|md5\n", CSVOptions{}, "", []string{strings.Repeat("ab", 16)}, 0},
		{"comments and blanks", "# c\n\n192.0.2.1\n# mid\n192.0.2.2\n", CSVOptions{}, "", []string{"192.0.2.1", "192.0.2.2"}, 0},
		{"other comment prefix", "// c\n192.0.2.1\n// mid\n", CSVOptions{Comment: "//"}, "", []string{"192.0.2.1"}, 0},
		{"ragged rows", "192.0.2.1,a,b\n192.0.2.2\n", CSVOptions{}, "", []string{"192.0.2.1", "192.0.2.2"}, 0},
		{"bare quote", "192.0.2.1,say \"hi\n192.0.2.2,x\n", CSVOptions{}, "", []string{"192.0.2.1", "192.0.2.2"}, 0},
		{"missing named column", "a,b\n192.0.2.1,x\n", CSVOptions{Value: "dst_ip"}, "", nil, 1},
		{"column zero", "192.0.2.1\n", CSVOptions{Value: "0"}, "", nil, 1},
		{"empty", "", CSVOptions{}, "", nil, 0},
		{"only comments", "# nothing\n", CSVOptions{}, "", nil, 0},
		{"BOM", "\ufeffvalue\n192.0.2.1\n", CSVOptions{}, "", []string{"192.0.2.1"}, 0},
		{"CRLF", "value\r\n192.0.2.1\r\n", CSVOptions{}, "", []string{"192.0.2.1"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore()
			_, errs := s.LoadReader(context.Background(), Source{Name: "c", Format: FormatCSV, Type: tt.typ, CSV: tt.csv}, strings.NewReader(tt.doc))
			if len(errs) != tt.errs {
				t.Errorf("%d errors, want %d: %v", len(errs), tt.errs, errs)
			}
			for _, v := range tt.want {
				if len(s.Lookup(v, now)) != 1 {
					t.Errorf("%s does not match", v)
				}
			}
			if got := len(s.Indicators("c")); got != len(tt.want) {
				t.Errorf("%d indicators, want %d", got, len(tt.want))
			}
		})
	}
}

var threatfoxSource = Source{Name: "threatfox", Path: "testdata/threatfox_export.csv", CSV: CSVOptions{
	FirstSeen: "first_seen_utc", LastSeen: "last_seen_utc", Confidence: "confidence_level",
	Malware: "malware_printable", Tags: "tags",
}}

var listSource = Source{Name: "blocklist", Path: "testdata/blocklist.txt"}

func TestList(t *testing.T) {
	s := newStore()
	st := load(t, s, listSource, 1)
	if st.Format != FormatList || st.Indicators != 10 || st.Entries != 11 {
		t.Errorf("stats %+v, want list, 10 indicators, 11 entries", st)
	}
	_, errs := s.Load(context.Background(), listSource)
	if err := errorFor(errs, "line 14"); err == nil || !errors.Is(err, ErrUnknownType) {
		t.Errorf("line 14: %v", errs)
	}
	tests := []struct{ value, matchValue, desc string }{
		{"192.0.2.17", "192.0.2.0/26", "SBL000001"},
		{"198.51.100.200", "198.51.100.128/25", "SBL000002 hijacked netblock"},
		{"203.0.113.9", "203.0.113.9", ""},
		{"2001:db8:bad:1::1", "2001:db8:bad::/48", ""},
		{"malware-host.example", "malware-host.example", ""},
		{"phish-kit.example", "phish-kit.example", ""},
		{"login.secure.phish-kit.example", "phish-kit.example", ""},
		{"bad-domain.example", "bad-domain.example", "defanged in the source"},
		{"https://exfil.example/upload", "https://exfil.example/upload", ""},
		{"5d41402abc4b2a76b9719d911017c592", "5d41402abc4b2a76b9719d911017c592", ""},
		{"evil.example", "evil.example", ""},
	}
	for _, tt := range tests {
		m := s.Lookup(tt.value, now)
		if len(m) == 0 || m[0].Value != tt.matchValue || m[0].Description != tt.desc {
			t.Errorf("Lookup(%q) = %s, want %s %q", tt.value, describe(m), tt.matchValue, tt.desc)
		}
	}
	if m := only(t, s, "login.secure.phish-kit.example", now); m.How != HowSubdomain {
		t.Errorf("subdomain match how %s", m.How)
	}
	none(t, s, "phish-kit.example.evil", now)
	none(t, s, "notphish-kit.example", now)
	none(t, s, "www.malware-host.example", now) // no subdomains asked for
}

func TestListGzip(t *testing.T) {
	raw, err := os.ReadFile(listSource.Path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	path := filepath.Join(t.TempDir(), "blocklist.txt.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStore()
	st := load(t, s, Source{Name: "gz", Path: path}, 1)
	if st.Format != FormatList || st.Indicators != 10 {
		t.Errorf("stats %+v", st)
	}
	// A broken gzip stream is an error and the store keeps nothing of it.
	bad := append([]byte{0x1f, 0x8b}, []byte("not gzip at all")...)
	_, errs := s.LoadReader(context.Background(), Source{Name: "badgz"}, bytes.NewReader(bad))
	if len(errs) != 1 || !errors.Is(errs[0], ErrMalformed) {
		t.Errorf("broken gzip: %v", errs)
	}
}

func TestListSubdomainsOption(t *testing.T) {
	s := newStore()
	_, errs := s.LoadReader(context.Background(), Source{Name: "doms", Format: FormatList, Subdomains: true}, strings.NewReader("evil.example\n192.0.2.1\n"))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if m := only(t, s, "a.b.evil.example", now); m.How != HowSubdomain || m.Value != "evil.example" {
		t.Errorf("match %s %s", m.How, m.Value)
	}
	if m := only(t, s, "evil.example", now); m.How != HowExact {
		t.Errorf("the domain itself: %s", m.How)
	}
}

func TestListLongLine(t *testing.T) {
	doc := "192.0.2.1\n" + strings.Repeat("a", maxLine+10) + "\n192.0.2.2\n"
	s := newStore()
	_, errs := s.LoadReader(context.Background(), Source{Name: "l", Format: FormatList}, strings.NewReader(doc))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "line 2") {
		t.Errorf("errors %v, want one for line 2", errs)
	}
	only(t, s, "192.0.2.1", now)
	only(t, s, "192.0.2.2", now)
}
