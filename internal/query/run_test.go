package query

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/sqlite"
)

var now = time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

const day = 24 * time.Hour

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "vigil.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t *testing.T, s store.Store, evs ...event.Event) {
	t.Helper()
	for i := range evs {
		if evs[i].ClassUID == 0 {
			evs[i].ClassUID = evs[i].Class.UID()
		}
		evs[i].Origin = event.Origin{Source: "test", Received: now}
	}
	if _, err := s.PutEvents(context.Background(), evs, nil); err != nil {
		t.Fatal(err)
	}
}

func authEv(id string, at time.Time, user, host, ip, country, status string) event.Event {
	code := "4624"
	if status == "failure" {
		code = "4625"
	}
	return event.Event{ID: id, Time: at, Class: event.ClassAuthentication, Activity: "logon", Kind: "windows_security",
		Code: code, Status: status, User: &event.User{Name: user}, Device: &event.Device{Hostname: host},
		Src: &event.Endpoint{IP: ip, Country: country}}
}

func procEv(id string, at time.Time, host, user, name, cmd, parent string, pid int64) event.Event {
	return event.Event{ID: id, Time: at, Class: event.ClassProcess, Activity: "launch", Kind: "sysmon", Code: "1",
		Device: &event.Device{Hostname: host}, User: &event.User{Name: user},
		Process: &event.Process{Name: name, CommandLine: cmd, PID: pid, Parent: &event.Process{Name: parent}}}
}

func dnsEv(id string, at time.Time, host, src, query string) event.Event {
	return event.Event{ID: id, Time: at, Class: event.ClassDNS, Kind: "sysmon", Code: "22",
		Device: &event.Device{Hostname: host}, Src: &event.Endpoint{IP: src}, DNS: &event.DNS{Query: query}}
}

func netEv(id string, at time.Time, src, dst string, port int) event.Event {
	return event.Event{ID: id, Time: at, Class: event.ClassNetwork, Kind: "zeek", Code: "conn",
		Src: &event.Endpoint{IP: src}, Dst: &event.Endpoint{IP: dst, Port: port}, Network: &event.Network{Protocol: "tcp"}}
}

func httpEv(id string, at time.Time, url string, status int) event.Event {
	return event.Event{ID: id, Time: at, Class: event.ClassHTTP, Kind: "nginx", HTTP: &event.HTTP{Method: "GET", URL: url, Status: status}}
}

// hunt is the store the Run tests share: a few days of logons, processes, DNS, network and HTTP
// events, written in several batches (so several blocks).
func hunt(t *testing.T) *sqlite.Store {
	s := openStore(t)
	put(t, s, // alice logs on from the US for days, then from Russia twice
		authEv("a_us1", ago(10*day), "alice", "WS1", "203.0.113.5", "US", "success"),
		authEv("a_us2", ago(8*day), "alice", "WS1", "203.0.113.5", "US", "success"),
		authEv("a_us3", ago(6*day), "alice", "WS1", "203.0.113.5", "US", "success"),
		authEv("a_us4", ago(4*day), "alice", "WS1", "203.0.113.5", "us", "success"),
		authEv("a_us5", ago(60*time.Hour), "alice", "WS1", "203.0.113.5", "US", "success"),
		authEv("a_ru1", ago(2*day), "alice", "WS1", "198.51.100.9", "RU", "success"),
		authEv("a_ru2", ago(1*day), "Alice", "WS1", "198.51.100.9", "RU", "success"),
	)
	cnAPI := event.Event{ID: "c_cn_api", Time: ago(5 * day), Class: event.ClassAPI, Kind: "cloudtrail", Code: "ListBuckets",
		User: &event.User{Name: "carol"}, Src: &event.Endpoint{IP: "192.0.2.77", Country: "CN"}}
	put(t, s,
		authEv("b_fail", ago(3*time.Hour), "bob", "ws2", "10.1.2.3", "US", "failure"),
		cnAPI,
		authEv("c_cn", ago(1*time.Hour), "carol", "ws3", "192.0.2.77", "CN", "success"),
		authEv("c_fr", ago(2*time.Hour), "carol", "ws3", "192.0.2.80", "FR", "success"),
	)
	mimi := procEv("p_mimi", ago(30*time.Minute), "ws3", "carol", "mimikatz.exe", "mimikatz.exe sekurlsa::logonpasswords", "cmd.exe", 7000)
	mimi.Message = "Mimikatz credential dump"
	mimi.Unmapped = map[string]string{"Rule.Name": "CredTheft"}
	put(t, s,
		procEv("p_ps1", ago(5*time.Hour), "ws1", "alice", "powershell.exe", "powershell.exe -enc ZQBjAGgAbwA=", "cmd.exe", 4000),
		procEv("p_ps2", ago(4*time.Hour), "WS2", "bob", "PowerShell.exe", "powershell -EncodedCommand abc", "explorer.exe", 300),
		procEv("p_np", ago(6*time.Hour), "ws1", "alice", "notepad.exe", `notepad c:\notes.txt`, "explorer.exe", 12),
		mimi,
	)
	put(t, s,
		dnsEv("d1", ago(2*time.Hour), "ws1", "10.0.0.5", "evil.biz"),
		dnsEv("d2", ago(90*time.Minute), "ws1", "10.0.0.5", "good.com"),
		dnsEv("d3", ago(80*time.Minute), "ws2", "10.0.0.6", "other.BIZ"),
		dnsEv("d4", ago(70*time.Minute), "ws2", "10.0.0.6", "evil.biz"),
		netEv("n1", ago(50*time.Minute), "10.0.0.5", "198.51.100.7", 443),
		netEv("n2", ago(40*time.Minute), "10.0.0.6", "10.0.0.9", 22),
		netEv("n3", ago(45*time.Minute), "2001:db8::1", "2001:db8::2", 8080),
	)
	put(t, s,
		httpEv("h1", ago(20*time.Minute), "https://app.example/api", 500),
		httpEv("h2", ago(25*time.Minute), "https://app.example/", 200),
		httpEv("h3", ago(26*time.Minute), "https://app.example/missing", 404),
	)
	return s
}

