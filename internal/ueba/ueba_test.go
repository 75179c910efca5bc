package ueba

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday

func signIn(id string, at time.Time, user, host, ip, status string) event.Event {
	return event.Event{ID: id, Time: at, Class: event.ClassAuthentication, Activity: "logon", Status: status,
		User: &event.User{Name: user, Domain: "CORP"}, Device: &event.Device{Hostname: host}, Src: &event.Endpoint{IP: ip}}
}

// history gives alice four weeks of office-hours sign-ins to ws01 from the office network.
func history(t *testing.T, d *Detector) {
	t.Helper()
	n := 0
	for day := 0; day < 28; day++ {
		if wd := day0.AddDate(0, 0, day).Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		for _, h := range []int{9, 13, 17} {
			n++
			ev := signIn(fmt.Sprint("h", n), day0.AddDate(0, 0, day).Add(time.Duration(h)*time.Hour), "alice", "ws01", fmt.Sprintf("10.1.2.%d", 10+n%5), "success")
			if fs := d.Observe(&ev); len(fs) != 0 {
				t.Fatalf("routine sign-in %d raised %v", n, fs[0].Message)
			}
		}
	}
}

func only(t *testing.T, fs []Finding, kind string) Finding {
	t.Helper()
	for _, f := range fs {
		if f.Kind == kind {
			return f
		}
	}
	t.Fatalf("no %s finding in %d findings", kind, len(fs))
	return Finding{}
}

func TestNewSourceLoginScoredWithHourAssetAndHistory(t *testing.T) {
	d := New(Options{Criticality: map[string]string{"dc01": "critical"}})
	history(t, d)
	at := day0.AddDate(0, 0, 29).Add(3 * time.Hour) // Saturday 03:00
	ev := signIn("x1", at, "alice", "dc01", "203.0.113.9", "success")
	f := only(t, d.Observe(&ev), KindLogin)
	sum := 0.0
	for _, c := range f.Contributions {
		sum += c.Weight
	}
	if math.Abs(sum-f.Score) > 1e-9 {
		t.Fatalf("score %.2f is not the sum of its contributions %.2f", f.Score, sum)
	}
	for _, want := range []string{"network 203.0.113.0/24 is new", "usual hours", "dc01 is a critical asset", "first sign-in by corp\\alice to dc01"} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("explanation lacks %q: %s", want, f.Message)
		}
	}
	if f.Severity != event.SeverityHigh || f.User != `corp\alice` || f.SrcIP != "203.0.113.9" || f.EventIDs[0] != "x1" {
		t.Fatalf("finding %+v", f)
	}

	// The same new network at an office hour, to her usual workstation: below the bar.
	d2 := New(Options{Criticality: map[string]string{"dc01": "critical"}})
	history(t, d2)
	ev2 := signIn("x2", day0.AddDate(0, 0, 29).Add(10*time.Hour), "alice", "ws01", "203.0.113.9", "success")
	if fs := d2.Observe(&ev2); len(fs) != 0 {
		t.Fatalf("new address at a usual hour to a usual host: %s", fs[0].Message)
	}
	// Once seen, the source is part of her profile.
	ev3 := signIn("x3", at.Add(time.Minute), "alice", "dc01", "203.0.113.9", "success")
	if fs := d.Observe(&ev3); len(fs) != 0 {
		t.Fatalf("the same source again: %s", fs[0].Message)
	}
}

func TestNoJudgementBeforeWarmup(t *testing.T) {
	d := New(Options{Criticality: map[string]string{"dc01": "critical"}})
	for i := range 20 {
		ev := signIn(fmt.Sprint("w", i), day0.Add(time.Duration(i)*time.Hour), "bob", "ws02", "10.1.2.3", "success")
		d.Observe(&ev)
	}
	ev := signIn("w-new", day0.Add(30*time.Hour), "bob", "dc01", "203.0.113.50", "success")
	if fs := d.Observe(&ev); len(fs) != 0 {
		t.Fatalf("judged with %v of history: %s", 30*time.Hour, fs[0].Message)
	}
}

