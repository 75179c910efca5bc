package normalize

import (
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/winfield"
)

// Windows event logs arrive in three JSON shapes, all read through one view (winRec):
//
//   - evtx_dump: {"Event": {"#attributes": ..., "System": {...}, "EventData": {...}}} (or
//     "UserData": {"<Element>": {...}}), as written by `evtx_dump -o json` and internal/evtx;
//   - flat (NXLog, the OTRF/Mordor datasets): the EventData names at the top level beside
//     EventID, Channel, Hostname/Computer, SourceName and @timestamp/TimeCreated/EventTime (or
//     the EventData object beside them: Velociraptor's Windows.EventLogs.EvtxHunter; or the
//     event's XML as JSON in a Payload string beside EventId: EvtxECmd);
//   - Winlogbeat: {"winlog": {"event_id", "channel", "computer_name", "provider_name",
//     "event_data": {...}}, "@timestamp": ...}.
//
// The evtx_dump view also reads Velociraptor's parse_evtx rendering ({"System": {...},
// "EventData": {...}, "Message": "..."}: the sections at the top, attributes as members,
// "EventID": {"Value": 4624}, TimeCreated's SystemTime in epoch seconds) and golang-evtx's
// (evtx_dump's sections, attributes as members).
//
// EventData fields the mapping does not consume stay in Unmapped under their own names (as
// Sigma rules spell them), System fields under "System.<name>".

type winShape uint8

const (
	shapeEvtx winShape = iota + 1
	shapeFlat
	shapeBeat
)

// winRec is the shape-independent view of one Windows event.
type winRec struct {
	shape    winShape
	event    *node // evtx: Event
	sys      *node // evtx: Event.System; Winlogbeat: winlog
	data     *node // EventData, UserData's element, the flat root, or winlog.event_data
	eid      int
	channel  string
	provider string
	computer string
	kind     string // normalizer ID
}

// f returns EventData field name, cleaned of placeholders, and marks it used.
func (w *winRec) f(name string) string { return clean(w.data.str(name)) }

// raw returns EventData field name as it is, marked used.
func (w *winRec) raw(name string) string { return w.data.str(name) }

// has reports whether EventData has a field name.
func (w *winRec) has(name string) bool { return w.data.get(name) != nil }

// windows returns the Windows view of the record, or nil when it is not a Windows event.
func (r *record) windows() *winRec {
	if r.winDone {
		return r.win
	}
	r.winDone = true
	if r.root == nil {
		return nil
	}
	var w winRec
	root := r.root
	ev := root.get("Event")
	if sys := root.get("System"); ev == nil && sys != nil && sys.kind == jObject && sys.get("EventID") != nil {
		ev = root // Velociraptor's parse_evtx: the sections at the top
	}
	switch {
	case ev != nil && ev.get("System") != nil && ev.get("System").kind == jObject:
		w.shape, w.event, w.sys = shapeEvtx, ev, ev.get("System")
		id := w.sys.get("EventID")
		if id != nil && id.kind == jObject {
			if v := id.get("Value"); v != nil {
				id = v // attributes as members (Velociraptor, golang-evtx)
			} else {
				id = id.get("#text")
			}
		}
		n, ok := id.integer()
		if !ok {
			return nil
		}
		w.eid = int(n)
		w.channel = w.sys.str("Channel")
		if p := w.sys.get("Provider"); p != nil {
			w.provider = p.strAt("#attributes", "Name")
			if w.provider == "" {
				w.provider = p.str("Name")
			}
		}
		w.computer = w.sys.str("Computer")
		w.data = ev.get("EventData")
		if w.data == nil || w.data.kind != jObject {
			if ud := ev.get("UserData"); ud != nil && ud.kind == jObject {
				for i := range ud.kids {
					if k := &ud.kids[i]; k.kind == jObject && k.key != "#attributes" {
						w.data = &k.node
						break
					}
				}
			}
		}
	case root.get("winlog") != nil && root.get("winlog").kind == jObject:
		wl := root.get("winlog")
		n, ok := wl.int("event_id")
		if !ok {
			return nil
		}
		w.shape, w.sys, w.eid = shapeBeat, wl, int(n)
		w.channel = wl.str("channel")
		w.provider = wl.str("provider_name")
		w.computer = wl.str("computer_name")
		if w.computer == "" {
			w.computer = root.strAt("host", "name")
		}
		w.data = wl.get("event_data")
	default:
		id := root.get("EventID")
		ez := id == nil && root.get("Payload") != nil && root.get("Payload").kind == jString
		if ez {
			id = root.get("EventId") // EvtxECmd
		}
		if id == nil || (root.get("Channel") == nil && root.get("SourceName") == nil && root.get("ProviderName") == nil) {
			return nil
		}
		if id.kind == jObject {
			id = id.get("#text")
		}
		n, ok := id.integer()
		if !ok {
			return nil
		}
		w.shape, w.eid, w.data = shapeFlat, int(n), root
		if ed := root.get("EventData"); ed != nil && ed.kind == jObject {
			w.data = ed // the event's data nested (Velociraptor's EvtxHunter and artifacts like it)
		} else if ez {
			w.data = r.evtxECmdData(root.get("Payload").s)
		}
		w.channel = root.str("Channel")
		for _, k := range [...]string{"SourceName", "ProviderName", "Provider"} {
			if w.provider = root.str(k); w.provider != "" {
				break
			}
		}
		for _, k := range [...]string{"Hostname", "Computer", "ComputerName", "computer_name"} {
			if w.computer = root.str(k); w.computer != "" {
				break
			}
		}
	}
	if w.data == nil || w.data.kind != jObject {
		w.data = &node{kind: jObject}
	}
	w.kind = windowsKind(w.channel, w.provider)
	r.win = &w
	return r.win
}

