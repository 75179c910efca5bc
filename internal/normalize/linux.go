package normalize

import (
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/syslog"
)

// Linux syslog lines (RFC 3164 and RFC 5424, via internal/syslog): auth.log/secure programs
// (sshd, sudo, su, login, useradd/usermod/userdel/groupadd/passwd/chpasswd, cron,
// systemd-logind, pam_unix in any program) become authentication, account, group, process and
// scheduled-job events; any other program a generic syslog event.

// syslogLine returns the syslog view of a text record, or nil when the line is not syslog.
// Year-less BSD timestamps are placed nearest Origin.Received when it is set.
func (r *record) syslogLine() *syslog.Message {
	if r.sysDone {
		return r.sys
	}
	r.sysDone = true
	if r.line == "" {
		return nil
	}
	p := syslog.Parser{Reference: r.in.Origin.Received}
	m, err := p.ParseString(r.line)
	if err != nil || m.Format == syslog.FormatUnknown {
		return nil
	}
	r.sys = &m
	return r.sys
}

// authPrograms are the programs whose lines make a linux_auth event, with their Sigma service.
var authPrograms = map[string]string{
	"sshd": "sshd", "sshd-session": "sshd", "sudo": "sudo", "su": "auth", "login": "auth",
	"useradd": "auth", "usermod": "auth", "userdel": "auth", "groupadd": "auth", "groupmod": "auth",
	"groupdel": "auth", "gpasswd": "auth", "passwd": "auth", "chpasswd": "auth", "chage": "auth",
	"chsh": "auth", "chfn": "auth", "newusers": "auth", "cron": "cron", "crond": "cron",
	"systemd-logind": "auth", "polkitd": "auth", "pkexec": "auth", "unix_chkpwd": "auth",
	"dbus-daemon": "", "gdm-password": "auth", "lightdm": "auth", "vsftpd": "vsftpd",
}

func programKey(app string) string {
	if i := strings.LastIndexByte(app, '/'); i >= 0 {
		app = app[i+1:]
	}
	return strings.ToLower(app)
}

func detectLinuxAuth(r *record) bool {
	m := r.syslogLine()
	if m == nil {
		return false
	}
	if svc, ok := authPrograms[programKey(m.AppName)]; ok && svc != "" {
		return true
	}
	return strings.Contains(m.Message, "pam_unix(")
}

func detectSyslog(r *record) bool { return r.syslogLine() != nil }

// syslogSeverity maps a syslog severity to an event severity.
func syslogSeverity(s syslog.Severity) event.Severity {
	switch {
	case s <= syslog.SeverityCrit:
		return event.SeverityCritical
	case s == syslog.SeverityErr:
		return event.SeverityHigh
	case s == syslog.SeverityWarning:
		return event.SeverityMedium
	}
	return event.SeverityInfo
}

// syslogBase maps the syslog header of a text record.
func syslogBase(r *record, m *syslog.Message) {
	ev := r.ev
	ev.Time = m.Timestamp
	if m.Hostname != "" {
		ev.Device = &event.Device{Hostname: m.Hostname}
		if ip := ipOf(m.Hostname); ip != "" {
			ev.Device = &event.Device{IP: ip}
		}
	}
	ev.Code = m.AppName
	ev.Message = m.Message
	if m.HasPriority {
		ev.Severity = syslogSeverity(m.Priority.Severity)
		r.setUnmapped("facility", m.Priority.Facility.String())
		r.setUnmapped("syslog_severity", m.Priority.Severity.String())
	}
	if m.AppName != "" || m.ProcID != "" {
		p := process(ev)
		p.Name = m.AppName
		p.PID, _ = strconv.ParseInt(m.ProcID, 10, 64)
		if p.PID == 0 && m.ProcID != "" {
			r.setUnmapped("procid", m.ProcID)
		}
	}
	r.setUnmapped("msgid", m.MsgID)
	for _, el := range m.StructuredData {
		for _, p := range el.Params {
			r.setUnmapped("sd."+el.ID+"."+p.Name, p.Value)
		}
		if len(el.Params) == 0 {
			r.setUnmapped("sd."+el.ID, "true")
		}
	}
}

