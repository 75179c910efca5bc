package normalize

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// Helpers shared by the normalizers: value cleaning, times, addresses, users, hashes and the
// observables every event gets.

// clean returns s without surrounding space, or "" for the placeholders sources use for "no
// value" ("-", "N/A", "null", "(null)").
func clean(s string) string {
	s = strings.TrimSpace(s)
	switch s {
	case "-", "N/A", "n/a", "null", "(null)", "NULL", "None":
		return ""
	}
	return s
}

// ipOf returns the canonical text of an IP address (IPv4-mapped IPv6 unmapped, zone kept), or
// "" when s is not one. A trailing ":port" on an IPv4 address and "[v6]:port" are accepted.
func ipOf(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || s == "-" {
		return ""
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(s)
		if err2 != nil {
			return ""
		}
		a = ap.Addr()
	}
	return a.Unmap().String()
}

// splitHostPort splits "1.2.3.4:5", "[::1]:5" or a bare address into an IP and a port.
func splitHostPort(s string) (string, int) {
	s = strings.TrimSpace(s)
	if ip := ipOf(s); ip != "" {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			return ip, int(ap.Port())
		}
		return ip, 0
	}
	return "", 0
}

// port parses a port number, 0 when s is not one.
func port(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 65535 {
		return 0
	}
	return n
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// atoi64 parses a decimal or 0x-hexadecimal integer, 0 when s is not one.
func atoi64(s string) int64 {
	v, _ := parseInt(s)
	return v
}

// endpointIP sets the IP of *ep (creating it) when s is an address, and reports whether it was.
func endpointIP(ep **event.Endpoint, s string) bool {
	ip := ipOf(s)
	if ip == "" {
		return false
	}
	if *ep == nil {
		*ep = &event.Endpoint{}
	}
	(*ep).IP = ip
	return true
}

// ensure returns *p, allocating it when nil.
func ensure[T any](p **T) *T {
	if *p == nil {
		*p = new(T)
	}
	return *p
}

// Time layouts, chosen by shape in parseTime so that the hot path makes one time.Parse call.
const (
	layoutT       = "2006-01-02T15:04:05"
	layoutTZ      = "2006-01-02T15:04:05Z07:00"
	layoutTNum    = "2006-01-02T15:04:05-0700"
	layoutSp      = "2006-01-02 15:04:05"
	layoutSpZ     = "2006-01-02 15:04:05Z07:00"
	layoutSpNum   = "2006-01-02 15:04:05-0700"
	layoutSpSpNum = "2006-01-02 15:04:05 -0700"
)

// ParseTime reads the time formats the supported sources use: RFC 3339 with or without a zone
// (no zone means UTC), "2006-01-02 15:04:05[.fff]", numeric zones without a colon
// (Wazuh, Suricata), epoch seconds or milliseconds (optionally fractional), and the
// "Jan _2 2006 15:04:05" and "02/Jan/2006:15:04:05 -0700" forms of CEF and web logs.
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if t, ok := parseUTC(s); ok {
		return t, true
	}
	return parseTimeLayouts(s)
}

// parseUTC reads the commonest form quickly, without time.Parse: "2006-01-02T15:04:05Z" (or a
// space for the T) with a fraction of up to nine digits, as Windows renderings and most JSON
// sources write it. ok is false for anything else, and for dates and times out of range,
// which parseTimeLayouts then reads or refuses as time.Parse does.
func parseUTC(s string) (t time.Time, ok bool) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return t, false
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day, hour, minute, sec := num(0, 4), num(5, 2), num(8, 2), num(11, 2), num(14, 2), num(17, 2)
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return t, false
	}
	if day > 28 && day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return t, false
	}
	ns := 0
	if frac := s[19 : len(s)-1]; frac != "" {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return t, false
		}
		if ns = num(20, len(frac)-1); ns < 0 {
			return t, false
		}
		for range 10 - len(frac) {
			ns *= 10
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, ns, time.UTC), true
}

