package ask

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/llm"
	"github.com/vigil-soc/vigil/internal/llm/llmtest"
	"github.com/vigil-soc/vigil/internal/query"
)

// Every query the offline compiler writes parses.
func TestCompiledQueriesParse(t *testing.T) {
	for _, question := range corpus {
		tr, err := Compile(question, now)
		if err != nil {
			continue
		}
		if _, err := query.Parse(tr.Query); err != nil {
			t.Errorf("%q compiled to %q, which does not parse: %v", question, tr.Query, err)
		}
	}
}

// corpus holds questions of every kind the compiler reads, and some it does not.
var corpus = []string{
	"failed logins for alice from new countries this week",
	"Show me failed sign-ins for bob in the last 24 hours",
	"successful logons on host ws01 yesterday",
	"logins from Russia today", "sign-ins from RU", "which users logged in from 203.0.113.7",
	"connections to 10.0.0.0/8 last 30m", "encoded powershell commands on ws-042 in the past 3 days",
	`processes run by corp\alice on srv01`, "top 5 hosts by failed logins this week",
	"how many failed logins per user today", "dns queries for *.biz in the last 2 hours",
	"dns lookups of evil.example.com", "new processes on host db01", "alice's sign-ins without mfa since monday",
	`events containing "invoke-mimikatz"`, "alerts on 2026-11-20", "ran mimikatz",
	`logins for user "bob | count" on host "a or b"`, "count of alerts by rule", "new ips for user carol",
	"http requests to example.org", "registry changes on ws-1 past week", "file changes by svc_backup last 12 hours",
	"password resets this month", "top users by logins", `who ran "whoami /all"`, "mfa sign-ins from new devices",
	"logins to dc01", "children of cmd.exe", "failed rdp logons from new ips", "denied connections to port 22", "top processes on ws-05",
}

func newClient(t *testing.T, srv *llmtest.Server) *llm.Client {
	t.Helper()
	c, err := llm.New(llm.Config{BaseURL: srv.URL, Model: "test", HTTP: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fixedNow() time.Time { return now }

// With a model configured, its query is used when it parses, in canonical form; the question
// travels in a data block, and the exchange is audited.
func TestTranslateWithLLM(t *testing.T) {
	srv := llmtest.New(llmtest.FinalJSON(map[string]string{
		"query": "class = authentication user = alice | since 7d",
		"notes": "logins of alice over the last week",
	}))
	defer srv.Close()
	var audited []any
	tr := &Translator{LLM: newClient(t, srv), Now: fixedNow, Audit: func(_ context.Context, action string, data any) {
		if action == "ask.llm" {
			audited = append(audited, data)
		}
	}}
	got, err := tr.Translate(context.Background(), "what did alice log into this week")
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != "llm" || !strings.HasPrefix(got.Query, "class = authentication") || !strings.Contains(got.Query, "since 7d") {
		t.Fatalf("translation %+v", got)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	text := reqs[0].Text()
	if !strings.Contains(text, "what did alice log into this week") || !strings.Contains(text, "<data id=") {
		t.Errorf("the question is not in a data block:\n%s", text)
	}
	if !strings.Contains(text, "first_seen") || !strings.Contains(text, "2026-11-27T15:04:00Z") {
		t.Errorf("the prompt lacks the grammar or the time")
	}
	if len(audited) != 1 {
		t.Errorf("audited %d exchanges", len(audited))
	}
}

// A model answer that does not parse, or a model that fails, leaves the offline compiler to
// answer, with a note saying why.
func TestTranslateFallsBackOffline(t *testing.T) {
	for name, reply := range map[string]llmtest.Reply{
		"query does not parse": llmtest.FinalJSON(map[string]string{"query": "class = = authentication | drop table", "notes": ""}),
		"not JSON":             llmtest.Final("SELECT * FROM events"),
		"server error":         llmtest.ServerError(),
	} {
		t.Run(name, func(t *testing.T) {
			srv := llmtest.New(reply)
			defer srv.Close()
			tr := &Translator{LLM: newClient(t, srv), Now: fixedNow}
			got, err := tr.Translate(context.Background(), "failed logins for alice today")
			if err != nil {
				t.Fatal(err)
			}
			want := "class = authentication status = failure user = alice | between 2026-11-27 and 2026-11-28"
			if got.Source != "offline" || got.Query != want {
				t.Fatalf("got %+v, want the offline query %q", got, want)
			}
			if len(got.Notes) == 0 || !strings.Contains(got.Notes[0], "LLM's answer was not used") {
				t.Errorf("notes %q", got.Notes)
			}
		})
	}
}
