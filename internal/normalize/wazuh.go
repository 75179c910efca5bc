package normalize

import (
	"strings"

	"github.com/vigil-soc/vigil/internal/event"
)

// Wazuh alerts.json (https://documentation.wazuh.com/current/user-manual/ruleset/): timestamp,
// rule{id, level, description, groups[], mitre{id[], tactic[], technique[]}, firedtimes, ...},
// agent{id, name, ip}, manager{name}, id, full_log, predecoder, decoder{name, parent},
// data{srcip, srcport, dstip, dstport, srcuser, dstuser, protocol, url, ...}, location.

func detectWazuh(r *record) bool {
	rule := r.root.get("rule")
	if rule == nil || rule.kind != jObject || rule.get("level") == nil {
		return false
	}
	return r.root.get("agent") != nil || r.root.get("manager") != nil || r.root.get("decoder") != nil
}

// wazuhSeverity maps a Wazuh rule level (0-15) to a severity.
func wazuhSeverity(level int64) event.Severity {
	switch {
	case level <= 3:
		return event.SeverityInfo
	case level <= 6:
		return event.SeverityLow
	case level <= 9:
		return event.SeverityMedium
	case level <= 12:
		return event.SeverityHigh
	}
	return event.SeverityCritical
}

// wazuhCommon maps the parts of a Wazuh alert an event and an alert share.
func wazuhCommon(r *record) (rule *node, level int64) {
	root, ev := r.root, r.ev
	if t, ok := timeOf(root.get("timestamp")); ok {
		ev.Time = t
	} else if t, ok := timeOf(root.get("@timestamp")); ok {
		ev.Time = t
	}
	rule = root.get("rule")
	level, _ = rule.int("level")
	ev.Severity = wazuhSeverity(level)
	if a := root.get("agent"); a != nil && a.kind == jObject {
		d := &event.Device{Hostname: a.str("name"), UID: a.str("id")}
		if ip := a.get("ip"); ip.scalar() {
			if d.IP = ipOf(ip.s); d.IP != "" {
				ip.used = true
			}
		}
		ev.Device = d
	}
	if data := root.get("data"); data != nil && data.kind == jObject {
		endpointIP(&ev.Src, data.peek("srcip"))
		if ev.Src != nil {
			data.mark("srcip")
			if p := port(data.peek("srcport")); p != 0 {
				ev.Src.Port = p
				data.mark("srcport")
			}
		}
		endpointIP(&ev.Dst, data.peek("dstip"))
		if ev.Dst != nil {
			data.mark("dstip")
			if p := port(data.peek("dstport")); p != 0 {
				ev.Dst.Port = p
				data.mark("dstport")
			}
		}
		src, dst := clean(data.str("srcuser")), clean(data.str("dstuser"))
		switch {
		case src != "":
			ev.User = &event.User{Name: src}
			if dst != "" && dst != src {
				ev.TargetUser = &event.User{Name: dst}
			}
		case dst != "":
			ev.User = &event.User{Name: dst}
		}
		if u := data.str("url"); u != "" {
			h := ensure(&ev.HTTP)
			h.URL = u
			// The web access decoders put the method in protocol and the status in id.
			if m := data.peek("protocol"); isMethod(m) {
				h.Method = data.str("protocol")
			}
			if st, ok := parseInt(data.peek("id")); ok && st >= 100 && st <= 599 {
				h.Status = int(st)
				data.mark("id")
			}
		}
		if p := data.str("protocol"); p != "" {
			ensure(&ev.Network).Protocol = protoName(p)
		}
		// Windows events forwarded by the agent.
		if ed := data.at("win", "eventdata"); ed != nil && ed.kind == jObject {
			if ev.User == nil {
				for _, pre := range [...]string{"target", "subject"} {
					if n := clean(ed.peek(pre + "UserName")); n != "" {
						ev.User = &event.User{Name: ed.str(pre + "UserName"), Domain: clean(ed.str(pre + "DomainName"))}
						break
					}
				}
			}
			if ev.Src == nil && endpointIP(&ev.Src, ed.peek("ipAddress")) {
				ed.mark("ipAddress")
			}
		}
	}
	return rule, level
}

func normalizeWazuh(r *record) error {
	root, ev := r.root, r.ev
	ev.Product, ev.Service = "wazuh", "alerts"
	ev.Class, ev.Activity = event.ClassFinding, "create"
	rule, _ := wazuhCommon(r)
	ev.Code = rule.str("id")
	f := &event.Finding{Tool: "wazuh", RuleID: ev.Code, Title: rule.str("description")}
	f.Tags = rule.strs("groups")
	if len(f.Tags) > 0 {
		f.Category = f.Tags[0]
	}
	m := rule.get("mitre")
	f.Tags = append(f.Tags, m.strs("id")...)
	ev.Finding = f
	ev.Message = root.str("full_log")
	if ev.Message == "" {
		ev.Message = f.Title
	}
	return nil
}

// wazuhAlert maps a Wazuh alert to an event.Alert.
func wazuhAlert(r *record, al *event.Alert) {
	root, ev := r.root, r.ev
	rule, level := wazuhCommon(r)
	al.Source = "wazuh"
	al.RuleID = rule.str("id")
	al.RuleTitle = rule.str("description")
	al.Level = itoa(level)
	al.Severity = ev.Severity
	al.Kind = "wazuh:" + al.RuleID
	al.Tags = rule.strs("groups")
	if m := rule.get("mitre"); m != nil {
		for _, t := range m.strs("id") {
			if id := techniqueID(t); id != "" {
				al.Techniques = appendUnique(al.Techniques, id)
			}
		}
		al.Tactics = tacticIDs(m.strs("tactic"))
	}
	al.Message = root.str("full_log")
}

// tacticIDs maps ATT&CK tactic names ("Credential Access") or tags ("credential_access") to
// IDs; IDs pass through.
func tacticIDs(names []string) []string {
	var out []string
	for _, n := range names {
		if id := tacticID(n); id != "" {
			out = appendUnique(out, id)
		}
	}
	return out
}

var tactics = map[string]string{
	"reconnaissance": "TA0043", "resource_development": "TA0042", "initial_access": "TA0001",
	"execution": "TA0002", "persistence": "TA0003", "privilege_escalation": "TA0004",
	"defense_evasion": "TA0005", "credential_access": "TA0006", "discovery": "TA0007",
	"lateral_movement": "TA0008", "collection": "TA0009", "command_and_control": "TA0011",
	"exfiltration": "TA0010", "impact": "TA0040",
}

func tacticID(s string) string {
	s = strings.TrimSpace(s)
	if len(s) == 6 && strings.HasPrefix(strings.ToUpper(s), "TA") {
		return strings.ToUpper(s)
	}
	k := strings.ToLower(strings.NewReplacer(" ", "_", "-", "_", "&", "and").Replace(s))
	k = strings.TrimPrefix(k, "attack.")
	return tactics[k]
}

// techniqueID normalises "t1059.001" and "attack.t1059.001" to "T1059.001", "" otherwise.
func techniqueID(s string) string {
	s = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "attack.")
	if len(s) < 5 || s[0] != 't' {
		return ""
	}
	for i := 1; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return ""
		}
	}
	return strings.ToUpper(s)
}
