package normalize

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// Linux audit records (audit.log, or audisp/auditd lines relayed by syslog):
//
//	[node=HOST ]type=TYPE msg=audit(EPOCH.MS:SERIAL): key=value key="value" msg='key=value ...'
//
// Untrusted strings are logged either quoted or hex-encoded (EXECVE arguments, proctitle,
// USER_CMD cmd, PATH name, acct); hex values are decoded. The ENRICHED log format's
// interpreted fields after the 0x1d separator (SYSCALL=execve AUID="bob" UID="root") are read
// too. Every key/value pair the mapping does not consume is kept in Unmapped under its audit
// name (a0, key, exe, comm, ...), the names Sigma's auditd rules use.

type auditKV struct {
	key, value string
	quoted     bool
	inner      bool // inside the msg='...' of a user-space record
	literal    bool // never hex-decode (SYSCALL's a0-a3 are register values)
	used       bool
}

type auditRec struct {
	typ    string
	node   string
	time   time.Time
	serial string
	kvs    []auditKV
}

// get returns the value of key (decoded when hex-encoded) and marks it used.
func (a *auditRec) get(key string) string {
	for i := range a.kvs {
		if kv := &a.kvs[i]; kv.key == key {
			kv.used = true
			return auditValue(kv)
		}
	}
	return ""
}

// peek returns the value of key without marking it used.
func (a *auditRec) peek(key string) string {
	for i := range a.kvs {
		if kv := &a.kvs[i]; kv.key == key {
			return auditValue(kv)
		}
	}
	return ""
}

// auditHexFields are the fields auditd hex-encodes when they hold untrusted characters.
var auditHexFields = map[string]bool{
	"proctitle": true, "cmd": true, "acct": true, "name": true, "comm": true, "exe": true,
	"cwd": true, "path": true, "data": true, "old-chardev": true, "new-chardev": true,
	"ocomm": true, "watch": true, "dir": true, "key": true, "vm": true, "grp": true,
	"new_group": true, "id": false,
}

// auditValue returns a value as logged, decoding unquoted hex for the string fields and the
// EXECVE arguments; "(null)" and "?" become "".
func auditValue(kv *auditKV) string {
	v := kv.value
	if kv.quoted || kv.literal {
		return v
	}
	if v == "(null)" || v == "?" || v == "(none)" {
		return ""
	}
	if (auditHexFields[kv.key] || isArgKey(kv.key)) && len(v) >= 2 && len(v)%2 == 0 && isHex(v) {
		if b, err := hex.DecodeString(v); err == nil {
			// proctitle and multi-part values separate arguments with NUL.
			return strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
		}
	}
	return v
}