// parseTimeLayouts reads the forms ParseTime reads with time.Parse and its layouts.
func parseTimeLayouts(s string) (time.Time, bool) {
	if len(s) < 8 {
		return time.Time{}, false
	}
	if isEpoch(s) {
		return parseEpoch(s)
	}
	if len(s) >= 19 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == ' ') {
		var layout string
		rest := s[19:]
		// Skip the fraction.
		i := 0
		if i < len(rest) && (rest[i] == '.' || rest[i] == ',') {
			i++
			for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
				i++
			}
		}
		zone := rest[i:]
		t := s[10] == 'T'
		switch {
		case zone == "":
			layout = pick(t, layoutT, layoutSp)
		case zone == "Z" || (len(zone) == 6 && zone[3] == ':'):
			layout = pick(t, layoutTZ, layoutSpZ)
		case len(zone) == 5 && (zone[0] == '+' || zone[0] == '-'):
			layout = pick(t, layoutTNum, layoutSpNum)
		case len(zone) == 6 && zone[0] == ' ' && (zone[1] == '+' || zone[1] == '-'):
			layout = layoutSpSpNum
		case strings.HasSuffix(zone, " UTC") || zone == " UTC" || zone == "UTC":
			s = strings.TrimSpace(strings.TrimSuffix(s, "UTC"))
			layout = pick(t, layoutT, layoutSp)
		default:
			return time.Time{}, false
		}
		if i > 0 && rest[0] == ',' {
			s = s[:19] + "." + s[20:]
		}
		v, err := time.Parse(layout, s)
		if err != nil {
			return time.Time{}, false
		}
		return v, true
	}
	for _, l := range otherLayouts {
		if v, err := time.Parse(l, s); err == nil {
			if v.Year() == 0 {
				v = v.AddDate(time.Now().UTC().Year(), 0, 0)
			}
			return v, true
		}
	}
	return time.Time{}, false
}

var otherLayouts = []string{
	"02/Jan/2006:15:04:05 -0700", // web access logs
	"Jan _2 2006 15:04:05.000 MST",
	"Jan _2 2006 15:04:05 MST",
	"Jan _2 2006 15:04:05.000",
	"Jan _2 2006 15:04:05",
	time.RFC1123Z,
	time.RFC1123,
	"01/02/2006 15:04:05",
	"2006/01/02 15:04:05",
}

func pick(t bool, a, b string) string {
	if t {
		return a
	}
	return b
}

func isEpoch(s string) bool {
	dot := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' && !dot && i > 0 {
			dot = true
			continue
		}
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseEpoch reads epoch seconds (up to 11 integer digits) or milliseconds (12 to 14).
func parseEpoch(s string) (time.Time, bool) {
	intPart, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	switch {
	case len(intPart) <= 11:
		var ns int64
		if frac != "" {
			if len(frac) > 9 {
				frac = frac[:9]
			}
			ns, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		}
		return time.Unix(n, ns).UTC(), true
	case len(intPart) <= 14:
		return time.UnixMilli(n).UTC(), true
	case len(intPart) <= 17:
		return time.UnixMicro(n).UTC(), true
	case len(intPart) <= 19:
		return time.Unix(0, n).UTC(), true
	}
	return time.Time{}, false
}

// setTime sets ev.Time from s when it parses, and reports whether it did.
func setTime(ev *event.Event, s string) bool {
	if t, ok := ParseTime(s); ok {
		ev.Time = t
		return true
	}
	return false
}

// timeOf parses the scalar n as a time and marks it used when it does.
func timeOf(n *node) (time.Time, bool) {
	if !n.scalar() {
		return time.Time{}, false
	}
	t, ok := ParseTime(n.s)
	if ok {
		n.used = true
	}
	return t, ok
}

