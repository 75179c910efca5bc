package normalize

import (
	"html"
	"strings"

	"github.com/vigil-soc/vigil/internal/event"
)

// subject returns the Subject* account of a Security event, with its logon ID as Session.
func subject(w *winRec) *event.User {
	u := winUser(w.raw("SubjectUserName"), w.raw("SubjectDomainName"), w.raw("SubjectUserSid"))
	if u != nil {
		u.Session = w.f("SubjectLogonId")
	}
	return u
}

// target returns the Target* account of a Security event.
func target(w *winRec) *event.User {
	u := winUser(w.raw("TargetUserName"), w.raw("TargetDomainName"), w.raw("TargetUserSid"))
	if u == nil {
		u = winUser(w.raw("TargetUserName"), w.raw("TargetDomainName"), w.raw("TargetSid"))
	} else if u.UID == "" {
		u.UID = w.f("TargetSid")
	}
	return u
}

// secProcess maps ProcessName/ProcessId (hexadecimal in Security events).
func secProcess(r *record, w *winRec, pathField, pidField string) {
	path, pid := w.f(pathField), atoi64(w.f(pidField))
	if path == "" && pid == 0 {
		return
	}
	p := process(r.ev)
	p.Path, p.PID = path, pid
	if path != "" {
		p.Name = baseName(path)
	}
}

// secSource maps the client address and port of a logon or share access.
func secSource(r *record, w *winRec, ipField, portField, hostField string) {
	ev := r.ev
	endpointIP(&ev.Src, w.f(ipField))
	if p := port(w.f(portField)); p != 0 {
		ensure(&ev.Src).Port = p
	}
	if hostField != "" {
		if h := w.f(hostField); h != "" {
			ensure(&ev.Src).Hostname = h
		}
	}
}

// ntStatus sets Status from an NTSTATUS/Kerberos result code: 0x0 is success.
func ntStatus(ev *event.Event, code string) {
	switch code {
	case "":
	case "0x0", "0", "0x00000000":
		ev.Status = "success"
	default:
		ev.Status = "failure"
		ev.StatusDetail = code
	}
}

var integrityLevels = map[string]string{
	"S-1-16-0": "Untrusted", "S-1-16-4096": "Low", "S-1-16-8192": "Medium", "S-1-16-8448": "MediumPlus",
	"S-1-16-12288": "High", "S-1-16-16384": "System", "S-1-16-20480": "Protected",
}

var accountActivities = map[int]string{
	4720: "create", 4722: "enable", 4723: "password_change", 4724: "password_reset", 4725: "disable",
	4726: "delete", 4738: "update", 4740: "lock", 4767: "unlock", 4781: "rename", 4742: "update",
	4741: "create", 4743: "delete",
}

var groupActivities = map[int]string{
	4728: "add_user", 4729: "remove_user", 4732: "add_user", 4733: "remove_user", 4756: "add_user",
	4757: "remove_user", 4727: "create", 4731: "create", 4754: "create", 4730: "delete", 4734: "delete",
	4758: "delete",
}

var taskActivities = map[int]string{4698: "create", 4699: "delete", 4700: "enable", 4701: "disable", 4702: "update"}

