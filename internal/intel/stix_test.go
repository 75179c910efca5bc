package intel

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var stixSource = Source{Name: "acme-stix", Path: "testdata/stix_bundle.json"}

func loadSTIX(t *testing.T) (*Store, Stats) {
	t.Helper()
	s := newStore()
	st := load(t, s, stixSource, 7)
	return s, st
}

func TestSTIXLoadStats(t *testing.T) {
	_, st := loadSTIX(t)
	if st.Format != FormatSTIX {
		t.Errorf("format %q, want stix (told from the content)", st.Format)
	}
	if st.Entries != 45 {
		t.Errorf("entries %d, want 45 objects", st.Entries)
	}
	if st.Skipped != 2 {
		t.Errorf("skipped %d, want 2 (a snort pattern, a process-only pattern)", st.Skipped)
	}
	if st.Errors != 7 {
		t.Errorf("errors %d, want 7", st.Errors)
	}
	if st.Revoked != 1 || st.Expired != 1 {
		t.Errorf("revoked %d expired %d, want 1 and 1", st.Revoked, st.Expired)
	}
	want := map[Type]int{TypeIPv4: 7, TypeIPv6: 1, TypeDomain: 7, TypeURL: 1, TypeEmail: 2, TypeMD5: 1, TypeSHA1: 1, TypeSHA256: 1, TypePattern: 5}
	for typ, n := range want {
		if st.ByType[typ] != n {
			t.Errorf("%s: %d indicators, want %d (all: %v)", typ, st.ByType[typ], n, st.ByType)
		}
	}
}

func TestSTIXMalformedEntries(t *testing.T) {
	s := newStore()
	_, errs := s.Load(context.Background(), stixSource)
	tests := []struct {
		entry  string
		target error
		says   string
	}{
		{"indicator--bad00001", ErrPattern, "expected ']'"},
		{"indicator--bad00002", ErrMalformed, "confidence 150"},
		{"indicator--bad00003", ErrPattern, "not a valid ipv4-addr"},
		{"indicator--bad00004", ErrMalformed, "confidence"},
		{"indicator--bad00005", ErrMalformed, "without a pattern"},
		{"indicator--bad00006", ErrPattern, "regular expression"},
		{"indicator--bad00007", ErrMalformed, "valid_from"},
	}
	for _, tt := range tests {
		err := errorFor(errs, tt.entry)
		if err == nil {
			t.Errorf("no error for %s", tt.entry)
			continue
		}
		if !errors.Is(err, tt.target) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: error %q, want %v saying %q", tt.entry, err, tt.target, tt.says)
		}
		if !strings.HasPrefix(err.Error(), "testdata/stix_bundle.json: objects[") {
			t.Errorf("%s: error %q does not name the file and the object", tt.entry, err)
		}
	}
	// The rest of the bundle loaded.
	only(t, s, "198.51.100.3", now)
}

func TestSTIXIndicatorFields(t *testing.T) {
	s, _ := loadSTIX(t)
	m := only(t, s, "198.51.100.3", now)
	if m.Type != TypeIPv4 || m.Value != "198.51.100.3" || m.How != HowExact {
		t.Errorf("match %s %s %s", m.Type, m.Value, m.How)
	}
	if m.Name != "Poison Ivy C2" || m.Description != "Command and control server of Poison Ivy." || m.Confidence != 85 {
		t.Errorf("name %q description %q confidence %d", m.Name, m.Description, m.Confidence)
	}
	if !slices.Equal(m.Malware, []string{"Poison Ivy"}) || !slices.Equal(m.Actors, []string{"Adversary Bravo"}) {
		t.Errorf("malware %q actors %q, want Poison Ivy by Adversary Bravo", m.Malware, m.Actors)
	}
	sg := m.Sightings[0]
	if sg.Source != "acme-stix" || sg.ID != "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f" {
		t.Errorf("sighting %s %s", sg.Source, sg.ID)
	}
	if sg.CreatedBy != "ACME Threat Research" {
		t.Errorf("created by %q, want the identity's name", sg.CreatedBy)
	}
	if sg.Pattern != "[ipv4-addr:value = '198.51.100.3']" {
		t.Errorf("pattern %q", sg.Pattern)
	}
	if !slices.Equal(sg.Labels, []string{"c2", "malicious-activity"}) {
		t.Errorf("labels %q", sg.Labels)
	}
	if len(sg.KillChain) != 1 || sg.KillChain[0].Phase != "command-and-control" {
		t.Errorf("kill chain %v", sg.KillChain)
	}
	if len(sg.References) != 1 || sg.References[0].ExternalID != "ACME-2024-001" {
		t.Errorf("references %v", sg.References)
	}
	if !m.ValidFrom.Equal(time.Date(2024, 1, 10, 16, 10, 45, 0, time.UTC)) || !m.ValidUntil.IsZero() {
		t.Errorf("window %v – %v", m.ValidFrom, m.ValidUntil)
	}
	wantRel := []Related{
		{ID: "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b", Type: "malware", Name: "Poison Ivy", Via: "indicates"},
		{ID: "threat-actor--9a8a0d25-7636-429b-a99e-b2a73cd0f11f", Type: "threat-actor", Name: "Adversary Bravo", Via: "indicates/used-by"},
	}
	if !slices.Equal(sg.Related, wantRel) {
		t.Errorf("related %+v, want %+v", sg.Related, wantRel)
	}
}