func run(t *testing.T, s Searcher, src string, opts Options) *Result {
	t.Helper()
	q, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	if opts.Now.IsZero() {
		opts.Now = now
	}
	res, err := Run(context.Background(), s, q, opts)
	if err != nil {
		t.Fatalf("Run(%q): %v", src, err)
	}
	if res.Query != q.String() {
		t.Fatalf("Result.Query = %q, want the canonical %q", res.Query, q.String())
	}
	return res
}

func ids(res *Result) []string {
	out := []string{}
	for _, ev := range res.Events {
		out = append(out, ev.ID)
	}
	return out
}

func TestRunSelects(t *testing.T) {
	s := hunt(t)
	cases := []struct {
		name, q string
		want    []string // in order: newest first unless sorted
	}{
		{"equality ignores case", `user = ALICE class = authentication`, []string{"a_ru2", "a_ru1", "a_us5", "a_us4", "a_us3", "a_us2", "a_us1"}},
		{"host equality ignores case", `host = ws2`, []string{"d4", "d3", "b_fail", "p_ps2"}},
		{"process alias", `process = powershell.exe`, []string{"p_ps2", "p_ps1"}},
		{"code", `code = 4625`, []string{"b_fail"}},
		{"not equal", `status != success class = authentication`, []string{"b_fail"}},
		{"missing field is empty: !=", `user.name != alice class = dns_activity`, []string{"d4", "d3", "d2", "d1"}},
		{"missing field is empty: =", `user.name = "" code = 22`, []string{"d4", "d3", "d2", "d1"}},
		{"wildcard", `dns.query = "*.biz"`, []string{"d4", "d3", "d1"}},
		{"wildcard inside", `cmd = "*sekurlsa*"`, []string{"p_mimi"}},
		{"wildcard not equal", `domain != "*.biz" class = dns_activity`, []string{"d2"}},
		{"in", `process in (notepad.exe, "MIMIKATZ.EXE")`, []string{"p_mimi", "p_np"}},
		{"in with wildcard", `domain in ("good.*", x)`, []string{"d2"}},
		{"cidr", `src_ip = 10.0.0.0/8 class = network_activity`, []string{"n2", "n1"}},
		{"cidr on ip alias matches either side", `ip = 198.51.100.0/24`, []string{"n1", "a_ru2", "a_ru1"}},
		{"ipv6 cidr", `ip = 2001:db8::/32`, []string{"n3"}},
		{"cidr not equal", `dst_ip != 10.0.0.0/8 class = network_activity`, []string{"n3", "n1"}},
		{"ip alias equality", `ip = 10.0.0.9`, []string{"n2"}},
		{"ip alias not equal means neither", `ip != 10.0.0.5 class = network_activity`, []string{"n2", "n3"}},
		{"numeric comparison", `dst_endpoint.port > 100`, []string{"n3", "n1"}},
		{"numeric comparison 2", `http.status_code >= 404`, []string{"h1", "h3"}},
		{"numeric comparison 3", `process.pid < 1000`, []string{"p_ps2", "p_np"}},
		{"ordering skips missing fields", `dst_endpoint.port < 100000`, []string{"n2", "n3", "n1"}},
		{"lexical comparison", `user.name > bob class = authentication`, []string{"c_cn", "c_fr"}},
		{"relative time", `class = authentication time >= -3h`, []string{"c_cn", "c_fr", "b_fail"}},
		{"relative time strict", `class = authentication time > -3h`, []string{"c_cn", "c_fr"}},
		{"date", `class = authentication time < 2026-03-16`, []string{"a_us3", "a_us2", "a_us1"}},
		{"rfc 3339", `class = authentication time <= 2026-03-16T12:00:00Z time >= 2026-03-12T12:00:00+00:00`, []string{"a_us4", "a_us3", "a_us2"}},
		{"or and parentheses", `(host = ws1 or host = ws3) class = process_activity`, []string{"p_mimi", "p_ps1", "p_np"}},
		{"not", `class = process_activity not (host = ws1)`, []string{"p_mimi", "p_ps2"}},
		{"and binds tighter than or", `process = notepad.exe or user = bob and class = process_activity`, []string{"p_ps2", "p_np"}},
		{"not not", `not not host = ws3`, []string{"p_mimi", "c_cn", "c_fr"}},
		{"regex ignores case", `cmd ~ "-enc(odedcommand)? "`, []string{"p_ps2", "p_ps1"}},
		{"regex anchored", `process ~ "^p.*l\.exe$"`, []string{"p_ps2", "p_ps1"}},
		{"free text", `mimikatz`, []string{"p_mimi"}},
		{"free text in a field", `"SEKURLSA::"`, []string{"p_mimi"}},
		{"free text in unmapped", `credtheft`, []string{"p_mimi"}},
		{"free text with backslash", `"c:\\notes"`, []string{"p_np"}},
		{"free text adjacency", `evil ws2`, []string{"d4"}},
		{"unmapped field", `unmapped.rule.name = credtheft`, []string{"p_mimi"}},
		{"since", `class = authentication | since 36h`, []string{"c_cn", "c_fr", "b_fail", "a_ru2"}},
		{"between is half open", `class = authentication | between 2026-03-16 and -2d`, []string{"a_us5", "a_us4"}},
		{"where", `class = process_activity | where host = ws1`, []string{"p_ps1", "p_np"}},
		{"where with or", `class = dns_activity | where domain = good.com or src_ip = 10.0.0.6 | where not domain = evil.biz`, []string{"d3", "d2"}},
		{"nothing", `user = nobody`, []string{}},
		{"parent", `parent = explorer.exe`, []string{"p_ps2", "p_np"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := run(t, s, c.q, Options{})
			if got := ids(res); !slices.Equal(got, c.want) {
				t.Fatalf("%s\n got %v\nwant %v", c.q, got, c.want)
			}
			if res.Truncated {
				t.Fatalf("%s: Truncated, but the answer is whole", c.q)
			}
		})
	}
}

