package normalize

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-soc/vigil/internal/event"
)

// FuzzEvent feeds arbitrary bytes, with and without hints, to Event and Alert. Neither may
// panic; a successful event must marshal and carry its Raw as valid JSON.
func FuzzEvent(f *testing.F) {
	// The golden inputs are the seeds beside the committed corpus in testdata/fuzz/FuzzEvent.
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.in"))
	for i, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, uint8(i))
		}
	}
	f.Add([]byte(`{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational"},"EventData":{"Hashes":"SHA256=AB"}}}`), uint8(1))
	f.Add([]byte("type=EXECVE msg=audit(1.2:3): argc=2 a0=41 a1=\"x\""), uint8(0))
	f.Add([]byte(`CEF:0|a|b|1|2|n|5|src=1.2.3.4 cs1Label=x cs1=y`), uint8(2))
	f.Fuzz(func(t *testing.T, raw []byte, h uint8) {
		hints := []string{"", "sysmon", "okta", "cloudtrail", "wazuh", "suricata", "cef", "auth.log", "nginx", "auditd", "m365", "entra", "evtx", "syslog"}
		in := Input{Raw: raw, Hint: hints[int(h)%len(hints)], Origin: event.Origin{Source: "fuzz"}}
		ev, err := Event(in)
		if err == nil {
			if _, err := json.Marshal(ev); err != nil {
				t.Fatalf("marshal event: %v", err)
			}
			if !json.Valid(ev.Raw) {
				t.Fatalf("Raw is not valid JSON: %q", ev.Raw)
			}
			if ev.ID == "" || ev.Kind == "" || ev.ClassUID != ev.Class.UID() {
				t.Fatalf("incomplete event: %+v", ev)
			}
		}
		if al, err := Alert(in); err == nil {
			if _, err := json.Marshal(al); err != nil {
				t.Fatalf("marshal alert: %v", err)
			}
		}
	})
}

// TestParserAgreesWithEncodingJSON checks that the JSON tree accepts exactly what
// encoding/json accepts as an object, on the golden inputs and some edge cases.
func TestParserAgreesWithEncodingJSON(t *testing.T) {
	cases := []string{
		`{}`, `{"a":[]}`, `{"a":{}}`, `{"a":"\ud800"}`, `{"a":"\ud83d\ude00"}`, `{"a":1.5e-3}`, `{"a":-0}`,
		`{"a":"\u0000"}`, `{"a":"é"}`, "{\"a\":\"\xff\"}", `{"a":1,}`, `{"a" : 1 }`, `{"a":[1,]}`, `{"a":.5}`,
		`{"a":1.}`, `{"a":1e}`, `{"a":"\/"}`, `{"":""}`, `{"a":true,"a":false}`,
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.in"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		var m map[string]any
		wantOK := json.Unmarshal([]byte(c), &m) == nil
		_, p, err := parseObject(c)
		p.release()
		if gotOK := err == nil; gotOK != wantOK && (len(c) == 0 || c[0] == '{') {
			t.Errorf("parseObject(%.60q) ok=%v, encoding/json ok=%v (%v)", c, gotOK, wantOK, err)
		}
	}
}
