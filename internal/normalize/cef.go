package normalize

import (
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/cef"
	"github.com/vigil-soc/vigil/internal/event"
)

// CEF and LEEF lines, alone or after a syslog header, decoded by internal/cef (the header by
// internal/syslog). Standard extension keys map to the typed facets; custom fields with labels
// (cs1Label=Rule cs1=...) land in Unmapped under their label; the rest under their key.

// cefRecord parses the CEF or LEEF record of a text line, once.
func (r *record) cefRecord() (*cef.Event, *cef.LEEFEvent) {
	if r.cefDone {
		return r.cef, r.leef
	}
	r.cefDone = true
	if r.line == "" {
		return nil, nil
	}
	if strings.Contains(r.line, "CEF:") {
		if e, err := cef.ParseString(r.line); err == nil {
			r.cef = &e
			return r.cef, nil
		}
	}
	if strings.Contains(r.line, "LEEF:") {
		if e, err := cef.ParseLEEFString(r.line); err == nil {
			r.leef = &e
		}
	}
	return r.cef, r.leef
}

func detectCEF(r *record) bool {
	c, l := r.cefRecord()
	return c != nil || l != nil
}

// cefSeverity maps CEF's 0-10 to a severity.
func cefSeverity(n int) event.Severity {
	switch cef.LevelOf(n) {
	case cef.LevelLow:
		if n == 0 {
			return event.SeverityInfo
		}
		return event.SeverityLow
	case cef.LevelMedium:
		return event.SeverityMedium
	case cef.LevelHigh:
		return event.SeverityHigh
	case cef.LevelVeryHigh:
		return event.SeverityCritical
	}
	return event.SeverityUnknown
}

// cefMapped lists the CEF extension keys (short names; cef.Lookup resolves full names) that
// mapCEFExt maps to typed facets; the others go to Unmapped.
var cefMapped = map[string]bool{
	"src": true, "spt": true, "shost": true, "dst": true, "dpt": true, "dhost": true,
	"suser": true, "suid": true, "duser": true, "duid": true, "sproc": true, "spid": true,
	"dproc": true, "dpid": true, "fname": true, "filePath": true, "fsize": true, "fileHash": true,
	"request": true, "requestMethod": true, "requestClientApplication": true, "requestContext": true,
	"proto": true, "app": true, "in": true, "out": true, "outcome": true, "dvchost": true, "dvc": true,
	"rt": true, "msg": true, "cat": true, "deviceDirection": true, "sntdom": true, "dntdom": true,
	"end": true, "start": true,
}

func normalizeCEF(r *record) error {
	ev := r.ev
	c, l := r.cefRecord()
	if m := r.syslogLine(); m != nil {
		syslogBase(r, m)
		ev.Process, ev.Message = nil, ""
	}
	ev.Kind = "cef"
	if c != nil {
		mapCEF(r, c)
	} else {
		mapLEEF(r, l)
	}
	return nil
}

func mapCEF(r *record, c *cef.Event) {
	ev := r.ev
	ev.Product = strings.ToLower(c.DeviceVendor)
	ev.Service = strings.ToLower(c.DeviceProduct)
	ev.Code = c.SignatureID
	ev.Message = c.Name
	ev.Severity = cefSeverity(c.Severity)
	ev.Class, ev.Activity = event.ClassFinding, "create"
	ev.Finding = &event.Finding{Tool: c.DeviceProduct, RuleID: c.SignatureID, Title: c.Name}
	get := func(k string) string {
		v, _ := c.Get(k)
		return strings.TrimSpace(v)
	}
	for _, k := range [...]string{"rt", "end", "start"} {
		if t, err := c.Time(k, nil); err == nil && !t.IsZero() {
			ev.Time = t
			break
		}
	}
	mapCEFExt(ev, get)
	if cat := get("cat"); cat != "" {
		ev.Finding.Category = cat
	}
	if m := get("msg"); m != "" {
		ev.Message = c.Name + ": " + m
	}
	r.setUnmapped("deviceVendor", c.DeviceVendor)
	r.setUnmapped("deviceProduct", c.DeviceProduct)
	r.setUnmapped("deviceVersion", c.DeviceVersion)
	if c.Severity < 0 {
		r.setUnmapped("severity", c.SeverityText)
	}
	// Custom fields with a label go into Unmapped under the label; the field and its label
	// key are then consumed.
	short := func(k string) string {
		if info, ok := cef.Lookup(k); ok {
			return info.Key
		}
		return k
	}
	consumed := map[string]bool{}
	for _, x := range c.Extensions {
		base, ok := strings.CutSuffix(x.Key, "Label")
		if !ok || base == "" || x.Value == "" {
			continue
		}
		if v, ok := c.Get(base); ok {
			r.setUnmapped(x.Value, v)
			consumed[short(x.Key)], consumed[short(base)] = true, true
		}
	}
	for _, x := range c.Extensions {
		if k := short(x.Key); !cefMapped[k] && !consumed[k] {
			r.setUnmapped(x.Key, x.Value)
		}
	}
}

