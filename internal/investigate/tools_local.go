package investigate

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

// Data is what the local tools read: the same store and filters the API uses, and the graph.
type Data struct {
	Store store.Store
	// Edges returns the entity graph's edges touching keys within the time range.
	Edges func(ctx context.Context, keys []string, from, to time.Time) ([]event.ChainEdge, error)
	// Criticality of hosts by short lower-case name.
	Criticality map[string]string
	// Intel looks an indicator up; nil when no threat intelligence is loaded.
	Intel func(value string, at time.Time) []IntelMatch
	// InternalNets are the organisation's own address ranges.
	InternalNets []netip.Prefix
	// Behaviour returns what is normal for a user or host (kind "user" or "host") from the
	// behavioural profiles: a one-line summary and a JSON-able profile; ok is false when no
	// profile is known (nil when profiles are not available in this process).
	Behaviour func(kind, name string) (summary string, profile any, ok bool)
}

// IntelMatch is a threat-intelligence hit.
type IntelMatch struct {
	Value      string   `json:"value"`
	Type       string   `json:"type"`
	Source     string   `json:"source"`
	Confidence int      `json:"confidence"`
	Name       string   `json:"name,omitempty"`
	Related    []string `json:"related,omitempty"`
}

// LocalTools returns the tools that read vigil's own data.
func LocalTools(d *Data) []Tool {
	return []Tool{
		&eventsSearch{d}, &incidentGraph{d}, &assetLookup{d}, &entityProfile{d}, &pastIncidents{d}, &intelLookup{d},
		&processTree{d}, &connections{d}, &eventsHunt{d},
	}
}

func str(in map[string]any, k string) string {
	v, _ := in[k].(string)
	return v
}

func window(in map[string]any, def time.Duration) time.Duration {
	if s := str(in, "window"); s != "" {
		if d, err := time.ParseDuration(s); err == nil {
			return d
		}
	}
	return def
}

func shortHost(h string) string {
	h = strings.ToLower(h)
	if _, err := netip.ParseAddr(h); err == nil {
		return h
	}
	if i := strings.IndexByte(h, '.'); i > 0 {
		return h[:i]
	}
	return h
}

// incidentRange returns the incident's time range widened by w.
func incidentRange(ctx context.Context, d *Data, id string, w time.Duration) (time.Time, time.Time, *event.Incident) {
	inc, err := d.Store.GetIncident(ctx, id)
	if err != nil {
		now := time.Now()
		return now.Add(-w), now, nil
	}
	return inc.FirstSeen.Add(-w), inc.LastSeen.Add(w), &inc
}

// ---- events.search --------------------------------------------------------------------

type eventsSearch struct{ d *Data }

