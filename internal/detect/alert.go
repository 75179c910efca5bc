package detect

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/sigma"
	"github.com/vigil-soc/vigil/internal/ueba"
)

// fillRecord loads an event into a Sigma record: the raw JSON record with its original field
// names when it has one, else the text line and the normalizer's fields; and the event's log
// source for routing.
func fillRecord(rec *sigma.Record, ev *event.Event) {
	raw := ev.Raw
	ok := false
	if len(raw) > 0 && raw[0] == '{' {
		ok = rec.ResetJSON(raw) == nil
	}
	if !ok {
		rec.Reset()
		if len(raw) > 0 && raw[0] == '"' {
			rec.Add("message", ev.Message)
		}
		addNormalized(rec, ev)
	}
	rec.SetLogSource(ev.Product, ev.Service, ev.Category)
}

// addNormalized adds the normalized fields of a text event under the names Sigma rules use for
// them (Sysmon-style for processes, the common snake_case names otherwise).
func addNormalized(rec *sigma.Record, ev *event.Event) {
	add := func(name, v string) {
		if v != "" {
			rec.Add(name, v)
		}
	}
	if ev.Device != nil {
		add("host", ev.Device.Hostname)
	}
	if ev.User != nil {
		add("user", ev.User.Name)
	}
	if ev.Src != nil {
		add("src_ip", ev.Src.IP)
		if ev.Src.Port != 0 {
			add("src_port", strconv.Itoa(ev.Src.Port))
		}
	}
	if ev.Dst != nil {
		add("dst_ip", ev.Dst.IP)
		if ev.Dst.Port != 0 {
			add("dst_port", strconv.Itoa(ev.Dst.Port))
		}
	}
	if p := ev.Process; p != nil {
		add("Image", p.Path)
		add("CommandLine", p.CommandLine)
		add("User", p.User)
		if p.PID != 0 {
			add("ProcessId", strconv.FormatInt(p.PID, 10))
		}
		if pp := p.Parent; pp != nil {
			add("ParentImage", pp.Path)
			add("ParentCommandLine", pp.CommandLine)
		}
	}
	if ev.File != nil {
		add("TargetFilename", ev.File.Path)
	}
	add("code", ev.Code)
	keys := make([]string, 0, len(ev.Unmapped))
	for k := range ev.Unmapped {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(k, ev.Unmapped[k])
	}
}

// attack returns the ATT&CK tactic IDs and technique IDs of a rule.
func attack(a sigma.Attack) (tactics, techniques []string) {
	for _, t := range a.Tactics {
		tactics = append(tactics, t.ID)
	}
	return tactics, append([]string(nil), a.Techniques...)
}

func ruleAlert(m sigma.Match, ev *event.Event) event.Alert {
	r := m.Rule
	tactics, techniques := attack(r.Attack)
	a := event.Alert{
		ID:             event.DeriveID(event.PrefixAlert, "sigma", r.ID, r.File, r.Title, ev.ID),
		Time:           ev.Time,
		Created:        time.Now().UTC(),
		Source:         "sigma",
		RuleID:         r.ID,
		RuleTitle:      r.Title,
		Level:          r.Level,
		Severity:       event.ParseSeverity(r.Level),
		Kind:           "sigma:" + ruleKey(&r.Meta),
		Tags:           append([]string(nil), r.Tags...),
		Tactics:        tactics,
		Techniques:     techniques,
		FalsePositives: append([]string(nil), r.FalsePositives...),
		EventIDs:       []string{ev.ID},
		Message:        r.Description,
		Count:          1,
		Origin:         ev.Origin,
	}
	seen := map[event.FieldMatch]bool{}
	for _, e := range m.Evidence {
		// The matcher's evidence may point into the reused record's buffers: copy it.
		fm := event.FieldMatch{Field: strings.Clone(e.Field), Value: strings.Clone(e.Value)}
		if !seen[fm] && len(a.Matches) < 32 {
			seen[fm] = true
			a.Matches = append(a.Matches, fm)
		}
	}
	fillEntities(&a, ev)
	return a
}

// behaviorAlert turns a behavioural finding into an alert: the finding's evidence becomes the
// matched fields, its events the alert's events, its explanation the message.
func behaviorAlert(f ueba.Finding, ev *event.Event) event.Alert {
	a := event.Alert{
		ID:         event.DeriveID(event.PrefixAlert, "behavior", f.Kind, ev.ID),
		Time:       ev.Time,
		Created:    time.Now().UTC(),
		Source:     "behavior",
		RuleID:     f.Kind,
		RuleTitle:  f.Title,
		Level:      f.Severity.String(),
		Severity:   f.Severity,
		Kind:       f.Kind,
		Tactics:    f.Tactics,
		Techniques: f.Techniques,
		EventIDs:   f.EventIDs,
		Matches:    f.Evidence,
		Message:    f.Message,
		Count:      1,
		Origin:     ev.Origin,
	}
	fillEntities(&a, ev)
	if f.User != "" && a.User == "" {
		a.User = f.User
	}
	if f.SrcIP != "" && a.SrcIP == "" {
		a.SrcIP = f.SrcIP
	}
	return a
}

func ruleKey(m *sigma.Meta) string {
	if m.ID != "" {
		return m.ID
	}
	if m.Name != "" {
		return m.Name
	}
	return m.Title
}