// mapCEFExt maps the standard extension keys through get (which resolves short and full names).
func mapCEFExt(ev *event.Event, get func(string) string) {
	if ip := get("src"); ip != "" {
		endpointIP(&ev.Src, ip)
	}
	if p := port(get("spt")); p != 0 {
		ensure(&ev.Src).Port = p
	}
	if h := get("shost"); h != "" {
		ensure(&ev.Src).Hostname = h
	}
	if ip := get("dst"); ip != "" {
		endpointIP(&ev.Dst, ip)
	}
	if p := port(get("dpt")); p != 0 {
		ensure(&ev.Dst).Port = p
	}
	if h := get("dhost"); h != "" {
		ensure(&ev.Dst).Hostname = h
	}
	if u := get("suser"); u != "" {
		d, n := splitUser(u)
		ev.User = &event.User{Name: n, Domain: d, UID: get("suid")}
		if ev.User.Domain == "" {
			ev.User.Domain = get("sntdom")
		}
	}
	if u := get("duser"); u != "" {
		d, n := splitUser(u)
		ev.TargetUser = &event.User{Name: n, Domain: d, UID: get("duid")}
		if ev.TargetUser.Domain == "" {
			ev.TargetUser.Domain = get("dntdom")
		}
	}
	if p := get("sproc"); p != "" {
		pr := process(ev)
		pr.Name = baseName(p)
		if strings.ContainsAny(p, `\/`) {
			pr.Path = p
		}
		pr.PID = atoi64(get("spid"))
	} else if p := get("dproc"); p != "" {
		pr := process(ev)
		pr.Name = baseName(p)
		if strings.ContainsAny(p, `\/`) {
			pr.Path = p
		}
		pr.PID = atoi64(get("dpid"))
	}
	if f := get("filePath"); f != "" {
		ev.File = &event.File{Path: f, Name: baseName(f)}
	} else if f := get("fname"); f != "" {
		ev.File = &event.File{Name: f}
	}
	if ev.File != nil {
		ev.File.Size = atoi64(get("fsize"))
		if h := get("fileHash"); h != "" {
			ev.File.Hashes = parseHashes(h)
		}
	}
	if u := get("request"); u != "" {
		ev.HTTP = &event.HTTP{URL: u, Method: get("requestMethod"), UserAgent: get("requestClientApplication"), Referrer: get("requestContext")}
	}
	n := event.Network{Protocol: protoName(get("proto")), App: strings.ToLower(get("app"))}
	n.BytesIn, n.BytesOut = atoi64(get("in")), atoi64(get("out"))
	switch get("deviceDirection") {
	case "0":
		n.Direction = "inbound"
	case "1":
		n.Direction = "outbound"
	}
	if n != (event.Network{}) {
		ev.Network = &n
	}
	switch strings.ToLower(strings.TrimPrefix(get("outcome"), "/")) {
	case "success", "succeeded", "allowed", "allow", "ok", "pass":
		ev.Status = "success"
	case "failure", "failed", "fail", "blocked", "denied", "deny":
		ev.Status = "failure"
	}
	if h := get("dvchost"); h != "" {
		ensure(&ev.Device).Hostname = h
	}
	if ip := ipOf(get("dvc")); ip != "" {
		ensure(&ev.Device).IP = ip
	}
}

