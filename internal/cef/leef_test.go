package cef

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// leefTests are real-looking LEEF records with their expected decoding. They also seed
// FuzzParseLEEF.
var leefTests = []struct {
	name string
	line string
	want LEEFEvent
}{
	{
		name: "LEEF 1.0, tab-separated (QRadar documentation example)",
		line: "LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.1\tdst=172.50.123.1\tsev=5\tcat=anomaly\tsrcPort=81\tdstPort=21\tusrName=joe.black",
		want: LEEFEvent{Version: "1.0", Vendor: "Microsoft", Product: "MSExchange", ProductVersion: "4.0 SP1", EventID: "15345", Delimiter: "\t",
			Attributes: ext("src", "192.0.2.1", "dst", "172.50.123.1", "sev", "5", "cat", "anomaly", "srcPort", "81", "dstPort", "21", "usrName", "joe.black")},
	},
	{
		name: "LEEF 2.0 with a caret delimiter, '=' inside a value",
		line: "LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=192.0.2.1^dst=172.50.123.1^sev=5^cat=anomaly^msg=the=message",
		want: LEEFEvent{Version: "2.0", Vendor: "Lancope", Product: "StealthWatch", ProductVersion: "1.0", EventID: "41", Delimiter: "^",
			Attributes: ext("src", "192.0.2.1", "dst", "172.50.123.1", "sev", "5", "cat", "anomaly", "msg", "the=message")},
	},
	{
		name: "LEEF 2.0 hex delimiter, delimiter inside a value",
		line: "LEEF:2.0|Vendor|Product|1.0|ID|0x5E|a=x^y^b=2",
		want: LEEFEvent{Version: "2.0", Vendor: "Vendor", Product: "Product", ProductVersion: "1.0", EventID: "ID", Delimiter: "^",
			Attributes: ext("a", "x^y", "b", "2")},
	},
	{
		name: "LEEF 2.0 x09 delimiter behind a syslog header",
		line: "<13>Mar  5 10:15:22 qradar01 LEEF:2.0|IBM|QRadar|7.5|Login|x09|devTime=Mar 05 2024 10:15:22\tusrName=alice\tsrc=10.0.0.9\r\n",
		want: LEEFEvent{Version: "2.0", Vendor: "IBM", Product: "QRadar", ProductVersion: "7.5", EventID: "Login", Delimiter: "\t",
			Prefix:     "<13>Mar  5 10:15:22 qradar01",
			Attributes: ext("devTime", "Mar 05 2024 10:15:22", "usrName", "alice", "src", "10.0.0.9")},
	},
	{
		name: "LEEF 2.0 without its delimiter field",
		line: "LEEF:2.0|V|P|1|E|a=1\tb=2",
		want: LEEFEvent{Version: "2.0", Vendor: "V", Product: "P", ProductVersion: "1", EventID: "E", Delimiter: "\t",
			Attributes: ext("a", "1", "b", "2")},
	},
	{
		name: "LEEF 2.0 with an empty delimiter field",
		line: "LEEF:2.0|V|P|1|E||a=1\tb=2",
		want: LEEFEvent{Version: "2.0", Vendor: "V", Product: "P", ProductVersion: "1", EventID: "E", Delimiter: "\t",
			Attributes: ext("a", "1", "b", "2")},
	},
	{
		name: "LEEF 1.0 sent space-separated (Palo Alto), backslash kept",
		line: `LEEF:1.0|Palo Alto Networks|PAN-OS Syslog Integration|10.2|allow|cat=TRAFFIC src=10.0.0.5 dst=203.0.113.10 usrName=example\alice devTime=Mar 05 2024 10:15:22 GMT`,
		want: LEEFEvent{Version: "1.0", Vendor: "Palo Alto Networks", Product: "PAN-OS Syslog Integration", ProductVersion: "10.2", EventID: "allow",
			Delimiter:  " ",
			Attributes: ext("cat", "TRAFFIC", "src", "10.0.0.5", "dst", "203.0.113.10", "usrName", `example\alice`, "devTime", "Mar 05 2024 10:15:22 GMT")},
	},
	{
		name: "LEEF 1.0, no attributes",
		line: "LEEF:1.0|Fortinet|FortiGate|7.2|traffic",
		want: LEEFEvent{Version: "1.0", Vendor: "Fortinet", Product: "FortiGate", ProductVersion: "7.2", EventID: "traffic", Delimiter: "\t"},
	},
	{
		name: "LEEF 1.0, empty values and a trailing tab",
		line: "LEEF:1.0|V|P|1|E|a=\tb=2\t",
		want: LEEFEvent{Version: "1.0", Vendor: "V", Product: "P", ProductVersion: "1", EventID: "E", Delimiter: "\t",
			Attributes: ext("a", "", "b", "2")},
	},
}

func TestParseLEEF(t *testing.T) {
	for _, tt := range leefTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLEEF([]byte(tt.line))
			if err != nil {
				t.Fatalf("ParseLEEF: %v", err)
			}
			want := tt.want
			if want.Attributes != nil {
				want.Attr = make(map[string]string)
				for _, a := range want.Attributes {
					want.Attr[a.Key] = a.Value
				}
			}
			if len(got.Attributes) == 0 {
				got.Attributes = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %#v\nwant %#v", got, want)
			}
		})
	}
}

// leefErrorTests are broken LEEF records with the error they must produce.
var leefErrorTests = []struct {
	name   string
	line   string
	field  string
	offset int
	sent   error
	text   string
}{
	{"not LEEF", "CEF:0|V|P|1|1|n|5|", "header", 0, ErrNotLEEF, `no "LEEF:" marker`},
	{"version 3", "LEEF:3.0|V|P|1|E|a=1", "version", 5, ErrMalformed, `unsupported LEEF version "3.0"`},
	{"header stops after the product", "LEEF:1.0|V|P", "product version", 12, ErrMalformed, "the header ends after 3 of its 5 fields"},
	{"bad delimiter", "LEEF:2.0|V|P|1|E|abc|a=1", "delimiter", 17, ErrMalformed, `"abc" is neither a character nor a hex code`},
	{"first attribute without '='", "LEEF:1.0|V|P|1|E|novalue\ta=1", "extension", 17, ErrMalformed, `attribute "novalue" has no '='`},
	{"empty key", "LEEF:1.0|V|P|1|E|a=1\t=2", "extension", 21, ErrMalformed, `bad attribute key ""`},
}

func TestParseLEEFErrors(t *testing.T) {
	for _, tt := range leefErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLEEFString(tt.line)
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
			if !strings.Contains(err.Error(), tt.text) || !strings.HasPrefix(err.Error(), "leef: ") {
				t.Errorf("error %q does not say %q", err, tt.text)
			}
		})
	}
}

// TestParseLEEFLongValue guards against rebuilding a value piece by piece: a value holding many
// delimiters must parse in linear time.
func TestParseLEEFLongValue(t *testing.T) {
	line := "LEEF:2.0|V|P|1|E|^|a=" + strings.Repeat("x^", 1<<16) + "b=1"
	ev, err := ParseLEEFString(line)
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.Attr["a"]; len(got) != 2<<16-1 || ev.Attr["b"] != "1" {
		t.Errorf("a has %d bytes, b = %q", len(got), ev.Attr["b"])
	}
}
