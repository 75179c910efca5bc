package api

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// huntEvents stores sign-ins of alice (from the US for days, then from Russia) and bob.
func huntEvents(t *testing.T, f *fixture) {
	t.Helper()
	now := time.Now().UTC()
	var evs []event.Event
	login := func(id string, ago time.Duration, user, country, status string) event.Event {
		return event.Event{ID: id, Time: now.Add(-ago), Class: event.ClassAuthentication, Kind: "okta", Status: status,
			User: &event.User{Name: user}, Device: &event.Device{Hostname: "idp"},
			Src: &event.Endpoint{IP: "198.51.100.7", Country: country}}
	}
	for d := 10; d >= 2; d-- {
		evs = append(evs, login("ev_us"+strings.Repeat("x", d), time.Duration(d)*24*time.Hour, "alice", "US", "success"))
	}
	evs = append(evs,
		login("ev_ru1", 3*time.Hour, "alice", "RU", "failure"),
		login("ev_ru2", 2*time.Hour, "alice", "RU", "failure"),
		login("ev_bob", time.Hour, "bob", "US", "failure"))
	if _, err := f.store.PutEvents(context.Background(), evs, nil); err != nil {
		t.Fatal(err)
	}
}

func TestSearch(t *testing.T) {
	f := newFixture(t, 0)
	huntEvents(t, f)
	auth := "Bearer " + token
	q := url.QueryEscape("class = authentication status = failure | since 7d | count by user")
	code, out := f.do(t, "GET", "/api/v1/search?q="+q, auth, "")
	if code != 200 {
		t.Fatalf("status %d: %v", code, out)
	}
	rows, _ := out["rows"].([]any)
	if len(rows) != 2 || strings.Join(toStrings(rows[0]), ",") != "alice,2" || strings.Join(toStrings(rows[1]), ",") != "bob,1" {
		t.Fatalf("rows %v", out["rows"])
	}
	if out["query"] == "" {
		t.Error("the canonical query is missing")
	}
	// A query that does not parse: 400 naming the column.
	code, out = f.do(t, "GET", "/api/v1/search?q="+url.QueryEscape("user = alice | limit x"), auth, "")
	if code != 400 || out["column"] == nil || !strings.Contains(out["error"].(string), "column") {
		t.Fatalf("bad query: %d %v", code, out)
	}
	if code, _ := f.do(t, "GET", "/api/v1/search?q=user", "", ""); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code, _ := f.do(t, "GET", "/api/v1/search", auth, ""); code != 400 {
		t.Errorf("no query: %d", code)
	}
}

func TestAsk(t *testing.T) {
	f := newFixture(t, 0)
	huntEvents(t, f)
	auth := "Bearer " + token
	code, out := f.do(t, "POST", "/api/v1/ask", auth, `{"question":"failed logins for alice from new countries this week"}`)
	if code != 200 {
		t.Fatalf("status %d: %v", code, out)
	}
	if got := out["query"]; got != "class = authentication status = failure user.name = alice | since 7d | first_seen src_endpoint.country by user.name" {
		t.Logf("query %v", got) // canonical spelling is the query package's; checked below by its answer
	}
	if out["source"] != "offline" || len(out["notes"].([]any)) == 0 {
		t.Errorf("source %v notes %v", out["source"], out["notes"])
	}
	res, _ := out["result"].(map[string]any)
	evs, _ := res["events"].([]any)
	// Of alice's two failed sign-ins from Russia only the first is from a new country.
	if len(evs) != 1 || evs[0].(map[string]any)["id"] != "ev_ru1" {
		t.Fatalf("events %v", res["events"])
	}
	// The query alone.
	code, out = f.do(t, "POST", "/api/v1/ask", auth, `{"question":"failed logins for bob","run":false}`)
	if code != 200 || out["result"] != nil || !strings.Contains(out["query"].(string), "bob") {
		t.Fatalf("query only: %d %v", code, out)
	}
	for _, body := range []string{`{"question":""}`, `{"question":"please show me"}`, `{"q":"x"}`, `not json`} {
		if code, out := f.do(t, "POST", "/api/v1/ask", auth, body); code != 400 || out["error"] == nil {
			t.Errorf("%s: %d %v", body, code, out)
		}
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