// evtxECmdData returns the event data of an EvtxECmd row's Payload (the event's XML as JSON,
// {"EventData":{"Data":[{"@Name":"TargetUserName","#text":"bob"}, ...]}} or {"UserData":
// {"<Element>":{...}}}) as an object of the EventData names, or of the UserData element's
// members; nil when the payload is not a JSON object.
func (r *record) evtxECmdData(payload string) *node {
	tree, p, err := parseObject(payload)
	if err != nil {
		return nil
	}
	r.payload = p
	if ud := tree.get("UserData"); ud != nil && ud.kind == jObject {
		for i := range ud.kids {
			if k := &ud.kids[i]; k.kind == jObject {
				return &k.node
			}
		}
	}
	data := &node{kind: jObject}
	var add func(n *node)
	add = func(n *node) {
		switch n.kind {
		case jArray:
			for i := range n.kids {
				add(&n.kids[i].node)
			}
		case jObject:
			name := n.str("@Name")
			if name == "" {
				name = "Data"
			}
			v := n.get("#text")
			if v == nil {
				v = &node{kind: jString}
			}
			data.kids = append(data.kids, member{key: name, node: *v})
		default:
			data.kids = append(data.kids, member{key: "Data", node: *n})
		}
	}
	if d := tree.at("EventData", "Data"); d != nil {
		add(d)
	}
	return data
}

func windowsKind(channel, provider string) string {
	// The common spellings first, to spare the hot path a lower-casing.
	switch channel {
	case "Microsoft-Windows-Sysmon/Operational":
		return "sysmon"
	case "Security":
		return "windows_security"
	case "System":
		return "windows_system"
	case "Microsoft-Windows-PowerShell/Operational", "Windows PowerShell":
		return "powershell"
	}
	switch strings.ToLower(channel) {
	case "microsoft-windows-sysmon/operational":
		return "sysmon"
	case "security":
		return "windows_security"
	case "system":
		return "windows_system"
	case "microsoft-windows-powershell/operational", "windows powershell", "powershellcore/operational":
		return "powershell"
	case "":
		switch provider {
		case "Microsoft-Windows-Sysmon":
			return "sysmon"
		case "Microsoft-Windows-Security-Auditing":
			return "windows_security"
		}
	}
	return "windows_generic"
}

func detectWindowsAs(kind string) func(*record) bool {
	return func(r *record) bool {
		w := r.windows()
		return w != nil && w.kind == kind
	}
}