func TestRunFirstSeen(t *testing.T) {
	s := hunt(t)
	cases := []struct {
		name, q string
		want    []string
	}{
		// The US logons before the window are history the store supplies; only the first
		// Russian logon is new.
		{"new country", `class = authentication user = alice | since 3d | first_seen country by user`, []string{"a_ru1"}},
		{"from the start", `class = authentication user = alice | first_seen country by user`, []string{"a_ru1", "a_us1"}},
		// Within 1d: every US logon is more than a day after the previous one; the second
		// Russian logon is exactly a day after the first, which counts as within.
		{"within", `class = authentication user = alice | first_seen country by user within 1d`, []string{"a_ru1", "a_us5", "a_us4", "a_us3", "a_us2", "a_us1"}},
		// carol's Chinese address was seen before in a CloudTrail event: history is any class.
		{"history of any class", `class = authentication user = carol | first_seen country by user`, []string{"c_fr"}},
		{"empty key dropped", `class = dns_activity | first_seen domain by user`, []string{}},
		{"by host", `class = dns_activity | first_seen domain by host`, []string{"d4", "d3", "d2", "d1"}},
		{"by src ip", `class = dns_activity domain = evil.biz | first_seen domain by src_ip`, []string{"d4", "d1"}},
		{"by domain", `class = dns_activity domain = evil.biz | first_seen src_ip by domain`, []string{"d4", "d1"}},
		{"with limit", `class = authentication user = alice | first_seen country by user | limit 1`, []string{"a_ru1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ids(run(t, s, c.q, Options{})); !slices.Equal(got, c.want) {
				t.Fatalf("%s\n got %v\nwant %v", c.q, got, c.want)
			}
		})
	}
	// The second Russian logon is not new once the first is stored; put a third, later one
	// in a new batch and ask again.
	put(t, s, authEv("a_ru3", ago(30*time.Minute), "alice", "WS1", "198.51.100.9", "RU", "success"))
	if got := ids(run(t, s, `class = authentication user = alice | since 2h | first_seen country by user`, Options{})); len(got) != 0 {
		t.Fatalf("a repeat logon from Russia reported as first seen: %v", got)
	}
}

