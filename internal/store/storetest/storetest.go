// Package storetest is the conformance suite for store.Store implementations. Every backend runs
// Run from its own tests so that they all behave the same.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

// Run runs the conformance suite; open must return a new, empty store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Events", func(t *testing.T) { testEvents(t, open(t)) })
	t.Run("Search", func(t *testing.T) { testSearch(t, open(t)) })
	t.Run("SearchAcrossBatches", func(t *testing.T) { testSearchAcrossBatches(t, open(t)) })
	t.Run("SearchMatch", func(t *testing.T) { testSearchMatch(t, open(t)) })
	t.Run("SearchBareUser", func(t *testing.T) { testSearchBareUser(t, open(t)) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, open(t)) })
	t.Run("DeadLetters", func(t *testing.T) { testDeadLetters(t, open(t)) })
	t.Run("Alerts", func(t *testing.T) { testAlerts(t, open(t)) })
	t.Run("Incidents", func(t *testing.T) { testIncidents(t, open(t)) })
	t.Run("KV", func(t *testing.T) { testKV(t, open(t)) })
	t.Run("Graph", func(t *testing.T) { testGraph(t, open(t)) })
	t.Run("Evidence", func(t *testing.T) { testEvidence(t, open(t)) })
	t.Run("Actions", func(t *testing.T) { testActions(t, open(t)) })
}

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Event returns a test event with the given ID, minute offset from a fixed base time, host and
// user.
func Event(id string, minute int, host, user string) event.Event {
	return event.Event{
		ID: id, Time: base.Add(time.Duration(minute) * time.Minute), Class: event.ClassAuthentication,
		ClassUID: event.ClassAuthentication.UID(), Code: "4624", Kind: "windows_security",
		Device: &event.Device{Hostname: host}, User: &event.User{Name: user},
		Src:     &event.Endpoint{IP: fmt.Sprintf("10.0.0.%d", minute%250+1)},
		Process: &event.Process{Path: `C:\Windows\System32\lsass.exe`},
		Origin:  event.Origin{Source: "test", Record: int64(minute + 1), Received: base},
		Raw:     []byte(fmt.Sprintf(`{"n":%d}`, minute)),
	}
}

func testEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	defer s.Close()
	evs := []event.Event{Event("ev_a", 0, "WS1", "alice"), Event("ev_b", 1, "ws2", "bob")}
	n, err := s.PutEvents(ctx, evs, nil)
	if err != nil || n != 2 {
		t.Fatalf("PutEvents = %d, %v; want 2", n, err)
	}
	// Idempotent: the same IDs again store nothing new.
	evs = append(evs, Event("ev_c", 2, "ws1", "carol"))
	n, err = s.PutEvents(ctx, evs, nil)
	if err != nil || n != 1 {
		t.Fatalf("PutEvents again = %d, %v; want 1 new", n, err)
	}
	if c, err := s.CountEvents(ctx); err != nil || c != 3 {
		t.Fatalf("CountEvents = %d, %v; want 3", c, err)
	}
	got, err := s.GetEvent(ctx, "ev_a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Device.Hostname != "WS1" || string(got.Raw) != `{"n":0}` || !got.Time.Equal(evs[0].Time) || got.Origin.Record != 1 {
		t.Fatalf("GetEvent round trip lost data: %+v", got)
	}
	if _, err := s.GetEvent(ctx, "ev_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEvent(missing) error = %v, want ErrNotFound", err)
	}
	// A big batch crosses the multi-row statement boundary.
	var many []event.Event
	for i := range 1000 {
		many = append(many, Event(fmt.Sprintf("ev_m%04d", i), 10+i, "bulk", "u"))
	}
	if n, err := s.PutEvents(ctx, many, nil); err != nil || n != 1000 {
		t.Fatalf("PutEvents(1000) = %d, %v", n, err)
	}
}

