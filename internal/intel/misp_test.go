package intel

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var mispSource = Source{Name: "circl-misp", Path: "testdata/misp_event.json"}

func TestMISPEvent(t *testing.T) {
	s := newStore()
	st := load(t, s, mispSource, 3)
	if st.Format != FormatMISP || st.Entries != 18 || st.Skipped != 4 || st.Indicators != 12 {
		t.Errorf("stats %+v, want misp, 18 entries, 4 skipped, 12 indicators", st)
	}
	tests := []struct {
		value, matchValue string
		typ               Type
		how               How
		id                string
	}{
		{"203.0.113.7", "203.0.113.7", TypeIPv4, HowExact, "6a1f0c2e-1111-4b7a-9c3e-0a0000000001"},
		{"dridex-update.example", "dridex-update.example", TypeDomain, HowExact, "6a1f0c2e-1111-4b7a-9c3e-0a0000000002"},
		{"http://dridex-update.example/gate.php", "http://dridex-update.example/gate.php", TypeURL, HowExact, "6a1f0c2e-1111-4b7a-9c3e-0a0000000003"},
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", TypeSHA256, HowExact, "6a1f0c2e-1111-4b7a-9c3e-0a0000000004"},
		{"198.51.100.23", "198.51.100.23", TypeIPv4, HowExact, "6a1f0c2e-1111-4b7a-9c3e-0a0000000005"},
		{"c2.dridex-update.example", "c2.dridex-update.example", TypeDomain, HowExact, "6a1f0c2e-1111-4b7a-9c3e-0a0000000006"},
		{"198.51.100.24", "198.51.100.24", TypeIPv4, HowExact, "6a1f0c2e-1111-4b7a-9c3e-0a0000000006"},
		{"invoice@billing-notice.example", "invoice@billing-notice.example", TypeEmail, HowExact, "6a1f0c2e-1111-4b7a-9c3e-0a0000000007"},
		{"198.51.100.9", "198.51.100.0/28", TypeIPv4, HowRange, "6a1f0c2e-1111-4b7a-9c3e-0a0000000013"},
		{"da39a3ee5e6b4b0d3255bfef95601890afd80709", "da39a3ee5e6b4b0d3255bfef95601890afd80709", TypeSHA1, HowExact, "6a1f0c2e-1111-4b7a-9c3e-0a0000000102"},
		{"panel.dridex-update.example", "panel.dridex-update.example", TypeDomain, HowExact, "6a1f0c2e-1111-4b7a-9c3e-0a0000000201"},
		{"198.51.100.25", "198.51.100.25", TypeIPv4, HowExact, "6a1f0c2e-1111-4b7a-9c3e-0a0000000202"},
	}
	for _, tt := range tests {
		ms := s.Lookup(tt.value, now)
		if len(ms) == 0 {
			t.Errorf("Lookup(%q): no match", tt.value)
			continue
		}
		m := ms[0]
		if m.Type != tt.typ || m.Value != tt.matchValue || m.How != tt.how || m.Sightings[0].ID != tt.id {
			t.Errorf("Lookup(%q) = %s %q %s %s", tt.value, m.Type, m.Value, m.How, m.Sightings[0].ID)
		}
		// Event context, which MISP writes after the attributes.
		if m.Name != "Dridex botnet C2 infrastructure, May 2024" || m.Sightings[0].ThreatLevel != "high" || m.Sightings[0].CreatedBy != "CIRCL" {
			t.Errorf("%s: name %q threat level %q creator %q", tt.value, m.Name, m.Sightings[0].ThreatLevel, m.Sightings[0].CreatedBy)
		}
		if !slices.Equal(m.Malware, []string{"Dridex"}) || !slices.Equal(m.Actors, []string{"TA505"}) {
			t.Errorf("%s: malware %q actors %q", tt.value, m.Malware, m.Actors)
		}
	}
	sg := only(t, s, "203.0.113.7", now).Sightings[0]
	if !slices.Equal(sg.Labels, []string{"tlp:white", "type:OSINT", "kill-chain:Command and Control"}) || sg.Description != "Dridex C2 (port 443)" {
		t.Errorf("labels %q description %q", sg.Labels, sg.Description)
	}
	if want := time.Unix(1716190000, 0).UTC(); !sg.LastSeen.Equal(want) {
		t.Errorf("last seen %v, want the attribute timestamp %v", sg.LastSeen, want)
	}
	sg = only(t, s, "198.51.100.25", now).Sightings[0]
	if !sg.ValidFrom.Equal(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)) || !sg.LastSeen.Equal(time.Date(2024, 5, 19, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("first/last seen %v %v", sg.ValidFrom, sg.LastSeen)
	}
	// Not for IDS, deleted, not an indicator type.
	none(t, s, "192.0.2.99", now)
	none(t, s, "192.0.2.100", now)
	none(t, s, "192.0.2.101", now)
	none(t, s, "invoice_8841.xlsm", now)
}

