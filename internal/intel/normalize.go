package intel

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"
)

// value is a normalised value: its type, its canonical text, and for addresses the address or
// range.
type value struct {
	typ    Type
	text   string
	addr   netip.Addr   // valid for a single address
	prefix netip.Prefix // valid for a range (more than one address)
	// subdomains: a domain written "*.example.com" or ".example.com".
	subdomains bool
}

func (v value) isRange() bool { return v.prefix.IsValid() }

// ensureText fills in the text of an address parsed for a lookup, which leaves it out until a
// match needs it (formatting an address allocates).
func (v *value) ensureText() {
	if v.text == "" && v.addr.IsValid() {
		v.text = v.addr.String()
	}
}

// mayBeAddr reports whether s could be an address, an address and port, or a range: parsing
// one that cannot be costs an error allocation.
func mayBeAddr(s string) bool {
	if strings.IndexByte(s, ':') >= 0 {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && c != '.' && c != '/' {
			return false
		}
	}
	return s != ""
}

var refangReplacer = strings.NewReplacer("[.]", ".", "(.)", ".", "{.}", ".", "[dot]", ".", "(dot)", ".",
	"[:]", ":", "[://]", "://", "[@]", "@", "(@)", "@", "[at]", "@")

// refang undoes the usual defanging of indicators in reports and feeds.
func refang(s string) string {
	if strings.ContainsAny(s, "[({") {
		s = refangReplacer.Replace(s)
	}
	if len(s) > 4 && (s[0] == 'h' || s[0] == 'H' || s[0] == 'f' || s[0] == 'F') {
		low := strings.ToLower(s[:min(len(s), 8)])
		for _, p := range [...]struct{ from, to string }{{"hxxps://", "https://"}, {"hxxp://", "http://"}, {"fxp://", "ftp://"}} {
			if strings.HasPrefix(low, p.from) {
				return p.to + s[len(p.from):]
			}
		}
	}
	return s
}

// parseValue normalises s as a value of type t; an empty t means tell the type from s.
func parseValue(t Type, s string) (value, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return value{}, malformedf("empty value")
	}
	switch t {
	case "":
		return detectValue(s)
	case TypeIPv4, TypeIPv6:
		v, ok := parseAddrOrRange(s)
		if !ok || v.typ != t {
			return value{}, malformedf("%q is not an %s value", clip(s), t)
		}
		return v, nil
	case TypeDomain:
		d, sub, ok := normDomain(s)
		if !ok {
			return value{}, malformedf("%q is not a domain name", clip(s))
		}
		return value{typ: TypeDomain, text: d, subdomains: sub}, nil
	case TypeURL:
		u, ok := normURL(s)
		if !ok {
			return value{}, malformedf("%q is not a URL", clip(s))
		}
		return value{typ: TypeURL, text: u}, nil
	case TypeEmail:
		e, ok := normEmail(s)
		if !ok {
			return value{}, malformedf("%q is not an e-mail address", clip(s))
		}
		return value{typ: TypeEmail, text: e}, nil
	case TypeMD5, TypeSHA1, TypeSHA256, TypeSHA512:
		h, ok := normHash(s)
		if !ok || hashType(len(h)) != t {
			return value{}, malformedf("%q is not an %s hash", clip(s), t)
		}
		return value{typ: t, text: h}, nil
	}
	return value{}, fmt.Errorf("%w: %q", ErrUnknownType, t)
}

// detectValue tells the type of s from its shape and normalises it.
func detectValue(s string) (value, error) {
	s = strings.TrimSpace(s)
	if !mayBeAddr(s) {
		// not an address
	} else if v, ok := parseAddrOrRange(s); ok {
		return v, nil
	}
	if a, bits, ok := strings.Cut(s, "/"); ok && isDigits(bits) {
		if _, err := netip.ParseAddr(a); err == nil {
			return value{}, malformedf("%q is not an address range", clip(s))
		}
	}
	if h, ok := normHash(s); ok {
		if t := hashType(len(h)); t != "" {
			return value{typ: t, text: h}, nil
		}
	}
	if strings.Contains(s, "://") {
		if u, ok := normURL(s); ok {
			return value{typ: TypeURL, text: u}, nil
		}
		return value{}, malformedf("%q is not a URL", clip(s))
	}
	if strings.Contains(s, "@") && !strings.Contains(s, "/") {
		if e, ok := normEmail(s); ok {
			return value{typ: TypeEmail, text: e}, nil
		}
		return value{}, malformedf("%q is not an e-mail address", clip(s))
	}
	if strings.Contains(s, "/") {
		// "evil.example/path": a URL without its scheme.
		if u, ok := normURL(s); ok {
			return value{typ: TypeURL, text: u}, nil
		}
	}
	if d, sub, ok := normDomain(s); ok && strings.Contains(d, ".") {
		return value{typ: TypeDomain, text: d, subdomains: sub}, nil
	}
	return value{}, fmt.Errorf("%w: cannot tell the type of %q", ErrUnknownType, clip(s))
}