// windowsServices maps event log channels (lower-cased) to Sigma logsource services.
var windowsServices = map[string]string{
	"security":                             "security",
	"system":                               "system",
	"application":                          "application",
	"microsoft-windows-sysmon/operational": "sysmon",
	"microsoft-windows-powershell/operational":            "powershell",
	"powershellcore/operational":                          "powershell",
	"windows powershell":                                  "powershell-classic",
	"microsoft-windows-taskscheduler/operational":         "taskscheduler",
	"microsoft-windows-windows defender/operational":      "windefend",
	"microsoft-windows-wmi-activity/operational":          "wmi",
	"microsoft-windows-bits-client/operational":           "bits-client",
	"microsoft-windows-applocker/exe and dll":             "applocker",
	"microsoft-windows-applocker/msi and script":          "applocker",
	"microsoft-windows-applocker/packaged app-deployment": "applocker",
	"microsoft-windows-applocker/packaged app-execution":  "applocker",
	"microsoft-windows-codeintegrity/operational":         "codeintegrity-operational",
	"microsoft-windows-dns client events/operational":     "dns-client",
	"dns server":                         "dns-server",
	"microsoft-windows-dns-server/audit": "dns-server-audit",
	"microsoft-windows-windows firewall with advanced security/firewall":       "firewall-as",
	"microsoft-windows-ntlm/operational":                                       "ntlm",
	"openssh/operational":                                                      "openssh",
	"microsoft-windows-printservice/admin":                                     "printservice-admin",
	"microsoft-windows-printservice/operational":                               "printservice-operational",
	"microsoft-windows-smbclient/security":                                     "smbclient-security",
	"microsoft-windows-terminalservices-localsessionmanager/operational":       "terminalservices-localsessionmanager",
	"microsoft-windows-lsa/operational":                                        "lsa-server",
	"microsoft-windows-ldap-client/debug":                                      "ldap",
	"microsoft-windows-shell-core/operational":                                 "shell-core",
	"microsoft-windows-bitlocker/bitlocker management":                         "bitlocker",
	"microsoft-windows-appxdeploymentserver/operational":                       "appxdeployment-server",
	"microsoft-windows-appxpackaging/operational":                              "appxpackaging-om",
	"microsoft-windows-capi2/operational":                                      "capi2",
	"microsoft-windows-dhcp-server/operational":                                "dhcp",
	"microsoft-windows-driverframeworks-usermode/operational":                  "driver-framework",
	"microsoft-windows-ntfs/operational":                                       "ntfs",
	"msexchange management":                                                    "msexchange-management",
	"microsoft-windows-sense/operational":                                      "sense",
	"microsoft-windows-vhdmp/operational":                                      "vhdmp",
	"microsoft-windows-certificateservicesclient-lifecycle-system/operational": "certificateservicesclient-lifecycle-system",
	"microsoft-windows-security-mitigations/kernel mode":                       "security-mitigations",
	"microsoft-windows-security-mitigations/user mode":                         "security-mitigations",
	"microsoft-windows-kernel-shimengine/operational":                          "kernel-shimengine",
	"microsoft-windows-appmodel-runtime/admin":                                 "appmodel-runtime",
	"microsoft-windows-diagnosis-scripted/operational":                         "diagnosis-scripted",
	"microsoft-iis-configuration/operational":                                  "iis-configuration",
	"microsoft-windows-kernel-eventtracing":                                    "kernel-event-tracing",
	"microsoft-windows-hyper-v-worker":                                         "hyper-v-worker",
	"microsoft-windows-application-experience/program-telemetry":               "application-experience",
	"microsoft-windows-application-experience/program-compatibility-assistant": "application-experience",
	"microsoft-windows-terminalservices-remoteconnectionmanager/operational":   "terminalservices-remoteconnectionmanager",
	"microsoft-windows-remotedesktopservices-rdpcorets/operational":            "rdpcorets",
	"microsoft-windows-smbserver/connectivity":                                 "smbserver-connectivity",
	"microsoft-servicebus-client/operational":                                  "servicebus-client",
	"microsoft-servicebus-client/admin":                                        "servicebus-client",
	"microsoft-windows-dns-server/analytical":                                  "dns-server-analytic",
}