func normalizeLinuxSyslog(r *record) error {
	m := r.syslogLine()
	ev := r.ev
	syslogBase(r, m)
	ev.Product = "linux"
	prog := programKey(m.AppName)
	svc, auth := authPrograms[prog]
	switch {
	case auth && svc != "":
		ev.Kind, ev.Service = "linux_auth", svc
	case strings.Contains(m.Message, "pam_unix("):
		ev.Kind, ev.Service = "linux_auth", "auth"
	default:
		ev.Kind, ev.Service = "linux_syslog", "syslog"
		switch prog {
		case "clamd", "freshclam", "clamav":
			ev.Service = "clamav"
		case "guacd", "guacamole":
			ev.Service = "guacamole"
		}
	}
	msg := m.Message
	switch {
	case strings.HasPrefix(msg, "pam_unix("):
		pamLine(r, msg)
	case prog == "sshd" || prog == "sshd-session":
		sshdLine(r, msg)
	case prog == "sudo":
		sudoLine(r, msg)
	case prog == "su":
		suLine(r, msg)
	case prog == "cron" || prog == "crond":
		cronLine(r, msg)
	case prog == "systemd-logind":
		logindLine(r, msg)
	case prog == "systemd":
		systemdLine(r, msg)
	case prog == "login":
		loginLine(r, msg)
	case ev.Kind == "linux_auth":
		accountLine(r, prog, msg)
	}
	return nil
}

// words returns the space-separated fields of s.
func words(s string) []string { return strings.Fields(s) }

// after returns the word after the first occurrence of word w in ws, or "".
func after(ws []string, w string) string {
	for i := 0; i+1 < len(ws); i++ {
		if ws[i] == w {
			return ws[i+1]
		}
	}
	return ""
}

// setSrc sets the source endpoint from an address and a port word.
func setSrc(ev *event.Event, addr, portWord string) {
	if endpointIP(&ev.Src, addr) {
		if p := port(portWord); p != 0 {
			ev.Src.Port = p
		}
	} else if h := clean(addr); h != "" && h != "?" {
		ensure(&ev.Src).Hostname = h
	}
}

func authEvent(ev *event.Event, activity, status, user string) {
	ev.Class, ev.Activity, ev.Status = event.ClassAuthentication, activity, status
	if user != "" {
		ev.User = &event.User{Name: user}
	}
}