// parseAddrOrRange reads an address ("192.0.2.1", "[2001:db8::1]", "192.0.2.1:443") or a
// range ("192.0.2.0/24"). A range of one address is that address.
func parseAddrOrRange(s string) (value, bool) {
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return value{}, false
		}
		a := p.Addr()
		if a.Zone() != "" {
			return value{}, false
		}
		if a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		if p.IsSingleIP() {
			return addrValue(p.Addr()), true
		}
		t := TypeIPv4
		if p.Addr().Is6() {
			t = TypeIPv6
		}
		return value{typ: t, text: p.String(), prefix: p}, true
	}
	a, ok := parseAddr(s)
	if !ok {
		return value{}, false
	}
	return addrValue(a), true
}

func addrValue(a netip.Addr) value {
	t := TypeIPv4
	if a.Is6() {
		t = TypeIPv6
	}
	return value{typ: t, text: a.String(), addr: a}
}

// parseAddr reads an address, with or without brackets or a port; the zone is dropped and an
// IPv4-mapped address unmapped.
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(s)
		if err2 != nil {
			if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
				a, err = netip.ParseAddr(s[1 : len(s)-1])
			}
			if err != nil {
				return netip.Addr{}, false
			}
		} else {
			a = ap.Addr()
		}
	}
	return a.WithZone("").Unmap(), true
}

// normDomain lower-cases a domain name and drops its trailing dot. A leading "*." or "." asks
// for subdomains.
func normDomain(s string) (d string, subdomains, ok bool) {
	if strings.HasPrefix(s, "*.") {
		s, subdomains = s[2:], true
	} else if strings.HasPrefix(s, ".") {
		s, subdomains = s[1:], true
	}
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 || s[len(s)-1] == '.' {
		return "", false, false
	}
	lower := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.':
			if i == 0 || s[i-1] == '.' {
				return "", false, false
			}
		case c >= 'A' && c <= 'Z':
			lower = false
		case c >= 0x80:
			lower = false // internationalised names: lower-cased as Unicode
		default:
			return "", false, false
		}
	}
	if isDigits(s[strings.LastIndexByte(s, '.')+1:]) {
		return "", false, false // a top-level domain is never numeric: "198.51.100.300"
	}
	if !lower {
		if !utf8.ValidString(s) {
			return "", false, false
		}
		s = strings.ToLower(s)
		if len(s) > 253 {
			return "", false, false
		}
	}
	return s, subdomains, true
}

// normEmail lower-cases an e-mail address and normalises its domain.
func normEmail(s string) (string, bool) {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", false
	}
	local := s[:at]
	if strings.ContainsAny(local, " \t\r\n<>@") || !utf8.ValidString(local) {
		return "", false
	}
	d, sub, ok := normDomain(s[at+1:])
	if !ok || sub {
		return "", false
	}
	return strings.ToLower(local) + "@" + d, true
}

// normHash lower-cases a hex digest.
func normHash(s string) (string, bool) {
	if hashType(len(s)) == "" {
		return "", false
	}
	lower := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			lower = false
		default:
			return "", false
		}
	}
	if !lower {
		s = strings.ToLower(s)
	}
	return s, true
}

func hashType(n int) Type {
	switch n {
	case 32:
		return TypeMD5
	case 40:
		return TypeSHA1
	case 64:
		return TypeSHA256
	case 128:
		return TypeSHA512
	}
	return ""
}

var defaultPorts = map[string]string{"http": "80", "https": "443", "ftp": "21", "ws": "80", "wss": "443"}

// normURL normalises a URL: lower-case scheme and host, host normalised as a domain or
// address, default port dropped, percent-encoding canonical, empty path "/", fragment dropped.
// A URL without a scheme is taken as http.
func normURL(s string) (string, bool) {
	if strings.ContainsAny(s, " \t\r\n") {
		return "", false
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Opaque != "" || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	host, ok := normHost(u.Hostname())
	if !ok {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(scheme)
	b.WriteString("://")
	if u.User != nil {
		b.WriteString(u.User.String())
		b.WriteByte('@')
	}
	b.WriteString(host)
	if p := u.Port(); p != "" && p != defaultPorts[scheme] {
		b.WriteByte(':')
		b.WriteString(p)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	writeCanonicalEscapes(&b, path)
	if u.RawQuery != "" {
		b.WriteByte('?')
		writeCanonicalEscapes(&b, u.RawQuery)
	}
	return b.String(), true
}

// normHost normalises a URL's host: an address in canonical form (IPv6 in brackets), else a
// domain name.
func normHost(h string) (string, bool) {
	if a, err := netip.ParseAddr(h); err == nil {
		a = a.WithZone("").Unmap()
		if a.Is6() {
			return "[" + a.String() + "]", true
		}
		return a.String(), true
	}
	d, sub, ok := normDomain(h)
	if !ok || sub {
		return "", false
	}
	return d, true
}

// urlHost returns the host part of a normalised URL, without brackets.
func urlHost(u string) string {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.IndexByte(rest, ']'); i > 0 {
			return rest[1:i]
		}
		return ""
	}
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// writeCanonicalEscapes copies s, decoding percent-escapes of unreserved characters and
// upper-casing the hex digits of the others (RFC 3986 section 6.2.2).
func writeCanonicalEscapes(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			d := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(d) {
				b.WriteByte(d)
			} else {
				b.WriteByte('%')
				b.WriteByte(upperHex(s[i+1]))
				b.WriteByte(upperHex(s[i+2]))
			}
			i += 2
			continue
		}
		b.WriteByte(c)
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func upperHex(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