func testSearch(t *testing.T, s store.Store) {
	ctx := context.Background()
	defer s.Close()
	var evs []event.Event
	for i := range 30 {
		host := []string{"web01", "db01", "ws07"}[i%3]
		user := []string{"alice", "bob"}[i%2]
		evs = append(evs, Event(fmt.Sprintf("ev_%02d", i), i, host, user))
	}
	if _, err := s.PutEvents(ctx, evs, nil); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		q    store.EventQuery
		want int
	}{
		{"all", store.EventQuery{}, 30},
		{"limit", store.EventQuery{Limit: 5}, 5},
		{"host case-insensitive", store.EventQuery{Host: "WEB01"}, 10},
		{"user", store.EventQuery{User: "alice"}, 15},
		{"host and user", store.EventQuery{Host: "web01", User: "alice"}, 5},
		{"time window", store.EventQuery{From: base.Add(10 * time.Minute), To: base.Add(20 * time.Minute)}, 10},
		{"ip", store.EventQuery{IP: "10.0.0.4"}, 1},
		{"ids", store.EventQuery{IDs: []string{"ev_01", "ev_02", "nope"}}, 2},
		{"process", store.EventQuery{Process: "LSASS.EXE"}, 30},
		{"code", store.EventQuery{Code: "4625"}, 0},
		{"contains", store.EventQuery{Contains: "EV_07"}, 1},
		{"contains and host", store.EventQuery{Contains: "ev_07", Host: "web01"}, 0},
		{"domain user", store.EventQuery{User: "alice", Host: `web01`}, 5},
	}
	for _, c := range cases {
		got, err := s.SearchEvents(ctx, c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != c.want {
			t.Errorf("%s: %d events, want %d", c.name, len(got), c.want)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Time.After(got[i-1].Time) {
				t.Errorf("%s: not newest first", c.name)
				break
			}
		}
	}
}

// testSearchBareUser: a bare user name finds the account under any domain (DOMAIN\name,
// name@domain), a full name only itself, and a longer name never.
func testSearchBareUser(t *testing.T, s store.Store) {
	ctx := context.Background()
	defer s.Close()
	evs := []event.Event{
		Event("ev_okta", 1, "idp", "alice@example.com"),
		Event("ev_win", 2, "ws01", "alice"),
		Event("ev_other", 3, "ws01", "alicex"),
		Event("ev_mail", 4, "mx", "alice@other.example"),
	}
	evs[1].User.Domain = "EXAMPLE"
	if _, err := s.PutEvents(ctx, evs, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user string
		want int
	}{{"alice", 3}, {"ALICE", 3}, {"alice@example.com", 1}, {"alicex", 1}, {"lice", 0}} {
		got, err := s.SearchEvents(ctx, store.EventQuery{User: c.user})
		if err != nil || len(got) != c.want {
			t.Errorf("user %q: %d events, %v; want %d", c.user, len(got), err, c.want)
		}
	}
}

