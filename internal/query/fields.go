package query

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/geoip"
)

// fieldKind says how a field compares.
type fieldKind uint8

const (
	kindString fieldKind = iota // text; compared case-insensitively
	kindNumber                  // an integer, printed in decimal; empty when absent
	kindIP                      // an IP address; = and != also take CIDR prefixes
	kindTime                    // the event time; compared as a time
	kindBool                    // true, false or empty
)

// field is a resolved field: its canonical name and its accessors, chosen once at Parse time so
// that evaluating an event costs a few function calls and no reflection.
type field struct {
	name string
	kind fieldKind
	// gets returns the field's value(s); only the ip alias has two (source and destination).
	gets []func(*event.Event) string
	// copy copies the field from src into dst, for the fields stage.
	copy func(dst, src *event.Event)
}

// multi reports whether the field stands for more than one value (the ip alias).
func (f *field) multi() bool { return len(f.gets) > 1 }

type fieldDef struct {
	name, alias, doc string
	kind             fieldKind
	get              func(*event.Event) string
	copy             func(dst, src *event.Event)
}

// FieldDoc describes one field of the language.
type FieldDoc struct {
	Name  string `json:"name"`            // canonical dotted path
	Alias string `json:"alias,omitempty"` // short name, when there is one
	Doc   string `json:"doc"`
}

