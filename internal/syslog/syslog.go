// Package syslog decodes syslog messages and syslog TCP streams. It sits at the very front of
// vigil's pipeline: the syslog listeners (UDP, TCP, TLS) and the file importer hand it raw bytes,
// and the ingest stage turns each Message into an event. Payload decoders such as package cef then
// read Message.Message.
//
// Parse auto-detects RFC 5424 and RFC 3164 (BSD) lines and is as lenient as real devices need: a
// missing PRI, ISO-8601 timestamps in BSD-style lines, space-padded days, absent hostnames, Cisco
// sequence numbers and '*'-prefixed timestamps, NILVALUE everywhere. Reader splits a TCP stream into
// frames as RFC 6587 describes, choosing octet counting or non-transparent framing per frame.
//
// Nothing here panics on input. Parse errors are *ParseError values naming the field and the byte
// offset; framing errors are *FrameError values naming the stream offset.
package syslog

import (
	"strconv"
	"time"
)

// Format says which syslog dialect a line was read as.
type Format uint8

// The formats Parse recognizes.
const (
	// FormatUnknown means the line was not recognized as syslog; only Raw and Message (and the
	// priority, when a valid PRI led the line) are set. Parse returns it only when Lenient is set.
	FormatUnknown Format = iota
	// FormatRFC3164 is the BSD format and its many real-world variations.
	FormatRFC3164
	// FormatRFC5424 is the IETF syslog protocol.
	FormatRFC5424
)

// String returns "rfc3164", "rfc5424" or "unknown".
func (f Format) String() string {
	switch f {
	case FormatRFC3164:
		return "rfc3164"
	case FormatRFC5424:
		return "rfc5424"
	}
	return "unknown"
}

// Facility is the syslog facility, the PRI value divided by 8.
type Facility uint8

// The facilities of RFC 5424 section 6.2.1.
const (
	FacilityKern Facility = iota
	FacilityUser
	FacilityMail
	FacilityDaemon
	FacilityAuth
	FacilitySyslog
	FacilityLPR
	FacilityNews
	FacilityUUCP
	FacilityCron
	FacilityAuthPriv
	FacilityFTP
	FacilityNTP
	FacilitySecurity
	FacilityConsole
	FacilitySolarisCron
	FacilityLocal0
	FacilityLocal1
	FacilityLocal2
	FacilityLocal3
	FacilityLocal4
	FacilityLocal5
	FacilityLocal6
	FacilityLocal7
)

var facilityNames = [...]string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
	"ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

// String returns the conventional facility keyword, such as "auth" or "local4".
func (f Facility) String() string {
	if int(f) < len(facilityNames) {
		return facilityNames[f]
	}
	return "facility" + strconv.Itoa(int(f))
}

// Severity is the syslog severity, the PRI value modulo 8. Lower is more severe.
type Severity uint8

// The severities of RFC 5424 section 6.2.1.
const (
	SeverityEmerg Severity = iota
	SeverityAlert
	SeverityCrit
	SeverityErr
	SeverityWarning
	SeverityNotice
	SeverityInfo
	SeverityDebug
)

var severityNames = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// String returns the conventional severity keyword, such as "err" or "info".
func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return "severity" + strconv.Itoa(int(s))
}

// Priority is a decoded PRI: the facility and the severity.
type Priority struct {
	Facility Facility
	Severity Severity
}

// Value returns the PRI number, Facility*8 + Severity.
func (p Priority) Value() int { return int(p.Facility)*8 + int(p.Severity) }

// String returns "facility.severity", such as "auth.info".
func (p Priority) String() string { return p.Facility.String() + "." + p.Severity.String() }

// DefaultPriority is user.notice (13), the priority RFC 3164 section 4.3.3 tells a relay to assume
// for a message that arrives without one.
var DefaultPriority = Priority{Facility: FacilityUser, Severity: SeverityNotice}

// SDParam is one SD-PARAM of an RFC 5424 structured data element, with its value unescaped.
type SDParam struct {
	Name  string
	Value string
}

// SDElement is one RFC 5424 SD-ELEMENT: an SD-ID and its parameters in the order they were sent.
type SDElement struct {
	ID     string
	Params []SDParam
}

// Message is one decoded syslog message. Fields the line did not carry, or carried as the RFC 5424
// NILVALUE "-", are empty. The string fields share the memory of Raw, except SD-PARAM values that
// needed unescaping.
type Message struct {
	// Format is the dialect the line was read as.
	Format Format
	// Priority is the decoded PRI. When the line had none, HasPriority is false and Priority is
	// DefaultPriority.
	Priority    Priority
	HasPriority bool
	// Version is the RFC 5424 VERSION, 0 for other formats.
	Version int
	// Timestamp is when the sender says the event happened; the zero Time when the line had none.
	// BSD timestamps without a year get the year that puts them nearest the parser's reference time.
	Timestamp time.Time
	// Hostname is the HOSTNAME field.
	Hostname string
	// AppName is the RFC 5424 APP-NAME or the RFC 3164 TAG (without the "[pid]" and the colon).
	AppName string
	// ProcID is the RFC 5424 PROCID or the "[pid]" of an RFC 3164 TAG.
	ProcID string
	// MsgID is the RFC 5424 MSGID.
	MsgID string
	// StructuredData holds the RFC 5424 SD-ELEMENTs in the order they were sent.
	StructuredData []SDElement
	// Message is the MSG part, without a leading UTF-8 byte order mark.
	Message string
	// Raw is the whole line as given, less trailing CR, LF and NUL bytes.
	Raw string
}

// Param returns the value of the SD-PARAM name inside the first SD-ELEMENT with the given ID.
func (m *Message) Param(id, name string) (string, bool) {
	for i := range m.StructuredData {
		el := &m.StructuredData[i]
		if el.ID != id {
			continue
		}
		for _, p := range el.Params {
			if p.Name == name {
				return p.Value, true
			}
		}
	}
	return "", false
}
