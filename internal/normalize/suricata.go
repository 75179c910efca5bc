package normalize

import (
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/event"
)

// Suricata EVE JSON (https://docs.suricata.io/en/latest/output/eve/eve-json-format.html):
// timestamp, flow_id, in_iface, event_type, src_ip, src_port, dest_ip, dest_port, proto,
// app_proto, host, and one object named after the event type: alert{action, gid, signature_id,
// rev, signature, category, severity, metadata{mitre_*}}, flow{pkts_toserver, bytes_toserver,
// ...}, dns{type, rrname, rrtype, rcode, answers[], grouped}, http{hostname, url, http_method,
// status, http_user_agent, http_refer, length}, tls{sni, subject, issuerdn, ja3}, fileinfo
// {filename, md5, sha256, size}, anomaly{type, event}, ssh{client, server}.

func detectSuricata(r *record) bool {
	root := r.root
	et := root.get("event_type")
	return et != nil && et.kind == jString &&
		(root.get("flow_id") != nil || root.get("src_ip") != nil || root.get("dest_ip") != nil || root.get("in_iface") != nil)
}

// suricataCommon maps the envelope of an EVE record.
func suricataCommon(r *record) string {
	root, ev := r.root, r.ev
	if t, ok := timeOf(root.get("timestamp")); ok {
		ev.Time = t
	}
	et := root.str("event_type")
	endpointIP(&ev.Src, root.peek("src_ip"))
	if ev.Src != nil {
		root.mark("src_ip")
		if p, ok := root.int("src_port"); ok {
			ev.Src.Port = int(p)
		}
	}
	endpointIP(&ev.Dst, root.peek("dest_ip"))
	if ev.Dst != nil {
		root.mark("dest_ip")
		if p, ok := root.int("dest_port"); ok {
			ev.Dst.Port = int(p)
		}
	}
	n := &event.Network{Protocol: protoName(root.str("proto")), App: root.str("app_proto")}
	if fl := root.get("flow"); fl != nil && fl.kind == jObject {
		n.BytesOut, _ = fl.int("bytes_toserver")
		n.BytesIn, _ = fl.int("bytes_toclient")
	}
	switch root.peek("direction") {
	case "to_server":
		n.Direction = "outbound"
	case "to_client":
		n.Direction = "inbound"
	}
	if *n != (event.Network{}) {
		ev.Network = n
	}
	if h := root.str("host"); h != "" {
		ev.Device = &event.Device{Hostname: h}
	}
	// Application-layer objects present on alerts and on their own records.
	if h := root.get("http"); h != nil && h.kind == jObject {
		hh := &event.HTTP{Method: h.str("http_method"), UserAgent: h.str("http_user_agent"), Referrer: h.str("http_refer")}
		host, url := h.str("hostname"), h.str("url")
		switch {
		case host != "" && strings.HasPrefix(url, "/"):
			scheme := "http://"
			if ev.Dst != nil && ev.Dst.Port == 443 {
				scheme = "https://"
			}
			hh.URL = scheme + host + url
			if ev.Dst != nil && ev.Dst.Port != 0 && ev.Dst.Port != 80 && ev.Dst.Port != 443 {
				hh.URL = scheme + host + ":" + strconv.Itoa(ev.Dst.Port) + url
			}
		default:
			hh.URL = url
		}
		if s, ok := h.int("status"); ok {
			hh.Status = int(s)
		}
		hh.Bytes, _ = h.int("length")
		if host != "" {
			ensure(&ev.Dst).Hostname = host
		}
		ev.HTTP = hh
	}
	if d := root.get("dns"); d != nil && d.kind == jObject {
		suricataDNS(ev, d)
	}
	if t := root.get("tls"); t != nil && t.kind == jObject {
		if sni := t.str("sni"); sni != "" {
			ensure(&ev.Dst).Hostname = sni
			addObservable(ev, "domain", strings.ToLower(sni))
		}
	}
	if f := root.get("fileinfo"); f != nil && f.kind == jObject {
		ff := &event.File{Path: f.str("filename")}
		ff.Name = baseName(ff.Path)
		ff.Size, _ = f.int("size")
		for _, alg := range [...]string{"md5", "sha1", "sha256"} {
			if v := f.str(alg); v != "" {
				if ff.Hashes == nil {
					ff.Hashes = map[string]string{}
				}
				ff.Hashes[alg] = strings.ToLower(v)
			}
		}
		ev.File = ff
	}
	if s := root.get("ssh"); s != nil && s.kind == jObject {
		if v := s.strAt("client", "software_version"); v != "" {
			ensure(&ev.Src).Agent = v
		}
	}
	return et
}

