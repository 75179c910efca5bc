package intel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seed corpora from the test tables and fixtures")

// TestFuzzCorpus keeps testdata/fuzz in step with the test tables and fixtures: each is a
// committed seed. Run with -update after changing them.
func TestFuzzCorpus(t *testing.T) {
	var patterns []string
	patterns = append(patterns, specPatterns...)
	for _, tt := range []string{
		`[ipv4-addr:value = '198.51.100.0/24']`, `[domain-name:value LIKE '%.dyn-dns.example']`,
		`[url:value MATCHES '^https?://[^/]+/x\\.php$']`, `[ipv4-addr:value ISSUBSET '100.64.0.0/10' AND ipv4-addr:value != '100.64.0.1']`,
		`[domain-name:value IN ('a.example', 'b.example')]`, `[ipv4-addr:value = '198.51.100.77'] AND [domain-name:value = 'beacon.example']`,
		`[a:b = 1`, `[a:b = 'unterminated]`, `[file:hashes.'SHA-256' = 'f00']`, `[a:b = 1] /* open`,
	} {
		patterns = append(patterns, tt)
	}
	var seeds []string
	for _, p := range patterns {
		seeds = append(seeds, corpusString(p))
	}
	checkCorpus(t, "FuzzPattern", seeds)

	var docs []string
	for _, path := range []string{"testdata/stix_bundle.json", "testdata/misp_event.json"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	docs = append(docs,
		`[{"type":"indicator","id":"indicator--1","pattern":"[ipv4-addr:value = '192.0.2.1']","valid_from":"2024-01-01T00:00:00Z"}]`,
		`{"objects":[{"type":"indicator","id":"indicator--1","pattern":"[domain-name:value LIKE '%.x.example']"},{"type":"relationship","id":"relationship--1","relationship_type":"indicates","source_ref":"indicator--1","target_ref":"malware--1"},{"type":"malware","id":"malware--1","name":"M"}]}`,
		`{"response":{"Attribute":[{"type":"domain|ip","value":"a.example|192.0.2.1","to_ids":"1","Event":{"info":"E"}}]}}`,
		`{"info":"E","Attribute":[{"type":"ip-dst","value":"192.0.2.1","to_ids":true}],"Tag":[{"name":"misp-galaxy:threat-actor=\"X\""}]}`,
		`{"Event":{"Object":[{"name":"file","Attribute":[{"type":"sha1","value":"da39a3ee5e6b4b0d3255bfef95601890afd80709","to_ids":true}]}]}}`,
	)
	seeds = nil
	for _, d := range docs {
		seeds = append(seeds, corpusBytes(d))
	}
	checkCorpus(t, "FuzzSTIXBundle", seeds)

	docs = nil
	for _, path := range []string{"testdata/feodo_ipblocklist.csv", "testdata/threatfox_export.csv", "testdata/misp_export.csv", "testdata/blocklist.txt"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	docs = append(docs, "value,type\n192.0.2.1,ip-dst\nreport.doc|"+strings.Repeat("ab", 16)+",filename|md5\n", "192.0.2.1,say \"hi\n")
	seeds = nil
	for _, d := range docs {
		seeds = append(seeds, corpusBytes(d))
	}
	checkCorpus(t, "FuzzCSVFeed", seeds)
}

func corpusString(s string) string {
	return fmt.Sprintf("go test fuzz v1\nstring(%s)\n", strconv.Quote(s))
}

func corpusBytes(s string) string {
	return fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(s))
}

func checkCorpus(t *testing.T, target string, files []string) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	for _, content := range files {
		path := filepath.Join(dir, fmt.Sprintf("seed-%x", sha256.Sum256([]byte(content)))[:5+16])
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Errorf("seed corpus out of date: %s missing or different (run go test -run TestFuzzCorpus -update)", path)
		}
	}
}

// probeValues are looked up in every fuzzed store: one of each type.
var probeValues = []string{"192.0.2.1", "2001:db8::1", "a.example", "http://a.example/x", "u@a.example",
	strings.Repeat("ab", 16), strings.Repeat("ab", 20), strings.Repeat("ab", 32), "10.0.0.0/8"}

