package sigma

import (
	"encoding/json"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func pairs(r *Record) []string {
	var out []string
	for k, v := range r.All() {
		out = append(out, k+"="+v)
	}
	return out
}

const evtxShaped = `{
  "Event": {
    "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
    "System": {
      "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing", "Guid": "{5478}"}},
      "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 4625},
      "Version": 0,
      "Level": 0,
      "Keywords": "0x8010000000000000",
      "TimeCreated": {"#attributes": {"SystemTime": "2026-01-05T10:00:00.5Z"}},
      "EventRecordID": 42,
      "Correlation": null,
      "Execution": {"#attributes": {"ProcessID": 4, "ThreadID": 8}},
      "Channel": "Security",
      "Computer": "DC01",
      "Security": null
    },
    "EventData": {
      "#attributes": {"Name": "TaskDisabled"},
      "TargetUserName": "bob",
      "LogonType": 3,
      "Data": ["first", "second"],
      "Empty": null,
      "Binary": "0A0B",
      "Rich": {"#attributes": {"Kind": "x"}, "#text": "text"}
    }
  }
}`

func TestResetJSONWindowsShape(t *testing.T) {
	var r Record
	if err := r.ResetJSON([]byte(evtxShaped)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Provider_Name=Microsoft-Windows-Security-Auditing", "Provider_Guid={5478}",
		"EventID_Qualifiers=16384", "EventID=4625", "Version=0", "Level=0",
		"Keywords=0x8010000000000000", "TimeCreated_SystemTime=2026-01-05T10:00:00.5Z",
		"EventRecordID=42", "Correlation=", "Execution_ProcessID=4", "Execution_ThreadID=8",
		"Channel=Security", "Computer=DC01", "Security=",
		"EventData_Name=TaskDisabled", "TargetUserName=bob", "LogonType=3", "Data=first", "Data=second",
		"Empty=", "Binary=0A0B", "Rich_Kind=x", "Rich=text",
	}
	if got := pairs(&r); !slices.Equal(got, want) {
		t.Fatalf("flattened\n got %q\nwant %q", got, want)
	}
	if ts, ok := r.Time(); !ok || !ts.Equal(time.Date(2026, 1, 5, 10, 0, 0, 5e8, time.UTC)) {
		t.Fatalf("Time() = %v %v", ts, ok)
	}
	if !r.EventXML() {
		t.Fatal("EventXML() = false for an evtx_dump rendering")
	}
	r.Reset()
	if r.EventXML() {
		t.Fatal("EventXML() = true after Reset")
	}
}

func TestResetJSONUserData(t *testing.T) {
	doc := `{"Event":{"System":{"EventID":5858,"Channel":"Microsoft-Windows-WMI-Activity/Operational"},
"UserData":{"Operation_ClientFailure":{"#attributes":{"xmlns":"http://manifests.microsoft.com/win/2006/windows/WMI"},
"Id":"{0}","User":"dom\\bob","Nested":{"Leaf":"v","#attributes":{"A":"1","xmlns:x":"u"}}}}}}`
	var r Record
	if err := r.ResetJSON([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	want := []string{"EventID=5858", "Channel=Microsoft-Windows-WMI-Activity/Operational", "Id={0}", `User=dom\bob`, "Leaf=v", "Nested_A=1"}
	if got := pairs(&r); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestResetJSONGeneric(t *testing.T) {
	var r Record
	if err := r.ResetJSON([]byte(evtxShaped)); err != nil || !r.EventXML() {
		t.Fatal(err)
	}
	doc := `{"eventName":"ConsoleLogin","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/bob",
"sessionContext":{"attributes":{"mfaAuthenticated":"false"}}},"resources":[{"ARN":"a1"},{"ARN":"a2"}],
"tags":["x","y"],"n":1.50e3,"ok":true,"nothing":null,"esc":"a\"b\\c\u00e9\ud83d\ude00","empty":{},"none":[]}`
	if err := r.ResetJSON([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"eventName=ConsoleLogin", "userIdentity.type=IAMUser", "userIdentity.arn=arn:aws:iam::1:user/bob",
		"userIdentity.sessionContext.attributes.mfaAuthenticated=false", "resources.ARN=a1", "resources.ARN=a2",
		"tags=x", "tags=y", "n=1.50e3", "ok=true", "nothing=", "esc=a\"b\\cé😀",
	}
	if got := pairs(&r); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if r.EventXML() {
		t.Fatal("EventXML() = true for generic JSON")
	}
	// No leaf-only aliases for generic JSON.
	if _, ok := r.Get("type"); ok {
		t.Fatal("generic JSON must not add leaf-only names")
	}
}

// TestResetJSONWinlogbeat: a Winlogbeat document gets its Windows event's fields under the
// names an EVTX record gives them, then its own dotted names.
func TestResetJSONWinlogbeat(t *testing.T) {
	doc := `{"@timestamp":"2024-05-01T10:00:00.000Z","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":"1",
"provider_name":"Microsoft-Windows-Sysmon","computer_name":"ws1","record_id":42,"task":"Process Create","process":{"pid":3544,"thread":{"id":4272}},
"user":{"identifier":"S-1-5-18"},"event_data":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c whoami"},
"user_data":{"Operation":{"Id":"{0}","Nested":{"Leaf":"v"}}}},"host":{"name":"ws1"}}`
	var r Record
	if err := r.ResetJSON([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Channel=Microsoft-Windows-Sysmon/Operational", "EventID=1", "Provider_Name=Microsoft-Windows-Sysmon", "Computer=ws1",
		"EventRecordID=42", "Execution_ProcessID=3544", "Execution_ThreadID=4272", "Security_UserID=S-1-5-18",
		`Image=C:\Windows\System32\cmd.exe`, "CommandLine=cmd /c whoami", "Id={0}", "Leaf=v",
		"@timestamp=2024-05-01T10:00:00.000Z", "winlog.channel=Microsoft-Windows-Sysmon/Operational",
	}
	got := pairs(&r)
	if len(got) < len(want) || !slices.Equal(got[:len(want)-2], want[:len(want)-2]) || !slices.Contains(got, want[len(want)-2]) || !slices.Contains(got, want[len(want)-1]) {
		t.Fatalf("got %q\nwant %q first, and the dotted names", got, want)
	}
	if slices.Contains(got, "Task=Process Create") {
		t.Fatal("the task's name taken for EVTX's Task number")
	}
	if r.EventXML() {
		t.Fatal("EventXML() = true for a Winlogbeat document")
	}
}

func TestResetJSONErrors(t *testing.T) {
	for _, doc := range []string{``, `[]`, `"x"`, `{"a":}`, `{"a":1,}`, `{"a":1} x`, `{"a":"\x"}`, `{"a":tru}`, `{"a":-}`, `{"a":1.}`, strings.Repeat("[", 300)} {
		var r Record
		if err := r.ResetJSON([]byte(doc)); !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("%q: err = %v, want ErrInvalidJSON", doc, err)
		}
	}
}

// TestResetJSONVelociraptor: Velociraptor's parse_evtx rendering (sections at the top,
// attributes as members, HexInt values in decimal) gets the names and the text an EVTX record
// gives the event; golang-evtx's (evtx_dump's sections, attributes as members) the same names;
// and an evtx_dump rendering's numbers are left as they are.
func TestResetJSONVelociraptor(t *testing.T) {
	velo := `{"System":{"Provider":{"Name":"Microsoft-Windows-Security-Auditing","Guid":"54849625-5478-4994-A5BA-3E3B0328C30D"},
"EventID":{"Value":4625,"Qualifiers":0},"Keywords":9227875636482146304,"TimeCreated":{"SystemTime":1549462715.946133},
"Execution":{"ProcessID":676,"ThreadID":780},"Channel":"Security","Computer":"dc1","Security":{}},
"EventData":{"TargetUserName":"bob","Status":3221225581,"SubStatus":"0xc000006a","LogonType":3,"ProcessId":4764,"IpPort":"0"},"Message":"An account failed to log on."}`
	var r Record
	if err := r.ResetJSON([]byte(velo)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Provider_Name=Microsoft-Windows-Security-Auditing", "Provider_Guid=54849625-5478-4994-A5BA-3E3B0328C30D",
		"EventID=4625", "EventID_Qualifiers=0", "Keywords=0x8010000000000000", "TimeCreated_SystemTime=1549462715.946133",
		"Execution_ProcessID=676", "Execution_ThreadID=780", "Channel=Security", "Computer=dc1",
		"TargetUserName=bob", "Status=0xc000006d", "SubStatus=0xc000006a", "LogonType=3", "ProcessId=0x129c", "IpPort=0",
		"Message=An account failed to log on.",
	}
	if got := pairs(&r); !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if !r.EventXML() {
		t.Fatal("EventXML() = false for a Velociraptor rendering")
	}
	// golang-evtx: evtx_dump's Event and sections, attributes as members, values as strings.
	gx := `{"Event":{"EventData":{"Image":"C:\\Windows\\splwow64.exe"},"System":{"Channel":"Microsoft-Windows-Sysmon/Operational",
"EventID":"7","Execution":{"ProcessID":"1760","ThreadID":"1952"},"Provider":{"Guid":"5770385F-C22A-43E0-BF4C-06F5698FFBD9","Name":"Microsoft-Windows-Sysmon"},
"Security":{"UserID":"S-1-5-18"},"TimeCreated":{"SystemTime":"2017-01-19T16:07:45Z"}}}}`
	if err := r.ResetJSON([]byte(gx)); err != nil {
		t.Fatal(err)
	}
	got := pairs(&r)
	for _, w := range []string{"Execution_ProcessID=1760", "Provider_Name=Microsoft-Windows-Sysmon", "Security_UserID=S-1-5-18", "TimeCreated_SystemTime=2017-01-19T16:07:45Z", `Image=C:\Windows\splwow64.exe`} {
		if !slices.Contains(got, w) {
			t.Errorf("golang-evtx: %q missing from %q", w, got)
		}
	}
	// evtx_dump writes HexInt values as text; its numbers are numbers.
	dump := `{"Event":{"System":{"Channel":"Security","EventID":4625},"EventData":{"Status":"0xc000006d","ProcessId":4764}}}`
	if err := r.ResetJSON([]byte(dump)); err != nil {
		t.Fatal(err)
	}
	if got := pairs(&r); !slices.Contains(got, "ProcessId=4764") || !slices.Contains(got, "Status=0xc000006d") {
		t.Fatalf("evtx_dump: %q", got)
	}
}

// TestResetJSONFlatWindows: a flat rendering of a Windows event gets Provider_Name from its
// provider name (NXLog's SourceName, Velociraptor EvtxHunter's Provider), and one whose data is
// nested (EvtxHunter) its EventData members by their names, HexInt values in EVTX text.
func TestResetJSONFlatWindows(t *testing.T) {
	var r Record
	nx := `{"EventTime":"2024-05-01 10:00:00","Hostname":"dc1","SourceName":"Microsoft-Windows-Eventlog","Channel":"Security","EventID":1102,"SubjectUserName":"bob"}`
	if err := r.ResetJSON([]byte(nx)); err != nil {
		t.Fatal(err)
	}
	if got := pairs(&r); got[0] != "Provider_Name=Microsoft-Windows-Eventlog" || !slices.Contains(got, "SourceName=Microsoft-Windows-Eventlog") {
		t.Fatalf("NXLog: %q", got)
	}
	hunter := `{"EventTime":"2024-05-01T10:00:00Z","Computer":"dc1","Channel":"Security","Provider":"Microsoft-Windows-Security-Auditing","EventID":4625,
"EventRecordID":7,"UserSID":null,"Username":"","EventData":{"TargetUserName":"bob","Status":3221225581,"LogonType":3},"UserData":null,"Message":"","OSPath":"C:\\Windows\\System32\\winevt\\Logs\\Security.evtx"}`
	if err := r.ResetJSON([]byte(hunter)); err != nil {
		t.Fatal(err)
	}
	got := pairs(&r)
	want := []string{"Provider_Name=Microsoft-Windows-Security-Auditing", "TargetUserName=bob", "Status=0xc000006d", "LogonType=3"}
	if !slices.Equal(got[:len(want)], want) || !slices.Contains(got, "EventData.Status=3221225581") || !slices.Contains(got, "Channel=Security") {
		t.Fatalf("EvtxHunter: got %q, want %q first and the dotted names", got, want)
	}
	// A record with its own Provider_Name keeps it alone; one that is not a Windows event gets none.
	for _, doc := range []string{`{"Channel":"Security","EventID":4624,"Provider_Name":"a","SourceName":"b"}`, `{"Channel":"x","SourceName":"b"}`} {
		if err := r.ResetJSON([]byte(doc)); err != nil {
			t.Fatal(err)
		}
		if n := slices.Collect(r.Values("Provider_Name")); len(n) > 1 || strings.Contains(doc, "EventID") != (len(n) == 1) {
			t.Errorf("%s: Provider_Name %q", doc, n)
		}
	}
}

// TestResetJSONEvtxECmd: an EvtxECmd row gets its System columns under EVTX's names, its
// other columns by their own, and the event's data from the JSON in its Payload string by the
// names an EVTX record gives them (EventData items by @Name, UserData elements by their leaf
// names, attributes as <Element>_<attribute>); a Payload that is not JSON is an error naming it.
func TestResetJSONEvtxECmd(t *testing.T) {
	var r Record
	row := `{"PayloadData1":"Target: PC\\Sam","Computer":"PC","Payload":"{\"EventData\":{\"Data\":[{\"@Name\":\"TargetUserName\",\"#text\":\"Sam\"},` +
		`{\"@Name\":\"SubjectLogonId\",\"#text\":\"0x177F1\"},{\"@Name\":\"Empty\"},\"unnamed\"],\"Binary\":\"00FF\"}}","Channel":"Security",` +
		`"Provider":"Microsoft-Windows-Security-Auditing","EventId":4720,"EventRecordId":"443","ProcessId":496,"ThreadId":1092,"Level":"LogAlways",` +
		`"TimeCreated":"2020-06-09T15:51:03.9362930+00:00"}`
	if err := r.ResetJSON([]byte(row)); err != nil {
		t.Fatal(err)
	}
	want := []string{"EventID=4720", "Provider_Name=Microsoft-Windows-Security-Auditing", "EventRecordID=443", "Execution_ProcessID=496",
		"Execution_ThreadID=1092", `PayloadData1=Target: PC\Sam`, "Computer=PC", "Channel=Security", "Level=LogAlways",
		"TimeCreated=2020-06-09T15:51:03.9362930+00:00", "TargetUserName=Sam", "SubjectLogonId=0x177F1", "Empty=", "Data=unnamed", "Binary=00FF"}
	if got := pairs(&r); !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	ud := `{"Payload":"{\"UserData\":{\"LogFileCleared\":{\"@xmlns\":\"http://x\",\"SubjectUserName\":\"bob\",\"Attr\":{\"@Kind\":\"k\",\"#text\":\"t\"}}}}","Channel":"Security","EventId":"1102"}`
	if err := r.ResetJSON([]byte(ud)); err != nil {
		t.Fatal(err)
	}
	if got, want := pairs(&r), []string{"EventID=1102", "Channel=Security", "SubjectUserName=bob", "Attr_Kind=k", "Attr=t"}; !slices.Equal(got, want) {
		t.Fatalf("UserData: got %q, want %q", got, want)
	}
	err := r.ResetJSON([]byte(`{"Payload":"{bad","Channel":"Security","EventId":1}`))
	if !errors.Is(err, ErrInvalidJSON) || !strings.Contains(err.Error(), "Payload") {
		t.Fatalf("bad payload: %v", err)
	}
}

func TestResetMapMatchesJSON(t *testing.T) {
	for _, doc := range []string{evtxShaped, `{"a":{"b":[1,2,{"c":"d"}]},"e":null,"f":false}`} {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(doc))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		var fromJSON, fromMap Record
		if err := fromJSON.ResetJSON([]byte(doc)); err != nil {
			t.Fatal(err)
		}
		fromMap.ResetMap(m)
		a, b := pairs(&fromJSON), pairs(&fromMap)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Errorf("map and JSON builders differ\n json %q\n  map %q", a, b)
		}
	}
}

func TestRecordPairsAndLookup(t *testing.T) {
	var r Record
	r.ResetPairs(maps.All(map[string]string{"Source Name": "x"}))
	if v, ok := r.Get("sourcename"); !ok || v != "x" {
		t.Fatal("Get must ignore case and spaces")
	}
	r.Reset()
	r.AddBytes([]byte("A"), []byte("1"))
	r.Add("a", "2")
	if got := slices.Collect(r.Values("A")); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("Values = %v", got)
	}
	r.SetLogSource("AWS", "CloudTrail", "")
	if p, s, c := r.LogSource(); p != "aws" || s != "cloudtrail" || c != "" {
		t.Fatal("hints are lower-cased")
	}
	r.Reset()
	if r.Len() != 0 {
		t.Fatal("Reset keeps fields")
	}
	if p, _, _ := r.LogSource(); p != "" {
		t.Fatal("Reset keeps hints")
	}
}

func TestLowerConsistency(t *testing.T) {
	for _, s := range []string{"ABC", "Straße", "İstanbul", "ſecret", "\xff\xfeA", "KELVIN\u212a", "ΣΑΣ"} {
		got := string(appendLower(nil, s))
		if needsLower(s) != (got != s) {
			t.Errorf("%q: needsLower=%v but lower=%q", s, needsLower(s), got)
		}
	}
	if lowerString("ſet") != "set" || lowerString("\u212a") != "k" {
		t.Fatal("runes that fold onto ASCII letters must lower to them")
	}
}

// TestLowerWords checks the word-at-a-time ASCII paths of needsLower and appendLower against
// a byte-at-a-time reference, at every alignment and mixed with non-ASCII text.
func TestLowerWords(t *testing.T) {
	ref := func(s string) string {
		var b []byte
		for len(s) > 0 {
			r, n := utf8.DecodeRuneInString(s)
			switch {
			case s[0] < utf8.RuneSelf:
				c := s[0]
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				b = append(b, c)
			case r == utf8.RuneError && n == 1:
				b = append(b, s[0])
			default:
				b = utf8.AppendRune(b, lowerRune(r))
			}
			s = s[n:]
		}
		return string(b)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"A", "Z", "a", "z", "@", "[", "`", "{", "0", "\\", " ", "\x7f", "\x00", "É", "ſ", "\u212a", "\xff", "ΣΑ"}
	for range 5000 {
		var sb strings.Builder
		for range rng.IntN(40) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := sb.String()
		want := ref(s)
		if got := string(appendLower([]byte("x"), s)); got != "x"+want {
			t.Fatalf("appendLower(%q) = %q, want %q", s, got[1:], want)
		}
		if got := needsLower(s); got != (want != s) {
			t.Fatalf("needsLower(%q) = %v, want %v", s, got, want != s)
		}
	}
	for c := 0; c < 128; c++ {
		s := strings.Repeat(string(rune(c)), 9)
		if got, want := string(appendLower(nil, s)), ref(s); got != want {
			t.Fatalf("appendLower(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestIsASCII checks isASCII, which reads overlapping words, against a byte-by-byte check: a
// byte of 0x80 or more at every position of every length up to 40, and random strings.
func TestIsASCII(t *testing.T) {
	ref := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				return false
			}
		}
		return true
	}
	for n := 0; n <= 40; n++ {
		b := []byte(strings.Repeat("a", n))
		if !isASCII(string(b)) {
			t.Fatalf("%d ASCII bytes: not ASCII", n)
		}
		for i := 0; i < n; i++ {
			for _, c := range []byte{0x80, 0xc3, 0xff} {
				b[i] = c
				if isASCII(string(b)) {
					t.Fatalf("byte %#x at %d of %d: ASCII", c, i, n)
				}
				b[i] = 'a'
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		b := make([]byte, rng.IntN(70))
		for i := range b {
			b[i] = byte(rng.IntN(128))
			if rng.IntN(200) == 0 {
				b[i] |= 0x80
			}
		}
		if isASCII(string(b)) != ref(string(b)) {
			t.Fatalf("%q: isASCII %v", b, !ref(string(b)))
		}
	}
}

// TestJSONStringsLikeEncodingJSON: string values with escapes, quotes and multi-byte
// characters at every offset of the first words (the parser looks eight bytes at a time)
// read as encoding/json reads them.
func TestJSONStringsLikeEncodingJSON(t *testing.T) {
	specials := []string{`\"`, `\\`, `\n`, `\u00e9`, `\ud83d\ude00`, "é", `\/`, `\t\r`}
	for n := 0; n <= 20; n++ {
		for k := 0; k <= n; k++ {
			for _, sp := range specials {
				raw := strings.Repeat("a", k) + sp + strings.Repeat("b", n-k)
				doc := `{"k":"` + raw + `","z":"` + strings.Repeat("c", n) + `"}`
				var want map[string]string
				if err := json.Unmarshal([]byte(doc), &want); err != nil {
					t.Fatal(err)
				}
				var r Record
				if err := r.ResetJSON([]byte(doc)); err != nil {
					t.Fatalf("%s: %v", doc, err)
				}
				if got, _ := r.Get("k"); got != want["k"] {
					t.Fatalf("%s: k = %q, want %q", doc, got, want["k"])
				}
				if got, _ := r.Get("z"); got != want["z"] {
					t.Fatalf("%s: z = %q, want %q", doc, got, want["z"])
				}
			}
		}
	}
}

func FuzzQuoteOrEscape(f *testing.F) {
	f.Add("plain text with no specials", 0)
	f.Add(`0123456"89`, 3)
	f.Add(`01234567\9`, 0)
	f.Fuzz(func(t *testing.T, s string, i int) {
		if i < 0 || i > len(s) {
			return
		}
		want := i
		for want < len(s) && s[want] != '"' && s[want] != '\\' {
			want++
		}
		if got := quoteOrEscape(s, i); got != want {
			t.Fatalf("quoteOrEscape(%q, %d) = %d, want %d", s, i, got, want)
		}
	})
}