// sshdLine maps OpenSSH server messages.
func sshdLine(r *record, msg string) {
	ev := r.ev
	ws := words(msg)
	if len(ws) == 0 {
		return
	}
	ensure(&ev.Auth).Protocol = "ssh"
	switch {
	case ws[0] == "Accepted" || ws[0] == "Failed" || (ws[0] == "Postponed" && len(ws) > 1):
		// Accepted|Failed METHOD for [invalid user] USER from ADDR port N ssh2[: KEY]
		status := pick(ws[0] == "Accepted", "success", "failure")
		if ws[0] == "Postponed" {
			status = ""
		}
		method := ""
		if len(ws) > 1 {
			method = ws[1]
		}
		user := after(ws, "for")
		if user == "invalid" && after(ws, "user") != "" {
			user = after(ws, "user")
			ev.StatusDetail = "invalid_user"
		}
		authEvent(ev, "logon", status, user)
		ev.Auth.Method = method
		setSrc(ev, after(ws, "from"), after(ws, "port"))
		if i := strings.Index(msg, ": "); i >= 0 && strings.Contains(msg[i:], "SHA256:") {
			r.setUnmapped("ssh_key", strings.TrimSpace(msg[i+2:]))
		}
	case ws[0] == "Invalid" && len(ws) > 2 && ws[1] == "user":
		// Invalid user USER from ADDR [port N]
		user := ws[2]
		if user == "from" {
			user = ""
		}
		authEvent(ev, "logon", "failure", user)
		ev.StatusDetail = "invalid_user"
		setSrc(ev, after(ws, "from"), after(ws, "port"))
	case ws[0] == "Disconnected" || ws[0] == "Connection" && len(ws) > 1 && ws[1] == "closed" || ws[0] == "Received" && len(ws) > 1 && ws[1] == "disconnect":
		// Disconnected from [invalid|authenticating] [user USER] ADDR port N
		// Connection closed by [invalid|authenticating] [user USER] ADDR port N [preauth]
		// Received disconnect from ADDR port N:11: ...
		authEvent(ev, "logoff", "", after(ws, "user"))
		addr := ""
		for i, w := range ws {
			if ipOf(w) != "" {
				addr = w
				if i+2 < len(ws) && ws[i+1] == "port" {
					setSrc(ev, addr, strings.SplitN(ws[i+2], ":", 2)[0])
				} else {
					setSrc(ev, addr, "")
				}
				break
			}
		}
		if strings.Contains(msg, "[preauth]") {
			ev.StatusDetail = "preauth"
		}
	case ws[0] == "Connection" && len(ws) > 1 && ws[1] == "from":
		// Connection from ADDR port N on ADDR port N
		ev.Class, ev.Activity = event.ClassNetwork, "open"
		ev.Auth = nil
		setSrc(ev, ws[2], after(ws, "port"))
		if on := after(ws, "on"); on != "" {
			endpointIP(&ev.Dst, on)
			if ev.Dst != nil {
				if i := strings.Index(msg, " on "); i >= 0 {
					if p := port(after(words(msg[i:]), "port")); p != 0 {
						ev.Dst.Port = p
					}
				}
			}
		}
	case strings.HasPrefix(msg, "error: maximum authentication attempts exceeded for"),
		strings.HasPrefix(msg, "Disconnecting authenticating user"), strings.HasPrefix(msg, "Disconnecting invalid user"):
		user := after(ws, "for")
		if user == "" {
			user = after(ws, "user")
		}
		if user == "invalid" {
			user = after(ws, "user")
		}
		authEvent(ev, "logon", "failure", user)
		ev.StatusDetail = "max_attempts"
		setSrc(ev, after(ws, "from"), after(ws, "port"))
		if ev.Src == nil {
			for i, w := range ws {
				if ipOf(w) != "" {
					setSrc(ev, w, after(ws[i:], "port"))
					break
				}
			}
		}
	case strings.HasPrefix(msg, "Did not receive identification string from"), strings.Contains(msg, "Bad protocol version identification"),
		strings.HasPrefix(msg, "banner exchange:"), strings.Contains(msg, "Unable to negotiate with"):
		authEvent(ev, "logon", "failure", "")
		ev.StatusDetail = "protocol_error"
		for i, w := range ws {
			if ipOf(w) != "" {
				setSrc(ev, w, after(ws[i:], "port"))
				break
			}
		}
	default:
		ev.Auth = nil
	}
}

// pamLine maps pam_unix(SERVICE:TYPE): ... messages of any program.
func pamLine(r *record, msg string) {
	ev := r.ev
	svcType, rest, _ := strings.Cut(strings.TrimPrefix(msg, "pam_unix("), "): ")
	service, _, _ := strings.Cut(svcType, ":")
	r.setUnmapped("pam_service", service)
	ws := words(rest)
	switch {
	case strings.HasPrefix(rest, "session opened for user"):
		// session opened for user USER[(uid=N)] [by LOGIN(uid=N)]
		user := trimUID(after(ws, "user"))
		by := trimUID(after(ws, "by"))
		if service == "sudo" || service == "su" || service == "su-l" || service == "pkexec" {
			ev.Class, ev.Activity, ev.Status = event.ClassAuthorize, "assign_privileges", "success"
			if by != "" {
				ev.User = &event.User{Name: by}
				ev.TargetUser = &event.User{Name: user}
			} else {
				ev.User = &event.User{Name: user}
			}
			ensure(&ev.Auth).Elevated = user == "root"
		} else {
			authEvent(ev, "logon", "success", user)
			if by != "" && by != user {
				ev.TargetUser = ev.User
				ev.User = &event.User{Name: by}
			}
			ensure(&ev.Auth).Method = "pam"
		}
	case strings.HasPrefix(rest, "session closed for user"):
		authEvent(ev, "logoff", "success", trimUID(after(ws, "user")))
	case strings.HasPrefix(rest, "authentication failure;"):
		// authentication failure; logname=X uid=N euid=N tty=T ruser=R rhost=H  user=U
		kv := kvWords(rest)
		authEvent(ev, "logon", "failure", kv["user"])
		if ev.User == nil && kv["ruser"] != "" {
			ev.User = &event.User{Name: kv["ruser"]}
		}
		if h := kv["rhost"]; h != "" {
			setSrc(ev, h, "")
		}
		if kv["logname"] != "" && kv["logname"] != kv["user"] && ev.User != nil {
			ev.TargetUser = ev.User
			ev.User = &event.User{Name: kv["logname"]}
		}
		for _, k := range [...]string{"tty", "uid", "euid"} {
			r.setUnmapped(k, kv[k])
		}
	case strings.HasPrefix(rest, "password changed for"):
		ev.Class, ev.Activity, ev.Status = event.ClassAccountChange, "password_change", "success"
		ev.TargetUser = &event.User{Name: after(ws, "for")}
	case strings.HasPrefix(rest, "check pass; user unknown"):
		authEvent(ev, "logon", "failure", "")
		ev.StatusDetail = "invalid_user"
	}
	if ev.Auth != nil && ev.Auth.Method == "" {
		ev.Auth.Method = "pam"
	}
}