func TestRunCount(t *testing.T) {
	s := hunt(t)
	cases := []struct {
		q         string
		cols      []string
		rows      [][]string
		truncated bool
	}{
		{`class = authentication | count by user`, []string{"user.name", "count"},
			[][]string{{"Alice", "7"}, {"carol", "2"}, {"bob", "1"}}, false},
		{`class = authentication user = alice | count by country`, []string{"src_endpoint.country", "count"},
			[][]string{{"US", "5"}, {"RU", "2"}}, false},
		{`dns.query = "*.biz" | since 24h | count by src_ip`, []string{"src_endpoint.ip", "count"},
			[][]string{{"10.0.0.6", "2"}, {"10.0.0.5", "1"}}, false},
		{`process = powershell.exe cmd ~ "-enc(odedcommand)? " | count by host`, []string{"device.hostname", "count"},
			[][]string{{"ws1", "1"}, {"WS2", "1"}}, false},
		{`class = process_activity | count by host, user`, []string{"device.hostname", "user.name", "count"},
			[][]string{{"ws1", "alice", "2"}, {"WS2", "bob", "1"}, {"ws3", "carol", "1"}}, false},
		{`| count`, []string{"count"}, [][]string{{"25"}}, false},
		{`nothing-like-this | count`, []string{"count"}, [][]string{{"0"}}, false},
		{`| count by class | limit 2`, []string{"class", "count"},
			[][]string{{"authentication", "10"}, {"dns_activity", "4"}}, true},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			res := run(t, s, c.q, Options{})
			if !slices.Equal(res.Columns, c.cols) || fmt.Sprint(res.Rows) != fmt.Sprint(c.rows) || res.Truncated != c.truncated {
				t.Fatalf("%s\n got %v %v truncated=%v\nwant %v %v truncated=%v", c.q, res.Columns, res.Rows, res.Truncated, c.cols, c.rows, c.truncated)
			}
			if res.Events != nil {
				t.Fatalf("count returned events too")
			}
		})
	}
}

func TestRunSortLimitFields(t *testing.T) {
	s := hunt(t)
	cases := []struct {
		q         string
		want      []string
		truncated bool
	}{
		{`class = network_activity | sort dst_endpoint.port`, []string{"n2", "n1", "n3"}, false},
		{`class = network_activity | sort dst_endpoint.port desc`, []string{"n3", "n1", "n2"}, false},
		{`class = authentication user = alice | sort time asc | limit 2`, []string{"a_us1", "a_us2"}, true},
		{`class = authentication | sort user | limit 3`, []string{"a_ru2", "a_ru1", "a_us5"}, true},
		{`class = http_activity | sort url desc`, []string{"h3", "h1", "h2"}, false},
		{`class = authentication | limit 3`, []string{"c_cn", "c_fr", "b_fail"}, true},
		{`class = authentication | limit 10`, []string{"c_cn", "c_fr", "b_fail", "a_ru2", "a_ru1", "a_us5", "a_us4", "a_us3", "a_us2", "a_us1"}, false},
		{`class = authentication | limit 9`, []string{"c_cn", "c_fr", "b_fail", "a_ru2", "a_ru1", "a_us5", "a_us4", "a_us3", "a_us2"}, true},
		// Events without the field come first ascending: only h1..h3 have a status code.
		{`time >= -30m | sort http.status_code`, []string{"p_mimi", "h2", "h3", "h1"}, false},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			res := run(t, s, c.q, Options{})
			if got := ids(res); !slices.Equal(got, c.want) || res.Truncated != c.truncated {
				t.Fatalf("%s\n got %v truncated=%v\nwant %v truncated=%v", c.q, got, res.Truncated, c.want, c.truncated)
			}
		})
	}
	t.Run("default limit", func(t *testing.T) {
		var evs []event.Event
		for i := range 120 {
			evs = append(evs, httpEv(fmt.Sprintf("bulk%03d", i), ago(3*day+time.Duration(i)*time.Second), "https://bulk/", 204))
		}
		put(t, s, evs...)
		res := run(t, s, `http.status_code = 204`, Options{})
		if len(res.Events) != DefaultLimit || !res.Truncated || res.Events[0].ID != "bulk000" {
			t.Fatalf("%d events, truncated=%v; want the newest %d and Truncated", len(res.Events), res.Truncated, DefaultLimit)
		}
	})
	t.Run("fields", func(t *testing.T) {
		res := run(t, s, `class = network_activity | fields dst_ip, dst_endpoint.port`, Options{})
		if len(res.Events) != 3 {
			t.Fatalf("%d events", len(res.Events))
		}
		for _, ev := range res.Events {
			if ev.ID == "" || ev.Dst == nil || ev.Dst.IP == "" || ev.Dst.Port == 0 {
				t.Fatalf("fields dropped a kept field: %+v", ev)
			}
			if ev.Src != nil || ev.Network != nil || ev.Class != "" || !ev.Time.IsZero() || ev.Kind != "" {
				t.Fatalf("fields kept a field it should have zeroed: %+v", ev)
			}
		}
	})
}

func TestRunMaxScan(t *testing.T) {
	s := hunt(t)
	res := run(t, s, `class = authentication`, Options{MaxScan: 4})
	if !res.Truncated || len(res.Events) > 4 || len(res.Events) == 0 {
		t.Fatalf("MaxScan 4: %d events, truncated=%v; want at most 4 and Truncated", len(res.Events), res.Truncated)
	}
	res = run(t, s, `class = authentication | count`, Options{MaxScan: 4})
	if !res.Truncated || res.Rows[0][0] != "4" {
		t.Fatalf("MaxScan 4 count = %v, truncated=%v", res.Rows, res.Truncated)
	}
	res = run(t, s, `class = authentication`, Options{MaxScan: 10})
	if res.Truncated || len(res.Events) != 10 {
		t.Fatalf("MaxScan 10 with 10 matching events: %d, truncated=%v", len(res.Events), res.Truncated)
	}
}

