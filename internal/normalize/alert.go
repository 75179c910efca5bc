package normalize

import (
	"fmt"
	"strings"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/jsontext"
)

// Alert normalizes an alert raised by another tool into an event.Alert: a Wazuh alerts.json
// record, a Suricata EVE record with event_type "alert", a CEF line, or a generic JSON alert
// (an object with a title under one of the common keys: title, name, rule_name, rule,
// signature, ...). Source, RuleID, RuleTitle, Kind, Severity, Level, Host, User, SrcIP, DstIP,
// Entities, Tactics/Techniques (when the source carries MITRE fields), Raw and Origin are
// filled; the ID is derived like an event's, with event.PrefixAlert.
//
// Kind is a stable alert-type key: "wazuh:<rule id>", "suricata:<signature id>",
// "cef:<vendor>:<product>:<signature id>", otherwise "<source>:<rule id or normalised title>".
// A record that is not an alert returns an error wrapping ErrNotAlert.
func Alert(in Input) (event.Alert, error) {
	raw := trimSpace(in.Raw)
	if len(raw) == 0 {
		return event.Alert{}, ErrEmpty
	}
	var ev event.Event
	r := record{in: &in, ev: &ev, src: string(raw)}
	al := event.Alert{Origin: in.Origin, Count: 1, Created: in.Origin.Received}
	if raw[0] == '{' {
		root, p, err := parseObject(r.src)
		if err != nil {
			return event.Alert{}, err
		}
		defer p.release()
		r.root = root
		al.Raw = append([]byte(nil), raw...)
		hint := hintID(in.Hint)
		switch {
		case (hint == "wazuh" || hint == "") && detectWazuh(&r), hint == "wazuh" && r.root.get("rule") != nil:
			wazuhAlert(&r, &al)
		case detectSuricata(&r):
			if err := suricataAlert(&r, &al); err != nil {
				return event.Alert{}, err
			}
		default:
			if err := genericAlert(&r, &al); err != nil {
				return event.Alert{}, err
			}
		}
	} else {
		if in.Origin.Format == "json" {
			return event.Alert{}, fmt.Errorf("%w at byte offset 0: expected a JSON object", ErrMalformed)
		}
		r.line = r.src
		al.Raw = jsontext.AppendString(make([]byte, 0, len(raw)+8), r.line)
		if err := cefAlert(&r, &al); err != nil {
			return event.Alert{}, err
		}
	}
	finishAlert(&al, &ev)
	al.ID = deriveID(event.PrefixAlert, &in.Origin, r.src)
	return al, nil
}