func TestMISPEventErrors(t *testing.T) {
	s := newStore()
	_, errs := s.Load(context.Background(), mispSource)
	for _, tt := range []struct{ entry, says string }{
		{"Event Attribute[10] (6a1f0c2e-1111-4b7a-9c3e-0a0000000011)", "not an address"},
		{"Event Attribute[11] (6a1f0c2e-1111-4b7a-9c3e-0a0000000012)", "expected a boolean"},
		{"Event Object[0] (file) Attribute[2] (6a1f0c2e-1111-4b7a-9c3e-0a0000000103)", "not an md5 hash"},
	} {
		err := errorFor(errs, tt.entry)
		if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: error %v, want one saying %q (all: %v)", tt.entry, err, tt.says, errs)
		}
	}
}

func TestMISPOptions(t *testing.T) {
	s := newStore()
	src := mispSource
	src.IncludeNonIDS = true
	src.TTL = 30 * 24 * time.Hour
	src.Confidence = 70
	st := load(t, s, src, 3)
	if st.Indicators != 13 || st.Skipped != 3 {
		t.Errorf("indicators %d skipped %d, want 13 and 3", st.Indicators, st.Skipped)
	}
	m := only(t, s, "192.0.2.99", now)
	if m.Confidence != 70 {
		t.Errorf("confidence %d, want the source's 70", m.Confidence)
	}
	// TTL from last_seen 2024-05-19: valid until 2024-06-18.
	only(t, s, "198.51.100.25", time.Date(2024, 6, 17, 0, 0, 0, 0, time.UTC))
	none(t, s, "198.51.100.25", time.Date(2024, 6, 18, 0, 0, 0, 0, time.UTC))
	// TTL from the attribute timestamp 2024-05-20T07:26:40Z.
	only(t, s, "203.0.113.7", time.Date(2024, 6, 19, 7, 0, 0, 0, time.UTC))
	none(t, s, "203.0.113.7", time.Date(2024, 6, 19, 8, 0, 0, 0, time.UTC))
}