// windowsService returns the Sigma service of a channel.
func windowsService(channel string) string {
	switch channel {
	case "Microsoft-Windows-Sysmon/Operational":
		return "sysmon"
	case "Security":
		return "security"
	case "System":
		return "system"
	case "Microsoft-Windows-PowerShell/Operational":
		return "powershell"
	case "Windows PowerShell":
		return "powershell-classic"
	}
	return windowsServices[strings.ToLower(channel)]
}

func normalizeWindows(r *record) error {
	w := r.windows()
	ev := r.ev
	ev.Kind = w.kind
	ev.Product = "windows"
	ev.Code = strconv.Itoa(w.eid)
	ev.Service = windowsService(w.channel)
	if w.computer != "" {
		ev.Device = &event.Device{Hostname: w.computer}
	}
	r.setUnmapped("Channel", w.channel)
	r.setUnmapped("Provider_Name", w.provider)
	windowsTime(r, w)
	windowsLevel(r, w)

	switch w.kind {
	case "sysmon":
		mapSysmon(r, w)
	case "windows_security":
		mapSecurity(r, w)
	case "windows_system":
		mapSystem(r, w)
	case "powershell":
		mapPowerShell(r, w)
	default:
		mapWindowsGeneric(r, w)
	}
	if ev.User == nil {
		ev.User = windowsEventUser(r, w)
	}
	if m := r.root.get("Message"); (w.shape == shapeFlat || w.event == r.root) && m != nil {
		ev.Message = m.text()
	} else if w.shape == shapeBeat {
		ev.Message = r.root.str("message")
	}

	// Unmapped: the field names the Sigma view of internal/evtx (Record.Fields) gives the same
	// record, so that both views agree: EventData names as they are; System children as their
	// name, or <Element>_<Attribute> (Provider_Guid, Execution_ProcessID); UserData and other
	// sections by their leaf names; xmlns attributes left out.
	r.selfFlat = true
	dst := r.unmappedSized(len(w.data.kids) + 16)
	switch w.shape {
	case shapeEvtx:
		for i := range w.event.kids {
			m := &w.event.kids[i]
			switch {
			case m.key == "#attributes":
			case m.key == "EventData":
				flatten(dst, "", &m.node)
			case m.key == "System":
				flattenSystem(dst, &m.node)
			default:
				flattenXML(dst, &m.node)
			}
		}
		for i := range r.root.kids {
			if m := &r.root.kids[i]; m.key != "Event" && w.event != r.root {
				flatten(dst, m.key, &m.node)
			}
		}
		if w.event == r.root {
			hexFields(dst, w)
		}
	case shapeBeat:
		if w.data != nil {
			flatten(dst, "", w.data)
			w.data.consume()
		}
		flatten(dst, "", r.root)
	default:
		if w.data != r.root { // nested (EvtxHunter) or in a Payload string (EvtxECmd): by their names
			flatten(dst, "", w.data)
			w.data.consume()
			if pl := r.root.get("Payload"); pl != nil && r.payload != nil {
				pl.used = true
			}
		}
		flatten(dst, "", r.root)
	}
	return nil
}

// flattenXML adds the unused fields of an evtx_dump section (System, UserData, RenderingInfo)
// to dst with the names of internal/evtx's Record.Fields.
func flattenXML(dst map[string]string, section *node) {
	if section == nil || section.used || section.kind != jObject {
		return
	}
	for i := range section.kids {
		m := &section.kids[i]
		if m.used || m.key == "#attributes" {
			continue
		}
		xmlElement(dst, m.key, &m.node)
	}
}

// hexFields gives the HexInt fields of a Velociraptor rendering, which it writes as decimal
// numbers, their EVTX text in dst (SubjectLogonId 170334 is 0x2995e; see internal/winfield),
// so that the event is searched by the values its EVTX record shows.
func hexFields(dst map[string]string, w *winRec) {
	eid := strconv.Itoa(w.eid)
	var buf []byte
	for k, v := range dst {
		if !winfield.SystemHex(k) && !winfield.Hex(w.channel, eid, k) {
			continue
		}
		var ok bool
		if buf, ok = winfield.AppendHex(buf[:0], v); ok {
			dst[k] = string(buf)
		}
	}
}