// splitUser splits "DOMAIN\name" into domain and name; other forms are returned as the name.
func splitUser(s string) (domain, name string) {
	s = clean(s)
	if i := strings.IndexByte(s, '\\'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return "", s
}

// winUser builds a user from Windows name, domain and SID fields; nil when all are empty or
// placeholders (a NULL SID alone is not a user).
func winUser(name, domain, sid string) *event.User {
	name, domain, sid = clean(name), clean(domain), clean(sid)
	if sid == "S-1-0-0" { // the NULL SID: no account
		sid = ""
	}
	if name == "" && sid == "" {
		return nil
	}
	return &event.User{Name: name, Domain: domain, UID: sid}
}

// userKey is how a user appears in observables: "domain\name" for Windows-style accounts, the
// name (often a UPN or e-mail) otherwise.
func userKey(u *event.User) string {
	if u == nil {
		return ""
	}
	name := u.Name
	if name == "" {
		name = u.Email
	}
	if name == "" {
		return ""
	}
	if u.Domain != "" && !strings.Contains(name, "@") {
		return u.Domain + `\` + name
	}
	return name
}

// parseHashes reads Sysmon's "SHA1=...,MD5=...,SHA256=...,IMPHASH=..." (or a single bare
// hash) into lower-case algorithm → hex.
func parseHashes(s string) map[string]string {
	s = clean(s)
	if s == "" {
		return nil
	}
	var m map[string]string
	for part := range strings.SplitSeq(s, ",") {
		alg, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			if a := hashAlg(part); a != "" {
				alg, v = a, part
			} else {
				continue
			}
		}
		v = strings.TrimSpace(v)
		if v == "" || alg == "" {
			continue
		}
		if m == nil {
			m = make(map[string]string, 4)
		}
		m[strings.ToLower(strings.TrimSpace(alg))] = strings.ToLower(v)
	}
	return m
}

// hashAlg names a bare hex digest by its length.
func hashAlg(s string) string {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return ""
		}
	}
	switch len(s) {
	case 32:
		return "md5"
	case 40:
		return "sha1"
	case 64:
		return "sha256"
	}
	return ""
}

// baseName returns the last element of a Windows or Unix path.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// protoName maps IANA protocol numbers to names; names pass through lower-cased.
func protoName(s string) string {
	switch s = strings.ToLower(strings.TrimSpace(s)); s {
	case "6":
		return "tcp"
	case "17":
		return "udp"
	case "1":
		return "icmp"
	case "58":
		return "ipv6-icmp"
	case "47":
		return "gre"
	case "50":
		return "esp"
	}
	return s
}

// process returns ev.Process, creating it.
func process(ev *event.Event) *event.Process { return ensure(&ev.Process) }

// addObservable appends (typ, value) to ev.Observables unless it is empty or already there.
func addObservable(ev *event.Event, typ, value string) {
	if value == "" {
		return
	}
	for _, o := range ev.Observables {
		if o.Type == typ && o.Value == value {
			return
		}
	}
	ev.Observables = append(ev.Observables, event.Observable{Type: typ, Value: value})
}

// deriveObservables adds the indicator-like values of the typed facets to ev.Observables:
// addresses, host names, users, hashes, URLs and domains.
func deriveObservables(ev *event.Event) {
	if d := ev.Device; d != nil {
		addObservable(ev, "hostname", d.Hostname)
		addObservable(ev, "ip", d.IP)
	}
	for _, ep := range [...]*event.Endpoint{ev.Src, ev.Dst} {
		if ep != nil {
			addObservable(ev, "ip", ep.IP)
			addObservable(ev, "hostname", ep.Hostname)
		}
	}
	addObservable(ev, "user", userKey(ev.User))
	addObservable(ev, "user", userKey(ev.TargetUser))
	if u := ev.User; u != nil && u.Email != "" && u.Email != u.Name {
		addObservable(ev, "email", u.Email)
	}
	for p := ev.Process; p != nil; p = p.Parent {
		addHashes(ev, p.Hashes)
	}
	if f := ev.File; f != nil {
		addHashes(ev, f.Hashes)
	}
	if h := ev.HTTP; h != nil && strings.Contains(h.URL, "://") {
		addObservable(ev, "url", h.URL)
		if d := urlHost(h.URL); d != "" && ipOf(d) == "" {
			addObservable(ev, "domain", d)
		}
	}
	if d := ev.DNS; d != nil {
		addObservable(ev, "domain", strings.TrimSuffix(d.Query, "."))
		for _, a := range d.Answers {
			if ip := ipOf(a); ip != "" {
				addObservable(ev, "ip", ip)
			}
		}
	}
	if e := ev.Email; e != nil {
		addObservable(ev, "email", e.From)
		for _, to := range e.To {
			addObservable(ev, "email", to)
		}
	}
}

func addHashes(ev *event.Event, h map[string]string) {
	for _, alg := range [...]string{"md5", "sha1", "sha256", "imphash"} {
		addObservable(ev, "hash", h[alg])
	}
}

// urlHost returns the host of an absolute URL ("" for a path).
func urlHost(u string) string {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.IndexByte(rest, ']'); i > 0 {
			return rest[1:i]
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	return strings.ToLower(rest)
}

// severityWord maps vendor severity words and the syslog severity numbers 0-7 to a Severity.
func severityWord(s string) event.Severity {
	s = strings.ToLower(strings.TrimSpace(s))
	if v := event.ParseSeverity(s); v != event.SeverityUnknown {
		return v
	}
	switch s {
	case "warning", "warn":
		return event.SeverityMedium
	case "sev_info":
		return event.SeverityInfo
	}
	return event.SeverityUnknown
}