func suricataDNS(ev *event.Event, d *node) {
	dd := &event.DNS{Query: d.str("rrname"), Type: d.str("rrtype"), RCode: d.str("rcode")}
	if q := d.get("queries").get0(); q != nil && dd.Query == "" { // EVE DNS v3
		dd.Query, dd.Type = q.str("rrname"), q.str("rrtype")
	}
	if as := d.get("answers"); as != nil && as.kind == jArray {
		for i := range as.kids {
			a := &as.kids[i].node
			if v := a.get("rdata"); v.scalar() && v.s != "" {
				dd.Answers = append(dd.Answers, v.text())
			}
		}
	}
	if g := d.get("grouped"); g != nil && g.kind == jObject && len(dd.Answers) == 0 {
		for i := range g.kids {
			dd.Answers = append(dd.Answers, g.kids[i].node.strsOf()...)
		}
	}
	ev.DNS = dd
}

// strsOf returns the string elements of array n and marks them used.
func (n *node) strsOf() []string {
	if n == nil || n.kind != jArray {
		return nil
	}
	var out []string
	for i := range n.kids {
		if e := &n.kids[i].node; e.scalar() && e.s != "" {
			out = append(out, e.text())
		}
	}
	return out
}

// suricataSeverity maps alert.severity (1 high .. 3 low, 4 informational).
func suricataSeverity(s int64) event.Severity {
	switch s {
	case 1:
		return event.SeverityHigh
	case 2:
		return event.SeverityMedium
	case 3:
		return event.SeverityLow
	case 4:
		return event.SeverityInfo
	}
	return event.SeverityUnknown
}

func normalizeSuricata(r *record) error {
	root, ev := r.root, r.ev
	ev.Product = "suricata"
	et := suricataCommon(r)
	ev.Service = et
	ev.Code = et
	switch et {
	case "alert":
		ev.Class, ev.Activity = event.ClassFinding, "create"
		a := root.get("alert")
		f := &event.Finding{Tool: "suricata", Title: a.str("signature"), Category: a.str("category")}
		if id, ok := a.int("signature_id"); ok {
			f.RuleID = itoa(id)
			ev.Code = f.RuleID
		}
		sev, _ := a.int("severity")
		ev.Severity = suricataSeverity(sev)
		md := a.get("metadata")
		for _, k := range [...]string{"mitre_technique_id", "mitre_tactic_id"} {
			f.Tags = append(f.Tags, md.strs(k)...)
		}
		ev.Finding = f
		ev.Message = f.Title
		if act := a.str("action"); act == "blocked" {
			ev.Status = "failure"
		}
	case "flow", "netflow":
		ev.Class, ev.Activity = event.ClassNetwork, "traffic"
	case "dns":
		ev.Class, ev.Category = event.ClassDNS, "dns"
		ev.Activity = "query"
		if root.get("dns").peek("type") == "answer" {
			ev.Activity = "response"
		}
		root.get("dns").get("type").consume()
	case "http":
		ev.Class = event.ClassHTTP
		if ev.HTTP != nil {
			ev.Activity = strings.ToLower(ev.HTTP.Method)
		}
	case "fileinfo":
		ev.Class, ev.Activity = event.ClassFile, "create"
	case "anomaly":
		ev.Activity = "anomaly"
		ev.Message = root.strAt("anomaly", "event")
		ev.Severity = event.SeverityLow
	case "tls", "ssh", "smb", "ftp", "rdp", "snmp", "sip", "dhcp", "krb5", "nfs", "smtp", "mqtt", "quic", "ike", "tftp", "dcerpc", "rfb", "http2", "pgsql", "bittorrent-dht":
		ev.Class, ev.Activity = event.ClassNetwork, "traffic"
		ensure(&ev.Network).App = et
	case "stats":
		ev.Class = event.ClassUnknown
	default:
		ev.Class = event.ClassNetwork
	}
	return nil
}

// suricataAlert maps an EVE alert record to an event.Alert.
func suricataAlert(r *record, al *event.Alert) error {
	root, ev := r.root, r.ev
	if et := suricataCommon(r); et != "alert" {
		return errNotAlert("suricata event_type %q is not an alert", et)
	}
	a := root.get("alert")
	if a == nil || a.kind != jObject {
		return errNotAlert("suricata alert record without an alert object")
	}
	al.Source = "suricata"
	if id, ok := a.int("signature_id"); ok {
		al.RuleID = itoa(id)
	}
	al.RuleTitle = a.str("signature")
	sev, ok := a.int("severity")
	if ok {
		al.Level = itoa(sev)
	}
	al.Severity = suricataSeverity(sev)
	al.Kind = "suricata:" + al.RuleID
	if al.RuleID == "" {
		al.Kind = "suricata:" + slug(al.RuleTitle)
	}
	if c := a.str("category"); c != "" {
		al.Tags = append(al.Tags, c)
	}
	md := a.get("metadata")
	for _, k := range [...]string{"mitre_technique_id", "mitre_technique"} {
		for _, t := range md.strs(k) {
			if id := techniqueID(t); id != "" {
				al.Techniques = appendUnique(al.Techniques, id)
			}
		}
	}
	for _, k := range [...]string{"mitre_tactic_id", "mitre_tactic_name"} {
		al.Tactics = appendUnique(al.Tactics, tacticIDs(md.strs(k))...)
	}
	al.Message = al.RuleTitle
	ev.Finding = nil
	return nil
}