// flattenSystem adds the unused fields of an evtx_dump System section as flattenXML does, and
// those of a rendering that writes attributes as members (Velociraptor, golang-evtx:
// "Execution": {"ProcessID": 4}) with the same names (Execution_ProcessID), as an EVTX record
// names them.
func flattenSystem(dst map[string]string, sys *node) {
	if sys == nil || sys.used || sys.kind != jObject {
		return
	}
	for i := range sys.kids {
		m := &sys.kids[i]
		if m.used || m.kind != jObject || m.get("#attributes") != nil || m.get("#text") != nil {
			continue
		}
		for j := range m.kids {
			a := &m.kids[j]
			switch {
			case a.used || a.key == "xmlns" || strings.HasPrefix(a.key, "xmlns:"):
			case a.key == "Value":
				flatten(dst, m.key, &a.node)
			default:
				flatten(dst, m.key+"_"+a.key, &a.node)
			}
		}
		m.used = true
	}
	flattenXML(dst, sys)
}

// xmlElement emits element key: its text as key, its attributes as key_attr; an element with
// child elements descends, its children named by their own names.
func xmlElement(dst map[string]string, key string, n *node) {
	if n.used {
		return
	}
	switch n.kind {
	case jNull:
	case jObject:
		for i := range n.kids {
			c := &n.kids[i]
			if c.used {
				continue
			}
			switch c.key {
			case "#attributes":
				for j := range c.kids {
					a := &c.kids[j]
					if a.used || a.key == "xmlns" || strings.HasPrefix(a.key, "xmlns:") {
						continue
					}
					flatten(dst, key+"_"+a.key, &a.node)
				}
			case "#text":
				flatten(dst, key, &c.node)
			default:
				xmlElement(dst, c.key, &c.node)
			}
		}
	default:
		flatten(dst, key, n)
	}
}

// windowsTime sets ev.Time from System.TimeCreated, @timestamp, TimeCreated, EventTime or
// UtcTime, in that order.
func windowsTime(r *record, w *winRec) {
	ev := r.ev
	if w.shape == shapeEvtx {
		tc := w.sys.get("TimeCreated")
		for _, n := range [...]*node{tc.at("#attributes", "SystemTime"), tc.get("SystemTime"), tc} {
			if t, ok := timeOf(n); ok {
				ev.Time = t
				return
			}
		}
		return
	}
	for _, k := range [...]string{"@timestamp", "TimeCreated", "EventTime", "UtcTime", "timestamp"} {
		if t, ok := timeOf(r.root.get(k)); ok {
			ev.Time = t
			return
		}
	}
	if w.shape == shapeBeat {
		if t, ok := timeOf(w.data.get("UtcTime")); ok {
			ev.Time = t
		}
	}
}

// windowsLevel maps the event Level (1 critical, 2 error, 3 warning, 4 and 0 information) to a
// severity, and the audit success/failure keywords of Security events to Status.
func windowsLevel(r *record, w *winRec) {
	ev := r.ev
	var level, keywords *node
	switch w.shape {
	case shapeEvtx:
		level, keywords = w.sys.get("Level"), w.sys.get("Keywords")
	case shapeBeat:
		level = r.root.at("log", "level")
		if kw := w.sys.get("keywords"); kw != nil && kw.kind == jArray {
			for i := range kw.kids {
				switch kw.kids[i].s {
				case "Audit Success":
					ev.Status = "success"
				case "Audit Failure":
					ev.Status = "failure"
				}
			}
		}
		if o := r.root.strAt("event", "outcome"); o == "success" || o == "failure" {
			ev.Status = o
		}
	default:
		level, keywords = r.root.get("Level"), r.root.get("Keywords")
		switch r.root.get("EventType").text() {
		case "AUDIT_SUCCESS":
			ev.Status = "success"
		case "AUDIT_FAILURE":
			ev.Status = "failure"
		}
	}
	if n, ok := level.integer(); ok {
		switch n {
		case 1:
			ev.Severity = event.SeverityCritical
		case 2:
			ev.Severity = event.SeverityHigh
		case 3:
			ev.Severity = event.SeverityMedium
		default:
			ev.Severity = event.SeverityInfo
		}
	} else if level.scalar() {
		if s := severityWord(level.s); s != event.SeverityUnknown {
			level.used = true
			ev.Severity = s
		}
	}
	if keywords.scalar() && ev.Status == "" {
		var kw uint64
		s := keywords.s
		if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
			kw, _ = strconv.ParseUint(s[2:], 16, 64)
		} else if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			kw = uint64(v)
		} else {
			kw, _ = strconv.ParseUint(s, 10, 64)
		}
		switch {
		case kw&0x0020000000000000 != 0:
			ev.Status = "success"
		case kw&0x0010000000000000 != 0:
			ev.Status = "failure"
		}
	}
}