func TestMISPShapes(t *testing.T) {
	attr := `{"type":"ip-dst","value":"192.0.2.1","to_ids":true,"uuid":"u1"}`
	tests := []struct {
		name, doc string
		info      string
		errs      int
	}{
		{"event", `{"Event":{"info":"E","Attribute":[` + attr + `]}}`, "E", 0},
		{"bare event", `{"info":"E","threat_level_id":2,"Attribute":[` + attr + `]}`, "E", 0},
		{"array of events", `[{"Event":{"info":"A"}},{"Event":{"info":"E","Attribute":[` + attr + `]}}]`, "E", 0},
		{"events restSearch", `{"response":[{"Event":{"info":"E","Attribute":[` + attr + `]}}]}`, "E", 0},
		{"attributes restSearch", `{"response":{"Attribute":[{"type":"ip-dst","value":"192.0.2.1","to_ids":"1","Event":{"info":"E","threat_level_id":"3"}}]}}`, "E", 0},
		{"numbers as numbers", `{"Event":{"info":"E","timestamp":1716200000,"Attribute":[{"type":"ip-dst","value":"192.0.2.1","to_ids":1,"timestamp":1716190000}]}}`, "E", 0},
		{"broken tags still load the attributes", `{"Event":{"info":"E","Tag":"oops","Attribute":[` + attr + `]}}`, "E", 1},
		{"truncated", `{"Event":{"info":"E","Attribute":[` + attr + `,{"type":"ip-d`, "E", 1},
		{"null attributes", `{"Event":{"info":"E","Attribute":null}}`, "", 0},
		{"garbage object", `{"Event":{"info":"E","Object":[{"name":"file","Attribute":"x"}]}}`, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore()
			_, errs := s.LoadReader(context.Background(), Source{Name: "m", Format: FormatMISP}, strings.NewReader(tt.doc))
			if len(errs) != tt.errs {
				t.Errorf("%d errors, want %d: %v", len(errs), tt.errs, errs)
			}
			ms := s.Lookup("192.0.2.1", now)
			if tt.info == "" {
				if len(ms) != 0 {
					t.Errorf("unexpected match %s", describe(ms))
				}
				return
			}
			if len(ms) != 1 || ms[0].Name != tt.info {
				t.Errorf("matches %s (name %q), want one named %q", describe(ms), nameOf(ms), tt.info)
			}
		})
	}
}

func nameOf(ms []Match) string {
	if len(ms) == 0 {
		return ""
	}
	return ms[0].Name
}

func TestMISPCSV(t *testing.T) {
	s := newStore()
	src := Source{Name: "misp-csv", Path: "testdata/misp_export.csv"}
	st := load(t, s, src, 1)
	if st.Format != FormatMISPCSV || st.Indicators != 5 || st.Skipped != 2 || st.Entries != 8 {
		t.Errorf("stats %+v, want misp-csv, 5 indicators, 2 skipped, 8 entries", st)
	}
	_, errs := s.Load(context.Background(), src)
	if err := errorFor(errs, "line 9 (5c1f9a2e-0007"); err == nil || !strings.Contains(err.Error(), "not-an-ip") {
		t.Errorf("error for the broken row: %v", errs)
	}
	m := only(t, s, "198.51.100.150", now)
	if m.Description != "Emotet epoch 5 C2" || !slices.Equal(m.Malware, []string{"Emotet"}) || !slices.Equal(m.Sightings[0].Labels, []string{"tlp:green"}) {
		t.Errorf("match %+v", m)
	}
	if want := time.Date(2024, 5, 15, 0, 0, 0, 0, time.UTC); !m.Sightings[0].LastSeen.Equal(want) {
		t.Errorf("last seen %v, want the date column %v", m.Sightings[0].LastSeen, want)
	}
	only(t, s, "5d41402abc4b2a76b9719d911017c592e3b0c44298fc1c149afbf4c8996fb924", now)
	// The URL matches, and so does its host.
	ms := s.Lookup("http://emotet-mail.example/wp-admin/x.php", now)
	if len(ms) != 2 || ms[0].How != HowExact || ms[1].How != HowHost || ms[1].Value != "emotet-mail.example" {
		t.Fatalf("matches %s, want the URL and its host", describe(ms))
	}
	if ms[0].Description != "multi-line\ncomment in a quoted field" {
		t.Errorf("description %q", ms[0].Description)
	}
	only(t, s, "smtp.emotet-mail.example", now)
	none(t, s, "198.51.100.151", now)
}

func TestGalaxyKind(t *testing.T) {
	tests := map[string]string{
		"threat-actor": "actor", "mitre-intrusion-set": "actor", "microsoft-activity-group": "actor",
		"malpedia": "malware", "mitre-malware": "malware", "mitre-tool": "malware", "ransomware": "malware",
		"rat": "malware", "exploit-kit": "malware", "mitre-attack-pattern": "", "sector": "", "cert-eu-govsector": "",
		"tlp": "", "mitre-operation": "",
	}
	for g, want := range tests {
		if got := galaxyKind(g); got != want {
			t.Errorf("galaxyKind(%q) = %q, want %q", g, got, want)
		}
	}
}