func (*eventsSearch) Name() string { return "events.search" }
func (*eventsSearch) Description() string {
	return "Search stored events around the incident by alert, user, host, address or application; reports what the events show (sign-in patterns, forwarding rules, destructive commands)."
}
func (*eventsSearch) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"incident":{"type":"string"},"alert":{"type":"string"},"user":{"type":"string"},"host":{"type":"string"},"ip":{"type":"string"},"app":{"type":"string"},"window":{"type":"string"}}}`)
}

func (t *eventsSearch) Call(ctx context.Context, in map[string]any) (Result, error) {
	d := t.d
	if id := str(in, "alert"); id != "" {
		return alertEvents(ctx, d, id)
	}
	from, to, _ := incidentRange(ctx, d, str(in, "incident"), window(in, 6*time.Hour))
	q := store.EventQuery{From: from, To: to, Limit: 500}
	what := ""
	switch {
	case str(in, "user") != "":
		u := str(in, "user")
		name := u
		if i := strings.LastIndexAny(u, `\`); i >= 0 {
			name = u[i+1:]
		}
		if n, _, ok := strings.Cut(name, "@"); ok {
			name = n
		}
		q.User, what = name, "account "+u
	case str(in, "host") != "":
		q.Host, what = str(in, "host"), "host "+str(in, "host")
	case str(in, "ip") != "":
		q.IP, what = str(in, "ip"), "address "+str(in, "ip")
	case str(in, "app") != "":
		q.Contains, what = str(in, "app"), "application "+str(in, "app")
	default:
		return Result{Summary: "no search key given"}, nil
	}
	evs, err := d.Store.SearchEvents(ctx, q)
	if err != nil {
		return Result{}, err
	}
	if app := str(in, "app"); app != "" {
		evs = filterApp(evs, app)
	}
	res := Result{Summary: fmt.Sprintf("%d events for %s between %s and %s", len(evs), what, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))}
	res.Findings = append(res.Findings, analyseEvents(evs, in)...)
	rows := make([]map[string]any, 0, min(len(evs), 50))
	for i, ev := range evs {
		if i < 20 {
			res.EventIDs = append(res.EventIDs, ev.ID)
		}
		if i < 50 {
			rows = append(rows, eventRow(&ev))
		}
	}
	res.Data = map[string]any{"count": len(evs), "events": rows}
	return res, nil
}

func filterApp(evs []event.Event, app string) []event.Event {
	var out []event.Event
	for _, ev := range evs {
		if ev.Cloud != nil && (strings.EqualFold(ev.Cloud.AppID, app) || strings.EqualFold(ev.Cloud.App, app)) {
			out = append(out, ev)
		}
	}
	return out
}

func eventRow(ev *event.Event) map[string]any {
	r := map[string]any{"id": ev.ID, "time": ev.Time, "class": ev.Class, "code": ev.Code}
	if ev.Device != nil {
		r["host"] = ev.Device.Hostname
	}
	if ev.User != nil {
		r["user"] = ev.User.Name
	}
	if ev.Src != nil {
		r["src"] = ev.Src.IP
		if ev.Src.Country != "" {
			r["country"] = ev.Src.Country
		}
	}
	if ev.Status != "" {
		r["status"] = ev.Status
	}
	if ev.Process != nil {
		r["process"] = ev.Process.CommandLine
	}
	if ev.HTTP != nil && ev.HTTP.UserAgent != "" {
		r["user_agent"] = ev.HTTP.UserAgent
	} else if ev.Src != nil && ev.Src.Agent != "" {
		r["user_agent"] = ev.Src.Agent
	}
	if ev.Cloud != nil {
		if ev.Cloud.Operation != "" {
			r["operation"] = ev.Cloud.Operation
		}
		if ev.Cloud.App != "" {
			r["app"] = ev.Cloud.App
		}
	}
	if ev.Email != nil && ev.Email.Subject != "" {
		r["subject"] = ev.Email.Subject
	}
	return r
}

// analyseEvents turns patterns in events into findings.
func analyseEvents(evs []event.Event, in map[string]any) []Finding {
	var out []Finding
	failUsers := map[string]bool{}
	var successes []event.Event
	countries := map[string]map[string]bool{} // user -> countries
	for i := range evs {
		ev := &evs[i]
		if ev.Class == event.ClassAuthentication {
			u := ""
			if ev.User != nil {
				u = event.CanonicalUser(ev.User.Name, ev.User.Domain)
			}
			switch ev.Status {
			case "failure":
				failUsers[u] = true
			case "success":
				successes = append(successes, *ev)
				if ev.Src != nil && ev.Src.Country != "" {
					if countries[u] == nil {
						countries[u] = map[string]bool{}
					}
					countries[u][ev.Src.Country] = true
				}
			}
		}
		if ev.Code == "New-InboxRule" || ev.Code == "Set-InboxRule" {
			for k, v := range ev.Unmapped {
				if (strings.Contains(k, "ForwardTo") || strings.Contains(k, "RedirectTo")) && v != "" {
					u := ""
					if ev.User != nil {
						u = event.CanonicalUser(ev.User.Name, ev.User.Domain)
					}
					out = append(out, Finding{Name: "inbox_forward_rule", Weight: 1.5, Entity: "user:" + u,
						Detail: fmt.Sprintf("an inbox rule of %s forwards mail to %s", u, v), Actions: []string{"delete_inbox_rule user:" + u, "revoke_sessions user:" + u}})
				}
			}
		}
	}
	if ip := str(in, "ip"); ip != "" && len(failUsers) >= 5 {
		f := Finding{Name: "spray_source", Weight: 1.5, Entity: "ip:" + ip, Detail: fmt.Sprintf("%s failed to sign in to %d accounts", ip, len(failUsers)), Actions: []string{"block_indicator ip:" + ip}}
		out = append(out, f)
		for _, s := range successes {
			if s.User == nil {
				continue
			}
			u := event.CanonicalUser(s.User.Name, s.User.Domain)
			out = append(out, Finding{Name: "signin_success_after_failures", Weight: 2.0, Entity: "user:" + u,
				Detail: fmt.Sprintf("%s then signed in successfully as %s", ip, u), Actions: []string{"revoke_sessions user:" + u, "reset_password user:" + u}})
		}
	}
	return out
}

// alertEvents looks at the events behind one alert.
func alertEvents(ctx context.Context, d *Data, id string) (Result, error) {
	a, err := d.Store.GetAlert(ctx, id)
	if err != nil {
		return Result{}, err
	}
	res := Result{Summary: fmt.Sprintf("alert %q (%s) on %s", a.RuleTitle, a.Severity, orDash(a.Host)), EventIDs: limit(a.EventIDs, 10)}
	w := map[event.Severity]float64{event.SeverityCritical: 1.5, event.SeverityHigh: 1.0, event.SeverityMedium: 0.4, event.SeverityLow: 0.1}[a.Severity]
	if a.Source != "sigma" && a.Source != "sigma_correlation" && a.Source != "behavior" {
		w = 0.3 // another tool's alert: weighed by triage, not re-weighed here
	}
	f := Finding{Name: "detection:" + a.RuleTitle, Weight: w, Entity: "host:" + shortHost(a.Host), Detail: fmt.Sprintf("%s: %q matched %s", a.Severity, a.RuleTitle, matchesText(a.Matches))}
	host := shortHost(a.Host)
	for _, t := range a.Tactics {
		switch t {
		case "TA0040", "TA0006", "TA0008":
			// Endpoint detections of impact, credential theft or lateral movement call for
			// containing the host; lateral movement also for the account it used. Informational
			// and low rules (a logoff tagged "impact") are context, not grounds to isolate.
			if a.Severity < event.SeverityMedium {
				continue
			}
			if host != "" {
				f.Actions = append(f.Actions, "contain_host host:"+host)
			}
			if a.User != "" && t == "TA0008" && host != "" {
				f.Actions = append(f.Actions, "disable_account user:"+a.User)
			}
		}
	}
	res.Findings = append(res.Findings, f)
	evs, err := d.Store.SearchEvents(ctx, store.EventQuery{IDs: limit(a.EventIDs, 20), Limit: 20})
	if err != nil {
		return res, err
	}
	rows := make([]map[string]any, 0, len(evs))
	for i := range evs {
		rows = append(rows, eventRow(&evs[i]))
	}
	res.Data = map[string]any{"alert": map[string]any{"id": a.ID, "title": a.RuleTitle, "severity": a.Severity.String(), "matches": a.Matches, "tactics": a.Tactics, "techniques": a.Techniques, "falsepositives": a.FalsePositives}, "events": rows}
	return res, nil
}

func limit(xs []string, n int) []string {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}

func matchesText(ms []event.FieldMatch) string {
	var parts []string
	for i, m := range ms {
		if i == 3 {
			break
		}
		v := m.Value
		if len(v) > 60 {
			v = v[:57] + "..."
		}
		parts = append(parts, m.Field+"="+v)
	}
	if len(parts) == 0 {
		return "its conditions"
	}
	return strings.Join(parts, ", ")
}

// ---- incident.graph -------------------------------------------------------------------

type incidentGraph struct{ d *Data }

func (*incidentGraph) Name() string { return "incident.graph" }
func (*incidentGraph) Description() string {
	return "The incident's entity graph and attack chain: logons and remote execution between hosts, credential access, OAuth consent, mailbox access."
}
func (*incidentGraph) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"incident":{"type":"string"}},"required":["incident"]}`)
}