func TestPeerGroupSoftensNovelty(t *testing.T) {
	d := New(Options{})
	history(t, d)
	// A colleague of the same domain regularly uses the branch network.
	for i := range 10 {
		ev := signIn(fmt.Sprint("c", i), day0.AddDate(0, 0, 20).Add(time.Duration(i)*time.Hour), "carol", "ws05", "198.51.100.20", "success")
		d.Observe(&ev)
	}
	ev := signIn("y", day0.AddDate(0, 0, 29).Add(3*time.Hour), "alice", "ws01", "198.51.100.21", "success")
	fs := d.Observe(&ev)
	ref := New(Options{})
	history(t, ref)
	ev2 := ev
	rf := only(t, ref.Observe(&ev2), KindLogin)
	got := 0.0
	for _, f := range fs {
		if f.Kind == KindLogin {
			got = f.Score
		}
	}
	if got >= rf.Score {
		t.Fatalf("network known to the peer group scored %.1f, unknown to everyone %.1f", got, rf.Score)
	}
}

func geoSignIn(id string, at time.Time, ip, country string, lat, lon float64) event.Event {
	ev := signIn(id, at, "dave", "", ip, "success")
	ev.Device = nil
	ev.Cloud = &event.Cloud{Provider: "okta"}
	ev.Src.Country, ev.Src.Lat, ev.Src.Lon = country, lat, lon
	return ev
}

func TestImpossibleTravel(t *testing.T) {
	d := New(Options{})
	a := geoSignIn("t1", day0, "192.0.2.10", "US", 40.71, -74.00) // New York
	d.Observe(&a)
	b := geoSignIn("t2", day0.Add(time.Hour), "203.0.113.77", "GB", 51.51, -0.13) // London, an hour later
	f := only(t, d.Observe(&b), KindTravel)
	if f.EventIDs[0] != "t2" || f.EventIDs[1] != "t1" || !strings.Contains(f.Message, "km/h") {
		t.Fatalf("finding %+v", f)
	}
	// Eight hours later from Paris is a plane ride, not a compromise.
	c := geoSignIn("t3", day0.Add(9*time.Hour), "198.51.100.5", "FR", 48.86, 2.35)
	for _, f := range d.Observe(&c) {
		if f.Kind == KindTravel {
			t.Fatalf("plausible travel reported: %s", f.Message)
		}
	}
}

func TestSprayAndBruteForceThenSuccess(t *testing.T) {
	d := New(Options{})
	at := day0.Add(10 * time.Hour)
	for i, u := range []string{"u1", "u2", "u3", "u4"} {
		ev := signIn(fmt.Sprint("f", i), at.Add(time.Duration(i)*time.Second), u, "", "198.51.100.7", "failure")
		d.Observe(&ev)
	}
	ok := signIn("s0", at.Add(time.Minute), "u2", "", "198.51.100.7", "success")
	if fs := d.Observe(&ok); len(fs) != 0 {
		t.Fatalf("four accounts are not a spray (default 5): %s", fs[0].Message)
	}
	for i, u := range []string{"u5", "u6"} {
		ev := signIn(fmt.Sprint("g", i), at.Add(2*time.Minute), u, "", "198.51.100.7", "failure")
		d.Observe(&ev)
	}
	ok2 := signIn("s1", at.Add(3*time.Minute), "u6", "", "198.51.100.7", "success")
	f := only(t, d.Observe(&ok2), KindSpray)
	if f.SrcIP != "198.51.100.7" || f.User != `corp\u6` || len(f.EventIDs) < 6 {
		t.Fatalf("spray finding %+v", f)
	}
	// Failures outside the window do not count.
	late := signIn("s2", at.Add(3*time.Hour), "u1", "", "198.51.100.7", "success")
	if fs := d.Observe(&late); len(fs) != 0 {
		t.Fatalf("stale failures counted: %s", fs[0].Message)
	}

	b := New(Options{})
	for i := range 8 {
		ev := signIn(fmt.Sprint("b", i), at.Add(time.Duration(i)*time.Second), "erin", "srv01", fmt.Sprintf("192.0.2.%d", i), "failure")
		b.Observe(&ev)
	}
	okb := signIn("bs", at.Add(time.Minute), "erin", "srv01", "192.0.2.99", "success")
	fb := only(t, b.Observe(&okb), KindBrute)
	if fb.User != `corp\erin` || len(fb.EventIDs) != 9 {
		t.Fatalf("brute-force finding %+v", fb)
	}
}