// windowsEventUser is the account the event was logged under: System.Security.UserID in
// evtx_dump, UserID/AccountName/Domain in NXLog, winlog.user in Winlogbeat.
func windowsEventUser(r *record, w *winRec) *event.User {
	switch w.shape {
	case shapeEvtx:
		sid := w.sys.at("Security", "#attributes", "UserID")
		if sid == nil {
			sid = w.sys.at("Security", "UserID")
		}
		return winUser("", "", sid.text())
	case shapeBeat:
		u := w.sys.get("user")
		return winUser(u.str("name"), u.str("domain"), u.str("identifier"))
	default:
		root := r.root
		if root.get("UserID") == nil && root.get("AccountName") == nil {
			return nil
		}
		u := winUser(root.str("AccountName"), root.str("Domain"), root.str("UserID"))
		if u != nil {
			u.Type = strings.ToLower(root.str("AccountType"))
		}
		return u
	}
}

// setProcess fills ev.Process from Sysmon-style fields with the given prefix ("" for the
// acting process, "Source" for Sysmon 8/10).
func setProcess(r *record, w *winRec, prefix string) *event.Process {
	ev := r.ev
	p := process(ev)
	guid := prefix + "ProcessGuid"
	if prefix != "" {
		guid = prefix + "ProcessGUID"
		if !w.has(guid) {
			guid = prefix + "ProcessGuid"
		}
	}
	p.GUID = w.f(guid)
	p.PID = atoi64(w.f(prefix + "ProcessId"))
	if p.Path = w.f(prefix + "Image"); p.Path != "" {
		p.Name = baseName(p.Path)
	}
	return p
}

// setParent fills ev.Process.Parent from Sysmon's Parent* fields.
func setParent(r *record, w *winRec) {
	pp := &event.Process{
		GUID:        w.f("ParentProcessGuid"),
		PID:         atoi64(w.f("ParentProcessId")),
		Path:        w.f("ParentImage"),
		CommandLine: w.f("ParentCommandLine"),
		User:        w.f("ParentUser"),
	}
	if pp.Path != "" {
		pp.Name = baseName(pp.Path)
	}
	if pp.GUID != "" || pp.PID != 0 || pp.Path != "" || pp.CommandLine != "" || pp.User != "" {
		process(r.ev).Parent = pp
	}
}

// setSysmonUser maps a "DOMAIN\name" user field to ev.User and ev.Process.User.
func setSysmonUser(r *record, w *winRec, field string) {
	s := w.f(field)
	if s == "" {
		return
	}
	d, n := splitUser(s)
	r.ev.User = &event.User{Name: n, Domain: d}
	if r.ev.Process != nil {
		r.ev.Process.User = s
	}
}

// setFile maps a file path field to ev.File.
func setFile(r *record, path string) *event.File {
	if path == "" {
		return nil
	}
	f := ensure(&r.ev.File)
	f.Path = path
	f.Name = baseName(path)
	return f
}