// testSearchAcrossBatches writes events in several batches whose times interleave, and checks
// that a limited search returns exactly the newest events overall.
func testSearchAcrossBatches(t *testing.T, s store.Store) {
	ctx := context.Background()
	defer s.Close()
	for b := range 5 {
		var evs []event.Event
		for i := range 20 {
			minute := i*5 + b // batch b holds minutes b, b+5, b+10, ...
			evs = append(evs, Event(fmt.Sprintf("ev_%d_%02d", b, i), minute, []string{"h1", "h2"}[minute%2], "u"))
		}
		if _, err := s.PutEvents(ctx, evs, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.SearchEvents(ctx, store.EventQuery{Limit: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 7 {
		t.Fatalf("%d events, want 7", len(got))
	}
	for i, ev := range got {
		want := base.Add(time.Duration(99-i) * time.Minute)
		if !ev.Time.Equal(want) {
			t.Fatalf("result %d at %v, want %v (the newest events across all batches)", i, ev.Time, want)
		}
	}
	got, err = s.SearchEvents(ctx, store.EventQuery{Host: "h2", Limit: 3})
	if err != nil || len(got) != 3 || !got[0].Time.Equal(base.Add(99*time.Minute)) || !got[2].Time.Equal(base.Add(95*time.Minute)) {
		t.Fatalf("host search = %v, %v", got, err)
	}
	if c, _ := s.CountEvents(ctx); c != 100 {
		t.Fatalf("CountEvents = %d, want 100", c)
	}
	// Retention in the middle of interleaved batches removes exactly the older events.
	n, err := s.DeleteEventsBefore(ctx, base.Add(50*time.Minute))
	if err != nil || n != 50 {
		t.Fatalf("DeleteEventsBefore = %d, %v; want 50", n, err)
	}
	if _, err := s.GetEvent(ctx, "ev_0_10"); err != nil { // minute 50 stays
		t.Fatalf("event at the cut removed: %v", err)
	}
	if _, err := s.GetEvent(ctx, "ev_4_09"); !errors.Is(err, store.ErrNotFound) { // minute 49 goes
		t.Fatalf("event before the cut survived: %v", err)
	}
	all, _ := s.SearchEvents(ctx, store.EventQuery{Limit: 1000})
	if len(all) != 50 {
		t.Fatalf("%d events after retention, want 50", len(all))
	}
}

// testSearchMatch checks EventQuery.Match: it sees only events that pass the other filters, it
// keeps only the events it accepts, and Limit counts accepted events, newest first, across batches.
func testSearchMatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	defer s.Close()
	for b := range 3 {
		var evs []event.Event
		for i := range 20 {
			minute := i*3 + b // batches interleave in time
			evs = append(evs, Event(fmt.Sprintf("ev_%d_%02d", b, i), minute, []string{"h1", "h2"}[minute%2], "u"))
		}
		if _, err := s.PutEvents(ctx, evs, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Host h2 holds the odd minutes; Match accepts those divisible by 3 among them: 57, 51, 45, ...
	var seen []string
	got, err := s.SearchEvents(ctx, store.EventQuery{Host: "h2", Limit: 4, Match: func(ev *event.Event) bool {
		seen = append(seen, ev.Device.Hostname)
		return int(ev.Time.Sub(base)/time.Minute)%3 == 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	var minutes []int
	for _, ev := range got {
		minutes = append(minutes, int(ev.Time.Sub(base)/time.Minute))
	}
	if want := []int{57, 51, 45, 39}; fmt.Sprint(minutes) != fmt.Sprint(want) {
		t.Fatalf("Match with Limit 4 returned minutes %v, want %v (the newest accepted events)", minutes, want)
	}
	if len(seen) == 0 {
		t.Fatal("Match was never called")
	}
	for _, h := range seen {
		if h != "h2" {
			t.Fatalf("Match saw an event of host %q, which the Host filter rejects", h)
		}
	}
	none, err := s.SearchEvents(ctx, store.EventQuery{Match: func(*event.Event) bool { return false }})
	if err != nil || len(none) != 0 {
		t.Fatalf("Match rejecting all = %d events, %v; want none", len(none), err)
	}
}

func testRetention(t *testing.T, s store.Store) {
	ctx := context.Background()
	defer s.Close()
	var evs []event.Event
	for i := range 100 {
		evs = append(evs, Event(fmt.Sprintf("ev_%03d", i), i, "h", "u"))
	}
	if _, err := s.PutEvents(ctx, evs, nil); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteEventsBefore(ctx, base.Add(40*time.Minute))
	if err != nil || n != 40 {
		t.Fatalf("DeleteEventsBefore = %d, %v; want 40", n, err)
	}
	if _, err := s.GetEvent(ctx, "ev_039"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old event survived retention: %v", err)
	}
	if _, err := s.GetEvent(ctx, "ev_040"); err != nil {
		t.Fatalf("young event removed: %v", err)
	}
	if _, err := s.TrimEvents(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.CountEvents(ctx); c != 0 {
		t.Fatalf("TrimEvents(1 byte) left %d events", c)
	}
}

func testDeadLetters(t *testing.T, s store.Store) {
	ctx := context.Background()
	defer s.Close()
	d := store.DeadLetter{ID: "dl_1", Stage: "normalize", Reason: "record 3: invalid JSON", Origin: event.Origin{Source: "file", File: "x.json", Record: 3}, Data: []byte("{bad"), Received: base}
	if err := s.PutDeadLetters(ctx, []store.DeadLetter{d, d}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.CountDeadLetters(ctx); err != nil || c != 1 {
		t.Fatalf("CountDeadLetters = %d, %v; want 1", c, err)
	}
	got, err := s.ListDeadLetters(ctx, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("ListDeadLetters = %v, %v", got, err)
	}
	if got[0].Origin.File != "x.json" || got[0].Origin.Record != 3 || string(got[0].Data) != "{bad" || got[0].Reason != d.Reason {
		t.Fatalf("dead letter round trip: %+v", got[0])
	}
}

func testAlerts(t *testing.T, s store.Store) {
	ctx := context.Background()
	defer s.Close()
	as := []event.Alert{
		{ID: "al_1", Time: base, RuleID: "r1", RuleTitle: "one", Kind: "r1", Count: 1},
		{ID: "al_2", Time: base.Add(time.Minute), RuleID: "r2", RuleTitle: "two", Kind: "r2", Count: 1},
	}
	if n, err := s.PutAlerts(ctx, as); err != nil || n != 2 {
		t.Fatalf("PutAlerts = %d, %v", n, err)
	}
	if n, err := s.PutAlerts(ctx, as); err != nil || n != 0 {
		t.Fatalf("PutAlerts again = %d, %v; want 0", n, err)
	}
	as[0].Triage = &event.Triage{Score: 0.9, Disposition: event.Escalated, IncidentID: "in_1"}
	as[0].Count = 5
	if err := s.UpdateAlerts(ctx, as[:1]); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListAlerts(ctx, store.AlertQuery{Incident: "in_1"})
	if err != nil || len(got) != 1 || got[0].Count != 5 || got[0].Triage.Score != 0.9 {
		t.Fatalf("ListAlerts(incident) = %+v, %v", got, err)
	}
	if err := s.UpdateAlerts(ctx, []event.Alert{{ID: "al_missing"}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateAlerts(missing) = %v, want ErrNotFound", err)
	}
	all, err := s.ListAlerts(ctx, store.AlertQuery{})
	if err != nil || len(all) != 2 || all[0].ID != "al_1" {
		t.Fatalf("ListAlerts = %v, %v", all, err)
	}
	if c, _ := s.CountAlerts(ctx); c != 2 {
		t.Fatalf("CountAlerts = %d", c)
	}
	newest, err := s.ListAlerts(ctx, store.AlertQuery{NewestFirst: true, Limit: 1})
	if err != nil || len(newest) != 1 || newest[0].ID != "al_2" {
		t.Fatalf("ListAlerts(newest first, limit 1) = %v, %v", newest, err)
	}
	more := []event.Alert{
		{ID: "al_3", Time: base.Add(2 * time.Minute), RuleTitle: "two", Triage: &event.Triage{Disposition: event.AutoClosed}},
		{ID: "al_4", Time: base.Add(3 * time.Minute), RuleTitle: "two", Triage: &event.Triage{Disposition: event.AutoClosed}},
		{ID: "al_5", Time: base.Add(48 * time.Hour), RuleTitle: "two", Triage: &event.Triage{Disposition: event.AutoClosed}},
	}
	if _, err := s.PutAlerts(ctx, more); err != nil {
		t.Fatal(err)
	}
	stats, err := s.AlertStats(ctx, base, base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got2 := map[string]int64{}
	for _, st := range stats {
		got2[st.Day+"|"+st.Rule+"|"+st.Disposition] += st.Count
	}
	day := base.UTC().Format("2006-01-02")
	want := map[string]int64{day + "|one|escalated": 1, day + "|two|": 1, day + "|two|auto_closed": 2}
	if fmt.Sprint(got2) != fmt.Sprint(want) {
		t.Fatalf("AlertStats = %v, want %v", got2, want)
	}
}

func testIncidents(t *testing.T, s store.Store) {
	ctx := context.Background()
	defer s.Close()
	inc := event.Incident{ID: "in_1", Status: event.StatusOpen, Updated: base, Version: 1, AlertIDs: []string{"al_1"}}
	if err := s.PutIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	inc.Version = 2
	inc.AlertIDs = append(inc.AlertIDs, "al_2")
	if err := s.PutIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	stale := inc
	stale.Version = 2
	if err := s.PutIncident(ctx, stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale write = %v, want ErrConflict", err)
	}
	got, err := s.GetIncident(ctx, "in_1")
	if err != nil || got.Version != 2 || len(got.AlertIDs) != 2 {
		t.Fatalf("GetIncident = %+v, %v", got, err)
	}
	merged := event.Incident{ID: "in_2", Status: event.StatusMerged, MergedInto: "in_1", Updated: base.Add(time.Hour)}
	if err := s.PutIncident(ctx, merged); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListIncidents(ctx, store.IncidentQuery{})
	if err != nil || len(list) != 1 || list[0].ID != "in_1" {
		t.Fatalf("ListIncidents = %v, %v; merged incident must be left out", list, err)
	}
	if c, _ := s.CountIncidents(ctx); c != 1 {
		t.Fatalf("CountIncidents = %d, want 1", c)
	}
	if _, err := s.GetIncident(ctx, "in_404"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetIncident(missing) = %v", err)
	}
	// UpdateIncident: read-modify-write that creates, keeps other fields, and aborts on error.
	up, err := s.UpdateIncident(ctx, "in_3", func(inc *event.Incident, exists bool) error {
		if exists {
			t.Error("in_3 reported as existing")
		}
		inc.Status, inc.Title, inc.Updated = event.StatusOpen, "new", base
		return nil
	})
	if err != nil || up.Version != 1 || up.Title != "new" {
		t.Fatalf("UpdateIncident(create) = %+v, %v", up, err)
	}
	up, err = s.UpdateIncident(ctx, "in_3", func(inc *event.Incident, exists bool) error {
		inc.Status = event.StatusContained
		return nil
	})
	if err != nil || up.Version != 2 || up.Title != "new" || up.Status != event.StatusContained {
		t.Fatalf("UpdateIncident(update) = %+v, %v", up, err)
	}
	if _, err := s.UpdateIncident(ctx, "in_3", func(inc *event.Incident, exists bool) error {
		inc.Title = "lost"
		return errors.New("abort")
	}); err == nil {
		t.Fatal("UpdateIncident ignored the mutator's error")
	}
	if got, _ := s.GetIncident(ctx, "in_3"); got.Title != "new" || got.Version != 2 {
		t.Fatalf("aborted update was written: %+v", got)
	}
	// The entity filter follows the incidents' users and hosts as they change.
	if _, err := s.UpdateIncident(ctx, "in_3", func(inc *event.Incident, _ bool) error {
		inc.Users, inc.Hosts = []string{`EXAMPLE\Bob`}, []string{"ws01"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ids := func(q store.IncidentQuery) string {
		l, err := s.ListIncidents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, i := range l {
			out = append(out, i.ID)
		}
		return fmt.Sprint(out)
	}
	if got := ids(store.IncidentQuery{Entity: `user:example\bob`}); got != "[in_3]" {
		t.Fatalf("Entity user = %s", got)
	}
	if got := ids(store.IncidentQuery{Entity: "host:WS01"}); got != "[in_3]" {
		t.Fatalf("Entity host = %s", got)
	}
	if _, err := s.UpdateIncident(ctx, "in_3", func(inc *event.Incident, _ bool) error {
		inc.Hosts = []string{"ws02"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := ids(store.IncidentQuery{Entity: "host:ws01"}); got != "[]" {
		t.Fatalf("Entity host after change = %s", got)
	}
}

func testKV(t *testing.T, s store.Store) {
	ctx := context.Background()
	defer s.Close()
	if _, err := s.GetState(ctx, "ns", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetState(missing) = %v", err)
	}
	for _, k := range []string{"b", "a", "c"} {
		if err := s.PutState(ctx, "ns", k, []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutState(ctx, "ns", "a", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutState(ctx, "other", "a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	var keys []string
	err := s.ListState(ctx, "ns", func(k string, v []byte) bool { keys = append(keys, k+"="+string(v)); return true })
	if err != nil || fmt.Sprint(keys) != "[a=v2 b=vb c=vc]" {
		t.Fatalf("ListState = %v, %v", keys, err)
	}
	if err := s.DeleteState(ctx, "ns", "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteState(ctx, "ns", "zz"); err != nil {
		t.Fatalf("DeleteState(missing) = %v", err)
	}
	if _, err := s.GetState(ctx, "ns", "b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted key still there: %v", err)
	}
}

func testGraph(t *testing.T, s store.Store) {
	ctx := context.Background()
	defer s.Close()
	edges := []event.ChainEdge{
		{From: "host:ws01", To: "host:srv01", Kind: "logon", Time: base, EventIDs: []string{"ev_1"}, User: "dave"},
		{From: "ip:10.0.0.5", To: "host:srv01", Kind: "smb", Time: base.Add(time.Minute), EventIDs: []string{"ev_2"}},
		{From: "host:srv01", To: "host:db01", Kind: "remote_service", Time: base.Add(2 * time.Minute), EventIDs: []string{"ev_3"}},
		{From: "user:carol", To: "app:mailsync", Kind: "consent", Time: base.Add(3 * time.Minute), EventIDs: []string{"ev_4"}},
	}
	if err := s.PutEdges(ctx, edges); err != nil {
		t.Fatal(err)
	}
	if err := s.PutEdges(ctx, edges[:1]); err != nil { // stored once
		t.Fatal(err)
	}
	got, err := s.EdgesOf(ctx, []string{"host:srv01"}, time.Time{}, time.Time{}, 0)
	if err != nil || len(got) != 3 || got[0].Kind != "logon" || got[0].User != "dave" || got[2].Kind != "remote_service" {
		t.Fatalf("EdgesOf(srv01) = %+v, %v", got, err)
	}
	got, _ = s.EdgesOf(ctx, []string{"host:srv01", "user:carol"}, base.Add(time.Minute), base.Add(10*time.Minute), 0)
	if len(got) != 3 || got[0].Kind != "smb" {
		t.Fatalf("EdgesOf(time range) = %+v", got)
	}
	if got, _ := s.EdgesOf(ctx, []string{"host:none"}, time.Time{}, time.Time{}, 0); len(got) != 0 {
		t.Fatalf("EdgesOf(unknown) = %+v", got)
	}
}

func testEvidence(t *testing.T, s store.Store) {
	ctx := context.Background()
	defer s.Close()
	evs := []event.Evidence{
		{ID: "ed_1", IncidentID: "in_1", Kind: "tool", Tool: "intel.lookup", Input: map[string]any{"ip": "203.0.113.7"}, Summary: "known bad", Data: map[string]any{"hits": 1.0}, Created: base},
		{ID: "ed_2", IncidentID: "in_1", Kind: "event", EventID: "ev_9", Summary: "the event", Created: base},
		{ID: "ed_3", IncidentID: "in_2", Kind: "alert", AlertID: "al_1", Summary: "other", Created: base},
	}
	if err := s.PutEvidence(ctx, evs); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetEvidence(ctx, "ed_1")
	if err != nil || got.Tool != "intel.lookup" || got.Input["ip"] != "203.0.113.7" || got.IncidentID != "in_1" {
		t.Fatalf("GetEvidence = %+v, %v", got, err)
	}
	if _, err := s.GetEvidence(ctx, "ed_404"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEvidence(missing) = %v", err)
	}
	evs[0].Summary = "updated"
	if err := s.PutEvidence(ctx, evs[:1]); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListEvidence(ctx, "in_1", 0)
	if err != nil || len(list) != 2 || list[0].Summary != "updated" || list[1].EventID != "ev_9" {
		t.Fatalf("ListEvidence = %+v, %v", list, err)
	}
}

func testActions(t *testing.T, s store.Store) {
	ctx := context.Background()
	defer s.Close()
	a, err := s.UpdateAction(ctx, "ac_1", func(a *event.Action, exists bool) error {
		if exists {
			t.Error("new action reported as existing")
		}
		a.Incident, a.Name, a.Target, a.Status = "in_1", "contain_host", "host:ws01", event.ActionPending
		return nil
	})
	if err != nil || a.Version != 1 {
		t.Fatalf("UpdateAction(create) = %+v, %v", a, err)
	}
	if _, err := s.UpdateAction(ctx, "ac_2", func(a *event.Action, exists bool) error {
		a.Incident, a.Status = "in_1", event.ActionCompleted
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	a, err = s.UpdateAction(ctx, "ac_1", func(a *event.Action, exists bool) error {
		a.Status, a.ApprovedBy = event.ActionApproved, "bob"
		return nil
	})
	if err != nil || a.Version != 2 || a.Name != "contain_host" || a.ApprovedBy != "bob" {
		t.Fatalf("UpdateAction(update) = %+v, %v", a, err)
	}
	if _, err := s.UpdateAction(ctx, "ac_1", func(*event.Action, bool) error { return errors.New("no") }); err == nil {
		t.Fatal("aborted update accepted")
	}
	got, err := s.GetAction(ctx, "ac_1")
	if err != nil || got.Status != event.ActionApproved {
		t.Fatalf("GetAction = %+v, %v", got, err)
	}
	if _, err := s.GetAction(ctx, "ac_9"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetAction(missing) = %v", err)
	}
	list, err := s.ListActions(ctx, store.ActionQuery{Incident: "in_1"})
	if err != nil || len(list) != 2 {
		t.Fatalf("ListActions(incident) = %v, %v", list, err)
	}
	list, _ = s.ListActions(ctx, store.ActionQuery{Status: []string{event.ActionApproved, event.ActionFailed}})
	if len(list) != 1 || list[0].ID != "ac_1" {
		t.Fatalf("ListActions(status) = %v", list)
	}
}
