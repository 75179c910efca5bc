package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/evtx"
	"github.com/vigil-soc/vigil/internal/normalize"
	"github.com/vigil-soc/vigil/internal/sigma"
)

// veloSystem places the System fields of an EVTX record (internal/evtx's names) in the
// System object of Velociraptor's parse_evtx rendering: element and member ("" for an element
// that is only text).
var veloSystem = map[string][2]string{
	"Provider_Name": {"Provider", "Name"}, "Provider_Guid": {"Provider", "Guid"},
	"Provider_EventSourceName": {"Provider", "EventSourceName"},
	"EventID":                  {"EventID", "Value"}, "EventID_Qualifiers": {"EventID", "Qualifiers"},
	"Version": {"Version", ""}, "Level": {"Level", ""}, "Task": {"Task", ""}, "Opcode": {"Opcode", ""},
	"Keywords": {"Keywords", ""}, "TimeCreated_SystemTime": {"TimeCreated", "SystemTime"},
	"EventRecordID": {"EventRecordID", ""}, "Correlation_ActivityID": {"Correlation", "ActivityID"},
	"Correlation_RelatedActivityID": {"Correlation", "RelatedActivityID"},
	"Execution_ProcessID":           {"Execution", "ProcessID"}, "Execution_ThreadID": {"Execution", "ThreadID"},
	"Channel": {"Channel", ""}, "Computer": {"Computer", ""}, "Security_UserID": {"Security", "UserID"},
}

var (
	veloHex = regexp.MustCompile(`^0x[0-9a-f]+$`)
	veloInt = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
)

// veloValue is the JSON value Velociraptor writes for an EVTX value: typed numbers (HexInt
// values too, in decimal, as its parser keeps them as integers) and times (epoch seconds) as
// numbers, everything else as strings.
func veloValue(value string, typed bool) any {
	if !typed {
		return value
	}
	if veloHex.MatchString(value) {
		n, err := strconv.ParseUint(value[2:], 16, 64)
		if err == nil {
			return json.Number(strconv.FormatUint(n, 10))
		}
	}
	if veloInt.MatchString(value) {
		return json.Number(value)
	}
	if t, err := time.Parse(time.RFC3339Nano, value); err == nil && strings.HasSuffix(value, "Z") {
		return json.Number(strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64))
	}
	return value
}

// veloRendering renders the records of the EVTX file p as Velociraptor's parse_evtx does, one
// JSON object per line: {"System": {...}, "EventData": {...}, "Message": ""}, attributes as
// members, EventID as {"Value": n}, TimeCreated's SystemTime in epoch seconds.
func veloRendering(t *testing.T, p string) []byte { return veloRender(t, p, false) }

// veloHunterRendering renders the records of the EVTX file p as Velociraptor's
// Windows.EventLogs.EvtxHunter artifact does: flat rows of EventTime (to the second), Computer,
// Channel, Provider, EventID, EventRecordID, UserSID, Username, EventData, UserData, Message and
// OSPath.
func veloHunterRendering(t *testing.T, p string) []byte { return veloRender(t, p, true) }

// eachEVTXRecord calls fn with every record of the EVTX file p, numbered from 1.
func eachEVTXRecord(t *testing.T, p string, fn func(n int, rec *evtx.Record)) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := evtx.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	for n := 1; ; n++ {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		fn(n, rec)
	}
}

func veloRender(t *testing.T, p string, hunter bool) []byte {
	t.Helper()
	var out bytes.Buffer
	eachEVTXRecord(t, p, func(_ int, rec *evtx.Record) {
		sys := map[string]any{}
		data := map[string]any{}
		rec.FieldsTyped(func(name, value string, typed bool) {
			if at, ok := veloSystem[name]; ok {
				v := veloValue(value, typed || name == "EventID" || name == "Keywords")
				if at[1] == "" {
					sys[at[0]] = v
					return
				}
				el, _ := sys[at[0]].(map[string]any)
				if el == nil {
					el = map[string]any{}
					sys[at[0]] = el
				}
				el[at[1]] = v
				return
			}
			v := veloValue(value, typed)
			switch old := data[name].(type) {
			case nil:
				data[name] = v
			case []any:
				data[name] = append(old, v)
			default:
				data[name] = []any{old, v}
			}
		})
		row := map[string]any{"System": sys, "EventData": data, "Message": ""}
		if hunter {
			member := func(el, key string) any {
				m, _ := sys[el].(map[string]any)
				return m[key]
			}
			secs, _ := member("TimeCreated", "SystemTime").(json.Number).Float64()
			row = map[string]any{
				"EventTime": time.Unix(int64(secs), 0).UTC(), "Computer": sys["Computer"], "Channel": sys["Channel"],
				"Provider": member("Provider", "Name"), "EventID": member("EventID", "Value"), "EventRecordID": sys["EventRecordID"],
				"UserSID": member("Security", "UserID"), "Username": "",
				"EventData": data, "UserData": nil, "Message": "", "OSPath": p,
			}
		}
		line, err := json.Marshal(row)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(append(line, '\n'))
	})
	return out.Bytes()
}