// isArgKey reports whether k is an EXECVE argument key: a0, a1, ..., a2[0], a2_len.
func isArgKey(k string) bool {
	if len(k) < 2 || k[0] != 'a' {
		return false
	}
	for i := 1; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return k[i] == '[' && i > 1
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// parseAudit reads an audit record from s (which may hold a syslog header before it).
func parseAudit(s string) (*auditRec, bool) {
	i := strings.Index(s, "msg=audit(")
	if i < 0 {
		return nil, false
	}
	head := s[:i]
	t := strings.LastIndex(head, "type=")
	if t < 0 {
		return nil, false
	}
	rec := &auditRec{}
	if n := strings.LastIndex(head[:t], "node="); n >= 0 {
		rec.node = strings.TrimSpace(head[n+5 : t])
	}
	rec.typ = strings.TrimSpace(head[t+5:])
	if rec.typ == "" || strings.ContainsAny(rec.typ, " =") {
		return nil, false
	}
	rest := s[i+len("msg=audit("):]
	end := strings.IndexByte(rest, ')')
	if end < 0 {
		return nil, false
	}
	stamp := rest[:end]
	ts, serial, _ := strings.Cut(stamp, ":")
	rec.serial = serial
	if t, ok := parseEpoch(ts); ok {
		rec.time = t
	} else if t, err := time.Parse("01/02/2006 15:04:05.000", ts); err == nil {
		rec.time = t // ausearch -i
	}
	rest = strings.TrimLeft(rest[end+1:], " :")
	rec.kvs = parseAuditKVs(rest, rec.kvs, false)
	if rec.typ != "EXECVE" {
		for i := range rec.kvs {
			if isArgKey(rec.kvs[i].key) {
				rec.kvs[i].literal = true
			}
		}
	}
	return rec, true
}

// parseAuditKVs reads key=value pairs; the msg='...' of user-space records is read in place.
func parseAuditKVs(s string, out []auditKV, inner bool) []auditKV {
	for len(s) > 0 {
		// Skip separators: spaces and the ENRICHED format's 0x1d.
		for len(s) > 0 && (s[0] == ' ' || s[0] == '\x1d' || s[0] == '\t') {
			s = s[1:]
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return out
		}
		key := s[:eq]
		if strings.ContainsAny(key, " \x1d") {
			// A word without '=': skip it.
			sp := strings.IndexAny(s, " \x1d")
			s = s[sp:]
			continue
		}
		s = s[eq+1:]
		switch {
		case strings.HasPrefix(s, `"`):
			j := strings.IndexByte(s[1:], '"')
			if j < 0 {
				out = append(out, auditKV{key: key, value: s[1:], quoted: true, inner: inner})
				return out
			}
			out = append(out, auditKV{key: key, value: s[1 : j+1], quoted: true, inner: inner})
			s = s[j+2:]
		case strings.HasPrefix(s, `'`) && !inner:
			j := strings.IndexByte(s[1:], '\'')
			body := s[1:]
			if j >= 0 {
				body = s[1 : j+1]
				s = s[j+2:]
			} else {
				s = ""
			}
			out = parseAuditKVs(body, out, true)
		default:
			j := strings.IndexAny(s, " \x1d")
			if j < 0 {
				j = len(s)
			}
			out = append(out, auditKV{key: key, value: s[:j], inner: inner})
			s = s[j:]
		}
	}
	return out
}

// auditRecord returns the parsed audit view of a text record.
func (r *record) auditRecord() *auditRec {
	if r.line == "" || !strings.Contains(r.line, "msg=audit(") {
		return nil
	}
	rec, ok := parseAudit(r.line)
	if !ok {
		return nil
	}
	return rec
}

func detectAuditd(r *record) bool {
	return r.line != "" && strings.Contains(r.line, "msg=audit(") && strings.Contains(r.line, "type=")
}

// auditUnset is the audit login UID and session of a process without a login.
const auditUnset = "4294967295"

// x86-64 system call numbers of the calls detection cares about.
var syscallNames = map[string]string{
	"0": "read", "1": "write", "2": "open", "4": "stat", "9": "mmap", "10": "mprotect", "41": "socket",
	"42": "connect", "43": "accept", "44": "sendto", "49": "bind", "50": "listen", "56": "clone",
	"57": "fork", "58": "vfork", "59": "execve", "62": "kill", "82": "rename", "83": "mkdir",
	"84": "rmdir", "85": "creat", "86": "link", "87": "unlink", "88": "symlink", "90": "chmod",
	"91": "fchmod", "92": "chown", "101": "ptrace", "105": "setuid", "106": "setgid",
	"113": "setreuid", "117": "setresuid", "157": "prctl", "165": "mount", "166": "umount2",
	"175": "init_module", "176": "delete_module", "188": "setxattr", "257": "openat",
	"263": "unlinkat", "264": "renameat", "268": "fchmodat", "288": "accept4", "302": "prlimit64",
	"310": "process_vm_readv", "311": "process_vm_writev", "313": "finit_module", "316": "renameat2",
	"319": "memfd_create", "321": "bpf", "322": "execveat", "435": "clone3",
}

func normalizeAuditd(r *record) error {
	ev := r.ev
	rec := r.auditRecord()
	if rec == nil {
		return normalizeText(r)
	}
	ev.Kind, ev.Product, ev.Service = "auditd", "linux", "auditd"
	ev.Code = rec.typ
	ev.Time = rec.time
	if m := r.syslogLine(); m != nil {
		syslogBase(r, m)
		ev.Code, ev.Message, ev.Process = rec.typ, "", nil
		if ev.Time.IsZero() || !rec.time.IsZero() {
			ev.Time = rec.time
		}
	}
	if rec.node != "" {
		ev.Device = &event.Device{Hostname: rec.node}
	}
	r.setUnmapped("msg_serial", rec.serial)

	// The login user (auid) and session, common to kernel and user-space records.
	auid := rec.get("auid")
	if name := rec.get("AUID"); name != "" && name != "unset" {
		ev.User = &event.User{Name: name, UID: auid}
	} else if auid != "" && auid != auditUnset && auid != "-1" {
		ev.User = &event.User{UID: auid}
	}
	if ses := rec.get("ses"); ses != "" && ses != auditUnset && ses != "-1" {
		if ev.User != nil {
			ev.User.Session = ses
		}
		ensure(&ev.Auth).LogonID = ses
	}
	res := rec.get("res")
	if res == "" {
		res = rec.get("success")
	}
	switch res {
	case "success", "yes", "1":
		ev.Status = "success"
	case "failed", "no", "0":
		ev.Status = "failure"
	}

	switch typ := rec.typ; {
	case typ == "SYSCALL":
		auditProcess(rec, ev)
		sc := rec.get("SYSCALL")
		num := rec.get("syscall")
		if sc == "" {
			sc = syscallNames[num]
			if rec.peek("arch") != "" && rec.peek("arch") != "c000003e" {
				sc = "" // numbers are per architecture; only x86-64 is known here
			}
		}
		if sc == "" {
			sc = num
		}
		ev.Class, ev.Activity = event.ClassKernel, sc
		if sc == "execve" || sc == "execveat" {
			ev.Class, ev.Activity = event.ClassProcess, "launch"
		}
		if e := rec.get("exit"); e != "" && strings.HasPrefix(e, "-") {
			ev.StatusDetail = e
		}
	case typ == "EXECVE":
		ev.Class, ev.Activity = event.ClassProcess, "launch"
		// One pass over the pairs: aN goes to args[N] (argc bounded by the pairs present).
		n, _ := strconv.Atoi(rec.get("argc"))
		n = min(max(n, 0), len(rec.kvs))
		args := make([]string, n)
		for i := range rec.kvs {
			kv := &rec.kvs[i]
			if len(kv.key) < 2 || kv.key[0] != 'a' {
				continue
			}
			if j, err := strconv.Atoi(kv.key[1:]); err == nil && j >= 0 && j < n {
				args[j] = auditValue(kv)
			}
		}
		if len(args) > 0 {
			p := process(ev)
			p.CommandLine = strings.Join(args, " ")
			p.Name = baseName(args[0])
			if strings.HasPrefix(args[0], "/") {
				p.Path = args[0]
			}
		}
	case typ == "PROCTITLE":
		ev.Class, ev.Activity = event.ClassProcess, "launch"
		if t := rec.get("proctitle"); t != "" {
			p := process(ev)
			p.CommandLine = t
			p.Path = exeOf(t)
			p.Name = baseName(p.Path)
		}
	case typ == "PATH":
		ev.Class = event.ClassFile
		ev.Activity = map[string]string{"CREATE": "create", "DELETE": "delete", "NORMAL": "open", "PARENT": "open"}[rec.peek("nametype")]
		setFile(r, rec.get("name"))
	case typ == "CWD":
		ev.Class = event.ClassFile
	case typ == "SOCKADDR":
		ev.Class, ev.Activity = event.ClassNetwork, "open"
		if ip, p, ok := sockaddr(rec.peek("saddr")); ok {
			ev.Dst = &event.Endpoint{IP: ip, Port: p}
		}
	case typ == "USER_CMD":
		ev.Class, ev.Activity = event.ClassProcess, "launch"
		if cmd := rec.get("cmd"); cmd != "" {
			p := process(ev)
			p.CommandLine = cmd
			p.Path = exeOf(cmd)
			p.Name = baseName(p.Path)
			if exe := rec.get("exe"); exe != "" {
				p.Parent = &event.Process{Path: exe, Name: baseName(exe)}
			}
		}
		ensure(&ev.Auth).Elevated = rec.peek("uid") == "0" || rec.peek("UID") == "root"
	case strings.HasPrefix(typ, "USER_") && typ != "USER_AVC" || strings.HasPrefix(typ, "CRED_") || typ == "LOGIN":
		ev.Class = event.ClassAuthentication
		ev.Activity = "logon"
		switch typ {
		case "USER_LOGOUT", "USER_END", "CRED_DISP":
			ev.Activity = "logoff"
		case "USER_CHAUTHTOK":
			ev.Class, ev.Activity = event.ClassAccountChange, "password_change"
		case "USER_MGMT":
			ev.Class, ev.Activity = event.ClassAccountChange, "update"
		case "USER_ROLE_CHANGE":
			ev.Class, ev.Activity = event.ClassUserAccess, "assign_privileges"
		}
		acct := rec.get("acct")
		if acct == "" {
			acct = rec.get("ACCT")
		}
		switch {
		case acct == "":
		case ev.Class == event.ClassAuthentication:
			// The account authenticating is acct; the login UID that started it, if any, is
			// kept as auid.
			if ev.User != nil {
				r.setUnmapped("auid", ev.User.UID)
			}
			ev.User = &event.User{Name: acct}
		default:
			ev.TargetUser = &event.User{Name: acct}
		}
		auditClient(rec, ev)
		if exe := rec.get("exe"); exe != "" {
			p := process(ev)
			p.Path, p.Name = exe, baseName(exe)
		}
		if op := rec.peek("op"); op != "" {
			ensure(&ev.Auth).Method = op
		}
	case typ == "ADD_USER" || typ == "DEL_USER" || typ == "ACCT_LOCK" || typ == "ACCT_UNLOCK":
		ev.Class = event.ClassAccountChange
		ev.Activity = map[string]string{"ADD_USER": "create", "DEL_USER": "delete", "ACCT_LOCK": "lock", "ACCT_UNLOCK": "unlock"}[typ]
		auditTarget(rec, ev)
		auditClient(rec, ev)
	case typ == "ADD_GROUP" || typ == "DEL_GROUP" || typ == "GRP_MGMT" || typ == "GRP_CHAUTHTOK":
		ev.Class = event.ClassGroup
		ev.Activity = map[string]string{"ADD_GROUP": "create", "DEL_GROUP": "delete", "GRP_MGMT": "update", "GRP_CHAUTHTOK": "update"}[typ]
		auditClient(rec, ev)
	case typ == "SERVICE_START" || typ == "SERVICE_STOP":
		ev.Class, ev.Activity = event.ClassService, pick(typ == "SERVICE_START", "start", "stop")
	case typ == "CONFIG_CHANGE" || strings.HasPrefix(typ, "DAEMON_"):
		ev.Class, ev.Activity = event.ClassLog, "update"
	case strings.HasPrefix(typ, "ANOM_"):
		ev.Severity = event.SeverityMedium
		auditProcess(rec, ev)
	case typ == "AVC" || typ == "USER_AVC":
		ev.Activity = "deny"
		auditProcess(rec, ev)
	}

	// Everything else under its audit name.
	for i := range rec.kvs {
		kv := &rec.kvs[i]
		if !kv.used {
			if v := auditValue(kv); v != "" {
				r.setUnmapped(kv.key, v)
			}
		}
	}
	return nil
}

// auditProcess maps the process fields of a kernel record.
func auditProcess(rec *auditRec, ev *event.Event) {
	pid := atoi64(rec.get("pid"))
	exe := rec.get("exe")
	comm := rec.get("comm")
	if pid == 0 && exe == "" && comm == "" {
		return
	}
	p := process(ev)
	p.PID, p.Path, p.Name = pid, exe, comm
	if p.Name == "" {
		p.Name = baseName(exe)
	}
	if ppid := atoi64(rec.get("ppid")); ppid != 0 {
		p.Parent = &event.Process{PID: ppid}
	}
	if u := rec.get("UID"); u != "" {
		p.User = u
	} else if u := rec.get("uid"); u != "" {
		p.User = u
	}
	if euid := rec.peek("euid"); euid == "0" && p.User != "0" && p.User != "root" {
		ensure(&ev.Auth).Elevated = true
	}
}

// auditTarget maps the account acted upon by an account-management record.
func auditTarget(rec *auditRec, ev *event.Event) {
	acct := rec.get("acct")
	id := rec.get("id")
	if acct == "" && id == "" {
		return
	}
	ev.TargetUser = &event.User{Name: acct, UID: id}
}

// auditClient maps hostname/addr of a user-space record to the source endpoint.
func auditClient(rec *auditRec, ev *event.Event) {
	addr := rec.get("addr")
	host := rec.get("hostname")
	if endpointIP(&ev.Src, addr) {
		if host != "" && host != addr {
			ev.Src.Hostname = host
		}
	} else if host != "" {
		if ip := ipOf(host); ip != "" {
			ensure(&ev.Src).IP = ip
		} else {
			ensure(&ev.Src).Hostname = host
		}
	}
}

// sockaddr decodes an AF_INET or AF_INET6 saddr.
func sockaddr(s string) (string, int, bool) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) < 8 {
		return "", 0, false
	}
	fam := int(b[0]) | int(b[1])<<8
	p := int(b[2])<<8 | int(b[3])
	switch {
	case fam == 2 && len(b) >= 8:
		a := netip.AddrFrom4([4]byte(b[4:8]))
		return a.String(), p, true
	case fam == 10 && len(b) >= 24:
		a := netip.AddrFrom16([16]byte(b[8:24]))
		return a.Unmap().String(), p, true
	}
	return "", 0, false
}