// trimUID removes a "(uid=N)" suffix.
func trimUID(s string) string {
	if i := strings.IndexByte(s, '('); i > 0 {
		return s[:i]
	}
	if strings.HasPrefix(s, "(uid=") {
		return ""
	}
	return s
}

// kvWords reads "k=v" words (values without spaces).
func kvWords(s string) map[string]string {
	m := map[string]string{}
	for _, w := range strings.Fields(strings.ReplaceAll(s, ";", " ")) {
		if k, v, ok := strings.Cut(w, "="); ok && v != "" {
			m[k] = v
		}
	}
	return m
}

// sudoLine maps "USER : TTY=pts/0 ; PWD=/home/u ; USER=root ; COMMAND=/bin/ls -l" and its
// failure variants ("3 incorrect password attempts", "user NOT in sudoers").
func sudoLine(r *record, msg string) {
	ev := r.ev
	user, rest, ok := strings.Cut(msg, " : ")
	if !ok {
		return
	}
	user = strings.TrimSpace(user)
	if strings.ContainsAny(user, " =") {
		return
	}
	fields := map[string]string{}
	var notes []string
	for part := range strings.SplitSeq(rest, " ; ") {
		part = strings.TrimSpace(part)
		k, v, ok := strings.Cut(part, "=")
		if ok && k != "" && !strings.Contains(k, " ") {
			fields[k] = v
		} else if part != "" {
			notes = append(notes, part)
		}
	}
	ev.Class, ev.Activity = event.ClassProcess, "launch"
	ev.User = &event.User{Name: user}
	target := fields["USER"]
	if target == "" {
		target = "root"
	}
	ev.TargetUser = &event.User{Name: target}
	a := ensure(&ev.Auth)
	a.Elevated = target == "root"
	a.Method = "sudo"
	if cmd := fields["COMMAND"]; cmd != "" {
		// The command run; sudo itself becomes the parent.
		p := &event.Process{CommandLine: cmd, Path: exeOf(cmd), User: target, Parent: ev.Process}
		p.Name = baseName(p.Path)
		ev.Process = p
	}
	r.setUnmapped("tty", fields["TTY"])
	r.setUnmapped("pwd", fields["PWD"])
	r.setUnmapped("group", fields["GROUP"])
	ev.Status = "success"
	if len(notes) > 0 {
		ev.Status, ev.StatusDetail = "failure", strings.Join(notes, "; ")
		ev.Class, ev.Activity = event.ClassAuthentication, "logon"
	}
}