// TestRunPages makes Run read the store in pages of three, with several events at one instant
// across page boundaries, and checks that no event is lost or repeated.
func TestRunPages(t *testing.T) {
	s := openStore(t)
	var evs []event.Event
	for i := range 40 {
		at := ago(time.Duration(i/5) * time.Minute) // five events per instant
		evs = append(evs, dnsEv(fmt.Sprintf("e%02d", i), at, "h", "10.0.0.1", fmt.Sprintf("q%d.example", i%3)))
	}
	put(t, s, evs[:20]...)
	put(t, s, evs[20:]...)
	defer func(n int) { pageSize = n }(pageSize)
	pageSize = 3
	res := run(t, s, `| count by domain`, Options{})
	if fmt.Sprint(res.Rows) != "[[q0.example 14] [q1.example 13] [q2.example 13]]" || res.Truncated {
		t.Fatalf("count over pages = %v, truncated=%v", res.Rows, res.Truncated)
	}
	res = run(t, s, `| sort time asc | limit 40`, Options{})
	seen := map[string]bool{}
	for _, ev := range res.Events {
		if seen[ev.ID] {
			t.Fatalf("event %s returned twice", ev.ID)
		}
		seen[ev.ID] = true
	}
	if len(seen) != 40 || res.Truncated {
		t.Fatalf("%d distinct events over pages, truncated=%v; want 40", len(seen), res.Truncated)
	}
}

// recorder is a Searcher that keeps the queries it passes on.
type recorder struct {
	s  Searcher
	qs []store.EventQuery
}

func (r *recorder) SearchEvents(ctx context.Context, q store.EventQuery) ([]event.Event, error) {
	r.qs = append(r.qs, q)
	return r.s.SearchEvents(ctx, q)
}

func pushed(q store.EventQuery) string {
	var parts []string
	add := func(name, v string) {
		if v != "" {
			parts = append(parts, name+"="+v)
		}
	}
	add("host", q.Host)
	add("user", q.User)
	add("ip", q.IP)
	add("class", string(q.Class))
	add("code", q.Code)
	add("process", q.Process)
	add("contains", q.Contains)
	if !q.From.IsZero() {
		parts = append(parts, "from")
	}
	if !q.To.IsZero() {
		parts = append(parts, "to")
	}
	return strings.Join(parts, " ")
}

// TestPushdownEquivalence runs queries whose terms the store can answer beside the same
// queries written so that nothing can be pushed down, and wants the same events.
func TestPushdownEquivalence(t *testing.T) {
	s := hunt(t)
	cases := []struct{ q, unpushed, want string }{
		{`host = WS1`, `not not (host = WS1)`, "host=WS1"},
		{`user = ALICE class = authentication`, `not not (user = ALICE and class = authentication)`, "user=ALICE class=authentication"},
		{`process = POWERSHELL.EXE`, `not not process = POWERSHELL.EXE`, "process=POWERSHELL.EXE"},
		{`src_ip = 10.0.0.5`, `not not src_ip = 10.0.0.5`, "ip=10.0.0.5"},
		{`ip = 10.0.0.6`, `not not ip = 10.0.0.6`, "ip=10.0.0.6"},
		{`dst_ip = 10.0.0.9`, `not not dst_ip = 10.0.0.9`, "ip=10.0.0.9"},
		{`code = 4625`, `not not code = 4625`, "code=4625"},
		{`mimikatz`, `not not mimikatz`, "contains=mimikatz"},
		{`"c:\\notes"`, `not not "c:\\notes"`, `contains=c:\notes`},
		{`class = authentication time >= -3h time < -1h`, `not not (class = authentication and time >= -3h and time < -1h)`, "class=authentication from to"},
		{`user = alice | since 3d`, `not not (user = alice and time >= -3d)`, "user=alice from"},
		{`user = alice | between -3d and -1d`, `not not (user = alice and time >= -3d and time < -1d)`, "user=alice from to"},
		{`evil | where host = ws2 | where code = 22`, `not not (evil and host = ws2 and code = 22)`, "host=ws2 code=22 contains=evil"},
		{`class = authentication user = alice | since 3d | first_seen country by user`,
			`not not (class = authentication and user = alice and time >= -3d) | first_seen country by user`, "user=alice class=authentication from"},
		{`user = alice class = authentication | count by country`, `not not (user = alice and class = authentication) | count by country`, "user=alice class=authentication"},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			rp := &recorder{s: s}
			a := run(t, rp, c.q, Options{})
			ru := &recorder{s: s}
			b := run(t, ru, c.unpushed, Options{})
			if got := pushed(rp.qs[0]); got != c.want {
				t.Fatalf("%s pushed down %q, want %q", c.q, got, c.want)
			}
			if got := pushed(ru.qs[0]); got != "" {
				t.Fatalf("%s pushed down %q, want nothing", c.unpushed, got)
			}
			if fmt.Sprint(ids(a), a.Rows) != fmt.Sprint(ids(b), b.Rows) {
				t.Fatalf("pushed down: %v %v\nnot pushed: %v %v", ids(a), a.Rows, ids(b), b.Rows)
			}
			if len(a.Events)+len(a.Rows) == 0 {
				t.Fatalf("%s matched nothing: the comparison proves little", c.q)
			}
		})
	}
}

