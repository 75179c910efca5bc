package investigate_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/investigate"
	"github.com/vigil-soc/vigil/internal/store/sqlite"
)

// events.hunt runs a hunting query; with an incident and no time stage, the incident's time
// range (widened by window) bounds it; a query that does not parse is a result, not an error.
func TestEventsHuntTool(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "vigil.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	ps := func(id string, at time.Time, host, cmd string) event.Event {
		return event.Event{ID: id, Time: at, Class: event.ClassProcess, ClassUID: event.ClassProcess.UID(), Kind: "sysmon",
			Device: &event.Device{Hostname: host}, Process: &event.Process{Name: "powershell.exe", CommandLine: cmd}}
	}
	evs := []event.Event{
		ps("ev_old", t0.Add(-72*time.Hour), "ws1", "powershell -enc AAAA"),
		ps("ev_in1", t0, "ws1", "powershell -enc BBBB"),
		ps("ev_in2", t0.Add(time.Hour), "ws2", "powershell -enc CCCC"),
		ps("ev_plain", t0.Add(2*time.Hour), "ws2", "powershell Get-Date"),
	}
	if _, err := st.PutEvents(ctx, evs, nil); err != nil {
		t.Fatal(err)
	}
	inc := event.Incident{ID: "in_hunt", Status: event.StatusOpen, FirstSeen: t0, LastSeen: t0.Add(time.Hour), Created: t0, Updated: t0}
	if err := st.PutIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	reg := investigate.NewRegistry(investigate.LocalTools(&investigate.Data{Store: st})...)
	tool, ok := reg.Get("events.hunt")
	if !ok {
		t.Fatal("no events.hunt tool")
	}
	res, err := tool.Call(ctx, map[string]any{"query": `process = powershell.exe cmd ~ "-enc"`, "incident": "in_hunt", "window": "6h"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.EventIDs, ",") != "ev_in2,ev_in1" || !strings.HasPrefix(res.Summary, "2 events for ") {
		t.Fatalf("bounded to the incident: %q %v", res.Summary, res.EventIDs)
	}
	// Without the incident, the whole store answers; count gives rows.
	res, err = tool.Call(ctx, map[string]any{"query": `cmd ~ "-enc" | count by host`})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := res.Data.(map[string]any)
	rows, _ := data["rows"].([][]string)
	if len(rows) != 2 || rows[0][0] != "ws1" || rows[0][1] != "2" {
		t.Fatalf("count: %q %v", res.Summary, data)
	}
	res, err = tool.Call(ctx, map[string]any{"query": "host = | count"})
	if err != nil || !strings.Contains(res.Summary, "does not parse") || len(res.EventIDs) != 0 {
		t.Fatalf("bad query: %v %+v", err, res)
	}
}