// finishAlert copies the facets the mapping left in ev into the alert and builds Entities.
func finishAlert(al *event.Alert, ev *event.Event) {
	if al.Time.IsZero() {
		al.Time = ev.Time
	}
	if al.Time.IsZero() {
		al.Time = al.Origin.Received
	}
	if !al.Time.IsZero() {
		al.Time = al.Time.UTC()
	}
	if al.Severity == event.SeverityUnknown {
		al.Severity = ev.Severity
	}
	if d := ev.Device; d != nil && al.Host == "" {
		al.Host = d.Hostname
	}
	if al.User == "" {
		al.User = userKey(ev.User)
	}
	if ev.Src != nil && al.SrcIP == "" {
		al.SrcIP = ev.Src.IP
	}
	if ev.Dst != nil && al.DstIP == "" {
		al.DstIP = ev.Dst.IP
	}
	if al.Message == "" {
		al.Message = ev.Message
	}
	if al.RuleTitle == "" {
		al.RuleTitle = al.Kind
	}
	add := func(kind event.EntityKind, value, role string) {
		if value == "" {
			return
		}
		if kind == event.EntityHost || kind == event.EntityUser || kind == event.EntityDomain {
			value = strings.ToLower(value)
		}
		for _, e := range al.Entities {
			if e.Kind == kind && e.Value == value && e.Role == role {
				return
			}
		}
		al.Entities = append(al.Entities, event.EntityRef{Kind: kind, Value: value, Role: role})
	}
	add(event.EntityHost, al.Host, "host")
	if ev.Device != nil {
		add(event.EntityIP, ev.Device.IP, "host")
	}
	add(event.EntityUser, al.User, "actor")
	add(event.EntityUser, userKey(ev.TargetUser), "target")
	add(event.EntityIP, al.SrcIP, "src")
	if ev.Src != nil {
		add(event.EntityHost, ev.Src.Hostname, "src")
	}
	add(event.EntityIP, al.DstIP, "dst")
	if ev.Dst != nil {
		add(event.EntityHost, ev.Dst.Hostname, "dst")
	}
	if p := ev.Process; p != nil {
		add(event.EntityProcess, p.Path, "actor")
		for _, alg := range [...]string{"sha256", "sha1", "md5"} {
			add(event.EntityHash, p.Hashes[alg], "actor")
		}
	}
	if f := ev.File; f != nil {
		add(event.EntityFile, f.Path, "target")
		for _, alg := range [...]string{"sha256", "sha1", "md5"} {
			add(event.EntityHash, f.Hashes[alg], "target")
		}
	}
	if h := ev.HTTP; h != nil {
		add(event.EntityURL, h.URL, "dst")
	}
	if d := ev.DNS; d != nil {
		add(event.EntityDomain, strings.TrimSuffix(d.Query, "."), "dst")
	}
}

func errNotAlert(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotAlert, fmt.Sprintf(format, args...))
}

// slug normalises a title into a stable key part: lower case, runs of anything but letters and
// digits collapsed to "_", at most 80 bytes.
func slug(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	sep := false
	for _, r := range strings.ToLower(s) {
		if b.Len() >= 80 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r > 0x7f && r != 0xfffd:
			if sep && b.Len() > 0 {
				b.WriteByte('_')
			}
			sep = false
			b.WriteRune(r)
		default:
			sep = true
		}
	}
	return b.String()
}

// Generic JSON alerts: the common key spellings of home-grown and third-party alert webhooks.
var (
	alertTitleKeys    = []string{"title", "rule_name", "ruleName", "rule.name", "rule.title", "alert_name", "alertName", "name", "signature", "rule", "alert", "event_name", "description"}
	alertRuleIDKeys   = []string{"rule_id", "ruleId", "rule.id", "signature_id", "sid", "alert_id", "detection_id"}
	alertSevKeys      = []string{"severity", "level", "priority", "risk", "risk_level", "risk_score", "rule.level", "rule.severity"}
	alertSourceKeys   = []string{"source", "product", "tool", "vendor", "detector", "observer.product"}
	alertMessageKeys  = []string{"message", "description", "summary", "details", "msg"}
	genericTimeKeys   = []string{"@timestamp", "timestamp", "time", "eventTime", "event_time", "date", "datetime", "created", "created_at", "detected_at", "ts", "EventTime", "TimeGenerated", "TimeCreated"}
	genericHostKeys   = []string{"host.name", "hostname", "host", "host_name", "computer", "computer_name", "device", "device_name", "agent.name", "dvc", "observer.hostname", "Hostname", "Computer"}
	genericUserKeys   = []string{"user.name", "username", "user", "user_name", "userName", "account", "account_name", "actor", "UserName"}
	genericSrcIPKeys  = []string{"source.ip", "src_ip", "source_ip", "srcip", "src", "client_ip", "clientip", "client.ip", "remote_addr", "ip", "SourceIP"}
	genericDstIPKeys  = []string{"destination.ip", "dst_ip", "dest_ip", "destination_ip", "dstip", "dst", "server.ip", "DestinationIP"}
	genericSrcPortKey = []string{"source.port", "src_port", "source_port", "srcport", "sport"}
	genericDstPortKey = []string{"destination.port", "dst_port", "dest_port", "destination_port", "dstport", "dport"}
	genericMsgKeys    = []string{"message", "msg", "log", "event.original", "Message"}
	genericSevKeys    = []string{"severity", "level", "log.level", "priority", "Severity"}
)