func groupAdd(id string, at time.Time, actor, member string) event.Event {
	return event.Event{ID: id, Time: at, Class: event.ClassGroup, Activity: "add_user", Status: "success",
		User: &event.User{Name: actor, Domain: "CORP"}, TargetUser: &event.User{Name: member, Domain: "CORP"}, Device: &event.Device{Hostname: "dc01"}}
}

func TestFirstTimePrivilegedAction(t *testing.T) {
	d := New(Options{})
	history(t, d) // alice: four weeks of history
	at := day0.AddDate(0, 0, 29).Add(11 * time.Hour)
	ev := groupAdd("p1", at, "alice", "mallory")
	f := only(t, d.Observe(&ev), KindPrivileged)
	if f.Severity != event.SeverityHigh || !strings.Contains(f.Message, "nobody in its peer group corp") || !strings.Contains(f.Message, `corp\mallory`) {
		t.Fatalf("finding %+v", f)
	}
	again := groupAdd("p2", at.Add(time.Hour), "alice", "trent")
	if fs := d.Observe(&again); len(fs) != 0 {
		t.Fatalf("second time reported: %s", fs[0].Message)
	}
	// A peer who never did it: medium, since the group has.
	for i := range 15 {
		ev := signIn(fmt.Sprint("o", i), day0.Add(time.Duration(i)*24*time.Hour+9*time.Hour), "oscar", "ws07", "10.1.2.40", "success")
		d.Observe(&ev)
	}
	peer := groupAdd("p3", at.Add(2*time.Hour), "oscar", "trent")
	if f := only(t, d.Observe(&peer), KindPrivileged); f.Severity != event.SeverityMedium {
		t.Fatalf("peer-known action severity %v: %s", f.Severity, f.Message)
	}
	// A new account's first days are not judged, and built-in accounts never.
	fresh := groupAdd("p4", at, "newbie", "x")
	sys := groupAdd("p5", at, "SYSTEM", "x")
	sys.User.Domain = "NT AUTHORITY"
	for _, e := range []*event.Event{&fresh, &sys} {
		if fs := d.Observe(e); len(fs) != 0 {
			t.Fatalf("%s: %s", e.ID, fs[0].Message)
		}
	}
}