// leefKeys maps LEEF attribute names onto the CEF names mapCEFExt reads.
var leefKeys = map[string]string{
	"src": "src", "srcPort": "spt", "dst": "dst", "dstPort": "dpt", "usrName": "suser",
	"srcHost": "shost", "dstHost": "dhost", "proto": "proto", "srcBytes": "out", "dstBytes": "in",
	"url": "request", "method": "requestMethod", "userAgent": "requestClientApplication",
	"identHostName": "dvchost", "identSrc": "dvc", "domain": "sntdom", "resource": "filePath",
	"action": "act", "policy": "cs1",
}

func mapLEEF(r *record, l *cef.LEEFEvent) {
	ev := r.ev
	ev.Product = strings.ToLower(l.Vendor)
	ev.Service = strings.ToLower(l.Product)
	ev.Code = l.EventID
	ev.Message = l.EventID
	ev.Class, ev.Activity = event.ClassFinding, "create"
	ev.Finding = &event.Finding{Tool: l.Product, RuleID: l.EventID, Title: l.EventID}
	byCEF := map[string]string{}
	for _, a := range l.Attributes {
		if k, ok := leefKeys[a.Key]; ok {
			byCEF[k] = a.Value
		}
	}
	mapCEFExt(ev, func(k string) string { return strings.TrimSpace(byCEF[k]) })
	if s, ok := l.Get("sev"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err == nil {
			ev.Severity = cefSeverity(n)
		}
	}
	if c, ok := l.Get("cat"); ok {
		ev.Finding.Category = c
		ev.Message = l.EventID + ": " + c
	}
	if dt, ok := l.Get("devTime"); ok {
		if t, err := cef.ParseTime(dt, nil); err == nil {
			ev.Time = t
		}
	}
	r.setUnmapped("deviceVendor", l.Vendor)
	r.setUnmapped("deviceProduct", l.Product)
	r.setUnmapped("deviceVersion", l.ProductVersion)
	for _, a := range l.Attributes {
		if _, ok := leefKeys[a.Key]; ok {
			continue
		}
		switch a.Key {
		case "sev", "cat", "devTime", "devTimeFormat":
			continue
		}
		r.setUnmapped(a.Key, a.Value)
	}
}

// cefAlert maps a CEF or LEEF line to an alert: Kind "cef:<vendor>:<product>:<signature id>".
func cefAlert(r *record, al *event.Alert) error {
	c, l := r.cefRecord()
	if c == nil && l == nil {
		return errNotAlert("text line is not a CEF or LEEF record")
	}
	if err := normalizeCEF(r); err != nil {
		return err
	}
	ev := r.ev
	vendor, product, sig, title := "", "", "", ""
	if c != nil {
		vendor, product, sig, title = c.DeviceVendor, c.DeviceProduct, c.SignatureID, c.Name
		al.Level = c.SeverityText
	} else {
		vendor, product, sig, title = l.Vendor, l.Product, l.EventID, l.EventID
		al.Level, _ = l.Get("sev")
		if cat, ok := l.Get("cat"); ok && cat != "" {
			title = cat
		}
	}
	al.Source = slug(vendor)
	if al.Source == "" {
		al.Source = "external"
	}
	al.RuleID = sig
	al.RuleTitle = title
	al.Kind = "cef:" + slug(vendor) + ":" + slug(product) + ":" + sig
	al.Severity = ev.Severity
	if ev.Finding != nil && ev.Finding.Category != "" {
		al.Tags = append(al.Tags, ev.Finding.Category)
	}
	keys := make([]string, 0, len(ev.Unmapped))
	for k := range ev.Unmapped {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "mitre") || strings.Contains(lk, "technique") || strings.Contains(lk, "tactic") {
			for part := range strings.SplitSeq(ev.Unmapped[k], ",") {
				mitreValue(al, part)
			}
		}
	}
	if ev.Message != "" {
		al.Message = ev.Message
	}
	return nil
}
