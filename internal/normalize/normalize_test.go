package normalize

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

func TestMalformedJSON(t *testing.T) {
	tests := []struct {
		name, raw string
		offset    string // the byte offset the error must name
	}{
		{"truncated object", `{"EventID": 4624, "Channel": "Secu`, "byte offset 34"},
		{"truncated after colon", `{"a":`, "byte offset 5"},
		{"missing comma", `{"a":1 "b":2}`, "byte offset 7"},
		{"bad literal", `{"a":tru}`, "byte offset 5"},
		{"bad number", `{"a":-}`, "byte offset 6"},
		{"leading zero", `{"a":01}`, "byte offset 6"},
		{"trailing garbage", `{"a":1} x`, "byte offset 8"},
		{"two objects", `{"a":1}{"b":2}`, "byte offset 7"},
		{"control char in string", "{\"a\":\"x\x01\"}", "byte offset 7"},
		{"bad escape", `{"a":"\q"}`, "byte offset 7"},
		{"bad unicode escape", `{"a":"\u12G4"}`, "byte offset 7"},
		{"unquoted key", `{a:1}`, "byte offset 1"},
		{"unterminated string", `{"a":"abc`, "byte offset 9"},
		{"deep nesting", `{"a":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}`, "nesting deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Event(Input{Raw: []byte(tt.raw), Origin: event.Origin{Format: "json"}})
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.offset) {
				t.Errorf("err = %q, want it to name %q", err, tt.offset)
			}
			if _, err := Alert(Input{Raw: []byte(tt.raw)}); !errors.Is(err, ErrMalformed) {
				t.Errorf("Alert err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestEmptyAndNonObject(t *testing.T) {
	for _, raw := range []string{"", "   ", "\r\n\t"} {
		if _, err := Event(Input{Raw: []byte(raw)}); !errors.Is(err, ErrEmpty) {
			t.Errorf("Event(%q) err = %v, want ErrEmpty", raw, err)
		}
		if _, err := Alert(Input{Raw: []byte(raw)}); !errors.Is(err, ErrEmpty) {
			t.Errorf("Alert(%q) err = %v, want ErrEmpty", raw, err)
		}
	}
	// A JSON array, number or string given as JSON is not a record.
	for _, raw := range []string{`[1,2]`, `42`, `"x"`, `null`} {
		if _, err := Event(Input{Raw: []byte(raw), Origin: event.Origin{Format: "json"}}); !errors.Is(err, ErrMalformed) {
			t.Errorf("Event(%s) err = %v, want ErrMalformed", raw, err)
		}
	}
	// The same bytes without a JSON format are a text line.
	ev, err := Event(Input{Raw: []byte(`[1,2]`)})
	if err != nil || ev.Kind != "text" || ev.Message != "[1,2]" {
		t.Errorf("text fallback: %v kind %q message %q", err, ev.Kind, ev.Message)
	}
}

func TestUnknownObjectIsBaseEvent(t *testing.T) {
	raw := `{"z":{"y":[1,"two",{"x":true}]},"empty":"","n":null,"big":1e308}`
	ev, err := Event(Input{Raw: []byte(raw)})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Class != event.ClassUnknown || ev.Kind != "generic_json" {
		t.Errorf("class %s kind %s", ev.Class, ev.Kind)
	}
	want := map[string]string{"z.y.0": "1", "z.y.1": "two", "z.y.2.x": "true", "empty": "", "big": "1e308"}
	for k, v := range want {
		if got, ok := ev.Unmapped[k]; !ok || got != v {
			t.Errorf("Unmapped[%q] = %q, %v; want %q", k, got, ok, v)
		}
	}
	if string(ev.Raw) != raw {
		t.Errorf("Raw = %s, want the record verbatim", ev.Raw)
	}
}

func TestWrongTypesInKnownFields(t *testing.T) {
	inputs := []string{
		// CloudTrail with objects where strings belong and a string where an object belongs.
		`{"eventSource":{"x":1},"eventName":["a"],"awsRegion":7,"userIdentity":"root","sourceIPAddress":{"ip":"1.2.3.4"},"eventTime":123}`,
		// Okta with an array actor field and a numeric outcome.
		`{"eventType":"user.session.start","actor":{"id":[1],"alternateId":{"a":"b"}},"published":"nope","outcome":5,"client":"x","target":"y"}`,
		// Entra sign-in with a string status and an array location.
		`{"category":"SignInLogs","properties":{"status":"0","location":[1],"createdDateTime":false,"mfaDetail":"x","authenticationDetails":{"a":1}}}`,
		// Entra audit with non-array targets.
		`{"activityDisplayName":"Consent to application","activityDateTime":"2024-01-01T00:00:00Z","initiatedBy":"me","targetResources":{"modifiedProperties":1}}`,
		// M365 with object Parameters and numeric ClientIP.
		`{"Workload":"Exchange","Operation":"New-InboxRule","RecordType":"x","Parameters":{"Name":"a"},"ClientIP":12,"Folders":"x"}`,
		// Windows with an object EventData and a string System.
		`{"Event":{"System":{"EventID":"4624","Channel":["Security"],"TimeCreated":"x"},"EventData":"oops"}}`,
		`{"Event":{"System":{"EventID":{"#text":"x"}}}}`,
		`{"EventID":"1","Channel":"Microsoft-Windows-Sysmon/Operational","Hashes":{"a":1},"Image":42,"ParentProcessId":"-1"}`,
		// Wazuh and Suricata with odd values.
		`{"rule":{"level":"high","groups":"x","mitre":"y"},"agent":"a","data":[1]}`,
		`{"event_type":"alert","src_ip":1,"flow_id":"x","alert":"y","http":[],"dns":{"answers":"z"}}`,
		`{"event_type":"dns","src_ip":"1.1.1.1","dns":{"queries":{"rrname":1},"grouped":{"A":"x"}}}`,
		// A huge value.
		`{"message":"` + strings.Repeat("A", 1<<20) + `","EventID":"` + strings.Repeat("9", 5000) + `","Channel":"System"}`,
	}
	for i, raw := range inputs {
		ev, err := Event(Input{Raw: []byte(raw)})
		if err != nil {
			t.Errorf("input %d: %v", i, err)
			continue
		}
		if _, err := json.Marshal(ev); err != nil {
			t.Errorf("input %d: marshal: %v", i, err)
		}
		_, _ = Alert(Input{Raw: []byte(raw)})
	}
}

func TestManyFieldsAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 5000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + itoa(int64(i)) + `":1`)
	}
	b.WriteString("}")
	ev, err := Event(Input{Raw: []byte(b.String())})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Unmapped) > maxUnmapped+1 || ev.Unmapped["_truncated"] != "true" {
		t.Errorf("Unmapped has %d entries, truncated=%q", len(ev.Unmapped), ev.Unmapped["_truncated"])
	}
}

