package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestHuntAndAsk hunts through a demo's stored events with a query, and with a question in
// plain English whose query is shown.
func TestHuntAndAsk(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := run(t, "demo", "--data", dir, "--scenario", "password-spray", "--json"); code != 0 {
		t.Fatalf("demo: %d %s", code, errs)
	}
	code, out, errs := run(t, "hunt", "--data", dir, "--json", "class = authentication status = failure | count by user | limit 3")
	if code != 0 {
		t.Fatalf("hunt: %d %s", code, errs)
	}
	var res struct {
		Query   string     `json:"query"`
		Columns []string   `json:"columns"`
		Rows    [][]string `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("hunt --json: %v\n%s", err, out)
	}
	// A spray tries many accounts once or twice each.
	if len(res.Rows) != 3 || len(res.Columns) != 2 || res.Columns[1] != "count" {
		t.Fatalf("hunt rows: %+v", res)
	}

	code, out, errs = run(t, "ask", "--data", dir, "--json", "how many failed logins per user")
	if code != 0 {
		t.Fatalf("ask: %d %s", code, errs)
	}
	var ans struct {
		Query  string   `json:"query"`
		Notes  []string `json:"notes"`
		Result struct {
			Rows [][]string `json:"rows"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(out), &ans); err != nil {
		t.Fatalf("ask --json: %v\n%s", err, out)
	}
	if !strings.Contains(ans.Query, "status = failure") || !strings.Contains(ans.Query, "count by") || len(ans.Notes) == 0 {
		t.Fatalf("ask: %+v", ans)
	}
	if len(ans.Result.Rows) < 3 || ans.Result.Rows[0][0] != res.Rows[0][0] {
		t.Fatalf("ask rows %v, hunt rows %v", ans.Result.Rows, res.Rows)
	}

	// The table form shows the query first.
	code, out, _ = run(t, "ask", "--data", dir, "--query-only", "failed logins for alice today")
	if code != 0 || !strings.HasPrefix(out, "query: class = authentication") {
		t.Fatalf("ask --query-only: %d %q", code, out)
	}
	if code, _, errs = run(t, "hunt", "--data", dir, "user = | count"); code != 2 || !strings.Contains(errs, "column") {
		t.Errorf("bad query: %d %s", code, errs)
	}
	if code, _, _ = run(t, "ask", "--data", dir); code != 2 {
		t.Errorf("ask without a question: %d", code)
	}
}

// The demo's text ends by asking questions of what it stored, with each query and its answer.
func TestDemoAsks(t *testing.T) {
	code, out, errs := run(t, "demo", "--scenario", "ransomware")
	if code != 0 {
		t.Fatalf("demo: %d %s", code, errs)
	}
	i := strings.Index(out, "== ask in plain English")
	if i < 0 {
		t.Fatalf("no ask section:\n%s", out)
	}
	asks := out[i:]
	for _, want := range []string{
		`"processes spawned by winword.exe"`,
		"query  class = process_activity parent = winword.exe",
		"powershell.exe -nop -w hidden -enc",
		"query  class = detection_finding | since 6h | count by rule",
		"Shadow Copies Deleted or Recovery Disabled",
	} {
		if !strings.Contains(asks, want) {
			t.Errorf("ask section lacks %q:\n%s", want, asks)
		}
	}
	if strings.Contains(asks, "new countries") {
		t.Error("asked about the password spray, which was not played")
	}
}