// lookup finds a scalar by a dotted key: a literal member first ("host.name" as one key),
// then the nested path.
func lookup(root *node, key string) *node {
	if n := root.get(key); n != nil {
		if n.scalar() {
			return n
		}
		if n.kind == jObject {
			// {"host": {"name": ...}} when asked for "host": take the common sub-keys.
			for _, k := range [...]string{"name", "hostname", "id", "ip", "value"} {
				if c := n.get(k); c.scalar() {
					return c
				}
			}
		}
		return nil
	}
	if !strings.Contains(key, ".") {
		return nil
	}
	n := root
	for part := range strings.SplitSeq(key, ".") {
		if n = n.get(part); n == nil {
			return nil
		}
	}
	if n.scalar() {
		return n
	}
	return nil
}

// firstOf returns the first non-empty scalar among keys, and the node, without marking it.
func firstOf(root *node, keys []string) (string, *node) {
	for _, k := range keys {
		if n := lookup(root, k); n != nil {
			if s := strings.TrimSpace(n.s); s != "" && n.kind != jNull {
				return s, n
			}
		}
	}
	return "", nil
}

// genericFields fills the common facets of an unknown JSON object by the usual key
// spellings. Nothing is marked used: a generic record keeps every field in Unmapped.
func genericFields(root *node, ev *event.Event) {
	if s, _ := firstOf(root, genericTimeKeys); s != "" {
		setTime(ev, s)
	}
	if s, _ := firstOf(root, genericHostKeys); s != "" {
		if ip := ipOf(s); ip != "" {
			ev.Device = &event.Device{IP: ip}
		} else {
			ev.Device = &event.Device{Hostname: s}
		}
	}
	if s, _ := firstOf(root, genericUserKeys); s != "" {
		d, n := splitUser(s)
		ev.User = &event.User{Name: n, Domain: d}
		if strings.Contains(n, "@") {
			ev.User.Email = n
		}
	}
	if s, _ := firstOf(root, genericSrcIPKeys); s != "" {
		if ip, p := splitHostPort(s); ip != "" {
			ev.Src = &event.Endpoint{IP: ip, Port: p}
		}
	}
	if s, _ := firstOf(root, genericDstIPKeys); s != "" {
		if ip, p := splitHostPort(s); ip != "" {
			ev.Dst = &event.Endpoint{IP: ip, Port: p}
		}
	}
	if s, _ := firstOf(root, genericSrcPortKey); s != "" && ev.Src != nil && ev.Src.Port == 0 {
		ev.Src.Port = port(s)
	}
	if s, _ := firstOf(root, genericDstPortKey); s != "" && ev.Dst != nil && ev.Dst.Port == 0 {
		ev.Dst.Port = port(s)
	}
	if s, _ := firstOf(root, genericMsgKeys); s != "" {
		ev.Message = s
	}
	if s, _ := firstOf(root, genericSevKeys); s != "" {
		ev.Severity = severityValue(s, false)
	}
}

// severityValue reads a severity word or number. Numbers are read on the scale their size
// suggests: 1-5 as a severity ID (or, for priorities, 1 = critical), 0-10 as CVSS-like,
// 0-100 as a risk score.
func severityValue(s string, priority bool) event.Severity {
	if v := severityWord(s); v != event.SeverityUnknown {
		return v
	}
	n, ok := parseInt(s)
	if !ok {
		return event.SeverityUnknown
	}
	switch {
	case n < 0:
		return event.SeverityUnknown
	case priority && n >= 1 && n <= 5:
		return event.Severity(6 - n)
	case n <= 5:
		return event.Severity(n)
	case n <= 10:
		return scoreSeverity(n * 10)
	case n <= 100:
		return scoreSeverity(n)
	}
	return event.SeverityCritical
}

