package normalize

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/cef"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/jsontext"
	"github.com/vigil-soc/vigil/internal/syslog"
)

// Input is one raw record.
type Input struct {
	// Raw is the record as received: a JSON object, or one text line.
	Raw []byte
	// Origin is the record's provenance, filled by the caller (Origin.Format "json", "syslog",
	// "cef", "text", "evtx").
	Origin event.Origin
	// Hint is an optional source hint from the sender: an HEC sourcetype, a file name, a
	// normalizer ID ("okta", "cloudtrail", "wazuh", ...).
	Hint string
}

// Event normalizes one record. The returned event has Raw set (the JSON object verbatim, or a
// text line as a JSON string), Origin copied, and an ID derived stably with event.DeriveID from
// Origin.Source, Origin.File and Origin.Record/Offset when one of those is set, else from the
// raw bytes (the caller may override the ID).
//
// A JSON object no normalizer recognises becomes a base_event with every field in Unmapped; a
// text line no normalizer recognises becomes a base_event with the line as Message. The error
// is non-nil only for an empty record or JSON that does not parse (ErrEmpty, ErrMalformed).
func Event(in Input) (event.Event, error) {
	var ev event.Event
	raw := trimSpace(in.Raw)
	if len(raw) == 0 {
		return ev, ErrEmpty
	}
	r := record{in: &in, ev: &ev, src: string(raw)}
	var root *node
	var p *parser
	var jsonErr error
	if raw[0] == '{' {
		root, p, jsonErr = parseObject(r.src)
		// A text line that merely starts with a brace is still a text line.
		if jsonErr != nil && !isTextFormat(in.Origin.Format) {
			return event.Event{}, jsonErr
		}
	}
	if root != nil && jsonErr == nil {
		defer p.release()
		defer func() { r.payload.release() }()
		r.root = root
		ev.Raw = append([]byte(nil), raw...)
	} else {
		if in.Origin.Format == "json" || in.Origin.Format == "evtx" {
			return event.Event{}, fmt.Errorf("%w at byte offset 0: expected a JSON object", ErrMalformed)
		}
		r.line = r.src
		ev.Raw = jsontext.AppendString(make([]byte, 0, len(raw)+8), r.line)
	}
	n := r.pick()
	if err := n.normalize(&r); err != nil {
		return event.Event{}, err
	}
	r.finish(n.id)
	return ev, nil
}

// isTextFormat reports whether records of this transport format are text lines.
func isTextFormat(f string) bool {
	switch f {
	case "syslog", "text", "cef":
		return true
	}
	return false
}

// Normalizers returns the IDs of the registered normalizers in detection order.
func Normalizers() []string {
	ids := make([]string, 0, len(registry))
	for _, n := range registry {
		ids = append(ids, n.id)
	}
	return ids
}

// record is one record being normalized.
type record struct {
	in  *Input
	ev  *event.Event
	src string // the trimmed record; the JSON tree's strings are substrings of it

	root *node  // JSON records
	line string // text records

	win      *winRec // the Windows view of root, once looked for
	winDone  bool
	sys      *syslog.Message // the syslog view of line, once looked for
	sysDone  bool
	web      *accessLine // the web access log view of line
	webDone  bool
	cef      *cef.Event // the CEF record in line
	leef     *cef.LEEFEvent
	cefDone  bool
	selfFlat bool    // the normalizer filled Unmapped itself
	payload  *parser // owns the tree of an EvtxECmd row's Payload (see windows), released with root's
}

// normalizer is one entry of the registry.
type normalizer struct {
	id string
	// text is set for normalizers of text lines; the others take JSON objects.
	text bool
	// detect reports, cheaply, whether the record has this normalizer's shape.
	detect func(*record) bool
	// normalize maps the record into r.ev. It returns an error only for a record it cannot
	// read at all; a field of the wrong type stays in Unmapped.
	normalize func(*record) error
}

// registry lists the normalizers in detection order: the most specific shapes first, the
// catch-alls last.
var registry = []*normalizer{
	{id: "sysmon", detect: detectWindowsAs("sysmon"), normalize: normalizeWindows},
	{id: "windows_security", detect: detectWindowsAs("windows_security"), normalize: normalizeWindows},
	{id: "windows_system", detect: detectWindowsAs("windows_system"), normalize: normalizeWindows},
	{id: "powershell", detect: detectWindowsAs("powershell"), normalize: normalizeWindows},
	{id: "windows_generic", detect: detectWindowsAs("windows_generic"), normalize: normalizeWindows},
	{id: "cloudtrail", detect: detectCloudTrail, normalize: normalizeCloudTrail},
	{id: "okta", detect: detectOkta, normalize: normalizeOkta},
	{id: "entra_signin", detect: detectEntraSignIn, normalize: normalizeEntraSignIn},
	{id: "entra_audit", detect: detectEntraAudit, normalize: normalizeEntraAudit},
	{id: "m365_audit", detect: detectM365, normalize: normalizeM365},
	{id: "azure_activity", detect: detectAzureActivity, normalize: normalizeAzureActivity},
	{id: "wazuh", detect: detectWazuh, normalize: normalizeWazuh},
	{id: "suricata", detect: detectSuricata, normalize: normalizeSuricata},
	{id: "generic_json", detect: func(r *record) bool { return r.root != nil }, normalize: normalizeGenericJSON},
	// Text lines.
	{id: "cef", text: true, detect: detectCEF, normalize: normalizeCEF},
	{id: "auditd", text: true, detect: detectAuditd, normalize: normalizeAuditd},
	{id: "web_access", text: true, detect: detectWebAccess, normalize: normalizeWebAccess},
	{id: "linux_auth", text: true, detect: detectLinuxAuth, normalize: normalizeLinuxSyslog},
	{id: "linux_syslog", text: true, detect: detectSyslog, normalize: normalizeLinuxSyslog},
	{id: "text", text: true, detect: func(r *record) bool { return r.root == nil }, normalize: normalizeText},
}