// suLine maps su messages: "(to root) bob on pts/0", "Successful su for root by bob",
// "FAILED su for root by bob", "+ pts/0 bob:root", "- pts/0 bob:root".
func suLine(r *record, msg string) {
	ev := r.ev
	ws := words(msg)
	switch {
	case strings.HasPrefix(msg, "(to "):
		authEvent(ev, "logon", "success", "")
		if len(ws) > 2 {
			ev.User = &event.User{Name: ws[2]}
		}
		if len(ws) > 1 {
			ev.TargetUser = &event.User{Name: strings.TrimSuffix(ws[1], ")")}
		}
	case strings.HasPrefix(msg, "Successful su for"), strings.HasPrefix(msg, "FAILED su for"):
		authEvent(ev, "logon", pick(ws[0] == "Successful", "success", "failure"), after(ws, "by"))
		ev.TargetUser = &event.User{Name: after(ws, "for")}
	case (strings.HasPrefix(msg, "+ ") || strings.HasPrefix(msg, "- ")) && len(ws) == 3:
		from, to, ok := strings.Cut(ws[2], ":")
		if ok {
			authEvent(ev, "logon", pick(ws[0] == "+", "success", "failure"), from)
			ev.TargetUser = &event.User{Name: to}
		}
	}
	if ev.TargetUser != nil && ev.TargetUser.Name == "root" {
		ensure(&ev.Auth).Elevated = true
	}
}

// cronLine maps "(USER) CMD (command)".
func cronLine(r *record, msg string) {
	ev := r.ev
	if !strings.HasPrefix(msg, "(") {
		return
	}
	user, rest, ok := strings.Cut(msg[1:], ") ")
	if !ok {
		return
	}
	verb, arg, _ := strings.Cut(rest, " ")
	arg = strings.TrimSuffix(strings.TrimPrefix(arg, "("), ")")
	ev.Class = event.ClassScheduledJob
	ev.User = &event.User{Name: user}
	switch verb {
	case "CMD":
		ev.Activity = "run"
		// The job's command; the cron process that ran it becomes the parent.
		cron := ev.Process
		p := &event.Process{CommandLine: arg, Path: exeOf(arg), User: user, Parent: cron}
		p.Name = baseName(p.Path)
		ev.Process = p
	case "REPLACE", "RELOAD", "BEGIN", "END", "LIST", "DELETE":
		ev.Activity = map[string]string{"REPLACE": "update", "RELOAD": "update", "BEGIN": "update", "END": "update", "LIST": "read", "DELETE": "delete"}[verb]
		r.setUnmapped("crontab_action", verb)
	}
}

// logindLine maps systemd-logind sessions.
func logindLine(r *record, msg string) {
	ev := r.ev
	ws := words(msg)
	switch {
	case strings.HasPrefix(msg, "New session"):
		// New session 5 of user bob.
		authEvent(ev, "logon", "success", strings.TrimSuffix(after(ws, "user"), "."))
		if len(ws) > 2 {
			ensure(&ev.Auth).LogonID = strings.TrimSuffix(ws[2], ".")
		}
	case strings.HasPrefix(msg, "Removed session"), strings.HasPrefix(msg, "Session ") && strings.Contains(msg, "logged out"):
		authEvent(ev, "logoff", "success", "")
		if len(ws) > 2 {
			id := ws[1]
			if ws[0] == "Removed" {
				id = ws[2]
			}
			ensure(&ev.Auth).LogonID = strings.TrimSuffix(id, ".")
		}
	}
}

// systemdLine maps unit start/stop messages.
func systemdLine(r *record, msg string) {
	ev := r.ev
	switch {
	case strings.HasPrefix(msg, "Started "), strings.HasPrefix(msg, "Starting "):
		ev.Class, ev.Activity = event.ClassService, "start"
	case strings.HasPrefix(msg, "Stopped "), strings.HasPrefix(msg, "Stopping "):
		ev.Class, ev.Activity = event.ClassService, "stop"
	case strings.HasPrefix(msg, "Failed to start "), strings.Contains(msg, ": Failed with result"), strings.Contains(msg, "Main process exited, code="):
		ev.Class, ev.Activity, ev.Status = event.ClassService, "start", "failure"
	case strings.HasPrefix(msg, "Reloaded "), strings.HasPrefix(msg, "Reloading "):
		ev.Class, ev.Activity = event.ClassService, "update"
	default:
		return
	}
	unit := msg[strings.IndexByte(msg, ' ')+1:]
	unit = strings.TrimPrefix(unit, "start ")
	if i := strings.Index(unit, ": "); i >= 0 && strings.Contains(unit[:i], ".") {
		unit = unit[:i]
	}
	r.setUnmapped("unit", strings.TrimSuffix(unit, "."))
}

