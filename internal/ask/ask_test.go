package ask

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/query"
)

// A Friday afternoon.
var now = time.Date(2026, 11, 27, 15, 4, 0, 0, time.UTC)

func TestCompile(t *testing.T) {
	for _, c := range []struct{ question, query string }{
		{"failed logins for alice from new countries this week",
			"class = authentication status = failure user = alice | since 7d | first_seen country by user"},
		{"Show me failed sign-ins for bob in the last 24 hours",
			"class = authentication status = failure user = bob | since 24h"},
		{"successful logons on host ws01 yesterday",
			"class = authentication status = success host = ws01 | between 2026-11-26 and 2026-11-27"},
		{"logins from Russia today",
			"class = authentication country = RU | between 2026-11-27 and 2026-11-28"},
		{"sign-ins from RU",
			"class = authentication country = RU"},
		{"which users logged in from 203.0.113.7",
			"class = authentication status = success src_ip = 203.0.113.7 | count by user"},
		{"which hosts did bob log into yesterday",
			"class = authentication user = bob | between 2026-11-26 and 2026-11-27 | count by host"},
		{"what did admin do on dc01 today",
			"user = admin host = dc01 | between 2026-11-27 and 2026-11-28"},
		{"failed logins by source ip",
			"class = authentication status = failure | count by src_ip"},
		{"processes by user alice",
			"class = process_activity user = alice"},
		{"failed sign-ins by alice per destination port",
			"class = authentication status = failure user = alice | count by dst_endpoint.port"},
		{"connections to 10.0.0.0/8 last 30m",
			"class = network_activity dst_ip = 10.0.0.0/8 | since 30m"},
		{"encoded powershell commands on ws-042 in the past 3 days",
			`class = process_activity process = powershell.exe cmd ~ "-e(nc|ncodedcommand)?\s" host = ws-042 | since 3d`},
		{"processes run by corp\\alice on srv01",
			`class = process_activity user = corp\alice host = srv01`},
		{"top 5 hosts by failed logins this week",
			"class = authentication status = failure | since 7d | count by host | limit 5"},
		{"how many failed logins per user today",
			"class = authentication status = failure | between 2026-11-27 and 2026-11-28 | count by user"},
		{"dns queries for *.biz in the last 2 hours",
			"class = dns_activity domain = *.biz | since 2h"},
		{"dns lookups of evil.example.com",
			"class = dns_activity domain = *evil.example.com"},
		{"new processes on host db01",
			"class = process_activity host = db01 | first_seen process by host"},
		{"alice's sign-ins without mfa since monday",
			"class = authentication user = alice auth.is_mfa = false | between 2026-11-23 and 2026-11-28"},
		{`events containing "invoke-mimikatz"`,
			`"invoke-mimikatz"`},
		{"alerts on 2026-11-20",
			"class = detection_finding | between 2026-11-20 and 2026-11-21"},
		{"ran mimikatz", "class = process_activity process = mimikatz.exe"},
		{"last login of frank", "class = authentication user = frank | limit 1"},
		{"logins to dc01", "class = authentication host = dc01"},
		{"processes spawned by winword.exe on ws-01", "class = process_activity parent = winword.exe host = ws-01"},
		{"failed rdp logons from new ips", "class = authentication status = failure auth.logon_type = 10 | first_seen src_ip by user"},
		{"denied connections to port 22", "class = network_activity status = failure dst_endpoint.port = 22"},
		{"dns queries from ws-05", "class = dns_activity host = ws-05"},
		{"logins from laptop-7", "class = authentication src_endpoint.hostname = laptop-7"},
		{"top processes on ws-05", "class = process_activity host = ws-05 | count by process | limit 10"},
	} {
		t.Run(c.question, func(t *testing.T) {
			tr, err := Compile(c.question, now)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if tr.Query != c.query {
				t.Fatalf("query\n got  %s\n want %s\nnotes: %q", tr.Query, c.query, tr.Notes)
			}
			if tr.Source != "offline" || len(tr.Notes) == 0 {
				t.Errorf("source %q, notes %q", tr.Source, tr.Notes)
			}
		})
	}
}

// The notes say how each part was read and which words were not used.
func TestCompileNotes(t *testing.T) {
	tr, err := Compile("failed logins for alice from new countries this week, grouped nicely", now)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(tr.Notes, "\n")
	for _, want := range []string{
		`"this week" → since 7d`,
		`"failed logins" → class = authentication status = failure`,
		`"for alice" → user = alice`,
		`"new countries" → first_seen country by user`,
		`not used: "grouped", "nicely"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("notes lack %q:\n%s", want, all)
		}
	}
}

func TestCompileRefuses(t *testing.T) {
	if _, err := Compile("  ?? ", now); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty question: %v", err)
	}
	if _, err := Compile("please show me", now); err == nil || !strings.Contains(err.Error(), "nothing in") {
		t.Errorf("question without a subject: %v", err)
	}
	if _, err := Compile(strings.Repeat("x ", MaxQuestion), now); err == nil {
		t.Error("an over-long question was taken")
	}
}

// Values that are not plain words are quoted, so a question cannot inject query syntax.
func TestCompileQuotesValues(t *testing.T) {
	tr, err := Compile(`logins for user "bob | count" on host "a or b"`, now)
	if err != nil {
		t.Fatal(err)
	}
	want := `class = authentication user = "bob | count" host = "a or b"`
	if tr.Query != want {
		t.Fatalf("got %s, want %s", tr.Query, want)
	}
}

// An IPv6 address with a zone is not taken for an address: a zone is free text, and "::%/"
// (:: in zone "/") became `ip = "::%/"`, which the query language reads as a bad prefix
// (found by FuzzCompile; its input is in testdata/fuzz).
func TestIPOrPrefix(t *testing.T) {
	for w, want := range map[string]bool{
		"203.0.113.7": true, "2001:db8::1": true, "10.0.0.0/8": true, "2001:db8::/32": true,
		"::%/": false, "fe80::1%eth0": false, "10.0.0.0/33": false, "ws01": false,
	} {
		if got := isIPOrPrefix(w); got != want {
			t.Errorf("isIPOrPrefix(%q) = %v, want %v", w, got, want)
		}
	}
	tr, err := Compile("connections from ::%/", now)
	if err == nil {
		if _, perr := query.Parse(tr.Query); perr != nil {
			t.Fatalf("compiled to %q, which does not parse: %v", tr.Query, perr)
		}
	}
}