func FuzzPattern(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePattern(s)
		if err != nil {
			var pe *PatternError
			if !errors.As(err, &pe) || !errors.Is(err, ErrPattern) {
				t.Fatalf("error %v (%T) is not a *PatternError", err, err)
			}
			if pe.Offset < 0 || pe.Offset > len(s) || pe.Reason == "" {
				t.Fatalf("error %+v: offset outside the %d-byte pattern or no reason", pe, len(s))
			}
			return
		}
		canon := p.String()
		q, err := ParsePattern(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if q.String() != canon {
			t.Fatalf("canonical form not stable:\n%q\n%q", canon, q.String())
		}
		if !reflect.DeepEqual(p.Comparisons(), q.Comparisons()) || !reflect.DeepEqual(p.Qualifiers(), q.Qualifiers()) {
			t.Fatalf("canonical form %q changed the comparisons or qualifiers", canon)
		}
		for _, v := range probeValues {
			f1, p1 := p.Match(v)
			f2, p2 := q.Match(v)
			if f1 && p1 || f1 != f2 || p1 != p2 {
				t.Fatalf("Match(%q): %v/%v, canonical form %v/%v", v, f1, p1, f2, p2)
			}
		}
		// Every value the pattern is indexed by matches it (fully or partly).
		terms, _ := p.termsOf()
		for _, v := range terms {
			if v.isRange() {
				continue
			}
			if full, partial := p.Match(v.text); !full && !partial {
				if r, _ := evalObs(p.root, &v); r != triFalse {
					t.Fatalf("term %s %q of %q neither matches nor fails", v.typ, v.text, canon)
				}
			}
		}
	})
}

func FuzzSTIXBundle(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s := New(Options{Now: func() time.Time { return now }})
		for _, format := range []Format{FormatSTIX, FormatMISP} {
			_, errs := s.LoadReader(context.Background(), Source{Name: string(format), Format: format, TTL: time.Hour}, bytes.NewReader(data))
			checkLoadErrors(t, errs, string(format))
		}
		checkStore(t, s)
	})
}

func FuzzCSVFeed(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s := New(Options{Now: func() time.Time { return now }})
		for _, src := range []Source{
			{Name: "csv", Format: FormatCSV},
			{Name: "mapped", Format: FormatCSV, CSV: CSVOptions{Value: "2", Type: "3", LastSeen: "1", Confidence: "4"}},
			{Name: "misp-csv", Format: FormatMISPCSV},
			{Name: "list", Format: FormatList, Subdomains: true},
		} {
			_, errs := s.LoadReader(context.Background(), src, bytes.NewReader(data))
			checkLoadErrors(t, errs, src.Name)
		}
		checkStore(t, s)
	})
}

func checkLoadErrors(t *testing.T, errs []error, file string) {
	t.Helper()
	for _, err := range errs {
		var ee *EntryError
		if !errors.As(err, &ee) {
			if errors.Is(err, ErrSource) {
				continue // a CSV mapping that this input's header does not have
			}
			t.Fatalf("error %v (%T) is not an *EntryError", err, err)
		}
		if ee.File != file {
			t.Fatalf("error %q names %q, want %q", err, ee.File, file)
		}
	}
}

// checkStore checks what a fuzzed feed left in the store: every indicator can be looked up by
// its own value, and the store survives a snapshot round trip.
func checkStore(t *testing.T, s *Store) {
	t.Helper()
	for _, v := range probeValues {
		s.Lookup(v, now)
	}
	for _, st := range s.Stats() {
		for _, ind := range s.Indicators(st.Source) {
			if ind.Type == TypePattern || !ind.Active(now) {
				continue
			}
			v, err := detectValue(ind.Value)
			if err != nil || v.typ != ind.Type {
				continue // a typed feed's value whose shape says otherwise ("localhost" as a domain)
			}
			found := false
			for _, m := range s.Lookup(ind.Value, now) {
				found = found || m.Value == ind.Value && m.Type == ind.Type
			}
			if !found {
				t.Fatalf("indicator %s %q of %s is not found by its own value", ind.Type, ind.Value, st.Source)
			}
		}
	}
	var buf bytes.Buffer
	if err := s.Save(&buf); err != nil {
		t.Fatal(err)
	}
	r := New(Options{Now: func() time.Time { return now }})
	if err := r.LoadSnapshot(&buf); err != nil {
		t.Fatalf("snapshot of a loaded store does not load: %v", err)
	}
	if !reflect.DeepEqual(s.Stats(), r.Stats()) {
		t.Fatalf("snapshot round trip changed the stats:\n%+v\n%+v", s.Stats(), r.Stats())
	}
}