func itoa(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// part is one field inside an optional object of type T.
type part[T any] struct {
	suffix, doc string
	kind        fieldKind
	get         func(*T) string
	set         func(dst, src *T)
}

// object adds the fields of an optional object of the event (obj returns where its pointer
// lives) under prefix.
func object[T any](defs []fieldDef, prefix string, obj func(*event.Event) **T, parts []part[T]) []fieldDef {
	for _, p := range parts {
		get, set := p.get, p.set
		defs = append(defs, fieldDef{
			name: prefix + "." + p.suffix, doc: p.doc, kind: p.kind,
			get: func(ev *event.Event) string {
				if o := *obj(ev); o != nil {
					return get(o)
				}
				return ""
			},
			copy: func(dst, src *event.Event) {
				s := *obj(src)
				if s == nil {
					return
				}
				d := obj(dst)
				if *d == nil {
					*d = new(T)
				}
				set(*d, s)
			},
		})
	}
	return defs
}

func userParts(who string) []part[event.User] {
	return []part[event.User]{
		{"name", "account name of the " + who, kindString, func(u *event.User) string { return u.Name }, func(d, s *event.User) { d.Name = s.Name }},
		{"domain", "Windows domain or identity realm of the " + who, kindString, func(u *event.User) string { return u.Domain }, func(d, s *event.User) { d.Domain = s.Domain }},
		{"uid", "SID, IdP object ID or ARN of the " + who, kindString, func(u *event.User) string { return u.UID }, func(d, s *event.User) { d.UID = s.UID }},
		{"email_addr", "email address of the " + who, kindString, func(u *event.User) string { return u.Email }, func(d, s *event.User) { d.Email = s.Email }},
		{"type", "account type of the " + who + " (user, admin, service, system, IAMUser, ...)", kindString, func(u *event.User) string { return u.Type }, func(d, s *event.User) { d.Type = s.Type }},
	}
}

func endpointParts(side string) []part[event.Endpoint] {
	return []part[event.Endpoint]{
		{"ip", side + " IP address", kindIP, func(e *event.Endpoint) string { return e.IP }, func(d, s *event.Endpoint) { d.IP = s.IP }},
		{"port", side + " port", kindNumber, func(e *event.Endpoint) string { return itoa(int64(e.Port)) }, func(d, s *event.Endpoint) { d.Port = s.Port }},
		{"hostname", side + " host name", kindString, func(e *event.Endpoint) string { return e.Hostname }, func(d, s *event.Endpoint) { d.Hostname = s.Hostname }},
		{"country", side + " country as an ISO 3166 code, whether the source or GeoIP wrote a code or a name (Brazil and BR are one; a value given by name is compared by its code too)", kindString, func(e *event.Endpoint) string { return geoip.CountryCode(e.Country) }, func(d, s *event.Endpoint) { d.Country = s.Country }},
		{"city", side + " city", kindString, func(e *event.Endpoint) string { return e.City }, func(d, s *event.Endpoint) { d.City = s.City }},
		{"agent", side + " user agent or device description", kindString, func(e *event.Endpoint) string { return e.Agent }, func(d, s *event.Endpoint) { d.Agent = s.Agent }},
	}
}

func parentProcess(ev *event.Event) *event.Process {
	if ev.Process != nil {
		return ev.Process.Parent
	}
	return nil
}

// parentField is a field of the parent process, which sits two pointers deep.
func parentField(suffix, doc string, get func(*event.Process) string, set func(d, s *event.Process)) fieldDef {
	return fieldDef{
		name: "process.parent_process." + suffix, doc: doc, kind: kindString,
		get: func(ev *event.Event) string {
			if p := parentProcess(ev); p != nil {
				return get(p)
			}
			return ""
		},
		copy: func(dst, src *event.Event) {
			s := parentProcess(src)
			if s == nil {
				return
			}
			if dst.Process == nil {
				dst.Process = &event.Process{}
			}
			if dst.Process.Parent == nil {
				dst.Process.Parent = &event.Process{}
			}
			set(dst.Process.Parent, s)
		},
	}
}

// top is a field of the event itself.
func top(name, doc string, kind fieldKind, get func(*event.Event) string, set func(d, s *event.Event)) fieldDef {
	return fieldDef{name: name, doc: doc, kind: kind, get: get, copy: set}
}

func buildFields() []fieldDef {
	defs := []fieldDef{
		top("time", "when the event happened; compare with >, >=, <, <= against an RFC 3339 time, a YYYY-MM-DD date (UTC) or a relative duration such as -7d", kindTime,
			func(ev *event.Event) string {
				if ev.Time.IsZero() {
					return ""
				}
				return ev.Time.UTC().Format(time.RFC3339Nano)
			}, func(d, s *event.Event) { d.Time = s.Time }),
		top("class", "OCSF event class in snake_case: authentication, process_activity, network_activity, dns_activity, http_activity, file_activity, registry_activity, api_activity, detection_finding, ...", kindString,
			func(ev *event.Event) string { return string(ev.Class) }, func(d, s *event.Event) { d.Class, d.ClassUID = s.Class, s.ClassUID }),
		top("activity", "OCSF activity in snake_case: logon, launch, create, open, ...", kindString,
			func(ev *event.Event) string { return ev.Activity }, func(d, s *event.Event) { d.Activity = s.Activity }),
		top("kind", "normalizer that produced the event: sysmon, windows_security, okta, cloudtrail, ...", kindString,
			func(ev *event.Event) string { return ev.Kind }, func(d, s *event.Event) { d.Kind = s.Kind }),
		top("code", "the source's own event identifier: Windows EventID, CloudTrail eventName, Okta eventType, ...", kindString,
			func(ev *event.Event) string { return ev.Code }, func(d, s *event.Event) { d.Code = s.Code }),
		top("message", "the event's message text", kindString,
			func(ev *event.Event) string { return ev.Message }, func(d, s *event.Event) { d.Message = s.Message }),
		top("status", "outcome: success or failure (empty when the source gives none)", kindString,
			func(ev *event.Event) string { return ev.Status }, func(d, s *event.Event) { d.Status = s.Status }),
		top("status_detail", "failure reason or code", kindString,
			func(ev *event.Event) string { return ev.StatusDetail }, func(d, s *event.Event) { d.StatusDetail = s.StatusDetail }),
		top("severity_id", "OCSF severity 0-5: 0 unknown, 1 informational, 2 low, 3 medium, 4 high, 5 critical", kindNumber,
			func(ev *event.Event) string { return strconv.Itoa(int(ev.Severity)) }, func(d, s *event.Event) { d.Severity = s.Severity }),
		top("product", "log source product: windows, linux, aws, okta, ...", kindString,
			func(ev *event.Event) string { return ev.Product }, func(d, s *event.Event) { d.Product = s.Product }),
		top("service", "log source service: security, sysmon, cloudtrail, ...", kindString,
			func(ev *event.Event) string { return ev.Service }, func(d, s *event.Event) { d.Service = s.Service }),
		top("category", "log source category: process_creation, network_connection, ...", kindString,
			func(ev *event.Event) string { return ev.Category }, func(d, s *event.Event) { d.Category = s.Category }),
	}
	defs = object(defs, "user", func(ev *event.Event) **event.User { return &ev.User }, userParts("acting or authenticating user"))
	defs = object(defs, "target_user", func(ev *event.Event) **event.User { return &ev.TargetUser }, userParts("account acted upon"))
	defs = object(defs, "device", func(ev *event.Event) **event.Device { return &ev.Device }, []part[event.Device]{
		{"hostname", "host that reported the event or was acted on", kindString, func(d *event.Device) string { return d.Hostname }, func(d, s *event.Device) { d.Hostname = s.Hostname }},
		{"ip", "IP address of that host", kindIP, func(d *event.Device) string { return d.IP }, func(d, s *event.Device) { d.IP = s.IP }},
		{"os", "operating system of that host", kindString, func(d *event.Device) string { return d.OS }, func(d, s *event.Device) { d.OS = s.OS }},
	})
	defs = object(defs, "src_endpoint", func(ev *event.Event) **event.Endpoint { return &ev.Src }, endpointParts("source"))
	defs = object(defs, "dst_endpoint", func(ev *event.Event) **event.Endpoint { return &ev.Dst }, endpointParts("destination"))
	defs = object(defs, "process", func(ev *event.Event) **event.Process { return &ev.Process }, []part[event.Process]{
		{"name", "process image name (powershell.exe)", kindString, func(p *event.Process) string { return p.Name }, func(d, s *event.Process) { d.Name = s.Name }},
		{"path", "process image path", kindString, func(p *event.Process) string { return p.Path }, func(d, s *event.Process) { d.Path = s.Path }},
		{"cmd_line", "process command line", kindString, func(p *event.Process) string { return p.CommandLine }, func(d, s *event.Process) { d.CommandLine = s.CommandLine }},
		{"user", "account the process runs as", kindString, func(p *event.Process) string { return p.User }, func(d, s *event.Process) { d.User = s.User }},
		{"integrity", "process integrity level", kindString, func(p *event.Process) string { return p.Integrity }, func(d, s *event.Process) { d.Integrity = s.Integrity }},
		{"pid", "process ID", kindNumber, func(p *event.Process) string { return itoa(p.PID) }, func(d, s *event.Process) { d.PID = s.PID }},
		{"uid", "process GUID (Sysmon ProcessGuid)", kindString, func(p *event.Process) string { return p.GUID }, func(d, s *event.Process) { d.GUID = s.GUID }},
	})
	defs = append(defs,
		parentField("name", "parent process image name", func(p *event.Process) string { return p.Name }, func(d, s *event.Process) { d.Name = s.Name }),
		parentField("path", "parent process image path", func(p *event.Process) string { return p.Path }, func(d, s *event.Process) { d.Path = s.Path }),
		parentField("cmd_line", "parent process command line", func(p *event.Process) string { return p.CommandLine }, func(d, s *event.Process) { d.CommandLine = s.CommandLine }),
	)
	defs = object(defs, "file", func(ev *event.Event) **event.File { return &ev.File }, []part[event.File]{
		{"path", "file path", kindString, func(f *event.File) string { return f.Path }, func(d, s *event.File) { d.Path = s.Path }},
		{"name", "file name", kindString, func(f *event.File) string { return f.Name }, func(d, s *event.File) { d.Name = s.Name }},
		{"share", "SMB share name", kindString, func(f *event.File) string { return f.Share }, func(d, s *event.File) { d.Share = s.Share }},
	})
	defs = object(defs, "connection_info", func(ev *event.Event) **event.Network { return &ev.Network }, []part[event.Network]{
		{"protocol_name", "network protocol: tcp, udp, icmp", kindString, func(n *event.Network) string { return n.Protocol }, func(d, s *event.Network) { d.Protocol = s.Protocol }},
		{"direction", "connection direction: inbound, outbound, lateral", kindString, func(n *event.Network) string { return n.Direction }, func(d, s *event.Network) { d.Direction = s.Direction }},
	})
	defs = object(defs, "http", func(ev *event.Event) **event.HTTP { return &ev.HTTP }, []part[event.HTTP]{
		{"http_method", "HTTP method", kindString, func(h *event.HTTP) string { return h.Method }, func(d, s *event.HTTP) { d.Method = s.Method }},
		{"url", "HTTP URL", kindString, func(h *event.HTTP) string { return h.URL }, func(d, s *event.HTTP) { d.URL = s.URL }},
		{"status_code", "HTTP response status code", kindNumber, func(h *event.HTTP) string { return itoa(int64(h.Status)) }, func(d, s *event.HTTP) { d.Status = s.Status }},
		{"user_agent", "HTTP user agent", kindString, func(h *event.HTTP) string { return h.UserAgent }, func(d, s *event.HTTP) { d.UserAgent = s.UserAgent }},
	})
	defs = object(defs, "dns", func(ev *event.Event) **event.DNS { return &ev.DNS }, []part[event.DNS]{
		{"query", "DNS name queried", kindString, func(n *event.DNS) string { return n.Query }, func(d, s *event.DNS) { d.Query = s.Query }},
		{"type", "DNS query type: A, AAAA, TXT, ...", kindString, func(n *event.DNS) string { return n.Type }, func(d, s *event.DNS) { d.Type = s.Type }},
		{"rcode", "DNS response code: NOERROR, NXDOMAIN, ...", kindString, func(n *event.DNS) string { return n.RCode }, func(d, s *event.DNS) { d.RCode = s.RCode }},
	})
	defs = object(defs, "registry", func(ev *event.Event) **event.Registry { return &ev.Registry }, []part[event.Registry]{
		{"key", "registry key", kindString, func(r *event.Registry) string { return r.Key }, func(d, s *event.Registry) { d.Key = s.Key }},
		{"value", "registry value name", kindString, func(r *event.Registry) string { return r.Value }, func(d, s *event.Registry) { d.Value = s.Value }},
		{"data", "registry value data", kindString, func(r *event.Registry) string { return r.Data }, func(d, s *event.Registry) { d.Data = s.Data }},
	})
	defs = object(defs, "cloud", func(ev *event.Event) **event.Cloud { return &ev.Cloud }, []part[event.Cloud]{
		{"provider", "cloud or SaaS provider: aws, azure, okta, m365, gcp", kindString, func(c *event.Cloud) string { return c.Provider }, func(d, s *event.Cloud) { d.Provider = s.Provider }},
		{"service", "cloud service (CloudTrail eventSource, M365 workload)", kindString, func(c *event.Cloud) string { return c.Service }, func(d, s *event.Cloud) { d.Service = s.Service }},
		{"operation", "cloud API operation", kindString, func(c *event.Cloud) string { return c.Operation }, func(d, s *event.Cloud) { d.Operation = s.Operation }},
		{"resource", "cloud object operated on (bucket, app, mailbox, role)", kindString, func(c *event.Cloud) string { return c.Resource }, func(d, s *event.Cloud) { d.Resource = s.Resource }},
		{"app", "OAuth client or application involved", kindString, func(c *event.Cloud) string { return c.App }, func(d, s *event.Cloud) { d.App = s.App }},
		{"app_id", "OAuth client or application ID", kindString, func(c *event.Cloud) string { return c.AppID }, func(d, s *event.Cloud) { d.AppID = s.AppID }},
	})
	defs = object(defs, "auth", func(ev *event.Event) **event.Auth { return &ev.Auth }, []part[event.Auth]{
		{"logon_type", "Windows logon type number or a word", kindString, func(a *event.Auth) string { return a.LogonType }, func(d, s *event.Auth) { d.LogonType = s.LogonType }},
		{"auth_protocol", "authentication protocol: NTLM, Kerberos, ...", kindString, func(a *event.Auth) string { return a.Protocol }, func(d, s *event.Auth) { d.Protocol = s.Protocol }},
		{"method", "authentication method", kindString, func(a *event.Auth) string { return a.Method }, func(d, s *event.Auth) { d.Method = s.Method }},
		{"is_mfa", "whether MFA was used: true, false, or empty when unknown", kindBool, func(a *event.Auth) string {
			if a.MFA == nil {
				return ""
			}
			return strconv.FormatBool(*a.MFA)
		}, func(d, s *event.Auth) {
			if s.MFA != nil {
				v := *s.MFA
				d.MFA = &v
			}
		}},
	})
	defs = object(defs, "email", func(ev *event.Event) **event.Email { return &ev.Email }, []part[event.Email]{
		{"from", "email sender", kindString, func(e *event.Email) string { return e.From }, func(d, s *event.Email) { d.From = s.From }},
		{"subject", "email subject", kindString, func(e *event.Email) string { return e.Subject }, func(d, s *event.Email) { d.Subject = s.Subject }},
	})
	defs = object(defs, "finding", func(ev *event.Event) **event.Finding { return &ev.Finding }, []part[event.Finding]{
		{"tool", "tool that raised the finding (Wazuh, Suricata, an EDR)", kindString, func(f *event.Finding) string { return f.Tool }, func(d, s *event.Finding) { d.Tool = s.Tool }},
		{"rule_id", "rule ID of the finding", kindString, func(f *event.Finding) string { return f.RuleID }, func(d, s *event.Finding) { d.RuleID = s.RuleID }},
		{"title", "rule title of the finding", kindString, func(f *event.Finding) string { return f.Title }, func(d, s *event.Finding) { d.Title = s.Title }},
		{"category", "category of the finding", kindString, func(f *event.Finding) string { return f.Category }, func(d, s *event.Finding) { d.Category = s.Category }},
	})
	return defs
}

// aliases maps each short name to its canonical field; ip is handled on its own.
var aliases = map[string]string{
	"host":    "device.hostname",
	"user":    "user.name",
	"src_ip":  "src_endpoint.ip",
	"dst_ip":  "dst_endpoint.ip",
	"country": "src_endpoint.country",
	"process": "process.name",
	"cmd":     "process.cmd_line",
	"parent":  "process.parent_process.name",
	"domain":  "dns.query",
	"url":     "http.url",
	"rule":    "finding.title",
}

const unmappedPrefix = "unmapped."

var (
	fieldDefs  = buildFields()
	fieldIndex = func() map[string]*field {
		m := make(map[string]*field, len(fieldDefs))
		for i := range fieldDefs {
			d := &fieldDefs[i]
			m[d.name] = &field{name: d.name, kind: d.kind, gets: []func(*event.Event) string{d.get}, copy: d.copy}
		}
		for a, name := range aliases {
			if m[name] == nil {
				panic("query: alias " + a + " names unknown field " + name)
			}
		}
		src, dst := m["src_endpoint.ip"], m["dst_endpoint.ip"]
		m["ip"] = &field{name: "ip", kind: kindIP, gets: []func(*event.Event) string{src.gets[0], dst.gets[0]},
			copy: func(d, s *event.Event) { src.copy(d, s); dst.copy(d, s) }}
		return m
	}()
	// textGets are the string fields free text searches, beside the unmapped values.
	textGets = func() []func(*event.Event) string {
		var out []func(*event.Event) string
		for _, d := range fieldDefs {
			if d.kind == kindString || d.kind == kindIP {
				out = append(out, d.get)
			}
		}
		return out
	}()
)

// lookupField resolves a field name (canonical, alias or unmapped.<name>). Field names are
// case-insensitive except the name after unmapped.
func lookupField(name string) (*field, bool) {
	lower := strings.ToLower(name)
	if canon, ok := aliases[lower]; ok {
		lower = canon
	}
	if f, ok := fieldIndex[lower]; ok {
		return f, true
	}
	if strings.HasPrefix(lower, unmappedPrefix) && len(name) > len(unmappedPrefix) {
		key := name[len(unmappedPrefix):]
		get := func(ev *event.Event) string { return unmappedValue(ev.Unmapped, key) }
		return &field{
			name: unmappedPrefix + key, kind: kindString,
			gets: []func(*event.Event) string{get},
			copy: func(d, s *event.Event) {
				for k, v := range s.Unmapped {
					if k == key || strings.EqualFold(k, key) {
						if d.Unmapped == nil {
							d.Unmapped = map[string]string{}
						}
						d.Unmapped[k] = v
					}
				}
			},
		}, true
	}
	return nil, false
}

// unmappedValue returns m[key], or the value of a key equal to it ignoring case.
func unmappedValue(m map[string]string, key string) string {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// suggest returns the known field name closest to name, or "" when none is close.
func suggest(name string) string {
	if len(name) > 64 {
		return ""
	}
	lower := strings.ToLower(name)
	names := make([]string, 0, len(fieldDefs)+len(aliases)+1)
	for _, d := range fieldDefs {
		names = append(names, d.name)
	}
	for a := range aliases {
		names = append(names, a)
	}
	names = append(names, "ip")
	sort.Strings(names)
	// A bare last segment (hostname, cmd_line) names the first field that ends with it.
	for _, n := range names {
		if strings.HasSuffix(n, "."+lower) {
			return n
		}
	}
	best, bestD := "", 3
	if len(lower) < 5 {
		bestD = 2
	}
	for _, n := range names {
		if d := distance(lower, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// distance is the optimal string alignment distance between a and b (edits, counting a swap of
// two neighbouring bytes as one).
func distance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// Fields lists the fields of the language: every canonical name with its alias, the ip alias
// (source or destination address) and unmapped.<name>, each with a one-line description, for help
// texts and for an LLM prompt.
func Fields() []FieldDoc {
	alias := map[string]string{}
	for a, name := range aliases {
		alias[name] = a
	}
	out := make([]FieldDoc, 0, len(fieldDefs)+2)
	for _, d := range fieldDefs {
		out = append(out, FieldDoc{Name: d.name, Alias: alias[d.name], Doc: d.doc})
	}
	return append(out,
		FieldDoc{Name: "ip", Doc: "source or destination IP address: a comparison holds when either side matches (only in comparisons and fields)"},
		FieldDoc{Name: "unmapped.<name>", Doc: "a source field the normalizer did not map, by its flattened dotted name"},
	)
}