// TestScanVelociraptorLikeEVTX renders every regression sample and attack sample as
// Velociraptor's parse_evtx would (veloRendering) and scans the renderings: the same rules
// match the same events at the same times with the same evidence as in the EVTX files, the
// HexInt values Velociraptor writes in decimal included (GrantedAccess, Status, logon IDs).
func TestScanVelociraptorLikeEVTX(t *testing.T) {
	if testing.Short() {
		t.Skip("scans every sample twice")
	}
	files := append(regressionPairs(t), sampleFiles(t)...)
	rs := windowsRules(t)
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{Fields: EngineFields()})
	opt := Options{Engine: eng, Rules: rs, Workers: 1}
	dir := t.TempDir()
	total, hexEvidence := 0, 0
	for i, p := range files {
		fromEVTX, _ := runScan(t, []string{p}, opt)
		// Epoch seconds in a float64 keep the time to the nearest microsecond, not to EVTX's
		// 100 ns; EvtxHunter's EventTime keeps the second only.
		fromVelo := scanRendering(t, opt, p, fromEVTX, "parse_evtx rows", filepath.Join(dir, fmt.Sprintf("%d.json", i)),
			veloRendering(t, p), detectionKey(time.Microsecond, true))
		scanRendering(t, opt, p, fromEVTX, "EvtxHunter rows", filepath.Join(dir, fmt.Sprintf("%d.hunter.json", i)),
			veloHunterRendering(t, p), detectionKey(time.Second, false))
		for _, d := range fromVelo {
			for _, m := range d.Matches {
				if veloHex.MatchString(m.Value) {
					hexEvidence++
				}
			}
		}
		total += len(fromVelo)
	}
	if total < 1500 {
		t.Fatalf("%d detections in %d files", total, len(files))
	}
	if hexEvidence == 0 {
		t.Fatal("no detection's evidence is a HexInt value: the test does not exercise them")
	}
	t.Logf("%d detections in %d files, %d pieces of HexInt evidence", total, len(files), hexEvidence)
}

// TestVelociraptorNormalized checks that the normalizer reads Velociraptor's rendering as it
// reads the EVTX record's: the Velociraptor fixture of a 4624 logon gives the event's time,
// host, code and user.
func TestVelociraptorNormalized(t *testing.T) {
	raw := []byte(`{"System":{"Provider":{"Name":"Microsoft-Windows-Security-Auditing","Guid":"54849625-5478-4994-A5BA-3E3B0328C30D"},"EventID":{"Value":4624},"Version":2,"Level":0,"Task":12544,"Opcode":0,"Keywords":9232379236109516800,"TimeCreated":{"SystemTime":1549462715.946133},"EventRecordID":31880,"Correlation":{"ActivityID":"02277543-BEAA-0000-BB75-2702AABED401"},"Execution":{"ProcessID":676,"ThreadID":780},"Channel":"Security","Computer":"TestComputer","Security":{}},"EventData":{"SubjectUserSid":"S-1-5-21-546003962-2713609280-610790815-1001","SubjectUserName":"test","SubjectDomainName":"TESTCOMPUTER","SubjectLogonId":170334,"TargetUserSid":"S-1-5-21-546003962-2713609280-610790815-1002","TargetUserName":"user","TargetDomainName":"TESTCOMPUTER","TargetLogonId":6003213,"LogonType":2,"ProcessId":4764,"ProcessName":"C:\\Windows\\System32\\svchost.exe","IpAddress":"::1","IpPort":"0"},"Message":"An account was successfully logged on."}`)
	ev, err := normalize.Event(normalize.Input{Raw: raw})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Product != "windows" || ev.Code != "4624" || ev.Device == nil || ev.Device.Hostname != "TestComputer" {
		t.Fatalf("product %q code %q device %+v", ev.Product, ev.Code, ev.Device)
	}
	if want := time.Date(2019, 2, 6, 14, 18, 35, 946133000, time.UTC); ev.Time.Sub(want).Abs() > time.Microsecond {
		t.Errorf("time %v, want %v", ev.Time, want)
	}
	if ev.User == nil || ev.User.Name != "user" {
		t.Errorf("user %+v, want the logon's target user", ev.User)
	}
	if ev.Message != "An account was successfully logged on." {
		t.Errorf("message %q", ev.Message)
	}
	// The HexInt values Velociraptor writes in decimal are searched as EVTX shows them.
	if got := ev.Unmapped["SubjectLogonId"]; got != "0x2995e" {
		t.Errorf("Unmapped SubjectLogonId %q, want 0x2995e", got)
	}
	if got := ev.Unmapped["Keywords"]; got != "0x8020000000000000" {
		t.Errorf("Unmapped Keywords %q, want 0x8020000000000000", got)
	}
	// The same logon as a Windows.EventLogs.EvtxHunter row: flat, its data nested.
	raw = []byte(`{"EventTime":"2019-02-06T14:18:35Z","Computer":"TestComputer","Channel":"Security","Provider":"Microsoft-Windows-Security-Auditing",` +
		`"EventID":4624,"EventRecordID":31880,"UserSID":null,"Username":"","EventData":{"TargetUserName":"user","TargetDomainName":"TESTCOMPUTER",` +
		`"LogonType":2,"IpAddress":"::1"},"UserData":null,"Message":"An account was successfully logged on.","OSPath":"C:\\Windows\\System32\\winevt\\Logs\\Security.evtx"}`)
	if ev, err = normalize.Event(normalize.Input{Raw: raw}); err != nil {
		t.Fatal(err)
	}
	if ev.Code != "4624" || ev.Time.Unix() != 1549462715 || ev.Device == nil || ev.Device.Hostname != "TestComputer" || ev.User == nil || ev.User.Name != "user" {
		t.Errorf("EvtxHunter row: code %q time %v device %+v user %+v", ev.Code, ev.Time, ev.Device, ev.User)
	}
}