// TestPushdownTrickyValues compares pushed-down and evaluated-only equality over names whose
// case mapping or JSON encoding is unusual.
func TestPushdownTrickyValues(t *testing.T) {
	s := openStore(t)
	names := []string{
		"WS1", "ws1", "ſtation", "station", "STATION", "\u212Aiosk", "kiosk", "KIOSK", `corp\host`, `CORP\HOST`,
		`a"b`, "İstanbul", "istanbul", "ÄBC", "äbc", "x<y>&z", "tab\there", "σίσυφος", "ΣΊΣΥΦΟΣ", "ς", "α/β", "\ufffd", "a\u2028b",
	}
	var evs []event.Event
	for i, n := range names {
		ev := procEv(fmt.Sprintf("t%02d", i), ago(time.Duration(i)*time.Minute), n, n, n, "c", "p", 1)
		ev.Src = &event.Endpoint{IP: n}
		ev.Code = n
		ev.Message = "m " + n + " m"
		evs = append(evs, ev)
	}
	put(t, s, evs...)
	for _, n := range names {
		lit := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(n)
		for _, tmpl := range []string{`host = "%s"`, `user = "%s"`, `process = "%s"`, `src_ip = "%s"`, `code = "%s"`, `"%s"`} {
			if tmpl == `src_ip = "%s"` && strings.Contains(n, "/") {
				continue // a value with / on an IP field is a CIDR prefix
			}
			q := fmt.Sprintf(tmpl, lit)
			a := ids(run(t, s, q, Options{}))
			b := ids(run(t, s, "not not "+q, Options{}))
			if !slices.Equal(a, b) {
				t.Errorf("%s: pushed down %v, evaluated only %v", q, a, b)
			}
			if len(b) == 0 {
				t.Errorf("%s matched nothing", q)
			}
		}
	}
}

func TestRunNoSearcher(t *testing.T) {
	if _, err := Run(context.Background(), nil, &Query{}, Options{}); err != ErrNoSearcher {
		t.Fatalf("Run(nil searcher) = %v", err)
	}
}

// deaf is a Searcher that ignores EventQuery.Match.
type deaf struct{ s Searcher }

func (d deaf) SearchEvents(ctx context.Context, q store.EventQuery) ([]event.Event, error) {
	q.Match = nil
	return d.s.SearchEvents(ctx, q)
}

// TestRunSearcherIgnoringMatch checks that Run's answers stay right when the Searcher does
// not apply Match, across small pages.
func TestRunSearcherIgnoringMatch(t *testing.T) {
	s := hunt(t)
	defer func(n int) { pageSize = n }(pageSize)
	pageSize = 2
	for _, q := range []string{
		`class = authentication user = alice | since 3d | first_seen country by user`,
		`host = ws2`,
		`dns.query = "*.biz" | count by src_ip`,
		`class = network_activity | sort dst_endpoint.port`,
		`class = authentication | limit 3`,
	} {
		a := run(t, s, q, Options{})
		b := run(t, deaf{s}, q, Options{})
		if fmt.Sprint(ids(a), a.Rows, a.Truncated) != fmt.Sprint(ids(b), b.Rows, b.Truncated) {
			t.Errorf("%s\n honouring Match: %v %v %v\n ignoring Match:  %v %v %v", q, ids(a), a.Rows, a.Truncated, ids(b), b.Rows, b.Truncated)
		}
	}
}

// Countries compare as ISO codes: one source writes "Brazil", another "BR", and a query may name
// either; first_seen and count see one country.
func TestRunCountryNamesAndCodes(t *testing.T) {
	s := openStore(t)
	put(t, s,
		authEv("c1", ago(3*day), "dora", "idp", "203.0.113.9", "United States", "success"),
		authEv("c2", ago(2*day), "dora", "idp", "203.0.113.9", "US", "success"),
		authEv("c3", ago(2*time.Hour), "dora", "idp", "198.51.100.4", "Brazil", "failure"),
		authEv("c4", ago(time.Hour), "dora", "idp", "198.51.100.4", "BR", "failure"))
	for _, src := range []string{"country = BR", "country = brazil", `country = "Brazil"`, "country in (br, fr)"} {
		if got := ids(run(t, s, src, Options{Now: now})); !slices.Equal(got, []string{"c4", "c3"}) {
			t.Errorf("%s: %v", src, got)
		}
	}
	// The first sign-in from each country only: US (c2 repeats c1) and Brazil (c4 repeats c3).
	if got := ids(run(t, s, "user = dora | first_seen country by user", Options{Now: now})); !slices.Equal(got, []string{"c3", "c1"}) {
		t.Errorf("first_seen: %v (Brazil and BR are one country, as are United States and US)", got)
	}
	res := run(t, s, "user = dora | count by country", Options{Now: now})
	if len(res.Rows) != 2 || res.Rows[0][1] != "2" || res.Rows[1][1] != "2" {
		t.Errorf("count by country: %v", res.Rows)
	}
	// fields and limit go in either order.
	if got := ids(run(t, s, "user = dora | fields time, country | limit 1", Options{Now: now})); !slices.Equal(got, []string{"c4"}) {
		t.Errorf("fields then limit: %v", got)
	}
}