func (t *incidentGraph) Call(ctx context.Context, in map[string]any) (Result, error) {
	inc, err := t.d.Store.GetIncident(ctx, str(in, "incident"))
	if err != nil {
		return Result{}, err
	}
	res := Result{}
	var edges []event.ChainEdge
	if inc.Chain != nil {
		edges = inc.Chain.Edges
	}
	kinds := map[string][]event.ChainEdge{}
	for _, e := range edges {
		kinds[e.Kind] = append(kinds[e.Kind], e)
	}
	hosts := map[string]bool{}
	for _, k := range []string{"logon", "explicit_credentials", "remote_service", "remote_task", "smb", "wmi"} {
		for _, e := range kinds[k] {
			if strings.HasPrefix(e.To, "host:") && (strings.HasPrefix(e.From, "host:") || strings.HasPrefix(e.From, "ip:")) {
				hosts[e.To] = true
			}
		}
	}
	if n := len(kinds["remote_service"]) + len(kinds["remote_task"]) + len(kinds["wmi"]) + len(kinds["explicit_credentials"]); n > 0 && len(hosts) > 0 {
		var hs []string
		for h := range hosts {
			hs = append(hs, strings.TrimPrefix(h, "host:"))
		}
		sort.Strings(hs)
		f := Finding{Name: "lateral_movement", Weight: 1.5, Detail: fmt.Sprintf("remote execution reached %s", strings.Join(hs, ", "))}
		for _, h := range hs {
			f.Actions = append(f.Actions, "contain_host host:"+h)
		}
		res.Findings = append(res.Findings, f)
	}
	if len(kinds["credential_access"]) > 0 {
		res.Findings = append(res.Findings, Finding{Name: "credential_theft", Weight: 1.5, Detail: "LSASS memory was read on " + strings.TrimPrefix(kinds["credential_access"][0].From, "host:")})
	}
	for _, e := range kinds["consent"] {
		res.Findings = append(res.Findings, Finding{Name: "oauth_consent", Weight: 0.5, Entity: e.To, Detail: fmt.Sprintf("%s granted %s: %s", strings.TrimPrefix(e.From, "user:"), strings.TrimPrefix(e.To, "app:"), e.Detail)})
	}
	steps := 0
	if inc.Chain != nil {
		steps = len(inc.Chain.Steps)
	}
	res.Summary = fmt.Sprintf("attack chain of %d steps over %d hosts and %d accounts, %d graph edges", steps, len(inc.Hosts), len(inc.Users), len(edges))
	res.Data = map[string]any{"steps": steps, "edges": limitEdges(edges, 40), "hosts": inc.Hosts, "users": inc.Users}
	return res, nil
}

