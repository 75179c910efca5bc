package query

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// fullEvent sets every field the language knows to a value no other field has.
func fullEvent() event.Event {
	yes := true
	return event.Event{
		ID: "ev_full", Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Class: event.ClassAuthentication, ClassUID: event.ClassAuthentication.UID(), Activity: "logon",
		Kind: "windows_security", Code: "4624", Message: "msg", Status: "success", StatusDetail: "0x0",
		Severity: event.SeverityHigh, Product: "windows", Service: "security", Category: "cat",
		User:       &event.User{Name: "alice", Domain: "corp", UID: "S-1-5-21", Email: "alice@example.com", Type: "user"},
		TargetUser: &event.User{Name: "bob", Domain: "corp2", UID: "S-1-5-22", Email: "bob@example.com", Type: "admin"},
		Device:     &event.Device{Hostname: "ws1", IP: "10.0.0.1", OS: "windows 11"},
		Src:        &event.Endpoint{IP: "10.0.0.2", Port: 50000, Hostname: "src.host", Country: "US", City: "Boston", Agent: "agent/1"},
		Dst:        &event.Endpoint{IP: "10.0.0.3", Port: 443, Hostname: "dst.host", Country: "DE", City: "Berlin", Agent: "agent/2"},
		Process: &event.Process{PID: 4242, GUID: "{guid}", Name: "powershell.exe", Path: `C:\ps.exe`, CommandLine: "powershell -enc x",
			User: "corp\\alice", Integrity: "High", Parent: &event.Process{Name: "cmd.exe", Path: `C:\cmd.exe`, CommandLine: "cmd /c ps"}},
		File:     &event.File{Path: `C:\f.txt`, Name: "f.txt", Share: `\\*\C$`},
		Network:  &event.Network{Protocol: "tcp", Direction: "outbound"},
		HTTP:     &event.HTTP{Method: "GET", URL: "https://x.example/a", Status: 503, UserAgent: "curl/8"},
		DNS:      &event.DNS{Query: "evil.biz", Type: "TXT", RCode: "NXDOMAIN"},
		Registry: &event.Registry{Key: `HKLM\Run`, Value: "upd", Data: "c:\\u.exe"},
		Cloud:    &event.Cloud{Provider: "aws", Service: "s3.amazonaws.com", Operation: "GetObject", Resource: "bucket1", App: "app1", AppID: "app-id-1"},
		Auth:     &event.Auth{LogonType: "3", Protocol: "NTLM", Method: "password", MFA: &yes},
		Email:    &event.Email{From: "eve@example.net", Subject: "invoice"},
		Finding:  &event.Finding{Tool: "suricata", RuleID: "2001", Title: "ET TROJAN", Category: "trojan"},
		Unmapped: map[string]string{"EventData.Foo": "foo-value"},
	}
}

// TestFieldAccessors checks that every field reads its own part of the event, and that the
// fields stage copies exactly that part.
func TestFieldAccessors(t *testing.T) {
	full := fullEvent()
	var empty event.Event
	byValue := map[string]string{}
	for _, d := range fieldDefs {
		v := d.get(&full)
		if v == "" {
			t.Errorf("%s reads nothing from an event that has it", d.name)
			continue
		}
		if other, dup := byValue[v]; dup {
			t.Errorf("%s and %s both read %q: one of them reads the wrong part", d.name, other, v)
		}
		byValue[v] = d.name
		if got := d.get(&empty); got != "" && d.name != "severity_id" {
			t.Errorf("%s of an empty event = %q, want empty", d.name, got)
		}
	}
	for _, d := range fieldDefs {
		f, ok := lookupField(d.name)
		if !ok {
			t.Fatalf("lookupField(%s) failed", d.name)
		}
		got := project([]event.Event{full}, []*field{f})[0]
		if got.ID != full.ID {
			t.Errorf("fields %s dropped the event ID", d.name)
		}
		for _, o := range fieldDefs {
			want := ""
			if o.name == d.name {
				want = o.get(&full)
			}
			if o.name == "severity_id" && want == "" {
				want = "0"
			}
			if v := o.get(&got); v != want {
				t.Errorf("after fields %s, %s = %q, want %q", d.name, o.name, v, want)
			}
		}
	}
	f, _ := lookupField("unmapped.eventdata.foo")
	if v := f.gets[0](&full); v != "foo-value" {
		t.Errorf("unmapped field ignoring case = %q", v)
	}
	got := project([]event.Event{full}, []*field{f})[0]
	if got.Unmapped["EventData.Foo"] != "foo-value" || len(got.Unmapped) != 1 {
		t.Errorf("fields unmapped.eventdata.foo kept %v", got.Unmapped)
	}
	ip, _ := lookupField("ip")
	got = project([]event.Event{full}, []*field{ip})[0]
	if got.Src.IP != "10.0.0.2" || got.Dst.IP != "10.0.0.3" || got.Src.Port != 0 {
		t.Errorf("fields ip kept src %+v dst %+v", got.Src, got.Dst)
	}
}

func TestTextSearchesStringFieldsOnly(t *testing.T) {
	full := fullEvent()
	for _, s := range []string{"ALICE", "boston", "enc x", "cmd /c", "foo-VALUE", "nxdomain", "10.0.0.3", "ET trojan"} {
		if !textMatch(&full, strings.ToLower(s)) {
			t.Errorf("free text %q not found", s)
		}
	}
	for _, s := range []string{"4242", "50000", "503", "ev_full", "absent"} { // numbers and the ID are not text
		if textMatch(&full, s) {
			t.Errorf("free text %q found", s)
		}
	}
}

func TestSuggest(t *testing.T) {
	for in, want := range map[string]string{
		"hots": "host", "usr": "user", "cmd_line": "process.cmd_line", "hostname": "device.hostname",
		"proces.name": "process.name", "dns.qeury": "dns.query", "xyzzy": "",
	} {
		if got := suggest(in); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		s, p string
		want bool
	}{
		{"evil.biz", "*.biz", true}, {"evil.biz.com", "*.biz", false}, {"ws-01", "ws-*", true},
		{"abc", "a*c", true}, {"ac", "a*c", true}, {"ab", "a*c", false}, {"", "*", true}, {"", "", true},
		{"a", "", false}, {"abcbc", "*bc", true}, {"aaa", "a*a*a", true}, {"aa", "a*a*a", false},
		{"héllo", "h*o", true}, {"héllo", "*é*", true},
	}
	for _, c := range cases {
		if got := globMatch(c.s, c.p); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.s, c.p, got)
		}
	}
}