func TestIDDerivation(t *testing.T) {
	raw := []byte(`{"a":1}`)
	a, _ := Event(Input{Raw: raw, Origin: event.Origin{Source: "http"}})
	b, _ := Event(Input{Raw: []byte("  {\"a\":1}\n"), Origin: event.Origin{Source: "http"}})
	if a.ID != b.ID {
		t.Errorf("surrounding white space changed the ID: %s vs %s", a.ID, b.ID)
	}
	c, _ := Event(Input{Raw: raw, Origin: event.Origin{Source: "hec"}})
	if a.ID == c.ID {
		t.Error("the source is not part of the ID")
	}
	p1, _ := Event(Input{Raw: raw, Origin: event.Origin{Source: "file", File: "x.json", Record: 1}})
	p2, _ := Event(Input{Raw: []byte(`{"a":2}`), Origin: event.Origin{Source: "file", File: "x.json", Record: 1}})
	if p1.ID != p2.ID {
		t.Error("a record position must determine the ID")
	}
	al, _ := Alert(Input{Raw: []byte(`{"title":"x"}`), Origin: event.Origin{Source: "http"}})
	if !strings.HasPrefix(al.ID, event.PrefixAlert) || !strings.HasPrefix(a.ID, event.PrefixEvent) {
		t.Errorf("prefixes: %s %s", al.ID, a.ID)
	}
}

func TestTimeFallsBackToReceived(t *testing.T) {
	recv := time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	ev, err := Event(Input{Raw: []byte(`{"no":"time"}`), Origin: event.Origin{Received: recv}})
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Time.Equal(recv) || ev.Time.Location() != time.UTC {
		t.Errorf("Time = %v, want %v in UTC", ev.Time, recv)
	}
}

func TestHintSelectsNormalizer(t *testing.T) {
	// A syslog line with a program the auth normalizer does not know stays linux_syslog even
	// when hinted auth.log; an sshd line is linux_auth without a hint.
	ev, _ := Event(Input{Raw: []byte("Mar  5 08:00:00 h kernel: x"), Hint: "/var/log/auth.log"})
	if ev.Kind != "linux_syslog" {
		t.Errorf("kind %s", ev.Kind)
	}
	// A hint that does not fit the record's shape is ignored.
	ev, _ = Event(Input{Raw: []byte(`{"title":"x"}`), Hint: "okta"})
	if ev.Kind != "generic_json" {
		t.Errorf("kind %s", ev.Kind)
	}
	if got := hintID("XmlWinEventLog:Microsoft-Windows-Sysmon/Operational"); got != "sysmon" {
		t.Errorf("hint sysmon: %s", got)
	}
	if got := hintID("aws:cloudtrail"); got != "cloudtrail" {
		t.Errorf("hint cloudtrail: %s", got)
	}
	if got := hintID("/var/log/nginx/access.log"); got != "web_access" {
		t.Errorf("hint nginx: %s", got)
	}
}