func TestSTIXAttributionChain(t *testing.T) {
	s, _ := loadSTIX(t)
	ms := s.Lookup("203.0.113.70", now)
	if len(ms) != 2 {
		t.Fatalf("203.0.113.70: %s, want the /26 and the /24", describe(ms))
	}
	if ms[0].Value != "203.0.113.64/26" || ms[1].Value != "203.0.113.0/24" || ms[0].How != HowRange {
		t.Errorf("ranges %s, want narrowest first", describe(ms))
	}
	// The /26's "indicates" relationship is revoked.
	if len(ms[0].Malware) != 0 || len(ms[0].Actors) != 0 {
		t.Errorf("/26 malware %q actors %q, want none (revoked relationship)", ms[0].Malware, ms[0].Actors)
	}
	// indicator → indicates campaign → attributed-to intrusion set → attributed-to actor.
	if !slices.Equal(ms[1].Actors, []string{"Bobcat Breakin", "Adversary Bravo"}) {
		t.Errorf("/24 actors %q", ms[1].Actors)
	}
	vias := []string{}
	for _, r := range ms[1].Sightings[0].Related {
		vias = append(vias, r.Type+":"+r.Via)
	}
	want := []string{"campaign:indicates", "intrusion-set:indicates/attributed-to", "threat-actor:indicates/attributed-to/attributed-to"}
	if !slices.Equal(vias, want) {
		t.Errorf("related %q, want %q", vias, want)
	}
}

func TestSTIXPatternForms(t *testing.T) {
	s, _ := loadSTIX(t)
	tests := []struct {
		value, matchValue string
		typ               Type
		how               How
		name              string
		partial           bool
	}{
		{"192.0.2.200", "192.0.2.128/25", TypeIPv4, HowRange, "Scanner range", false},
		{"2001:db8:dead:beef::1", "2001:db8:dead:beef::1", TypeIPv6, HowExact, "IPv6 C2", false},
		{"EVIL-UPDATE.example", "evil-update.example", TypeDomain, HowExact, "Fake update domain", false},
		{"http://malicious.example.com/Payload-Stage2?id=7", "http://malicious.example.com/Payload-Stage2?id=7", TypeURL, HowExact, "Second-stage download", false},
		{"HTTP://MALICIOUS.EXAMPLE.COM:80/Payload%2DStage2?id=7", "http://malicious.example.com/Payload-Stage2?id=7", TypeURL, HowExact, "Second-stage download", false},
		{"aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f", "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f", TypeSHA256, HowExact, "Poison Ivy dropper", false},
		{"cead3f77f6cda6ec00f57d76c9a6879f", "cead3f77f6cda6ec00f57d76c9a6879f", TypeMD5, HowExact, "Poison Ivy dropper", false},
		{"2FD4E1C67A2D28FCED849EE1BB76E7391B93EB12", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", TypeSHA1, HowExact, "Loader SHA-1", false},
		{"billing@invoices-phish.example", "billing@invoices-phish.example", TypeEmail, HowExact, "Phishing sender", false},
		{"ceo@lookalike-corp.example", "ceo@lookalike-corp.example", TypeEmail, HowExact, "Phishing sender", false},
		{"c2-beta.example", "c2-beta.example", TypeDomain, HowExact, "C2 pool", false},
		{"c2-alpha.example", "c2-alpha.example", TypeDomain, HowExact, "C2 pool", false},
		{"host7.dyn-dns.example", "[domain-name:value LIKE '%.dyn-dns.example']", TypeDomain, HowPattern, "Dynamic DNS abuse", false},
		{"https://blog.example/wp-content/uploads/ab12cd34.php", `[url:value MATCHES '^https?://[^/]+/wp-content/uploads/[a-z0-9]{8}\\.php$']`, TypeURL, HowPattern, "Webshell in WordPress uploads", false},
		{"beacon.example", "beacon.example", TypeDomain, HowExact, "Beacon pair", true},
		{"slow-exfil.example", "slow-exfil.example", TypeDomain, HowExact, "Slow exfiltration", false},
		{"100.64.5.5", "100.64.0.0/10", TypeIPv4, HowRange, "Carrier-grade NAT abuse except gateway", false},
		{"mixed-infra.example", "mixed-infra.example", TypeDomain, HowExact, "Mixed infrastructure", false},
		{"198.51.100.42", "198.51.100.42", TypeIPv4, HowExact, "Rotating C2 (current version)", false},
	}
	for _, tt := range tests {
		m := only(t, s, tt.value, now)
		if m.Type != tt.typ || m.Value != tt.matchValue || m.How != tt.how || m.Name != tt.name || m.Partial != tt.partial {
			t.Errorf("Lookup(%q) = %s %q %s %q partial=%v, want %s %q %s %q partial=%v", tt.value,
				m.Type, m.Value, m.How, m.Name, m.Partial, tt.typ, tt.matchValue, tt.how, tt.name, tt.partial)
		}
	}
	// Both ends of an observation AND are partial matches.
	m := only(t, s, "198.51.100.77", now)
	if !m.Partial || !m.Sightings[0].Partial || m.Sightings[0].Type != TypePattern {
		t.Errorf("198.51.100.77: partial=%v sighting %+v", m.Partial, m.Sightings[0])
	}
	// A network-traffic pattern with a type test: the address also lies in the /24.
	ms := s.Lookup("203.0.113.33", now)
	if len(ms) != 2 || ms[0].How != HowExact || ms[0].Name != "C2 over IPv4" || ms[0].Partial || ms[1].Value != "203.0.113.0/24" {
		t.Errorf("203.0.113.33: %s", describe(ms))
	}
	// The qualifier is noted.
	if sg := only(t, s, "slow-exfil.example", now).Sightings[0]; !slices.Equal(sg.Notes, []string{"qualifier WITHIN 600 SECONDS not evaluated"}) {
		t.Errorf("notes %q", sg.Notes)
	}
	// Patterns that do not hold.
	none(t, s, "100.64.0.1", now)
	none(t, s, "dyn-dns.example", now)
	none(t, s, "https://blog.example/wp-content/uploads/ab12cd34.phpx", now)
	none(t, s, "198.51.100.41", now) // superseded version
	none(t, s, "mimikatz.exe", now)
}

func TestSTIXValidity(t *testing.T) {
	s, _ := loadSTIX(t)
	// Revoked: never.
	none(t, s, "198.51.100.99", now)
	none(t, s, "198.51.100.99", time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC))
	// Expired on 1 March 2024.
	none(t, s, "old-campaign.example", now)
	only(t, s, "old-campaign.example", time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC))
	none(t, s, "old-campaign.example", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC))
	// Valid from July.
	none(t, s, "future-campaign.example", now)
	only(t, s, "future-campaign.example", time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))
	// Before its valid_from an indicator does not match either.
	none(t, s, "198.51.100.3", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
}

