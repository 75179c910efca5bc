package investigate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/query"
)

// ---- events.hunt ------------------------------------------------------------------------

// eventsHunt runs a query of the hunting language (internal/query) over the stored events: the
// open-ended search a planner reaches for when no fixed tool asks the right question.
type eventsHunt struct{ d *Data }

// huntMaxScan bounds the events one hunt examines, so that a planner's query costs little.
const huntMaxScan = 20000

func (*eventsHunt) Name() string { return "events.hunt" }
func (*eventsHunt) Description() string {
	return `Run a hunting query over the stored events, e.g. 'class = authentication status = failure user = alice | since 7d | first_seen country by user' or 'process = powershell.exe cmd ~ "-enc" | count by host'. Comparisons on fields or aliases (host, user, src_ip, dst_ip, ip, country, process, cmd, parent, domain, url) with = != < > ~ in, joined by and/or/not; stages: since D, between A and B, where, first_seen F by K, count by F, sort F, limit N, fields F. With an incident and no time stage, the incident's time range widened by window (default 24h) applies.`
}
func (*eventsHunt) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"query":{"type":"string"},"incident":{"type":"string"},"window":{"type":"string"}},"required":["query"]}`)
}

func (t *eventsHunt) Call(ctx context.Context, in map[string]any) (Result, error) {
	text := str(in, "query")
	q, err := query.Parse(text)
	if err != nil {
		return Result{Summary: fmt.Sprintf("the query does not parse: %v", err)}, nil
	}
	if id := str(in, "incident"); id != "" && !q.HasTimeStage() {
		if from, to, inc := incidentRange(ctx, t.d, id, window(in, 24*time.Hour)); inc != nil {
			q = q.Between(from, to)
		}
	}
	res, err := query.Run(ctx, query.WithAlerts(t.d.Store, t.d.Store), q, query.Options{Now: time.Now().UTC(), MaxScan: huntMaxScan})
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return Result{}, err
		}
		return Result{Summary: fmt.Sprintf("the query failed: %v", err)}, nil
	}
	more := ""
	if res.Truncated {
		more = " (more matched; the answer was cut)"
	}
	if len(res.Columns) > 0 {
		return Result{
			Summary: fmt.Sprintf("%d rows for %s%s", len(res.Rows), res.Query, more),
			Data:    map[string]any{"query": res.Query, "columns": res.Columns, "rows": res.Rows[:min(len(res.Rows), 50)]},
		}, nil
	}
	out := Result{Summary: fmt.Sprintf("%d events for %s%s", len(res.Events), res.Query, more)}
	rows := make([]map[string]any, 0, min(len(res.Events), 50))
	for i := range res.Events {
		if i < 20 {
			out.EventIDs = append(out.EventIDs, res.Events[i].ID)
		}
		if i < 50 {
			rows = append(rows, eventRow(&res.Events[i]))
		}
	}
	out.Data = map[string]any{"query": res.Query, "count": len(res.Events), "events": rows}
	return out, nil
}