func limitEdges(es []event.ChainEdge, n int) []event.ChainEdge {
	if len(es) > n {
		return es[:n]
	}
	return es
}

// ---- asset.lookup ---------------------------------------------------------------------

type assetLookup struct{ d *Data }

func (*assetLookup) Name() string { return "asset.lookup" }
func (*assetLookup) Description() string {
	return "Asset inventory: a host's criticality and what vigil has seen of it."
}
func (*assetLookup) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"host":{"type":"string"}},"required":["host"]}`)
}

func (t *assetLookup) Call(ctx context.Context, in map[string]any) (Result, error) {
	h := shortHost(str(in, "host"))
	crit := t.d.Criticality[h]
	if crit == "" {
		crit = "unknown"
	}
	res := Result{Summary: fmt.Sprintf("%s: criticality %s", h, crit), Data: map[string]any{"host": h, "criticality": crit}}
	if crit == "critical" || crit == "high" {
		res.Findings = append(res.Findings, Finding{Name: "critical_asset", Weight: 0.3, Entity: "host:" + h, Detail: fmt.Sprintf("%s is a %s-criticality asset", h, crit)})
	}
	return res, nil
}

// ---- entity.profile -------------------------------------------------------------------

type entityProfile struct{ d *Data }

func (*entityProfile) Name() string { return "entity.profile" }
func (*entityProfile) Description() string {
	return "What is normal for a user or host: how long vigil has seen it, how much activity, usual sources."
}
func (*entityProfile) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"user":{"type":"string"},"host":{"type":"string"},"incident":{"type":"string"}}}`)
}

