package intel

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// feedReader gathers one feed's indicators and errors.
type feedReader struct {
	src  Source
	file string // names the feed in errors
	now  time.Time
	ctx  context.Context

	b       builder
	errs    []error
	entries int // entries read
	skipped int // well-formed entries that are not indicators the store can look up
	// csvLineBase is the number of lines before the CSV reader's first.
	csvLineBase int
}

// entry counts an entry and, every so often, checks the context.
func (fr *feedReader) entry() error {
	fr.entries++
	if fr.entries%loadCheckEvery == 0 {
		return fr.ctx.Err()
	}
	return nil
}

func (fr *feedReader) fail(entry string, err error) {
	fr.errs = append(fr.errs, &EntryError{File: fr.file, Entry: entry, Err: err})
}

// finish applies the source's defaults to an indicator: its name, default confidence and TTL.
func (fr *feedReader) finish(ind *Indicator) {
	ind.Source = fr.src.Name
	if ind.Confidence == 0 {
		ind.Confidence = fr.src.Confidence
	}
	if ind.ValidUntil.IsZero() && fr.src.TTL > 0 {
		base := ind.LastSeen
		if ind.ValidFrom.After(base) {
			base = ind.ValidFrom
		}
		if base.IsZero() {
			base = fr.now
		}
		ind.ValidUntil = base.Add(fr.src.TTL)
	}
}

// addValue adds a single-value indicator.
func (fr *feedReader) addValue(ind Indicator, v value) {
	ind.Type, ind.Value = v.typ, v.text
	ind.Subdomains = v.typ == TypeDomain && (v.subdomains || fr.src.Subdomains)
	fr.finish(&ind)
	fr.b.add(ind, nil)
}

// addPattern adds a STIX pattern indicator: as plain values when the pattern is a list of
// values, as a pattern otherwise. It reports false when the pattern has no comparison the store
// can evaluate.
func (fr *feedReader) addPattern(ind Indicator, p *Pattern) bool {
	for _, q := range p.Qualifiers() {
		ind.Notes = append(ind.Notes, "qualifier "+q+" not evaluated")
	}
	terms, scan := p.termsOf()
	if len(terms) == 0 && scan == 0 {
		return false
	}
	if p.plainValues() {
		for i, v := range terms {
			if slices.ContainsFunc(terms[:i], func(o value) bool { return o.typ == v.typ && o.text == v.text }) {
				continue // the same value written twice ('A.example' OR 'a.example')
			}
			fr.addValue(ind, v)
		}
		return true
	}
	ind.Type, ind.Value = TypePattern, ""
	fr.finish(&ind)
	fr.b.add(ind, p)
	return true
}

// parseTime reads the time forms feeds use: RFC 3339, "2006-01-02 15:04:05", dates, Unix
// seconds or milliseconds. Times without a zone are UTC.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if isDigits(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, malformedf("time %q out of range", clip(s))
		}
		switch {
		case len(s) == 8 && s[0] != '0' && n > 19000000: // 20170516
			if t, err := time.Parse("20060102", s); err == nil {
				return t, nil
			}
		case len(s) >= 13: // milliseconds
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Unix(n, 0).UTC(), nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, malformedf("unrecognised time %q", clip(s))
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04",
	"2006-01-02",
	"2006/01/02 15:04:05",
	"2006/01/02",
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// parseConfidence reads a 0-100 confidence; a fraction (0.85) is scaled.
func parseConfidence(s string) (int, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 100 {
		return 0, malformedf("confidence %q is not 0-100", clip(s))
	}
	if f > 0 && f < 1 || (f == 1 && strings.Contains(s, ".")) {
		f *= 100
	}
	return int(f + 0.5), nil
}

// slot says which part of a (possibly composite, "a|b") value holds an indicator of a type; an
// empty type means an address told from its shape.
type slot struct {
	part int
	typ  Type
}

const typeAddr Type = "" // in a slot: IPv4 or IPv6, told from the value

// typeSlots maps a feed's type name (STIX, MISP or usual CSV names) to the slots its value
// holds. known is false for names the store does not know; an empty slots list with known true
// means a type that is not an indicator the store can look up (a file name, a registry key).
func typeSlots(name string) (slots []slot, known bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "ipv4-addr", "ipv6-addr", "ipv4", "ipv6", "ip", "ip-src", "ip-dst", "ip:port", "ip_address",
		"ipaddress", "ip-src|port", "ip-dst|port", "cidr", "netblock":
		return []slot{{0, typeAddr}}, true
	case "domain-name", "domain", "hostname", "fqdn", "host", "hostname|port":
		return []slot{{0, TypeDomain}}, true
	case "domain|ip":
		return []slot{{0, TypeDomain}, {1, typeAddr}}, true
	case "url":
		return []slot{{0, TypeURL}}, true
	case "email-addr", "email", "email-src", "email-dst", "email-reply-to", "whois-registrant-email":
		return []slot{{0, TypeEmail}}, true
	case "md5", "md5_hash", "hash-md5":
		return []slot{{0, TypeMD5}}, true
	case "sha1", "sha1_hash", "sha-1", "hash-sha1":
		return []slot{{0, TypeSHA1}}, true
	case "sha256", "sha256_hash", "sha-256", "hash-sha256":
		return []slot{{0, TypeSHA256}}, true
	case "sha512", "sha512_hash", "sha-512":
		return []slot{{0, TypeSHA512}}, true
	case "filename|md5", "malware-sample":
		return []slot{{1, TypeMD5}}, true
	case "filename|sha1":
		return []slot{{1, TypeSHA1}}, true
	case "filename|sha256":
		return []slot{{1, TypeSHA256}}, true
	case "filename|sha512":
		return []slot{{1, TypeSHA512}}, true
	case "filename", "text", "comment", "other", "regkey", "regkey|value", "mutex", "uri", "link",
		"user-agent", "pattern-in-file", "pattern-in-memory", "yara", "sigma", "snort", "imphash",
		"ssdeep", "tlsh", "attachment", "named pipe", "port", "as", "btc", "x509-fingerprint-sha1",
		"x509-fingerprint-sha256", "x509-fingerprint-md5", "ja3-fingerprint-md5", "jarm-fingerprint",
		"vulnerability", "campaign-name", "threat-actor", "mime-type", "size-in-bytes", "counter",
		"datetime", "float", "whois-registrar", "whois-creation-date", "email-subject",
		"email-attachment", "email-body", "http-method", "windows-service-name", "process-state":
		return nil, true
	}
	return nil, false
}

// valuesOf reads the indicator values a typed (possibly composite) raw value holds.
func valuesOf(typeName, raw string, force Type) ([]value, error) {
	if typeName == "" {
		v, err := parseValue(force, refang(raw))
		if err != nil {
			return nil, err
		}
		return []value{v}, nil
	}
	slots, known := typeSlots(typeName)
	if !known {
		return nil, fmt.Errorf("%w %q", ErrUnknownType, clip(typeName))
	}
	parts := []string{raw}
	if strings.Contains(typeName, "|") {
		a, b, ok := strings.Cut(raw, "|")
		if !ok {
			return nil, malformedf("%s value %q has no '|'", typeName, clip(raw))
		}
		parts = []string{a, b}
	}
	var out []value
	for _, s := range slots {
		if s.part >= len(parts) {
			continue
		}
		text := refang(strings.TrimSpace(parts[s.part]))
		if s.typ == typeAddr {
			v, ok := parseAddrOrRange(text)
			if !ok {
				return nil, malformedf("%s value %q is not an address", typeName, clip(text))
			}
			out = append(out, v)
			continue
		}
		v, err := parseValue(s.typ, text)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