func scoreSeverity(n int64) event.Severity {
	switch {
	case n >= 90:
		return event.SeverityCritical
	case n >= 70:
		return event.SeverityHigh
	case n >= 40:
		return event.SeverityMedium
	case n > 0:
		return event.SeverityLow
	}
	return event.SeverityInfo
}

func normalizeGenericJSON(r *record) error {
	genericFields(r.root, r.ev)
	return nil
}

// genericAlert maps a JSON object with a title under a common key.
func genericAlert(r *record, al *event.Alert) error {
	root, ev := r.root, r.ev
	title, _ := firstOf(root, alertTitleKeys)
	if title == "" {
		return errNotAlert("JSON object without a title (title, name, rule, signature, ...)")
	}
	genericFields(root, ev)
	al.RuleTitle = title
	al.RuleID, _ = firstOf(root, alertRuleIDKeys)
	if s, n := firstOf(root, alertSevKeys); s != "" {
		al.Level = s
		al.Severity = severityValue(s, n == lookup(root, "priority"))
	}
	al.Source = "external"
	if s, _ := firstOf(root, alertSourceKeys); s != "" && len(s) <= 40 && !strings.ContainsAny(s, " /\\") {
		al.Source = strings.ToLower(s)
	}
	if s, _ := firstOf(root, alertMessageKeys); s != "" && s != title {
		al.Message = s
	}
	key := al.RuleID
	if key == "" {
		key = slug(title)
	}
	al.Kind = al.Source + ":" + key

	// Tags and MITRE ATT&CK.
	for _, k := range [...]string{"tags", "labels", "rule.groups", "groups"} {
		n := root.get(k)
		if n == nil {
			n = root.at(strings.Split(k, ".")...)
		}
		for _, t := range n.strsOf() {
			al.Tags = appendUnique(al.Tags, t)
		}
		if n.scalar() && n.s != "" {
			for t := range strings.SplitSeq(n.s, ",") {
				al.Tags = appendUnique(al.Tags, strings.TrimSpace(t))
			}
		}
	}
	for _, t := range al.Tags {
		if id := techniqueID(t); id != "" {
			al.Techniques = appendUnique(al.Techniques, id)
		} else if id := tacticID(t); id != "" && strings.HasPrefix(strings.ToLower(t), "attack.") {
			al.Tactics = appendUnique(al.Tactics, id)
		}
	}
	mitre := func(n *node) {
		switch {
		case n == nil:
		case n.scalar():
			mitreValue(al, n.s)
		case n.kind == jArray:
			for i := range n.kids {
				e := &n.kids[i].node
				if e.scalar() {
					mitreValue(al, e.s)
				} else if e.kind == jObject {
					for _, k := range [...]string{"id", "technique_id", "tactic_id", "technique", "tactic"} {
						if v := e.get(k); v.scalar() {
							mitreValue(al, v.s)
						}
					}
				}
			}
		case n.kind == jObject:
			for i := range n.kids {
				m := &n.kids[i]
				switch {
				case m.scalar():
					mitreValue(al, m.s)
				case m.kind == jArray:
					for j := range m.kids {
						if e := &m.kids[j].node; e.scalar() {
							mitreValue(al, e.s)
						}
					}
				}
			}
		}
	}
	for _, k := range [...]string{"mitre", "attack", "mitre_attack", "tactics", "techniques", "mitre_tactics", "mitre_techniques", "tactic", "technique", "threat"} {
		mitre(root.get(k))
	}
	return nil
}

// mitreValue files an ATT&CK tactic or technique (ID, tag or tactic name).
func mitreValue(al *event.Alert, v string) {
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if id := techniqueID(part); id != "" {
			al.Techniques = appendUnique(al.Techniques, id)
		} else if id := tacticID(part); id != "" {
			al.Tactics = appendUnique(al.Tactics, id)
		}
	}
}