func (t *entityProfile) Call(ctx context.Context, in map[string]any) (Result, error) {
	q := store.EventQuery{Limit: 2000, To: time.Now().Add(time.Hour)}
	name := ""
	if u := str(in, "user"); u != "" {
		n := u
		if i := strings.LastIndex(n, `\`); i >= 0 {
			n = n[i+1:]
		}
		n, _, _ = strings.Cut(n, "@")
		q.User, name = n, "user "+u
	} else {
		q.Host, name = str(in, "host"), "host "+str(in, "host")
	}
	evs, err := t.d.Store.SearchEvents(ctx, q)
	if err != nil {
		return Result{}, err
	}
	if len(evs) == 0 {
		res := Result{Summary: "no history for " + name, Data: map[string]any{"events": 0}}
		t.behaviour(in, &res)
		return res, nil
	}
	first, last := evs[len(evs)-1].Time, evs[0].Time
	srcs := map[string]int{}
	countries := map[string]int{}
	for _, ev := range evs {
		if ev.Src != nil && ev.Src.IP != "" {
			srcs[ev.Src.IP]++
			if ev.Src.Country != "" {
				countries[ev.Src.Country]++
			}
		}
	}
	res := Result{Summary: fmt.Sprintf("%s: %d events since %s from %d sources", name, len(evs), first.UTC().Format(time.RFC3339), len(srcs)),
		Data: map[string]any{"events": len(evs), "first_seen": first, "last_seen": last, "sources": topN(srcs, 10), "countries": topN(countries, 10)}}
	t.behaviour(in, &res)
	return res, nil
}

// behaviour adds the behavioural profile of the user or host, when one is known.
func (t *entityProfile) behaviour(in map[string]any, res *Result) {
	if t.d.Behaviour == nil {
		return
	}
	kind, name := "user", str(in, "user")
	if name == "" {
		kind, name = "host", str(in, "host")
	}
	if name == "" {
		return
	}
	if sum, prof, ok := t.d.Behaviour(kind, name); ok {
		res.Summary += "; normal behaviour: " + sum
		if m, ok := res.Data.(map[string]any); ok {
			m["behaviour"] = prof
		}
	}
}

func topN(m map[string]int, n int) []map[string]any {
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range m {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v || all[i].v == all[j].v && all[i].k < all[j].k })
	var out []map[string]any
	for i, x := range all {
		if i == n {
			break
		}
		out = append(out, map[string]any{"value": x.k, "count": x.v})
	}
	return out
}

// ---- past.incidents -------------------------------------------------------------------

type pastIncidents struct{ d *Data }

func (*pastIncidents) Name() string { return "past.incidents" }
func (*pastIncidents) Description() string {
	return "Earlier incidents on the same user or host and how they were judged."
}
func (*pastIncidents) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"user":{"type":"string"},"host":{"type":"string"},"incident":{"type":"string"}}}`)
}

func (t *pastIncidents) Call(ctx context.Context, in map[string]any) (Result, error) {
	self := str(in, "incident")
	key, val := "user", str(in, "user")
	if val == "" {
		key, val = "host", str(in, "host")
	}
	incs, err := t.d.Store.ListIncidents(ctx, store.IncidentQuery{Since: time.Now().Add(-90 * 24 * time.Hour), Entity: key + ":" + val, Summary: true, Limit: 200})
	if err != nil {
		return Result{}, err
	}
	var rows []map[string]any
	tp, fp := 0, 0
	for _, inc := range incs {
		if inc.ID == self {
			continue
		}
		list := inc.Users
		if key == "host" {
			list = inc.Hosts
		}
		hit := false
		for _, x := range list {
			if strings.EqualFold(x, val) {
				hit = true
			}
		}
		if !hit {
			continue
		}
		verdict := inc.Disposition
		if inc.Report != nil && inc.Report.Verdict != "" {
			verdict = inc.Report.Verdict
		}
		switch verdict {
		case "true_positive":
			tp++
		case "false_positive", "benign", "benign_true_positive":
			fp++
		}
		rows = append(rows, map[string]any{"id": inc.ID, "title": inc.Title, "verdict": verdict, "last_seen": inc.LastSeen})
	}
	res := Result{Summary: fmt.Sprintf("%d earlier incidents on %s %s (%d true, %d false or benign)", len(rows), key, val, tp, fp), Data: map[string]any{"incidents": rows}}
	if tp > 0 {
		res.Findings = append(res.Findings, Finding{Name: "repeat_victim", Weight: 0.5, Entity: key + ":" + val, Detail: fmt.Sprintf("%s %s was in %d confirmed incidents before", key, val, tp)})
	}
	if fp >= 2 && tp == 0 {
		res.Findings = append(res.Findings, Finding{Name: "history_of_false_positives", Weight: -0.8, Entity: key + ":" + val, Detail: fmt.Sprintf("%d earlier incidents on %s %s were false positives", fp, key, val)})
	}
	return res, nil
}

// ---- intel.lookup ---------------------------------------------------------------------

type intelLookup struct{ d *Data }

func (*intelLookup) Name() string { return "intel.lookup" }
func (*intelLookup) Description() string {
	return "Threat intelligence: whether an address, domain or hash is a known indicator, and of what."
}
func (*intelLookup) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"ip":{"type":"string"},"domain":{"type":"string"},"hash":{"type":"string"}}}`)
}

func (t *intelLookup) Call(ctx context.Context, in map[string]any) (Result, error) {
	v := str(in, "ip")
	kind := "ip"
	if v == "" {
		v, kind = str(in, "domain"), "domain"
	}
	if v == "" {
		v, kind = str(in, "hash"), "hash"
	}
	res := Result{Data: map[string]any{"value": v}}
	if kind == "ip" {
		if a, err := netip.ParseAddr(v); err == nil {
			internal := a.IsPrivate() || a.IsLoopback()
			for _, p := range t.d.InternalNets {
				if p.Contains(a) {
					internal = true
				}
			}
			if internal {
				res.Summary = v + " is an internal address"
				res.Data = map[string]any{"value": v, "internal": true}
				return res, nil
			}
		}
	}
	if t.d.Intel == nil {
		res.Summary = "no threat intelligence loaded"
		return res, nil
	}
	ms := t.d.Intel(v, time.Now())
	if len(ms) == 0 {
		res.Summary = v + " is not a known indicator"
		return res, nil
	}
	best := ms[0]
	for _, m := range ms {
		if m.Confidence > best.Confidence {
			best = m
		}
	}
	res.Summary = fmt.Sprintf("%s is a known indicator (%s, %s)", v, best.Source, best.Name)
	res.Data = map[string]any{"value": v, "matches": ms}
	res.Findings = append(res.Findings, Finding{Name: "known_bad_indicator", Weight: 2.0, Entity: kind + ":" + v,
		Detail: fmt.Sprintf("%s is listed by %s as %s", v, best.Source, orDash(best.Name)), Actions: []string{"block_indicator " + kind + ":" + v}})
	return res, nil
}

// ---- endpoint.process_tree / endpoint.connections (from stored telemetry) --------------

type processTree struct{ d *Data }

func (*processTree) Name() string { return "endpoint.process_tree" }
func (*processTree) Description() string {
	return "The process tree around an alert's process, rebuilt from stored process-creation events."
}
func (*processTree) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"alert":{"type":"string"}},"required":["alert"]}`)
}