// countingSearcher counts the events the store hands to Match.
type countingSearcher struct {
	s     Searcher
	calls int
}

func (c *countingSearcher) SearchEvents(ctx context.Context, q store.EventQuery) ([]event.Event, error) {
	if m := q.Match; m != nil {
		q.Match = func(ev *event.Event) bool { c.calls++; return m(ev) }
	}
	return c.s.SearchEvents(ctx, q)
}

// When MaxScan is spent, the store stops reading: a selective query over many blocks does not
// decode them all.
func TestRunMaxScanStopsTheStore(t *testing.T) {
	s := openStore(t)
	for b := range 40 { // 40 blocks of 50 events
		var evs []event.Event
		for i := range 50 {
			evs = append(evs, procEv(fmt.Sprintf("p%d-%d", b, i), ago(time.Duration(b*50+i)*time.Minute), "ws1", "bob", "svchost.exe", "svchost -k netsvcs", "services.exe", 100))
		}
		put(t, s, evs...)
	}
	cs := &countingSearcher{s: s}
	res := run(t, cs, `cmd ~ "mimikatz"`, Options{Now: now, MaxScan: 120})
	if !res.Truncated || len(res.Events) != 0 {
		t.Fatalf("truncated %v, %d events", res.Truncated, len(res.Events))
	}
	// The budget, and the rest of the block under way at most.
	if cs.calls > 120+50 {
		t.Fatalf("the store handed %d events to Match after a budget of 120", cs.calls)
	}
}