func proc(id string, at time.Time, host, parent, child string) event.Event {
	return event.Event{ID: id, Time: at, Class: event.ClassProcess, Activity: "launch", Device: &event.Device{Hostname: host},
		Process: &event.Process{Path: `C:\Windows\System32\` + child, CommandLine: child + " -x", Parent: &event.Process{Path: `C:\Program Files\` + parent}},
		User:    &event.User{Name: "alice", Domain: "CORP"}}
}

func TestRareProcessLineage(t *testing.T) {
	d := New(Options{})
	pairs := [][2]string{{"explorer.exe", "chrome.exe"}, {"explorer.exe", "outlook.exe"}, {"services.exe", "svchost.exe"}, {"svchost.exe", "taskhostw.exe"}}
	n := 0
	for h := 0; h < 96; h++ {
		for _, host := range []string{"ws01", "ws02", "ws03"} {
			for _, p := range pairs {
				n++
				ev := proc(fmt.Sprint("r", n), day0.Add(time.Duration(h)*time.Hour), host, p[0], p[1])
				if fs := d.Observe(&ev); len(fs) != 0 {
					t.Fatalf("routine lineage raised %s", fs[0].Message)
				}
			}
		}
	}
	at := day0.Add(100 * time.Hour)
	ev := proc("bad", at, "ws01", "winword.exe", "powershell.exe")
	f := only(t, d.Observe(&ev), KindRareLineage)
	if f.Host != "ws01" || f.Severity != event.SeverityHigh || !strings.Contains(f.Message, "winword.exe started powershell.exe on ws01") {
		t.Fatalf("finding %+v", f)
	}
	again := proc("bad2", at.Add(time.Minute), "ws01", "winword.exe", "powershell.exe")
	if fs := d.Observe(&again); len(fs) != 0 {
		t.Fatalf("repeat reported: %s", fs[0].Message)
	}
	// Seen on the peer ws01 once: ws02 still gets it (rare); after a second peer, ws03 does not.
	second := proc("bad3", at.Add(2*time.Minute), "ws02", "winword.exe", "powershell.exe")
	only(t, d.Observe(&second), KindRareLineage)
	third := proc("bad4", at.Add(3*time.Minute), "ws03", "winword.exe", "powershell.exe")
	if fs := d.Observe(&third); len(fs) != 0 {
		t.Fatalf("lineage common in the peer group reported: %s", fs[0].Message)
	}
}

func TestStateRoundTripAndBounds(t *testing.T) {
	d := New(Options{Criticality: map[string]string{"dc01": "critical"}})
	history(t, d)
	b, err := d.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	r := New(Options{Criticality: map[string]string{"dc01": "critical"}})
	if err := r.RestoreState(b); err != nil {
		t.Fatal(err)
	}
	at := day0.AddDate(0, 0, 29).Add(3 * time.Hour)
	e1, e2 := signIn("z", at, "alice", "dc01", "203.0.113.9", "success"), signIn("z", at, "alice", "dc01", "203.0.113.9", "success")
	f1, f2 := only(t, d.Observe(&e1), KindLogin), only(t, r.Observe(&e2), KindLogin)
	if f1.Message != f2.Message {
		t.Fatalf("after restore:\n%s\nbefore:\n%s", f2.Message, f1.Message)
	}
	if err := r.RestoreState([]byte("{not json")); err == nil {
		t.Fatal("bad state accepted")
	}

	small := New(Options{MaxEntities: 50, MaxValues: 8})
	for i := range 2000 {
		ev := signIn(fmt.Sprint("m", i), day0.Add(time.Duration(i)*time.Minute), fmt.Sprint("user", i), fmt.Sprint("host", i), fmt.Sprintf("10.%d.%d.1", i/250, i%250), "failure")
		small.Observe(&ev)
		ev2 := proc(fmt.Sprint("q", i), day0.Add(time.Duration(i)*time.Minute), "ws01", fmt.Sprint("p", i, ".exe"), "c.exe")
		small.Observe(&ev2)
	}
	users, hosts, peers, sources := small.Sizes()
	if users > 50 || hosts > 50 || peers > 50 || sources > 50 {
		t.Fatalf("unbounded: %d users, %d hosts, %d peers, %d sources", users, hosts, peers, sources)
	}
	if n := small.st.Hosts["ws01"].Lineage.Len(); n > 64 {
		t.Fatalf("host lineage table holds %d pairs, bound 64", n)
	}
}

func TestOddEventsAreIgnored(t *testing.T) {
	d := New(Options{})
	for _, ev := range []event.Event{
		{ID: "1"}, {ID: "2", Time: day0, Class: event.ClassAuthentication, Activity: "logon"},
		{ID: "3", Time: day0, Class: event.ClassProcess, Activity: "launch", Process: &event.Process{}},
		{ID: "4", Time: day0, Class: event.ClassGroup, Activity: "add_user"},
		{ID: "5", Time: day0, Class: event.ClassAuthentication, Activity: "logon", Status: "success", User: &event.User{Name: "x"}, Src: &event.Endpoint{IP: "not-an-ip"}},
	} {
		if fs := d.Observe(&ev); len(fs) != 0 {
			t.Fatalf("event %s: %v", ev.ID, fs)
		}
	}
	if fs := d.Observe(nil); fs != nil {
		t.Fatal("nil event")
	}
}

// Event fields are attacker-controlled: no value may make the detector panic or grow unbounded.
func FuzzObserve(f *testing.F) {
	f.Add("alice", "CORP", "ws01", "203.0.113.9", "US", 40.7, -74.0, "success", int64(0))
	f.Add(`a\b`, "", "", "::ffff:10.0.0.1", "", 0.0, 0.0, "failure", int64(-1))
	f.Add("x@y", "-", "h.example.com", "fe80::1%eth0", "zz", 1e308, -1e308, "", int64(1<<40))
	f.Fuzz(func(t *testing.T, user, domain, host, ip, country string, lat, lon float64, status string, dt int64) {
		d := New(Options{Warmup: time.Nanosecond, MaxEntities: 4, MaxValues: 2})
		for i := range 12 {
			at := day0.Add(time.Duration(dt%int64(1000*time.Hour)) + time.Duration(i)*time.Hour)
			ev := signIn(fmt.Sprint(i), at, user, host, ip, status)
			ev.User.Domain = domain
			ev.Src.Country, ev.Src.Lat, ev.Src.Lon = country, lat, lon
			d.Observe(&ev)
			g := groupAdd(fmt.Sprint("g", i), at, user, host)
			d.Observe(&g)
			p := proc(fmt.Sprint("p", i), at, host, user, country)
			d.Observe(&p)
		}
		if u, h, p, s := d.Sizes(); u > 4 || h > 4 || p > 4 || s > 4 {
			t.Fatalf("unbounded: %d %d %d %d", u, h, p, s)
		}
	})
}

// A host that keeps showing new lineages (a lab machine, a build server) has no baseline to
// be rare against: nothing is reported until its novelty rate settles.
func TestUnsettledHostLineageNotJudged(t *testing.T) {
	d := New(Options{})
	for i := range 400 {
		parent := fmt.Sprintf("tool%d.exe", i%40) // 40 parents × 10 hours: about every start a new pair for a while
		ev := proc(fmt.Sprint("u", i), day0.Add(time.Duration(i)*15*time.Minute), "lab01", parent, fmt.Sprintf("child%d.exe", i%13))
		d.Observe(&ev)
	}
	ev := proc("late", day0.Add(101*time.Hour), "lab01", "winword.exe", "powershell.exe")
	if fs := d.Observe(&ev); len(fs) != 0 {
		t.Fatalf("unsettled host judged: %s", fs[0].Message)
	}
	// An unknown parent is no lineage.
	q := proc("q", day0.Add(102*time.Hour), "lab01", "?", "cmd.exe")
	q.Process.Parent.Path = "?"
	if fs := d.Observe(&q); len(fs) != 0 {
		t.Fatalf("unknown parent judged: %s", fs[0].Message)
	}
}

func BenchmarkObserve(b *testing.B) {
	d := New(Options{})
	evs := make([]event.Event, 0, 4096)
	for i := range 4096 {
		at := day0.Add(time.Duration(i) * time.Minute)
		switch i % 4 {
		case 0:
			evs = append(evs, signIn(fmt.Sprint("b", i), at, fmt.Sprint("user", i%300), fmt.Sprint("ws", i%50), fmt.Sprintf("10.0.%d.%d", i%7, i%200), "success"))
		case 1:
			evs = append(evs, signIn(fmt.Sprint("b", i), at, fmt.Sprint("user", i%300), fmt.Sprint("ws", i%50), fmt.Sprintf("10.0.%d.%d", i%7, i%200), "failure"))
		default:
			evs = append(evs, proc(fmt.Sprint("b", i), at, fmt.Sprint("ws", i%50), fmt.Sprint("p", i%30, ".exe"), fmt.Sprint("c", i%40, ".exe")))
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev := evs[i%len(evs)]
		ev.Time = ev.Time.Add(time.Duration(i/len(evs)) * 72 * time.Hour)
		d.Observe(&ev)
		i++
	}
}

// With a GeoIP lookup, sign-ins that carry only an address get a country and coordinates.
func TestLocateFillsPlaces(t *testing.T) {
	geo := map[string][3]any{"192.0.2.10": {"us", 40.71, -74.00}, "203.0.113.77": {"br", -23.55, -46.63}}
	d := New(Options{Locate: func(ip string) (string, float64, float64, bool) {
		g, ok := geo[ip]
		if !ok {
			return "", 0, 0, false
		}
		return g[0].(string), g[1].(float64), g[2].(float64), true
	}})
	a := signIn("l1", day0, "gina", "", "192.0.2.10", "success")
	d.Observe(&a)
	b := signIn("l2", day0.Add(2*time.Hour), "gina", "", "203.0.113.77", "success")
	f := only(t, d.Observe(&b), KindTravel)
	if !strings.Contains(f.Message, "(US)") || !strings.Contains(f.Message, "(BR)") {
		t.Fatalf("travel without countries: %s", f.Message)
	}
	if d.st.Users[`corp\gina`].Countries.Get("BR") == nil {
		t.Fatal("located country not learned")
	}
}

// A spray of made-up account names must not push real users' profiles out.
func TestSprayOfUnknownNamesKeepsProfiles(t *testing.T) {
	d := New(Options{MaxEntities: 50})
	history(t, d)
	for i := range 5000 {
		ev := signIn(fmt.Sprint("s", i), day0.AddDate(0, 0, 28).Add(time.Duration(i)*time.Second), fmt.Sprint("nobody", i), "", "198.51.100.9", "failure")
		d.Observe(&ev)
	}
	if d.st.Users[`corp\alice`] == nil || d.st.Users[`corp\alice`].Logons == 0 {
		t.Fatal("a spray of unknown names evicted alice's profile")
	}
	if len(d.st.Failing) > 50 || len(d.st.Users) > 50 {
		t.Fatalf("failure table %d, users %d: unbounded", len(d.st.Failing), len(d.st.Users))
	}
}

func TestSummaries(t *testing.T) {
	d := New(Options{})
	history(t, d)
	s, ok := d.UserSummary(`CORP\Alice`)
	if !ok || s.Logons != 60 || s.PeerGroup != "corp" || len(s.Networks) != 1 || s.Networks[0] != "10.1.2.0/24" || len(s.Assets) != 1 || s.Assets[0] != "ws01" {
		t.Fatalf("user summary %+v", s)
	}
	if fmt.Sprint(s.UsualHours) != "[9 13 17]" {
		t.Fatalf("usual hours %v", s.UsualHours)
	}
	if _, ok := d.UserSummary("nobody"); ok {
		t.Fatal("summary of an unknown user")
	}
	for i := range 20 {
		ev := proc(fmt.Sprint("s", i), day0.Add(time.Duration(i)*time.Minute), "WS09.corp.example", "explorer.exe", fmt.Sprint("app", i%3, ".exe"))
		d.Observe(&ev)
	}
	h, ok := d.HostSummary("ws09.CORP.example")
	if !ok || h.Processes != 20 || h.PeerGroup != "ws" || len(h.Lineages) != 3 || !strings.HasPrefix(h.Lineages[0], "explorer.exe > app") {
		t.Fatalf("host summary %+v", h)
	}
}

// A network used once, long ago, is rare: it counts like novelty, more weakly.
func TestRareNetworkCounts(t *testing.T) {
	d := New(Options{Criticality: map[string]string{"dc01": "critical"}})
	once := signIn("o", day0.Add(9*time.Hour), "alice", "ws01", "198.51.100.8", "success")
	d.Observe(&once)
	history(t, d)
	ev := signIn("r", day0.AddDate(0, 0, 29).Add(3*time.Hour), "alice", "dc01", "198.51.100.9", "success")
	f := only(t, d.Observe(&ev), KindLogin)
	if !strings.Contains(f.Message, "network 198.51.100.0/24 is rare for corp\\alice") || strings.Contains(f.Message, "is new for") && strings.Contains(f.Message, "network 198.51.100.0/24 is new") {
		t.Fatalf("rare network: %s", f.Message)
	}
}
