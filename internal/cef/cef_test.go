package cef

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// ext builds an extension list from alternating keys and values.
func ext(kv ...string) []Extension {
	out := make([]Extension, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, Extension{Key: kv[i], Value: kv[i+1]})
	}
	return out
}

// parseTests are real-looking CEF records with their expected decoding. They also seed FuzzParse.
var parseTests = []struct {
	name    string
	line    string
	want    Event
	labeled map[string]string // expected Labeled(), when not nil
}{
	{
		name: "specification example",
		line: "CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232",
		want: Event{DeviceVendor: "Security", DeviceProduct: "threatmanager", DeviceVersion: "1.0", SignatureID: "100",
			Name: "worm successfully stopped", Severity: 10, SeverityText: "10",
			Extensions: ext("src", "10.0.0.1", "dst", "2.1.2.2", "spt", "1232")},
	},
	{
		name: "escaped pipe in the header, bare pipe in a value",
		line: `CEF:0|security|threatmanager|1.0|100|detected a \| in message|10|src=10.0.0.1 act=blocked a | dst=1.1.1.1`,
		want: Event{DeviceVendor: "security", DeviceProduct: "threatmanager", DeviceVersion: "1.0", SignatureID: "100",
			Name: "detected a | in message", Severity: 10, SeverityText: "10",
			Extensions: ext("src", "10.0.0.1", "act", "blocked a |", "dst", "1.1.1.1")},
	},
	{
		name: "escaped backslashes in header and value",
		line: `CEF:0|security|threatmanager|1.0|100|detected a \\ in packet|10|src=10.0.0.1 act=blocked a \\ dst=1.1.1.1`,
		want: Event{DeviceVendor: "security", DeviceProduct: "threatmanager", DeviceVersion: "1.0", SignatureID: "100",
			Name: `detected a \ in packet`, Severity: 10, SeverityText: "10",
			Extensions: ext("src", "10.0.0.1", "act", `blocked a \`, "dst", "1.1.1.1")},
	},
	{
		name: "escaped equals sign in a value",
		line: `CEF:0|security|threatmanager|1.0|100|detected a = in message|10|src=10.0.0.1 act=blocked a \= dst=1.1.1.1`,
		want: Event{DeviceVendor: "security", DeviceProduct: "threatmanager", DeviceVersion: "1.0", SignatureID: "100",
			Name: "detected a = in message", Severity: 10, SeverityText: "10",
			Extensions: ext("src", "10.0.0.1", "act", "blocked a =", "dst", "1.1.1.1")},
	},
	{
		name: "escaped newline and carriage return",
		line: `CEF:0|security|threatmanager|1.0|100|Detected a threat. No action needed.|10|src=10.0.0.1 msg=Detected a threat.\r\n No action needed.`,
		want: Event{DeviceVendor: "security", DeviceProduct: "threatmanager", DeviceVersion: "1.0", SignatureID: "100",
			Name: "Detected a threat. No action needed.", Severity: 10, SeverityText: "10",
			Extensions: ext("src", "10.0.0.1", "msg", "Detected a threat.\r\n No action needed.")},
	},
	{
		name: "Trend Micro Deep Security anti-malware, behind a syslog header",
		line: `<134>Mar  5 10:15:22 dsm01 CEF:0|Trend Micro|Deep Security Agent|20.0.0.8438|4000000|Eicar_test_file|6|cn1=1 cn1Label=Host ID dvchost=ws-0042 cn2=205 cn2Label=Quarantine File Size cs6=ContainerImageName | ContainerName | ContainerID cs6Label=Container filePath=C:\\Users\\trend\\AppData\\Local\\Temp\\Eicar.exe act=Delete msg=Realtime TrendMicroDsMalwareTarget=N/A TrendMicroDsFileMD5=44D88612FEA8A8F36DE82E1278ABB02F TrendMicroDsDetectionConfidence=95 TrendMicroDsRelevantDetectionNames=Ransom_CERBER.BZC;Ransom_CERBER.C`,
		want: Event{DeviceVendor: "Trend Micro", DeviceProduct: "Deep Security Agent", DeviceVersion: "20.0.0.8438", SignatureID: "4000000",
			Name: "Eicar_test_file", Severity: 6, SeverityText: "6", Prefix: "<134>Mar  5 10:15:22 dsm01",
			Extensions: ext("cn1", "1", "cn1Label", "Host ID", "dvchost", "ws-0042", "cn2", "205", "cn2Label", "Quarantine File Size",
				"cs6", "ContainerImageName | ContainerName | ContainerID", "cs6Label", "Container",
				"filePath", `C:\Users\trend\AppData\Local\Temp\Eicar.exe`, "act", "Delete", "msg", "Realtime",
				"TrendMicroDsMalwareTarget", "N/A", "TrendMicroDsFileMD5", "44D88612FEA8A8F36DE82E1278ABB02F",
				"TrendMicroDsDetectionConfidence", "95", "TrendMicroDsRelevantDetectionNames", "Ransom_CERBER.BZC;Ransom_CERBER.C")},
		labeled: map[string]string{"Host ID": "1", "Quarantine File Size": "205", "Container": "ContainerImageName | ContainerName | ContainerID"},
	},
	{
		name: "Imperva SecureSphere, severity word, date-form rt",
		line: `CEF:0|Imperva Inc.|SecureSphere|13.6.0|Protocol Validation|Illegal HTTP Version|High|act=Block dst=10.0.0.20 dpt=443 duser=n/a src=203.0.113.44 spt=51514 proto=TCP rt=Mar 05 2024 10:15:22 cat=Alert cs1=Default Web Policy cs1Label=Policy cs2=WebFarm cs2Label=ServerGroup cs3=https cs3Label=ServiceName`,
		want: Event{DeviceVendor: "Imperva Inc.", DeviceProduct: "SecureSphere", DeviceVersion: "13.6.0", SignatureID: "Protocol Validation",
			Name: "Illegal HTTP Version", Severity: 8, SeverityText: "High",
			Extensions: ext("act", "Block", "dst", "10.0.0.20", "dpt", "443", "duser", "n/a", "src", "203.0.113.44", "spt", "51514",
				"proto", "TCP", "rt", "Mar 05 2024 10:15:22", "cat", "Alert", "cs1", "Default Web Policy", "cs1Label", "Policy",
				"cs2", "WebFarm", "cs2Label", "ServerGroup", "cs3", "https", "cs3Label", "ServiceName")},
		labeled: map[string]string{"Policy": "Default Web Policy", "ServerGroup": "WebFarm", "ServiceName": "https"},
	},
	{
		name: "Check Point Log Exporter, Unknown severity, empty value, underscore keys",
		line: `CEF:0|Check Point|VPN-1 & FireWall-1|Check Point|Log|https|Unknown|act=Accept deviceDirection=0 rt=1709633722000 spt=51234 dpt=443 src=10.0.0.5 dst=203.0.113.10 proto=6 cs2Label=Rule Name cs2=Allow web cs3Label=Protection Name cs3= layer_name=Network match_id=3 origin=10.0.0.1 ifname=eth1`,
		want: Event{DeviceVendor: "Check Point", DeviceProduct: "VPN-1 & FireWall-1", DeviceVersion: "Check Point", SignatureID: "Log",
			Name: "https", Severity: -1, SeverityText: "Unknown",
			Extensions: ext("act", "Accept", "deviceDirection", "0", "rt", "1709633722000", "spt", "51234", "dpt", "443", "src", "10.0.0.5",
				"dst", "203.0.113.10", "proto", "6", "cs2Label", "Rule Name", "cs2", "Allow web", "cs3Label", "Protection Name", "cs3", "",
				"layer_name", "Network", "match_id", "3", "origin", "10.0.0.1", "ifname", "eth1")},
		labeled: map[string]string{"Rule Name": "Allow web", "Protection Name": ""},
	},
	{
		name: "CyberArk Vault, quoted labels, unescaped backslash, empty values, double space",
		line: `CEF:0|Cyber-Ark|Vault|12.6.0000|295|Retrieve password|5|act=Retrieve password suser=alice fname=Root\Operating System-WinDomain-example.com-admin dvc= shost=10.0.0.9 dhost= duser=admin cs1Label="Affected User Name" cs1= cs2Label="Safe Name" cs2=Windows-Admins cn2Label="Ticket Id" cn2=INC0012345  msg=`,
		want: Event{DeviceVendor: "Cyber-Ark", DeviceProduct: "Vault", DeviceVersion: "12.6.0000", SignatureID: "295",
			Name: "Retrieve password", Severity: 5, SeverityText: "5",
			Extensions: ext("act", "Retrieve password", "suser", "alice", "fname", `Root\Operating System-WinDomain-example.com-admin`,
				"dvc", "", "shost", "10.0.0.9", "dhost", "", "duser", "admin", "cs1Label", `"Affected User Name"`, "cs1", "",
				"cs2Label", `"Safe Name"`, "cs2", "Windows-Admins", "cn2Label", `"Ticket Id"`, "cn2", "INC0012345", "msg", "")},
		labeled: map[string]string{"Affected User Name": "", "Safe Name": "Windows-Admins", "Ticket Id": "INC0012345"},
	},
	{
		name: "Fortinet FortiGate CEF behind a BSD header",
		line: `<189>Mar  5 10:15:22 FGT60E CEF:0|Fortinet|Fortigate|v7.2.5|00013|traffic:forward close|3|deviceExternalId=FGT60E4Q16000000 FTNTFGTeventtime=1709633722123456789 FTNTFGTtz=+0100 cat=traffic:forward FTNTFGTlevel=notice src=10.0.0.5 spt=51234 deviceInboundInterface=internal dst=203.0.113.10 dpt=443 deviceOutboundInterface=wan1 act=close proto=6 app=HTTPS out=1520 in=6120`,
		want: Event{DeviceVendor: "Fortinet", DeviceProduct: "Fortigate", DeviceVersion: "v7.2.5", SignatureID: "00013",
			Name: "traffic:forward close", Severity: 3, SeverityText: "3", Prefix: "<189>Mar  5 10:15:22 FGT60E",
			Extensions: ext("deviceExternalId", "FGT60E4Q16000000", "FTNTFGTeventtime", "1709633722123456789", "FTNTFGTtz", "+0100",
				"cat", "traffic:forward", "FTNTFGTlevel", "notice", "src", "10.0.0.5", "spt", "51234", "deviceInboundInterface", "internal",
				"dst", "203.0.113.10", "dpt", "443", "deviceOutboundInterface", "wan1", "act", "close", "proto", "6", "app", "HTTPS",
				"out", "1520", "in", "6120")},
	},
	{
		name: "Palo Alto PAN-OS CEF, RFC 5424 header, flexString label",
		line: `<14>1 2024-03-05T10:15:22+01:00 PA-VM - - - - CEF:0|Palo Alto Networks|PAN-OS|10.2.4|end|TRAFFIC|1|rt=Mar 05 2024 10:15:22 GMT deviceExternalId=007951000012345 src=10.0.0.5 dst=203.0.113.10 sourceTranslatedAddress=198.51.100.2 cs1Label=Rule cs1=allow-web suser=example\\alice duser= app=ssl cs4Label=Source Zone cs4=trust cn1Label=SessionID cn1=2562 flexString1Label=Flags flexString1=0x400000 proto=tcp`,
		want: Event{DeviceVendor: "Palo Alto Networks", DeviceProduct: "PAN-OS", DeviceVersion: "10.2.4", SignatureID: "end",
			Name: "TRAFFIC", Severity: 1, SeverityText: "1", Prefix: "<14>1 2024-03-05T10:15:22+01:00 PA-VM - - - -",
			Extensions: ext("rt", "Mar 05 2024 10:15:22 GMT", "deviceExternalId", "007951000012345", "src", "10.0.0.5", "dst", "203.0.113.10",
				"sourceTranslatedAddress", "198.51.100.2", "cs1Label", "Rule", "cs1", "allow-web", "suser", `example\alice`, "duser", "",
				"app", "ssl", "cs4Label", "Source Zone", "cs4", "trust", "cn1Label", "SessionID", "cn1", "2562",
				"flexString1Label", "Flags", "flexString1", "0x400000", "proto", "tcp")},
		labeled: map[string]string{"Rule": "allow-web", "Source Zone": "trust", "SessionID": "2562", "Flags": "0x400000"},
	},
	{
		name: "CEF version 1, Very-High, IPv6",
		line: `CEF:1|Vendor|Product|1.0|100|IPv6 test|Very-High|src=2001:db8::1 dst=2001:db8::2 c6a1=fe80::1 c6a1Label=Link Local`,
		want: Event{Version: 1, DeviceVendor: "Vendor", DeviceProduct: "Product", DeviceVersion: "1.0", SignatureID: "100",
			Name: "IPv6 test", Severity: 10, SeverityText: "Very-High",
			Extensions: ext("src", "2001:db8::1", "dst", "2001:db8::2", "c6a1", "fe80::1", "c6a1Label", "Link Local")},
		labeled: map[string]string{"Link Local": "fe80::1"},
	},
	{
		name: "Windows via connector: empty version field, full key names, ad. keys",
		line: `CEF:0|Microsoft|Microsoft Windows||Microsoft-Windows-Security-Auditing:4625|An account failed to log on.|Low|eventId=1234 externalId=4625 cat=Security sourceAddress=10.0.0.9 duser=bob ad.LogonType=3 ad.Status=0xc000006d`,
		want: Event{DeviceVendor: "Microsoft", DeviceProduct: "Microsoft Windows", SignatureID: "Microsoft-Windows-Security-Auditing:4625",
			Name: "An account failed to log on.", Severity: 3, SeverityText: "Low",
			Extensions: ext("eventId", "1234", "externalId", "4625", "cat", "Security", "sourceAddress", "10.0.0.9", "duser", "bob",
				"ad.LogonType", "3", "ad.Status", "0xc000006d")},
	},
	{
		name: "F5 ASM, unescaped equals inside a URL",
		line: `CEF:0|F5|ASM|16.1.0|200021|Illegal meta character in value|Medium|request=/search?q=<script>&lang=en requestMethod=GET src=203.0.113.5`,
		want: Event{DeviceVendor: "F5", DeviceProduct: "ASM", DeviceVersion: "16.1.0", SignatureID: "200021",
			Name: "Illegal meta character in value", Severity: 6, SeverityText: "Medium",
			Extensions: ext("request", "/search?q=<script>&lang=en", "requestMethod", "GET", "src", "203.0.113.5")},
	},
	{
		name: "no extension",
		line: "CEF:0|Vendor|Product|1.0|1|name|5|\n",
		want: Event{DeviceVendor: "Vendor", DeviceProduct: "Product", DeviceVersion: "1.0", SignatureID: "1", Name: "name",
			Severity: 5, SeverityText: "5"},
	},
	{
		name: "no pipe after the severity",
		line: "CEF:0|Vendor|Product|1.0|1|name|5",
		want: Event{DeviceVendor: "Vendor", DeviceProduct: "Product", DeviceVersion: "1.0", SignatureID: "1", Name: "name",
			Severity: 5, SeverityText: "5"},
	},
	{
		name: "space after the marker, trailing spaces and CRLF, value ending in an escaped backslash",
		line: "CEF: 0|V|P|1|1|n|7|fname=C:\\\\ dst=1.1.1.1   \r\n",
		want: Event{DeviceVendor: "V", DeviceProduct: "P", DeviceVersion: "1", SignatureID: "1", Name: "n", Severity: 7, SeverityText: "7",
			Extensions: ext("fname", `C:\`, "dst", "1.1.1.1")},
	},
	{
		name: "repeated key: list keeps both, map the last",
		line: "CEF:0|V|P|1|1|n|11|cs1=a cs1=b",
		want: Event{DeviceVendor: "V", DeviceProduct: "P", DeviceVersion: "1", SignatureID: "1", Name: "n", Severity: -1, SeverityText: "11",
			Extensions: ext("cs1", "a", "cs1", "b")},
	},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.line))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := tt.want
			want.Ext = make(map[string]string)
			for _, x := range want.Extensions {
				want.Ext[x.Key] = x.Value
			}
			if len(want.Extensions) == 0 {
				want.Extensions = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %#v\nwant %#v", got, want)
			}
			if tt.labeled != nil {
				if l := got.Labeled(); !reflect.DeepEqual(l, tt.labeled) {
					t.Errorf("Labeled() = %q, want %q", l, tt.labeled)
				}
			}
		})
	}
}

// parseErrorTests are broken records with the error they must produce. They also seed FuzzParse.
var parseErrorTests = []struct {
	name   string
	line   string
	field  string
	offset int
	sent   error
	text   string
}{
	{"not CEF", "<13>Mar  5 10:15:22 host app: hello", "header", 0, ErrNotCEF, `no "CEF:" marker`},
	{"marker without version", "CEF:x|V|P|1|1|n|5|", "version", 4, ErrMalformed, "expected a version number"},
	{"version 2", "CEF:2|V|P|1|1|n|5|", "version", 4, ErrMalformed, `unsupported CEF version "2"`},
	{"version without pipe", "CEF:0 V|P|1|1|n|5|", "version", 5, ErrMalformed, "expected '|' after the version"},
	{"header stops after the vendor", "CEF:0|V", "device product", 7, ErrMalformed, "the header ends after 2 of its 7 fields"},
	{"header stops before the name", "<13>host CEF:0|V|P|1|sig", "name", 24, ErrMalformed, "the header ends after 5 of its 7 fields"},
	{"extension starts with '='", "CEF:0|V|P|1|1|n|5|=foo", "extension", 18, ErrMalformed, "expected a key, found '='"},
	{"key without '='", "CEF:0|V|P|1|1|n|5|src 10.0.0.1", "extension", 21, ErrMalformed, `key "src" is not followed by '='`},
	{"free text instead of an extension", "CEF:0|V|P|1|1|n|5|just some text", "extension", 22, ErrMalformed, `key "just" is not followed by '='`},
	{"key with a bad character", "CEF:0|V|P|1|1|n|5|sr-c=1", "extension", 20, ErrMalformed, `key "sr" is not followed by '='`},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range parseErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseString(tt.line)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error = %v, want a *ParseError", err)
			}
			if pe.Field != tt.field || pe.Offset != tt.offset {
				t.Errorf("error at %s byte %d, want %s byte %d (%v)", pe.Field, pe.Offset, tt.field, tt.offset, err)
			}
			if !errors.Is(err, tt.sent) {
				t.Errorf("error %v does not wrap %v", err, tt.sent)
			}
			if !strings.Contains(err.Error(), tt.text) || !strings.HasPrefix(err.Error(), "cef: ") {
				t.Errorf("error %q does not say %q", err, tt.text)
			}
		})
	}
}

func TestSeverity(t *testing.T) {
	tests := []struct {
		in    string
		want  int
		level Level
	}{
		{"0", 0, LevelLow}, {"3", 3, LevelLow}, {"4", 4, LevelMedium}, {"6", 6, LevelMedium},
		{"7", 7, LevelHigh}, {"8", 8, LevelHigh}, {"9", 9, LevelVeryHigh}, {"10", 10, LevelVeryHigh},
		{"Low", 3, LevelLow}, {"medium", 6, LevelMedium}, {"HIGH", 8, LevelHigh}, {"Very-High", 10, LevelVeryHigh},
		{"Very High", 10, LevelVeryHigh}, {" 5 ", 5, LevelMedium},
		{"Unknown", -1, LevelUnknown}, {"11", -1, LevelUnknown}, {"-1", -1, LevelUnknown}, {"Critical", -1, LevelUnknown}, {"", -1, LevelUnknown},
	}
	for _, tt := range tests {
		if got := ParseSeverity(tt.in); got != tt.want || LevelOf(got) != tt.level {
			t.Errorf("ParseSeverity(%q) = %d (%v), want %d (%v)", tt.in, got, LevelOf(got), tt.want, tt.level)
		}
	}
	if s := LevelVeryHigh.String(); s != "Very-High" {
		t.Errorf("LevelVeryHigh.String() = %q", s)
	}
}

func TestGetAliases(t *testing.T) {
	ev, err := ParseString("CEF:0|V|P|1|1|n|5|sourceAddress=10.0.0.9 dpt=443 deviceCustomString1Label=Policy cs1=strict")
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"src": "10.0.0.9", "sourceAddress": "10.0.0.9", "destinationPort": "443", "dpt": "443"} {
		if v, ok := ev.Get(key); !ok || v != want {
			t.Errorf("Get(%q) = %q, %v; want %q", key, v, ok, want)
		}
	}
	if _, ok := ev.Get("dst"); ok {
		t.Error(`Get("dst") found a value that is not there`)
	}
	if l := ev.Labeled(); l["Policy"] != "strict" {
		t.Errorf("Labeled() = %v: a full-name label did not find its short-name field", l)
	}
}

func TestLookup(t *testing.T) {
	for _, tt := range []struct {
		key, short, full string
		typ              ValueType
	}{
		{"src", "src", "sourceAddress", TypeIP},
		{"sourceAddress", "src", "sourceAddress", TypeIP},
		{"rt", "rt", "deviceReceiptTime", TypeTime},
		{"start", "start", "startTime", TypeTime},
		{"end", "end", "endTime", TypeTime},
		{"fileHash", "fileHash", "fileHash", TypeString},
		{"cn1", "cn1", "deviceCustomNumber1", TypeLong},
		{"requestClientApplication", "requestClientApplication", "requestClientApplication", TypeString},
		{"outcome", "outcome", "eventOutcome", TypeString},
		{"dmac", "dmac", "destinationMacAddress", TypeMAC},
	} {
		info, ok := Lookup(tt.key)
		if !ok || info.Key != tt.short || info.FullName != tt.full || info.Type != tt.typ {
			t.Errorf("Lookup(%q) = %+v, %v", tt.key, info, ok)
		}
	}
	if _, ok := Lookup("FTNTFGTlogid"); ok {
		t.Error("Lookup found a vendor key")
	}
	seen := map[string]bool{}
	for _, k := range Keys() {
		if seen[k.Key] || k.FullName == "" {
			t.Errorf("dictionary entry %+v repeated or without a full name", k)
		}
		seen[k.Key] = true
	}
}

func TestEventTime(t *testing.T) {
	ev, err := ParseString("CEF:0|V|P|1|1|n|5|rt=1709633722123 start=Mar 05 2024 10:15:22.5 CET end=bogus")
	if err != nil {
		t.Fatal(err)
	}
	rt, err := ev.Time("rt", nil)
	if want := time.UnixMilli(1709633722123); err != nil || !rt.Equal(want) {
		t.Errorf(`Time("rt") = %v, %v; want %v`, rt, err, want)
	}
	start, err := ev.Time("startTime", nil) // full name finds "start"
	if want := time.Date(2024, 3, 5, 9, 15, 22, 5e8, time.UTC); err != nil || !start.Equal(want) {
		t.Errorf(`Time("startTime") = %v, %v; want %v`, start, err, want)
	}
	if _, err := ev.Time("end", nil); !errors.Is(err, ErrTime) || !strings.Contains(err.Error(), "extension end") {
		t.Errorf(`Time("end") error = %v, want ErrTime naming the key`, err)
	}
	if z, err := ev.Time("art", nil); err != nil || !z.IsZero() {
		t.Errorf(`Time("art") = %v, %v; want zero, nil`, z, err)
	}
}

func TestParseTime(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	tests := []struct {
		in   string
		loc  *time.Location
		want time.Time
	}{
		{"1709633722123", nil, time.UnixMilli(1709633722123)},
		{"1709633722", nil, time.Unix(1709633722, 0)},
		{"1709633722.25", nil, time.Unix(1709633722, 25e7)},
		{"1709633722123.5", nil, time.UnixMilli(1709633722123).Add(500 * time.Microsecond)},
		{"Mar 05 2024 10:15:22", nil, time.Date(2024, 3, 5, 10, 15, 22, 0, time.UTC)},
		{"Mar 05 2024 10:15:22", est, time.Date(2024, 3, 5, 10, 15, 22, 0, est)},
		{"Mar  5 2024 10:15:22.123", nil, time.Date(2024, 3, 5, 10, 15, 22, 123e6, time.UTC)},
		{"Mar 05 2024 10:15:22 GMT", est, time.Date(2024, 3, 5, 10, 15, 22, 0, time.UTC)},
		{"Mar 05 2024 10:15:22 EST", nil, time.Date(2024, 3, 5, 10, 15, 22, 0, est)},
		{"Mar 05 2024 10:15:22.123 +0100", nil, time.Date(2024, 3, 5, 9, 15, 22, 123e6, time.UTC)},
		{"Mar 05 2024 10:15:22 GMT+05:30", nil, time.Date(2024, 3, 5, 4, 45, 22, 0, time.UTC)},
		{"MAR 05 2024 10:15:22", nil, time.Date(2024, 3, 5, 10, 15, 22, 0, time.UTC)},
		{"2024-03-05T10:15:22.123Z", nil, time.Date(2024, 3, 5, 10, 15, 22, 123e6, time.UTC)},
		{"2024-03-05T10:15:22+01:00", nil, time.Date(2024, 3, 5, 9, 15, 22, 0, time.UTC)},
		{"2024-03-05 10:15:22", est, time.Date(2024, 3, 5, 10, 15, 22, 0, est)},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, tt.loc)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}

	// Without a year: the nearest year that is not more than a day ahead.
	now := time.Now().UTC()
	yesterday := now.Add(-24 * time.Hour).Truncate(time.Second)
	got, err := ParseTime(yesterday.Format("Jan 02 15:04:05"), nil)
	if err != nil || !got.Equal(yesterday) {
		t.Errorf("yearless ParseTime = %v, %v; want %v", got, err, yesterday)
	}

	if l, err := time.LoadLocation("Europe/Berlin"); err == nil {
		got, err := ParseTime("Mar 05 2024 10:15:22 Europe/Berlin", nil)
		if want := time.Date(2024, 3, 5, 10, 15, 22, 0, l); err != nil || !got.Equal(want) {
			t.Errorf("ParseTime with IANA zone = %v, %v; want %v", got, err, want)
		}
	}

	for _, bad := range []string{"", "yesterday", "Foo 05 2024 10:15:22", "Mar 32 2024 10:15:22", "Feb 30 2024 10:15:22",
		"Mar 05 2024 25:15:22", "Mar 05 2024 10:15:22 XYZ", "Mar 05 2024 10:15:22 +2500", "Mar 05 2024", "12ab", "2024-03-05T10"} {
		if _, err := ParseTime(bad, nil); !errors.Is(err, ErrTime) {
			t.Errorf("ParseTime(%q) error = %v, want ErrTime", bad, err)
		}
	}
}