// Between bounds a query in time ahead of its own stages; the result round-trips.
func TestBetween(t *testing.T) {
	s := hunt(t)
	q, err := Parse("class = authentication | count by user")
	if err != nil {
		t.Fatal(err)
	}
	if q.HasTimeStage() {
		t.Fatal("no time stage, yet HasTimeStage")
	}
	all, err := Run(context.Background(), s, q, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	b := q.Between(ago(2*day), now)
	if !b.HasTimeStage() || q.HasTimeStage() {
		t.Fatal("Between changed q, or added no time stage")
	}
	again, err := Parse(b.String())
	if err != nil || again.String() != b.String() {
		t.Fatalf("round trip of %q: %v", b.String(), err)
	}
	part, err := Run(context.Background(), s, b, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	total := func(r *Result) (n int) {
		for _, row := range r.Rows {
			x, _ := strconv.Atoi(row[len(row)-1])
			n += x
		}
		return n
	}
	if total(part) == 0 || total(part) >= total(all) {
		t.Fatalf("bounded to two days: %d of %d events", total(part), total(all))
	}
}

// WithAlerts answers from the events and, as detection_finding events, the alerts: merged
// newest first, filtered by the whole query, paged without loss or repeat.
func TestRunWithAlerts(t *testing.T) {
	s := openStore(t)
	put(t, s,
		authEv("e1", ago(5*time.Hour), "alice", "dc01", "10.0.0.5", "US", "failure"),
		authEv("e2", ago(3*time.Hour), "alice", "dc01", "10.0.0.5", "US", "success"))
	var as []event.Alert
	for i := range 7 {
		as = append(as, event.Alert{ID: fmt.Sprintf("al_%d", i), Time: ago(time.Duration(i) * time.Hour), Source: "sigma",
			RuleID: "r-lsass", RuleTitle: "LSASS Access", Kind: "r-lsass", Host: "dc01", User: "alice", Severity: event.SeverityHigh,
			Techniques: []string{"T1003.001"}, Triage: &event.Triage{Disposition: event.Escalated, Score: 0.93, IncidentID: "in_1"}})
	}
	as = append(as, event.Alert{ID: "al_ws", Time: ago(30 * time.Minute), Source: "wazuh", RuleTitle: "sshd brute force", Kind: "5712", Host: "web01"})
	if _, err := s.PutAlerts(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	hs := WithAlerts(s, s)
	res, err := Run(context.Background(), hs, mustParse(t, "host = dc01"), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"al_0", "al_1", "al_2", "e2", "al_3", "al_4", "e1", "al_5", "al_6"}
	if got := ids(res); !slices.Equal(got, want) {
		t.Fatalf("events and alerts of dc01:\n got  %v\n want %v", got, want)
	}
	res, err = Run(context.Background(), hs, mustParse(t, `class = detection_finding unmapped.disposition = escalated | since 3h | count by rule`), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || res.Rows[0][0] != "LSASS Access" || res.Rows[0][1] != "4" { // 0, 1, 2 and 3 hours ago
		t.Fatalf("escalated alerts of the last 3 hours by rule: %v", res.Rows)
	}
	// Small pages through the merged answer lose and repeat nothing.
	old := pageSize
	pageSize = 2
	defer func() { pageSize = old }()
	res, err = Run(context.Background(), hs, mustParse(t, "host = dc01 | count"), Options{Now: now})
	if err != nil || res.Rows[0][0] != "9" {
		t.Fatalf("count in pages of two: %v %v", res.Rows, err)
	}
	// Other classes leave the alerts out.
	res, _ = Run(context.Background(), hs, mustParse(t, "class = authentication host = dc01"), Options{Now: now})
	if got := ids(res); !slices.Equal(got, []string{"e2", "e1"}) {
		t.Fatalf("authentication only: %v", got)
	}
}

func mustParse(t *testing.T, src string) *Query {
	t.Helper()
	q, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// user = NAME with a bare name finds the account under any domain, whether pushed down to the
// store or evaluated in Match; a full name only itself.
func TestRunBareUser(t *testing.T) {
	s := openStore(t)
	put(t, s,
		authEv("u1", ago(3*time.Hour), "alice@example.com", "idp", "198.51.100.1", "US", "success"),
		authEv("u2", ago(2*time.Hour), `EXAMPLE\alice`, "ws01", "10.0.0.1", "", "success"),
		authEv("u3", ago(time.Hour), "alicex", "ws01", "10.0.0.1", "", "success"))
	for src, want := range map[string][]string{
		"user = alice": {"u2", "u1"},
		"class = authentication | where user = alice or host = nope": {"u2", "u1"},
		"user = alice@example.com":                                   {"u1"},
		"user != alice":                                              {"u3"},
		"user in (alicex, bob)":                                      {"u3"},
		"user = ali*":                                                {"u3", "u1"}, // a wildcard matches the whole name as written
	} {
		if got := ids(run(t, s, src, Options{Now: now})); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", src, got, want)
		}
	}
}

// countingLister counts the alerts a search reads.
type countingLister struct {
	AlertLister
	read, calls int
}

func (c *countingLister) ListAlerts(ctx context.Context, q store.AlertQuery) ([]event.Alert, error) {
	as, err := c.AlertLister.ListAlerts(ctx, q)
	c.read += len(as)
	c.calls++
	return as, err
}

// The alerts of a hunt are read page by page from the newest, so a search for a few reads few;
// and paging loses and repeats nothing, even when more alerts than a page share one time.
func TestSearchAlertsPages(t *testing.T) {
	s := openStore(t)
	var as []event.Alert
	same := ago(90 * time.Minute)
	for i := range 40 {
		at := ago(time.Duration(i) * time.Minute)
		if i >= 10 && i < 25 {
			at = same // fifteen alerts of one time
		}
		host := "dc01"
		if i%3 == 0 {
			host = "ws07"
		}
		as = append(as, event.Alert{ID: fmt.Sprintf("al_%02d", i), Time: at, Source: "sigma", RuleID: "r1", RuleTitle: "Rule one", Host: host})
	}
	if _, err := s.PutAlerts(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	queries := []string{"class = detection_finding", "host = dc01", "host = ws07 | limit 4", "class = detection_finding | limit 12", "host = nope"}
	whole := map[string][]string{}
	for _, src := range queries {
		whole[src] = ids(run(t, WithAlerts(s, s), src, Options{Now: now}))
	}
	if len(whole["class = detection_finding"]) != 40 || len(whole["host = dc01"]) != 26 {
		t.Fatalf("one page: %d alerts, %d on dc01", len(whole["class = detection_finding"]), len(whole["host = dc01"]))
	}
	old := alertPage
	defer func() { alertPage = old }()
	for _, page := range []int{1, 2, 3, 7} {
		alertPage = page
		for _, src := range queries {
			got := ids(run(t, WithAlerts(s, s), src, Options{Now: now}))
			if !slices.Equal(got, whole[src]) {
				t.Errorf("pages of %d, %s:\n got  %v\n want %v", page, src, got, whole[src])
			}
		}
	}
	// The newest three of forty: one page of the default size would read all forty.
	alertPage = 5
	c := &countingLister{AlertLister: s}
	res := run(t, WithAlerts(s, c), "class = detection_finding | limit 3", Options{Now: now})
	if got := ids(res); !slices.Equal(got, whole["class = detection_finding"][:3]) || c.read > 5 {
		t.Fatalf("limit 3 read %d alerts in %d calls for %v", c.read, c.calls, got)
	}
}