var sysmonCategories = map[int]string{
	1: "process_creation", 2: "file_change", 3: "network_connection", 4: "sysmon_status",
	5: "process_termination", 6: "driver_load", 7: "image_load", 8: "create_remote_thread",
	9: "raw_access_thread", 10: "process_access", 11: "file_event", 12: "registry_add",
	13: "registry_set", 14: "registry_rename", 15: "create_stream_hash", 16: "sysmon_status",
	17: "pipe_created", 18: "pipe_created", 19: "wmi_event", 20: "wmi_event", 21: "wmi_event",
	22: "dns_query", 23: "file_delete", 24: "clipboard_capture", 25: "process_tampering",
	26: "file_delete_detected", 27: "file_block_executable", 28: "file_block_shredding",
	29: "file_executable_detected", 255: "sysmon_error",
}

func mapSysmon(r *record, w *winRec) {
	ev := r.ev
	ev.Category = sysmonCategories[w.eid]
	switch w.eid {
	case 1:
		ev.Class, ev.Activity = event.ClassProcess, "launch"
		p := setProcess(r, w, "")
		p.CommandLine = w.f("CommandLine")
		p.Integrity = w.f("IntegrityLevel")
		p.Hashes = parseHashes(w.raw("Hashes"))
		setParent(r, w)
		setSysmonUser(r, w, "User")
		if id := w.f("LogonId"); id != "" {
			ensure(&ev.Auth).LogonID = id
			if ev.User != nil {
				ev.User.Session = id
			}
		}
	case 2:
		ev.Class, ev.Activity = event.ClassFile, "set_attributes"
		setProcess(r, w, "")
		setFile(r, w.f("TargetFilename"))
		setSysmonUser(r, w, "User")
	case 3:
		ev.Class, ev.Activity = event.ClassNetwork, "open"
		setProcess(r, w, "")
		setSysmonUser(r, w, "User")
		n := ensure(&ev.Network)
		n.Protocol = protoName(w.f("Protocol"))
		if b, ok := w.data.boolean("Initiated"); ok {
			n.Direction = pick(b, "outbound", "inbound")
		}
		endpointIP(&ev.Src, w.f("SourceIp"))
		if h := w.f("SourceHostname"); h != "" {
			ensure(&ev.Src).Hostname = h
		}
		if p := port(w.f("SourcePort")); p != 0 {
			ensure(&ev.Src).Port = p
		}
		endpointIP(&ev.Dst, w.f("DestinationIp"))
		if h := w.f("DestinationHostname"); h != "" {
			ensure(&ev.Dst).Hostname = h
		}
		if p := port(w.f("DestinationPort")); p != 0 {
			ensure(&ev.Dst).Port = p
		}
		n.App = w.f("DestinationPortName")
	case 4, 16:
		ev.Class, ev.Activity = event.ClassLog, "update"
	case 5:
		ev.Class, ev.Activity = event.ClassProcess, "terminate"
		setProcess(r, w, "")
		setSysmonUser(r, w, "User")
	case 6:
		ev.Class, ev.Activity = event.ClassModule, "load"
		if f := setFile(r, w.f("ImageLoaded")); f != nil {
			f.Hashes = parseHashes(w.raw("Hashes"))
		}
	case 7:
		ev.Class, ev.Activity = event.ClassModule, "load"
		setProcess(r, w, "")
		if f := setFile(r, w.f("ImageLoaded")); f != nil {
			f.Hashes = parseHashes(w.raw("Hashes"))
		}
		setSysmonUser(r, w, "User")
	case 8, 10:
		ev.Class = event.ClassProcess
		ev.Activity = pick(w.eid == 8, "inject", "open")
		setProcess(r, w, "Source")
		setSysmonUser(r, w, "SourceUser")
		// The target process stays in Unmapped (TargetImage, TargetProcessId, ...): the
		// event model has no second process.
	case 9:
		ev.Class, ev.Activity = event.ClassFile, "read"
		setProcess(r, w, "")
		setFile(r, w.f("Device"))
		setSysmonUser(r, w, "User")
	case 11, 23, 26, 27, 28, 29:
		ev.Class = event.ClassFile
		ev.Activity = map[int]string{11: "create", 23: "delete", 26: "delete", 27: "create", 28: "delete", 29: "create"}[w.eid]
		setProcess(r, w, "")
		if f := setFile(r, w.f("TargetFilename")); f != nil {
			f.Hashes = parseHashes(w.raw("Hashes"))
		}
		setSysmonUser(r, w, "User")
	case 12, 13, 14:
		ev.Class = event.ClassRegistry
		setProcess(r, w, "")
		setSysmonUser(r, w, "User")
		et := w.f("EventType")
		if et == "" || et == "INFO" {
			et = w.f("EventTypeOrignal")
		}
		key := w.f("TargetObject")
		reg := ensure(&ev.Registry)
		switch w.eid {
		case 12:
			reg.Key = key
			if strings.HasPrefix(et, "Delete") {
				ev.Activity, ev.Category = "delete", "registry_delete"
			} else {
				ev.Activity = "create"
			}
		case 13:
			ev.Activity = "set"
			if i := strings.LastIndexByte(key, '\\'); i >= 0 {
				reg.Key, reg.Value = key[:i], key[i+1:]
			} else {
				reg.Key = key
			}
			reg.Data = w.f("Details")
		case 14:
			ev.Activity = "rename"
			reg.Key = key
		}
	case 15:
		ev.Class, ev.Activity = event.ClassFile, "create"
		setProcess(r, w, "")
		if f := setFile(r, w.f("TargetFilename")); f != nil {
			f.Hashes = parseHashes(w.raw("Hash"))
		}
		setSysmonUser(r, w, "User")
	case 17, 18:
		ev.Class = event.ClassFile
		ev.Activity = pick(w.eid == 17, "create", "open")
		setProcess(r, w, "")
		setSysmonUser(r, w, "User")
		if name := w.f("PipeName"); name != "" {
			f := ensure(&ev.File)
			f.Name = name
			f.Path = `\\.\pipe` + pick(strings.HasPrefix(name, `\`), "", `\`) + name
		}
	case 19, 20, 21:
		ev.Activity = "create"
		setSysmonUser(r, w, "User")
	case 22:
		ev.Class, ev.Activity = event.ClassDNS, "query"
		setProcess(r, w, "")
		setSysmonUser(r, w, "User")
		d := ensure(&ev.DNS)
		d.Query = w.f("QueryName")
		d.RCode = dnsStatus(w.f("QueryStatus"))
		d.Answers = sysmonDNSAnswers(w.f("QueryResults"))
	case 24:
		ev.Activity = "read"
		setProcess(r, w, "")
		setSysmonUser(r, w, "User")
	case 25:
		ev.Class, ev.Activity = event.ClassProcess, "tamper"
		setProcess(r, w, "")
		setSysmonUser(r, w, "User")
	default:
		if w.has("Image") {
			setProcess(r, w, "")
		}
		setSysmonUser(r, w, "User")
	}
	// Sysmon's own event time (UtcTime) is the fallback when the envelope has none.
	if ev.Time.IsZero() {
		if t, ok := timeOf(w.data.get("UtcTime")); ok {
			ev.Time = t
		}
	}
}

// dnsStatus maps Sysmon's QueryStatus (a Win32 error code) to a DNS response code name.
func dnsStatus(s string) string {
	switch s {
	case "0":
		return "NOERROR"
	case "9003", "123":
		return "NXDOMAIN"
	case "9002":
		return "SERVFAIL"
	case "9005":
		return "REFUSED"
	case "9501":
		return "NODATA"
	}
	return s
}

// sysmonDNSAnswers reads QueryResults ("type:  5 cdn.example.net;::ffff:1.2.3.4;").
func sysmonDNSAnswers(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for a := range strings.SplitSeq(s, ";") {
		a = strings.TrimSpace(a)
		if strings.HasPrefix(a, "type:") {
			a = strings.TrimSpace(a[5:])
			if i := strings.IndexByte(a, ' '); i >= 0 {
				a = strings.TrimSpace(a[i+1:])
			}
		}
		if a == "" {
			continue
		}
		if ip := ipOf(a); ip != "" {
			a = ip
		}
		out = append(out, a)
	}
	return out
}