func correlationAlert(ca sigma.CorrelationAlert, last *event.Event) event.Alert {
	c := ca.Correlation
	a := event.Alert{
		Time:    ca.Start,
		Created: time.Now().UTC(),
		Source:  "sigma_correlation",
		RuleID:  ca.RuleID,
		Level:   ca.Level,
		Count:   1,
	}
	if c != nil {
		a.RuleTitle = c.Title
		a.Kind = "sigma:" + ruleKey(&c.Meta)
		a.Tags = append([]string(nil), c.Tags...)
		a.Tactics, a.Techniques = attack(c.Attack)
		a.FalsePositives = append([]string(nil), c.FalsePositives...)
		a.Message = c.Description
	} else {
		a.RuleTitle = ca.Title
		a.Kind = "sigma:" + ca.RuleID
	}
	a.Severity = event.ParseSeverity(a.Level)
	var ids []string
	var collect func(ms []sigma.Contribution)
	collect = func(ms []sigma.Contribution) {
		for _, m := range ms {
			if m.Ref != "" {
				ids = append(ids, m.Ref)
			}
			if m.Alert != nil {
				collect(m.Alert.Matches)
			}
		}
	}
	collect(ca.Matches)
	a.EventIDs = ids
	keys := make([]string, 0, len(ca.GroupBy))
	for k := range ca.GroupBy {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{a.RuleTitle, ca.Start.UTC().Format(time.RFC3339Nano)}
	for _, k := range keys {
		v := ca.GroupBy[k]
		parts = append(parts, k+"="+v)
		a.Matches = append(a.Matches, event.FieldMatch{Field: k, Value: v})
		addGroupEntity(&a, k, v)
	}
	a.Matches = append(a.Matches, event.FieldMatch{Field: ca.Type, Value: strconv.FormatFloat(ca.Value, 'f', -1, 64)})
	a.ID = event.DeriveID(event.PrefixAlert, append([]string{"sigma_correlation", ca.RuleID}, parts...)...)
	a.Message = strings.TrimSpace(fmt.Sprintf("%s (%s %s over %s)", a.Message, ca.Type, strconv.FormatFloat(ca.Value, 'f', -1, 64), ca.End.Sub(ca.Start).Round(time.Second)))
	if last != nil {
		a.Origin = last.Origin
	}
	return a
}

// addGroupEntity turns a correlation's group-by value into an entity when its field names one.
func addGroupEntity(a *event.Alert, field, v string) {
	f := strings.ToLower(field)
	switch {
	case strings.Contains(f, "ip"):
		a.Entities = append(a.Entities, event.EntityRef{Kind: event.EntityIP, Value: v, Role: "src"})
		if a.SrcIP == "" {
			a.SrcIP = v
		}
	case strings.Contains(f, "computer") || strings.Contains(f, "host"):
		a.Entities = append(a.Entities, event.EntityRef{Kind: event.EntityHost, Value: strings.ToLower(v), Role: "host"})
		if a.Host == "" {
			a.Host = strings.ToLower(v)
		}
	case strings.Contains(f, "user") || strings.Contains(f, "alternateid") || strings.Contains(f, "principal"):
		a.Entities = append(a.Entities, event.EntityRef{Kind: event.EntityUser, Value: strings.ToLower(v), Role: "target"})
		if a.User == "" {
			a.User = strings.ToLower(v)
		}
	}
}

// fillEntities copies the entities of the event into the alert.
func fillEntities(a *event.Alert, ev *event.Event) {
	add := func(kind event.EntityKind, v, role string) {
		if v == "" {
			return
		}
		for _, e := range a.Entities {
			if e.Kind == kind && e.Value == v {
				return
			}
		}
		a.Entities = append(a.Entities, event.EntityRef{Kind: kind, Value: v, Role: role})
	}
	if ev.Device != nil && ev.Device.Hostname != "" {
		a.Host = strings.ToLower(ev.Device.Hostname)
		add(event.EntityHost, a.Host, "host")
	}
	if ev.User != nil && ev.User.Name != "" {
		a.User = userKey(ev.User)
		add(event.EntityUser, a.User, "actor")
	}
	if ev.TargetUser != nil && ev.TargetUser.Name != "" {
		add(event.EntityUser, userKey(ev.TargetUser), "target")
	}
	if ev.Src != nil && ev.Src.IP != "" {
		a.SrcIP = ev.Src.IP
		add(event.EntityIP, ev.Src.IP, "src")
	}
	if ev.Dst != nil && ev.Dst.IP != "" {
		a.DstIP = ev.Dst.IP
		add(event.EntityIP, ev.Dst.IP, "dst")
	}
	if p := ev.Process; p != nil {
		add(event.EntityProcess, strings.ToLower(p.Path), "actor")
		for _, h := range p.Hashes {
			add(event.EntityHash, strings.ToLower(h), "actor")
		}
	}
	if f := ev.File; f != nil {
		add(event.EntityFile, strings.ToLower(f.Path), "target")
	}
	if c := ev.Cloud; c != nil {
		if c.AppID != "" || c.App != "" {
			add(event.EntityApp, strings.ToLower(firstNonEmpty(c.AppID, c.App)), "target")
		}
	}
}

// userKey is a user's canonical name (event.CanonicalUser).
func userKey(u *event.User) string { return u.Canonical() }

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
