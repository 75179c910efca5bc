package sigma

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const routingRules = `
title: Sysmon process creation
logsource: {product: windows, category: process_creation}
detection: {s: {Image|endswith: '\whoami.exe'}, condition: s}
---
title: Registry set
logsource: {product: windows, category: registry_set}
detection: {s: {TargetObject|contains: '\Run\'}, condition: s}
---
title: Registry delete
logsource: {product: windows, category: registry_delete}
detection: {s: {TargetObject|contains: '\Run\'}, condition: s}
---
title: Security service
logsource: {product: windows, service: security}
detection: {s: {EventID: 1102}, condition: s}
---
title: Windows anything
logsource: {product: windows}
detection: {k: [mimikatz], condition: k}
---
title: CloudTrail console login
logsource: {product: aws, service: cloudtrail}
detection: {s: {eventName: ConsoleLogin}, condition: s}
---
title: Bitbucket audit
logsource: {product: bitbucket, service: audit}
detection: {s: {auditType.action: Project deleted}, condition: s}
---
title: sshd via auth
logsource: {product: linux, service: sshd}
detection: {k: ['Failed password'], condition: k}
---
title: Defender antivirus
logsource: {category: antivirus}
detection: {s: {Signature|contains: EICAR}, condition: s}
`

func routeTitles(t *testing.T, eng *Engine, r *Record) string {
	t.Helper()
	var out []string
	for _, h := range eng.NewMatcher().Match(r) {
		out = append(out, h.Rule.Title)
	}
	return strings.Join(out, ",")
}