func (t *processTree) Call(ctx context.Context, in map[string]any) (Result, error) {
	a, err := t.d.Store.GetAlert(ctx, str(in, "alert"))
	if err != nil {
		return Result{}, err
	}
	if a.Host == "" {
		return Result{Summary: "the alert names no host"}, nil
	}
	evs, err := t.d.Store.SearchEvents(ctx, store.EventQuery{Host: a.Host, Class: event.ClassProcess, From: a.Time.Add(-30 * time.Minute), To: a.Time.Add(30 * time.Minute), Limit: 1000})
	if err != nil {
		return Result{}, err
	}
	type node struct {
		Image, Cmd, Parent string
		Time               time.Time
		ID                 string
	}
	nodes := map[string]node{}
	for _, ev := range evs {
		if ev.Process == nil || ev.Process.GUID == "" {
			continue
		}
		parent := ""
		if ev.Process.Parent != nil {
			parent = ev.Process.Parent.GUID
		}
		nodes[ev.Process.GUID] = node{Image: path.Base(strings.ReplaceAll(ev.Process.Path, `\`, "/")), Cmd: ev.Process.CommandLine, Parent: parent, Time: ev.Time, ID: ev.ID}
	}
	var lines []string
	var ids []string
	res := Result{}
	for guid, n := range nodes {
		depth := 0
		chain := []string{n.Image}
		for p := n.Parent; p != "" && depth < 10; depth++ {
			pn, ok := nodes[p]
			if !ok {
				break
			}
			chain = append([]string{pn.Image}, chain...)
			p = pn.Parent
		}
		_ = guid
		lines = append(lines, strings.Join(chain, " > ")+": "+n.Cmd)
		ids = append(ids, n.ID)
		lc := strings.ToLower(strings.Join(chain, ">"))
		switch {
		case strings.Contains(lc, "winword.exe>powershell") || strings.Contains(lc, "excel.exe>powershell") || strings.Contains(lc, "outlook.exe>powershell"):
			res.Findings = append(res.Findings, Finding{Name: "office_spawned_shell", Weight: 1.5, Entity: "host:" + shortHost(a.Host), Detail: "an Office application started PowerShell on " + shortHost(a.Host), Actions: []string{"contain_host host:" + shortHost(a.Host)}})
		case strings.Contains(lc, "psexesvc.exe>"):
			res.Findings = append(res.Findings, Finding{Name: "psexec_execution", Weight: 1.0, Entity: "host:" + shortHost(a.Host), Detail: "commands ran through PsExec on " + shortHost(a.Host)})
		}
	}
	sort.Strings(lines)
	res.Summary = fmt.Sprintf("%d processes on %s around the alert", len(nodes), a.Host)
	res.Data = map[string]any{"tree": limit(lines, 60)}
	res.EventIDs = limit(ids, 20)
	return res, nil
}

type connections struct{ d *Data }

func (*connections) Name() string { return "endpoint.connections" }
func (*connections) Description() string {
	return "Outbound network connections of a host around the incident, with threat-intelligence hits."
}
func (*connections) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"host":{"type":"string"},"incident":{"type":"string"}},"required":["host"]}`)
}

func (t *connections) Call(ctx context.Context, in map[string]any) (Result, error) {
	from, to, _ := incidentRange(ctx, t.d, str(in, "incident"), 2*time.Hour)
	evs, err := t.d.Store.SearchEvents(ctx, store.EventQuery{Host: str(in, "host"), Class: event.ClassNetwork, From: from, To: to, Limit: 1000})
	if err != nil {
		return Result{}, err
	}
	dsts := map[string]int{}
	res := Result{}
	for _, ev := range evs {
		if ev.Dst == nil || ev.Dst.IP == "" {
			continue
		}
		a, err := netip.ParseAddr(ev.Dst.IP)
		if err != nil || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
			continue
		}
		dsts[ev.Dst.IP]++
		if len(res.EventIDs) < 20 {
			res.EventIDs = append(res.EventIDs, ev.ID)
		}
	}
	res.Summary = fmt.Sprintf("%d outbound connections to %d public addresses", len(evs), len(dsts))
	res.Data = map[string]any{"destinations": topN(dsts, 20)}
	if t.d.Intel != nil {
		for ip := range dsts {
			if ms := t.d.Intel(ip, time.Now()); len(ms) > 0 {
				res.Findings = append(res.Findings, Finding{Name: "c2_connection", Weight: 2.0, Entity: "ip:" + ip,
					Detail: fmt.Sprintf("%s connected to %s, a known indicator (%s)", str(in, "host"), ip, ms[0].Source), Actions: []string{"contain_host host:" + shortHost(str(in, "host")), "block_indicator ip:" + ip}})
			}
		}
	}
	return res, nil
}