func TestSTIXTTL(t *testing.T) {
	s := newStore()
	src := stixSource
	src.TTL = 90 * 24 * time.Hour
	load(t, s, src, 7)
	// valid_from 2024-01-10 + 90 days = 2024-04-09: expired by June.
	none(t, s, "198.51.100.3", now)
	only(t, s, "198.51.100.3", time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC))
	// "modified" counts as last seen: re-issued on 2024-05-01, valid until 2024-07-30.
	m := only(t, s, "198.51.100.42", now)
	if want := time.Date(2024, 7, 30, 0, 0, 0, 0, time.UTC); !m.ValidUntil.Equal(want) {
		t.Errorf("valid until %v, want %v", m.ValidUntil, want)
	}
	// A feed's own valid_until wins over the TTL.
	only(t, s, "old-campaign.example", time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC))
	none(t, s, "old-campaign.example", time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC))
}

func TestSTIXShapes(t *testing.T) {
	tests := []struct {
		name, doc string
		matches   bool
		errs      int
	}{
		{"bare array", `[{"type":"indicator","id":"indicator--1","pattern":"[ipv4-addr:value = '192.0.2.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}]`, true, 0},
		{"TAXII envelope", `{"more":false,"objects":[{"type":"indicator","id":"indicator--1","pattern":"[ipv4-addr:value = '192.0.2.1']","valid_from":"2024-01-01T00:00:00Z"}]}`, true, 0},
		{"STIX 2.0", `{"type":"bundle","id":"bundle--1","spec_version":"2.0","objects":[{"type":"indicator","id":"indicator--1","labels":["malicious-activity"],"pattern":"[ipv4-addr:value = '192.0.2.1']","valid_from":"2024-01-01T00:00:00Z"}]}`, true, 0},
		{"truncated after one object", `{"type":"bundle","objects":[{"type":"indicator","id":"indicator--1","pattern":"[ipv4-addr:value = '192.0.2.1']","valid_from":"2024-01-01T00:00:00Z"},{"type":"indi`, true, 1},
		{"not a bundle", `{"type":"report"}`, false, 1},
		{"scalar", `"bundle"`, false, 1},
		{"objects not an array", `{"objects":{"a":1}}`, false, 1},
		{"object without id", `{"objects":[{"type":"indicator","pattern":"[ipv4-addr:value = '192.0.2.1']"}]}`, false, 1},
		{"object not an object", `{"objects":[42, "x", null]}`, false, 3},
		{"bad modified", `{"objects":[{"type":"indicator","id":"indicator--1","modified":"today","pattern":"[ipv4-addr:value = '192.0.2.1']"}]}`, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore()
			_, errs := s.LoadReader(context.Background(), Source{Name: "x", Format: FormatSTIX}, strings.NewReader(tt.doc))
			if len(errs) != tt.errs {
				t.Errorf("%d errors, want %d: %v", len(errs), tt.errs, errs)
			}
			if got := len(s.Lookup("192.0.2.1", now)) > 0; got != tt.matches {
				t.Errorf("match %v, want %v", got, tt.matches)
			}
		})
	}
}