func mapSecurity(r *record, w *winRec) {
	ev := r.ev
	switch id := w.eid; id {
	case 4624, 4625:
		ev.Class, ev.Activity = event.ClassAuthentication, "logon"
		ev.User = target(w)
		a := ensure(&ev.Auth)
		a.LogonType = w.f("LogonType")
		a.LogonID = w.f("TargetLogonId")
		a.Protocol = w.f("AuthenticationPackageName")
		a.Method = strings.TrimSpace(w.f("LogonProcessName"))
		a.Elevated = w.f("ElevatedToken") == "%%1842"
		if ev.User != nil {
			ev.User.Session = a.LogonID
		}
		secSource(r, w, "IpAddress", "IpPort", "WorkstationName")
		secProcess(r, w, "ProcessName", "ProcessId")
		if id == 4624 {
			ev.Status = "success"
		} else {
			ev.Status = "failure"
			ev.StatusDetail = w.f("SubStatus")
			if ev.StatusDetail == "" || ev.StatusDetail == "0x0" {
				ev.StatusDetail = w.f("Status")
			}
		}
	case 4634, 4647:
		ev.Class, ev.Activity = event.ClassAuthentication, "logoff"
		ev.User = target(w)
		a := ensure(&ev.Auth)
		a.LogonType = w.f("LogonType")
		a.LogonID = w.f("TargetLogonId")
		if ev.User != nil {
			ev.User.Session = a.LogonID
		}
		ev.Status = "success"
	case 4648:
		ev.Class, ev.Activity = event.ClassAuthentication, "logon"
		ev.User = subject(w)
		ev.TargetUser = target(w)
		if ev.User != nil {
			ensure(&ev.Auth).LogonID = ev.User.Session
		}
		if h := w.f("TargetServerName"); h != "" && h != "localhost" {
			ensure(&ev.Dst).Hostname = h
		}
		secSource(r, w, "IpAddress", "IpPort", "")
		secProcess(r, w, "ProcessName", "ProcessId")
	case 4672:
		ev.Class, ev.Activity = event.ClassAuthorize, "assign_privileges"
		ev.User = subject(w)
		a := ensure(&ev.Auth)
		a.Elevated = true
		if ev.User != nil {
			a.LogonID = ev.User.Session
		}
	case 4688:
		ev.Class, ev.Activity, ev.Category = event.ClassProcess, "launch", "process_creation"
		p := process(ev)
		p.Path = w.f("NewProcessName")
		p.Name = baseName(p.Path)
		p.PID = atoi64(w.f("NewProcessId"))
		p.CommandLine = w.f("CommandLine")
		if l := w.f("MandatoryLabel"); l != "" {
			if p.Integrity = integrityLevels[l]; p.Integrity == "" {
				p.Integrity = l
			}
		}
		parent := &event.Process{Path: w.f("ParentProcessName"), PID: atoi64(w.f("ProcessId"))}
		if parent.Path != "" {
			parent.Name = baseName(parent.Path)
		}
		if parent.Path != "" || parent.PID != 0 {
			p.Parent = parent
		}
		ev.User = subject(w)
		if t := target(w); t != nil && t.Name != "" {
			ev.TargetUser = t
			t.Session = w.f("TargetLogonId")
			p.User = userKey(t)
		} else {
			p.User = userKey(ev.User)
		}
		if ev.User != nil {
			ensure(&ev.Auth).LogonID = ev.User.Session
		}
		if w.f("TokenElevationType") == "%%1937" {
			ensure(&ev.Auth).Elevated = true
		}
	case 4689:
		ev.Class, ev.Activity = event.ClassProcess, "terminate"
		secProcess(r, w, "ProcessName", "ProcessId")
		ev.User = subject(w)
	case 4697:
		ev.Class, ev.Activity = event.ClassService, "create"
		ev.User = subject(w)
		serviceProcess(r, w.f("ServiceFileName"), w.f("ServiceAccount"))
	case 4698, 4699, 4700, 4701, 4702:
		ev.Class, ev.Activity = event.ClassScheduledJob, taskActivities[id]
		ev.User = subject(w)
		content := w.data.peek("TaskContent")
		if content == "" {
			content = w.data.peek("TaskContentNew")
		}
		taskAction(r, content)
	case 4719:
		ev.Class, ev.Activity = event.ClassLog, "update"
		ev.User = subject(w)
	case 4720, 4722, 4723, 4724, 4725, 4726, 4738, 4740, 4767, 4781, 4741, 4742, 4743:
		ev.Class, ev.Activity = event.ClassAccountChange, accountActivities[id]
		ev.User = subject(w)
		if id == 4740 {
			// TargetDomainName holds the caller computer of a lockout.
			ev.TargetUser = winUser(w.raw("TargetUserName"), "", w.raw("TargetSid"))
			if h := w.f("TargetDomainName"); h != "" {
				ensure(&ev.Src).Hostname = h
			}
		} else {
			ev.TargetUser = target(w)
		}
	case 4727, 4728, 4729, 4730, 4731, 4732, 4733, 4734, 4754, 4756, 4757, 4758:
		ev.Class, ev.Activity = event.ClassGroup, groupActivities[id]
		ev.User = subject(w)
		// The member; the group (TargetUserName, TargetDomainName, TargetSid) stays in
		// Unmapped as the model has no group object.
		ev.TargetUser = winUser(w.raw("MemberName"), "", w.raw("MemberSid"))
	case 4768, 4769, 4770, 4771, 4776:
		ev.Class = event.ClassAuthentication
		a := ensure(&ev.Auth)
		switch id {
		case 4768:
			ev.Activity, a.Protocol = "authentication_ticket", "Kerberos"
		case 4769, 4770:
			ev.Activity, a.Protocol = "service_ticket", "Kerberos"
		case 4771:
			ev.Activity, a.Protocol = "preauth", "Kerberos"
		case 4776:
			ev.Activity, a.Protocol = "logon", "NTLM"
		}
		if id == 4776 {
			ev.User = winUser(w.raw("TargetUserName"), "", "")
			if h := w.f("Workstation"); h != "" {
				ensure(&ev.Src).Hostname = h
			}
		} else {
			ev.User = winUser(w.raw("TargetUserName"), w.raw("TargetDomainName"), w.raw("TargetSid"))
			secSource(r, w, "IpAddress", "IpPort", "")
			a.Method = w.f("PreAuthType")
		}
		ntStatus(ev, w.f("Status"))
		if id == 4771 {
			ev.Status = "failure"
		}
	case 4656, 4658, 4660, 4663:
		ev.User = subject(w)
		secProcess(r, w, "ProcessName", "ProcessId")
		activity := map[int]string{4656: "open", 4658: "close", 4660: "delete", 4663: "access"}[id]
		ev.Activity = activity
		switch w.data.get("ObjectType").text() {
		case "File":
			ev.Class = event.ClassFile
			setFile(r, w.f("ObjectName"))
		case "Key":
			ev.Class = event.ClassRegistry
			if k := w.f("ObjectName"); k != "" {
				ensure(&ev.Registry).Key = k
			}
		case "Process":
			// The accessed process (ObjectName) stays in Unmapped.
			ev.Class, ev.Activity = event.ClassProcess, "open"
		case "":
		default:
			w.data.get("ObjectType").used = false
		}
	case 4662:
		ev.Activity = "access"
		ev.User = subject(w)
	case 5140, 5145:
		ev.Class = event.ClassFile
		ev.Activity = pick(id == 5140, "open", "access")
		ev.User = subject(w)
		secSource(r, w, "IpAddress", "IpPort", "")
		f := ensure(&ev.File)
		f.Share = w.f("ShareName")
		f.Path = w.f("ShareLocalPath")
		if rel := w.f("RelativeTargetName"); rel != "" {
			f.Name = baseName(rel)
			if f.Path != "" && rel != `\` {
				f.Path = strings.TrimSuffix(f.Path, `\`) + `\` + strings.TrimPrefix(rel, `\`)
			}
		}
		ensure(&ev.Network).App = "smb"
	case 5154, 5155, 5156, 5157, 5158, 5159:
		ev.Class = event.ClassNetwork
		ev.Activity = map[int]string{5154: "listen", 5155: "listen", 5156: "open", 5157: "open", 5158: "bind", 5159: "bind"}[id]
		if id == 5155 || id == 5157 || id == 5159 {
			ev.Status = "failure"
		}
		n := ensure(&ev.Network)
		n.Protocol = protoName(w.f("Protocol"))
		switch w.f("Direction") {
		case "%%14592", "Inbound":
			n.Direction = "inbound"
		case "%%14593", "Outbound":
			n.Direction = "outbound"
		}
		endpointIP(&ev.Src, w.f("SourceAddress"))
		if p := port(w.f("SourcePort")); p != 0 {
			ensure(&ev.Src).Port = p
		}
		endpointIP(&ev.Dst, w.f("DestAddress"))
		if p := port(w.f("DestPort")); p != 0 {
			ensure(&ev.Dst).Port = p
		}
		pidField := "ProcessID"
		if !w.has(pidField) {
			pidField = "ProcessId"
		}
		secProcess(r, w, "Application", pidField)
	case 1102:
		ev.Class, ev.Activity = event.ClassLog, "clear"
		ev.User = subject(w)
	default:
		ev.User = subject(w)
		if t := target(w); t != nil && (ev.User == nil || t.UID != ev.User.UID || t.Name != ev.User.Name) {
			ev.TargetUser = t
		}
		secProcess(r, w, "ProcessName", "ProcessId")
	}
}

// serviceProcess maps a service's image path (with arguments) and account to ev.Process.
func serviceProcess(r *record, imagePath, account string) {
	if imagePath == "" && account == "" {
		return
	}
	p := process(r.ev)
	p.CommandLine = imagePath
	p.Path = exeOf(imagePath)
	p.Name = baseName(p.Path)
	p.User = account
}

// exeOf returns the program of a command line: the quoted first token, or the text up to the
// first ".exe" (paths with spaces are often unquoted), or the first token.
func exeOf(cmd string) string {
	cmd = strings.TrimSpace(cmd)
	if cmd == "" {
		return ""
	}
	if cmd[0] == '"' {
		if i := strings.IndexByte(cmd[1:], '"'); i >= 0 {
			return cmd[1 : i+1]
		}
		return cmd[1:]
	}
	if i := strings.Index(strings.ToLower(cmd), ".exe"); i >= 0 {
		return cmd[:i+4]
	}
	if i := strings.IndexAny(cmd, " \t"); i >= 0 {
		return cmd[:i]
	}
	return cmd
}

// taskAction reads the first Exec action of a scheduled task's XML into ev.Process.
func taskAction(r *record, content string) {
	if content == "" {
		return
	}
	if strings.Contains(content, "&lt;") {
		content = html.UnescapeString(content)
	}
	cmd := xmlText(content, "Command")
	if cmd == "" {
		return
	}
	cmd = html.UnescapeString(cmd)
	p := process(r.ev)
	p.Path = strings.Trim(cmd, `"`)
	p.Name = baseName(p.Path)
	p.CommandLine = cmd
	if args := html.UnescapeString(xmlText(content, "Arguments")); args != "" {
		p.CommandLine = cmd + " " + args
	}
	if u := xmlText(content, "UserId"); u != "" {
		p.User = u
	}
}

// xmlText returns the text of the first <tag>...</tag> in s.
func xmlText(s, tag string) string {
	i := strings.Index(s, "<"+tag+">")
	if i < 0 {
		return ""
	}
	s = s[i+len(tag)+2:]
	j := strings.Index(s, "</"+tag+">")
	if j < 0 {
		return ""
	}
	return strings.TrimSpace(s[:j])
}

func mapSystem(r *record, w *winRec) {
	ev := r.ev
	switch w.eid {
	case 7045:
		ev.Class, ev.Activity = event.ClassService, "create"
		serviceProcess(r, w.f("ImagePath"), w.f("AccountName"))
	case 7036:
		ev.Class, ev.Activity = event.ClassService, "update"
		switch strings.ToLower(w.data.peek("param2")) {
		case "running":
			ev.Activity = "start"
		case "stopped":
			ev.Activity = "stop"
		}
	case 7040:
		ev.Class, ev.Activity = event.ClassService, "update"
	case 7034, 7031:
		ev.Class, ev.Activity = event.ClassService, "stop"
		ev.Status = "failure"
	case 104:
		ev.Class, ev.Activity = event.ClassLog, "clear"
		ev.User = subject(w)
	}
}

var powershellCategories = map[int]string{
	4103: "ps_module", 4104: "ps_script", 400: "ps_classic_start", 600: "ps_classic_provider_start",
	800: "ps_classic_script",
}

func mapPowerShell(r *record, w *winRec) {
	ev := r.ev
	ev.Category = powershellCategories[w.eid]
	ev.Class = event.ClassProcess
	switch w.eid {
	case 4103:
		ev.Activity = "execute"
		ctx := kvLines(w.data.peek("ContextInfo"), " = ")
		psHost(r, ctx["Host Application"])
		if u := ctx["User"]; u != "" {
			d, n := splitUser(u)
			ev.User = &event.User{Name: n, Domain: d}
		}
		if s := ctx["Script Name"]; s != "" {
			setFile(r, s)
		}
	case 4104:
		ev.Activity = "execute"
		if p := w.f("Path"); p != "" {
			setFile(r, p)
		}
	case 4105, 4106:
		ev.Activity = pick(w.eid == 4105, "start", "stop")
	case 400, 403, 600, 800:
		ev.Activity = map[int]string{400: "start", 403: "stop", 600: "start", 800: "execute"}[w.eid]
		details := classicDetails(r, w)
		psHost(r, details["HostApplication"])
		if u := details["UserId"]; u != "" {
			d, n := splitUser(u)
			ev.User = &event.User{Name: n, Domain: d}
		}
		if s := details["ScriptName"]; s != "" {
			setFile(r, s)
		}
	default:
		ev.Class = event.ClassUnknown
	}
}

// psHost maps the PowerShell host application (a command line) to ev.Process.
func psHost(r *record, cmd string) {
	if cmd == "" {
		return
	}
	p := process(r.ev)
	p.CommandLine = cmd
	p.Path = exeOf(cmd)
	p.Name = baseName(p.Path)
}

// classicDetails collects the "\tKey=Value" lines of a classic PowerShell event (400, 600,
// 800): from EventData's Data strings in evtx_dump, from Message in the flat shape.
func classicDetails(r *record, w *winRec) map[string]string {
	var text strings.Builder
	d := w.data.get("Data")
	if d != nil && d.kind == jObject {
		d = d.get("#text")
	}
	switch {
	case d == nil:
	case d.kind == jArray:
		for i := range d.kids {
			text.WriteString(d.kids[i].s)
			text.WriteByte('\n')
		}
	case d.kind == jString:
		text.WriteString(d.s)
	}
	if text.Len() == 0 {
		text.WriteString(r.root.peek("Message"))
		text.WriteString(w.data.peek("param3"))
	}
	return kvLines(text.String(), "=")
}

// kvLines reads "Key<sep>Value" lines (PowerShell ContextInfo and classic event details).
func kvLines(s, sep string) map[string]string {
	if s == "" {
		return nil
	}
	m := make(map[string]string, 8)
	for line := range strings.Lines(s) {
		k, v, ok := strings.Cut(line, sep)
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k != "" && v != "" {
			if _, dup := m[k]; !dup {
				m[k] = v
			}
		}
	}
	return m
}

func mapWindowsGeneric(r *record, w *winRec) {
	ev := r.ev
	if w.has("SubjectUserName") {
		ev.User = subject(w)
	}
	if w.has("Image") {
		setProcess(r, w, "")
		if cl := w.f("CommandLine"); cl != "" {
			ev.Process.CommandLine = cl
		}
	}
	switch w.eid {
	case 1116, 1117, 1006, 1015:
		if strings.EqualFold(w.channel, "Microsoft-Windows-Windows Defender/Operational") {
			ev.Class, ev.Activity = event.ClassFinding, "create"
			fd := ensure(&ev.Finding)
			fd.Tool = "defender"
			fd.Title = w.f("Threat Name")
			fd.RuleID = w.f("Threat ID")
			fd.Category = w.f("Category Name")
			if s := w.f("Severity Name"); s != "" {
				ev.Severity = severityWord(s)
			}
			if u := w.f("Detection User"); u != "" {
				d, n := splitUser(u)
				ev.User = &event.User{Name: n, Domain: d}
			}
			if p := w.f("Process Name"); p != "" {
				process(ev).Path = p
				ev.Process.Name = baseName(p)
			}
		}
	}
}