func TestLogSourceRouting(t *testing.T) {
	rs, refusals := LoadBytes("routing.yml", []byte(routingRules), LoadOptions{})
	if len(refusals) > 0 {
		t.Fatal(refusals)
	}
	eng, _ := NewEngine(rs, EngineOptions{})
	hinted := func(p, s, c string, kv ...string) *Record {
		r := record(kv...)
		r.SetLogSource(p, s, c)
		return r
	}
	for _, tc := range []struct {
		name string
		rec  *Record
		want string
	}{
		{"sysmon 1", record("Channel", "Microsoft-Windows-Sysmon/Operational", "EventID", "1", "Image", `C:\whoami.exe`), "Sysmon process creation"},
		{"sysmon 11 is not process creation", record("Channel", "Microsoft-Windows-Sysmon/Operational", "EventID", "11", "Image", `C:\whoami.exe`), ""},
		{"security 4688 field mapping", record("Channel", "Security", "EventID", "4688", "NewProcessName", `C:\whoami.exe`), "Sysmon process creation"},
		{"channel case-insensitive", record("Channel", "security", "EventID", "1102"), "Security service"},
		{"registry set 13", record("Channel", "Microsoft-Windows-Sysmon/Operational", "EventID", "13", "TargetObject", `HKLM\x\Run\y`), "Registry set"},
		{"registry delete needs EventType", record("Channel", "Microsoft-Windows-Sysmon/Operational", "EventID", "12", "EventType", "DeleteValue", "TargetObject", `HKLM\x\Run\y`), "Registry delete"},
		{"registry 12 create is not delete", record("Channel", "Microsoft-Windows-Sysmon/Operational", "EventID", "12", "EventType", "CreateKey", "TargetObject", `HKLM\x\Run\y`), ""},
		{"product-only rule on any channel", record("Channel", "Application", "Data", "mimikatz"), "Windows anything"},
		{"windows hint without channel", hinted("windows", "", "", "Message", "mimikatz"), "Windows anything"},
		{"no log source", record("Data", "mimikatz"), ""},
		{"cloudtrail by hints", hinted("aws", "cloudtrail", "", "eventName", "ConsoleLogin"), "CloudTrail console login"},
		{"cloudtrail raw shape", record("eventVersion", "1.08", "eventSource", "signin.amazonaws.com", "awsRegion", "us-east-1", "eventName", "ConsoleLogin"), "CloudTrail console login"},
		{"cloudtrail wrong product", hinted("azure", "cloudtrail", "", "eventName", "ConsoleLogin"), ""},
		{"fallback hints", hinted("bitbucket", "audit", "", "auditType.action", "Project deleted"), "Bitbucket audit"},
		{"sshd lines in auth.log", hinted("linux", "auth", "", "msg", "Failed password for root"), "sshd via auth"},
		{"defender mapping", record("Channel", "Microsoft-Windows-Windows Defender/Operational", "EventID", "1116", "ThreatName", "Virus:DOS/EICAR_Test_File"), "Defender antivirus"},
		{"antivirus by hint", hinted("", "", "antivirus", "Signature", "EICAR"), "Defender antivirus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := routeTitles(t, eng, tc.rec); got != tc.want {
				t.Fatalf("matched %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUserMappingFile(t *testing.T) {
	rs, _ := LoadBytes("routing.yml", []byte(routingRules), LoadOptions{})
	extra := `
logsources:
  process_creation_ecs:
    category: process_creation
    product: windows
    hints: {product: windows, category: process_creation}
    fieldmappings:
      Image: process.executable
`
	dir := t.TempDir()
	p := filepath.Join(dir, "mine.yml")
	if err := os.WriteFile(p, []byte(extra), 0o600); err != nil {
		t.Fatal(err)
	}
	user, err := LoadMappingFile(p)
	if err != nil {
		t.Fatal(err)
	}
	eng, _ := NewEngine(rs, EngineOptions{Mapping: DefaultMapping().Merge(user)})
	r := record("process.executable", `C:\Windows\whoami.exe`)
	r.SetLogSource("windows", "", "process_creation")
	if got := routeTitles(t, eng, r); got != "Sysmon process creation" {
		t.Fatalf("user mapping: matched %q", got)
	}
	if _, err := ParseMapping("bad.yml", []byte("logsources:\n  x: {category: c}\n")); err == nil {
		t.Fatal("an entry without conditions or hints must be refused")
	}
}

// TestEveryRuleLogSourceIsRoutable checks that every SigmaHQ Windows rule's log source is
// selected by at least one entry of the default mapping.
func TestEveryRuleLogSourceIsRoutable(t *testing.T) {
	rs, _ := loadSigmaHQ(t)
	m := DefaultMapping()
	missing := map[string]bool{}
	for _, r := range rs.Rules {
		if r.LogSource.Product != "windows" {
			continue
		}
		ok := false
		for i := range m.entries {
			if m.entries[i].selects(r.LogSource) {
				ok = true
				break
			}
		}
		if !ok {
			missing[r.LogSource.String()] = true
		}
	}
	if len(missing) > 0 {
		t.Fatalf("Windows log sources without a mapping entry: %v", missing)
	}
}

// TestRoutingPerShape matches records of one shape (the same field names) whose routing
// values and log source hints change from record to record, and come back, on one Matcher:
// the routing a shape keeps from its last record, and the prefilter's scan plan made under
// it, must only be reused for the same values.
func TestRoutingPerShape(t *testing.T) {
	rs, refusals := LoadBytes("routing.yml", []byte(routingRules), LoadOptions{})
	if len(refusals) > 0 {
		t.Fatal(refusals)
	}
	eng, _ := NewEngine(rs, EngineOptions{})
	type tc struct{ channel, eid, image, product, want string }
	// The shape's first record routes to fewer log sources than the next: what the Matcher
	// keeps from it must not be reused for the next.
	cases := []tc{
		{"Microsoft-Windows-Sysmon/Operational", "11", `C:\whoami.exe`, "", ""},
		{"Microsoft-Windows-Sysmon/Operational", "1", `C:\whoami.exe`, "", "Sysmon process creation"},
		{"Microsoft-Windows-Sysmon/Operational", "11", `C:\whoami.exe`, "", ""},
		{"Microsoft-Windows-Sysmon/Operational", "1", `C:\whoami.exe`, "", "Sysmon process creation"},
		{"Application", "1", `mimikatz`, "", "Windows anything"},
		{"Application", "1", `mimikatz`, "", "Windows anything"},
		{"Other", "1", `mimikatz`, "", "Windows anything"}, // a Channel makes a Windows event
		// No Channel: another shape, routed by its hints alone.
		{"-", "1", `mimikatz`, "", ""},
		{"-", "1", `mimikatz`, "windows", "Windows anything"},
		{"-", "1", `mimikatz`, "", ""},
		{"microsoft-windows-sysmon/operational", "1", `C:\whoami.exe`, "", "Sysmon process creation"},
	}
	m := eng.NewMatcher()
	for round := range 3 {
		for i, c := range cases {
			var r Record
			if c.channel != "-" {
				r.AddStable("Channel", c.channel)
			}
			r.AddStable("EventID", c.eid)
			r.AddStable("Image", c.image)
			r.AddStable("Data", c.image)
			r.SetLogSource(c.product, "", "")
			var got []string
			for _, h := range m.Match(&r) {
				got = append(got, h.Rule.Title)
			}
			if fresh := routeTitles(t, eng, &r); fresh != c.want {
				t.Fatalf("record %d: a fresh Matcher matched %q, want %q", i, fresh, c.want)
			}
			if g := strings.Join(got, ","); g != c.want {
				t.Errorf("round %d record %d (%s/%s, hint %q): matched %q, want %q", round, i, c.channel, c.eid, c.product, g, c.want)
			}
		}
	}
}