// loginLine maps login(1) messages.
func loginLine(r *record, msg string) {
	ev := r.ev
	switch {
	case strings.HasPrefix(msg, "FAILED LOGIN"):
		// FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication failure
		user := ""
		if i := strings.Index(msg, "FOR '"); i >= 0 {
			user, _, _ = strings.Cut(msg[i+5:], "'")
		}
		authEvent(ev, "logon", "failure", user)
	case strings.HasPrefix(msg, "ROOT LOGIN"):
		authEvent(ev, "logon", "success", "root")
	}
}

// accountLine maps shadow-utils messages (useradd, usermod, userdel, groupadd, passwd, chage...).
func accountLine(r *record, prog, msg string) {
	ev := r.ev
	set := func(class event.Class, activity, target string) {
		ev.Class, ev.Activity, ev.Status = class, activity, "success"
		if target != "" {
			ev.TargetUser = &event.User{Name: target}
		}
	}
	quoted := func(s string) []string {
		var out []string
		for {
			i := strings.IndexByte(s, '\'')
			if i < 0 {
				return out
			}
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return out
			}
			out = append(out, s[i+1:i+1+j])
			s = s[i+j+2:]
		}
	}
	kv := func(s string) map[string]string {
		m := map[string]string{}
		for part := range strings.SplitSeq(s, ",") {
			if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok {
				m[k] = v
			}
		}
		return m
	}
	q := quoted(msg)
	switch {
	case strings.HasPrefix(msg, "new user:"):
		f := kv(strings.TrimPrefix(msg, "new user:"))
		set(event.ClassAccountChange, "create", f["name"])
		if ev.TargetUser != nil {
			ev.TargetUser.UID = f["UID"]
		}
		r.setUnmapped("home", f["home"])
		r.setUnmapped("shell", f["shell"])
	case strings.HasPrefix(msg, "new group:"), strings.HasPrefix(msg, "group added to"):
		f := kv(msg[strings.IndexByte(msg, ':')+1:])
		set(event.ClassGroup, "create", "")
		r.setUnmapped("group", f["name"])
	case strings.HasPrefix(msg, "add '") && strings.Contains(msg, "to group") && len(q) >= 2,
		strings.HasPrefix(msg, "add '") && strings.Contains(msg, "to shadow group") && len(q) >= 2:
		set(event.ClassGroup, "add_user", q[0])
		r.setUnmapped("group", q[1])
	case strings.HasPrefix(msg, "delete '") && strings.Contains(msg, "from group") && len(q) >= 2:
		set(event.ClassGroup, "remove_user", q[0])
		r.setUnmapped("group", q[1])
	case strings.HasPrefix(msg, "delete user") && len(q) >= 1:
		set(event.ClassAccountChange, "delete", q[0])
	case strings.HasPrefix(msg, "removed group") && len(q) >= 1, strings.HasPrefix(msg, "group '") && strings.Contains(msg, "removed"):
		set(event.ClassGroup, "delete", "")
		r.setUnmapped("group", q[0])
	case strings.HasPrefix(msg, "change user") && strings.Contains(msg, "password") && len(q) >= 1,
		strings.HasPrefix(msg, "password for") && strings.Contains(msg, "changed"):
		target := ""
		if len(q) > 0 {
			target = q[0]
		} else {
			target = after(words(msg), "for")
		}
		set(event.ClassAccountChange, "password_change", target)
	case strings.HasPrefix(msg, "lock user") && len(q) >= 1:
		set(event.ClassAccountChange, "lock", q[0])
	case strings.HasPrefix(msg, "unlock user") && len(q) >= 1:
		set(event.ClassAccountChange, "unlock", q[0])
	case strings.HasPrefix(msg, "change user") && len(q) >= 1, strings.HasPrefix(msg, "changed user") && len(q) >= 1:
		set(event.ClassAccountChange, "update", q[0])
	case prog == "passwd" || prog == "chpasswd" || prog == "chage":
		if strings.Contains(msg, "changed") {
			set(event.ClassAccountChange, "password_change", after(words(msg), "for"))
		}
	}
}

func normalizeText(r *record) error {
	r.ev.Message = r.line
	return nil
}