func TestAlertNotAlert(t *testing.T) {
	for _, raw := range []string{
		`{"event_type":"flow","src_ip":"10.0.0.1","flow_id":1}`,
		`{"foo":"bar"}`,
		`plain text line`,
	} {
		if _, err := Alert(Input{Raw: []byte(raw)}); !errors.Is(err, ErrNotAlert) {
			t.Errorf("Alert(%s) err = %v, want ErrNotAlert", raw, err)
		}
	}
}

func TestAITRow(t *testing.T) {
	origin := event.Origin{Source: "file", File: "fox_alerts.csv.gz", Record: 2}
	al, lab, err := AITRow([]string{"1642213952", "Wazuh: ClamAV database update", "172.17.131.81", "mail", "W-Sys-Cav", "dirb", "dirb"}, origin)
	if err != nil {
		t.Fatal(err)
	}
	if al.Source != "wazuh" || al.RuleTitle != "ClamAV database update" || al.Kind != "W-Sys-Cav" || al.Host != "mail" {
		t.Errorf("alert %+v", al)
	}
	if !al.Time.Equal(time.Unix(1642213952, 0)) || al.Origin.Format != "ait-ads" {
		t.Errorf("time %v format %q", al.Time, al.Origin.Format)
	}
	if len(al.Entities) != 2 || al.Entities[0].Value != "mail" || al.Entities[1].Value != "172.17.131.81" {
		t.Errorf("entities %+v", al.Entities)
	}
	if lab.TimeLabel != "dirb" || lab.EventLabel != "dirb" || !lab.Attack() {
		t.Errorf("labels %+v", lab)
	}
	// The labels must appear nowhere in the alert.
	b, _ := json.Marshal(al)
	if strings.Contains(string(b), "dirb") {
		t.Errorf("labels leaked into the alert: %s", b)
	}
	sur, _, err := AITRow([]string{"1642213953", "Suricata: ET SCAN Nmap", "10.0.0.1", "inet-firewall", "S-Scn-Nmp", "false_positive", "-"}, origin)
	if err != nil || sur.Source != "suricata" {
		t.Errorf("suricata row: %v %+v", err, sur)
	}
	am, _, err := AITRow([]string{"1642213954", "AMiner: New value", "10.0.0.2", "intranet_server", "A-Val-New", "false_positive", "-"}, origin)
	if err != nil || am.Source != "aminer" || am.RuleTitle != "New value" {
		t.Errorf("aminer row: %v %+v", err, am)
	}

	bad := []struct {
		fields []string
		column string
	}{
		{[]string{"1642213952", "Wazuh: x", "1.2.3.4", "h", "W-x", "dirb"}, `"event_label"`},
		{[]string{"1642213952", "Wazuh: x", "1.2.3.4", "h", "W-x", "dirb", "-", "extra"}, `"event_label"`},
		{[]string{"yesterday", "Wazuh: x", "1.2.3.4", "h", "W-x", "dirb", "-"}, `"time"`},
		{[]string{"-5", "Wazuh: x", "1.2.3.4", "h", "W-x", "dirb", "-"}, `"time"`},
		{[]string{"1642213952", "", "1.2.3.4", "h", "W-x", "dirb", "-"}, `"name"`},
		{[]string{"1642213952", "Wazuh: x", "1.2.3.4", "h", " ", "dirb", "-"}, `"short"`},
		{nil, `"time"`},
	}
	for _, b := range bad {
		_, _, err := AITRow(b.fields, origin)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), b.column) {
			t.Errorf("AITRow(%q) err = %v, want ErrMalformed naming %s", b.fields, err, b.column)
		}
	}
}

// TestAITData reads every row of the AIT-ADS scenarios.
func TestAITData(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 1.3 million rows")
	}
	files, _ := filepath.Glob(filepath.Join(dataDir, "ait-ads", "*.csv.gz"))
	if len(files) == 0 {
		t.Skip("AIT-ADS data not available")
	}
	total, attacks := 0, 0
	sources := map[string]int{}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		cr := csv.NewReader(bufio.NewReaderSize(zr, 1<<16))
		cr.ReuseRecord = true
		cr.FieldsPerRecord = -1
		header, err := cr.Read()
		if err != nil || strings.Join(header, ",") != "time,name,ip,host,short,time_label,event_label" {
			t.Fatalf("%s: header %q %v", path, header, err)
		}
		for row := 2; ; row++ {
			rec, err := cr.Read()
			if err != nil {
				break
			}
			al, lab, err := AITRow(rec, event.Origin{Source: "file", File: path, Record: int64(row)})
			if err != nil {
				t.Fatalf("%s row %d: %v", path, row, err)
			}
			if al.Source == "external" || al.Kind == "" || al.Time.IsZero() {
				t.Fatalf("%s row %d: %+v", path, row, al)
			}
			total++
			sources[al.Source]++
			if lab.Attack() {
				attacks++
			}
		}
		zr.Close()
		f.Close()
	}
	if total < 1_300_000 {
		t.Errorf("read %d rows", total)
	}
	t.Logf("normalized %d AIT-ADS alerts (%d in attack phases), by source %v", total, attacks, sources)
}