var byID = func() map[string]*normalizer {
	m := make(map[string]*normalizer, len(registry))
	for _, n := range registry {
		m[n.id] = n
	}
	return m
}()

// pick chooses the normalizer: the hinted one when the record has its shape, else the first
// whose detector accepts the record.
func (r *record) pick() *normalizer {
	isText := r.root == nil
	if id := hintID(r.in.Hint); id != "" {
		if n := byID[id]; n != nil && n.text == isText && n.detect(r) {
			return n
		}
	}
	for _, n := range registry {
		if n.text == isText && n.detect(r) {
			return n
		}
	}
	if isText {
		return byID["text"]
	}
	return byID["generic_json"]
}

// finish fills what every event shares once the normalizer is done.
func (r *record) finish(id string) {
	ev := r.ev
	ev.Origin = r.in.Origin
	if ev.Kind == "" {
		ev.Kind = id
	}
	if ev.Class == "" {
		ev.Class = event.ClassUnknown
	}
	ev.ClassUID = ev.Class.UID()
	if ev.Time.IsZero() {
		ev.Time = r.in.Origin.Received
	}
	if !ev.Time.IsZero() {
		ev.Time = ev.Time.UTC()
	}
	if r.root != nil && !r.selfFlat {
		flatten(r.unmappedSized(len(r.root.kids)+8), "", r.root)
	}
	if len(ev.Unmapped) == 0 {
		ev.Unmapped = nil
	}
	deriveObservables(ev)
	ev.ID = deriveID(event.PrefixEvent, &r.in.Origin, r.src)
}

// unmapped returns ev.Unmapped, creating it.
func (r *record) unmapped() map[string]string {
	if r.ev.Unmapped == nil {
		r.ev.Unmapped = make(map[string]string, 16)
	}
	return r.ev.Unmapped
}

// unmappedSized returns ev.Unmapped, creating it with room for n entries.
func (r *record) unmappedSized(n int) map[string]string {
	if r.ev.Unmapped == nil {
		r.ev.Unmapped = make(map[string]string, n)
	}
	return r.ev.Unmapped
}

// setUnmapped records a source field the event model has no place for.
func (r *record) setUnmapped(k, v string) {
	if v != "" {
		r.unmapped()[k] = v
	}
}

// deriveID derives a stable ID from the origin's position when it has one, else from the
// record's bytes.
func deriveID(prefix string, o *event.Origin, raw string) string {
	if o.Record != 0 || o.Offset != 0 {
		return event.DeriveID(prefix, o.Source, o.File, strconv.FormatInt(o.Record, 10), strconv.FormatInt(o.Offset, 10))
	}
	return event.DeriveID(prefix, o.Source, o.File, "", "", raw)
}

// hints maps sender hints (HEC sourcetypes, file names, product names) to normalizer IDs. The
// first entry whose key occurs in the lower-cased hint wins, so longer keys come first.
var hints = []struct{ key, id string }{
	{"sysmon", "sysmon"},
	{"powershell", "powershell"},
	{"wineventlog:security", "windows_security"},
	{"wineventlog:system", "windows_system"},
	{"wineventlog", "windows_generic"},
	{"winlogbeat", "windows_generic"},
	{"evtx", "windows_generic"},
	{"windows", "windows_generic"},
	{"cloudtrail", "cloudtrail"},
	{"okta", "okta"},
	{"signin", "entra_signin"},
	{"sign-in", "entra_signin"},
	{"directoryaudit", "entra_audit"},
	{"auditlogs", "entra_audit"},
	{"aad:audit", "entra_audit"},
	{"entra", "entra_audit"},
	{"azureactivity", "azure_activity"},
	{"activitylog", "azure_activity"},
	{"o365", "m365_audit"},
	{"m365", "m365_audit"},
	{"office365", "m365_audit"},
	{"management:activity", "m365_audit"},
	{"unifiedaudit", "m365_audit"},
	{"wazuh", "wazuh"},
	{"ossec", "wazuh"},
	{"alerts.json", "wazuh"},
	{"suricata", "suricata"},
	{"eve.json", "suricata"},
	{"cef", "cef"},
	{"leef", "cef"},
	{"auditd", "auditd"},
	{"linux:audit", "auditd"},
	{"audit.log", "auditd"},
	{"auth.log", "linux_auth"},
	{"linux_secure", "linux_auth"},
	{"secure", "linux_auth"},
	{"sshd", "linux_auth"},
	{"access_combined", "web_access"},
	{"access_common", "web_access"},
	{"access.log", "web_access"},
	{"access_log", "web_access"},
	{"nginx", "web_access"},
	{"apache", "web_access"},
	{"httpd", "web_access"},
	{"syslog", "linux_syslog"},
	{"messages", "linux_syslog"},
}

// hintID maps a sender hint to a normalizer ID, or "".
func hintID(h string) string {
	if h == "" {
		return ""
	}
	h = strings.ToLower(strings.TrimSpace(h))
	if _, ok := byID[h]; ok {
		return h
	}
	for _, e := range hints {
		if strings.Contains(h, e.key) {
			return e.id
		}
	}
	return ""
}

func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
