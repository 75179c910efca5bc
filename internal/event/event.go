// Package event is vigil's shared vocabulary: the normalized event, the alert, the incident, the
// entity, the evidence item and the response action. Every pipeline stage speaks these types and
// nothing else, so stages never need to import each other. The package depends on the standard
// library only.
//
// The normalized event is shaped after OCSF (the Open Cybersecurity Schema Framework): a class with a
// numeric class_uid, an activity, and typed objects for the user, device, endpoints, process, file,
// network, HTTP, DNS, registry, cloud and authentication facets. Fields the normalizer could not map
// stay in Unmapped; the raw record is always kept beside the normalized form.
package event

import (
	"encoding/json"
	"time"
)

// Class is an OCSF event class name in snake_case.
type Class string

// The event classes vigil's normalizers produce, with their OCSF class_uid in ClassUID.
const (
	ClassUnknown        Class = "base_event"
	ClassFile           Class = "file_activity"
	ClassScheduledJob   Class = "scheduled_job_activity"
	ClassProcess        Class = "process_activity"
	ClassModule         Class = "module_activity"
	ClassRegistry       Class = "registry_activity"
	ClassKernel         Class = "kernel_activity"
	ClassAccountChange  Class = "account_change"
	ClassAuthentication Class = "authentication"
	ClassAuthorize      Class = "authorize_session"
	ClassGroup          Class = "group_management"
	ClassUserAccess     Class = "user_access"
	ClassNetwork        Class = "network_activity"
	ClassHTTP           Class = "http_activity"
	ClassDNS            Class = "dns_activity"
	ClassEmail          Class = "email_activity"
	ClassAPI            Class = "api_activity"
	ClassFinding        Class = "detection_finding"
	ClassService        Class = "service_activity"
	ClassLog            Class = "event_log_activity"
)

var classUIDs = map[Class]int{
	ClassUnknown:        0,
	ClassFile:           1001,
	ClassKernel:         1003,
	ClassScheduledJob:   1006,
	ClassProcess:        1007,
	ClassModule:         1005,
	ClassLog:            1008,
	ClassRegistry:       201001,
	ClassService:        201004,
	ClassAccountChange:  3001,
	ClassAuthentication: 3002,
	ClassAuthorize:      3003,
	ClassUserAccess:     3005,
	ClassGroup:          3006,
	ClassNetwork:        4001,
	ClassHTTP:           4002,
	ClassDNS:            4003,
	ClassEmail:          4009,
	ClassAPI:            6003,
	ClassFinding:        2004,
}

// UID returns the OCSF class_uid of c, or 0 when c is not known.
func (c Class) UID() int { return classUIDs[c] }

// Severity follows OCSF severity_id: 0 unknown, 1 informational, 2 low, 3 medium, 4 high,
// 5 critical.
type Severity int

// Severity levels.
const (
	SeverityUnknown Severity = iota
	SeverityInfo
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"unknown", "informational", "low", "medium", "high", "critical"}

// String returns the lower-case name of s.
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "unknown"
	}
	return severityNames[s]
}

// ParseSeverity maps a Sigma level or a common severity word to a Severity.
func ParseSeverity(s string) Severity {
	switch s {
	case "informational", "info", "information", "notice", "debug":
		return SeverityInfo
	case "low":
		return SeverityLow
	case "medium", "moderate", "warning", "warn":
		return SeverityMedium
	case "high", "error", "err":
		return SeverityHigh
	case "critical", "crit", "alert", "emergency", "emerg", "fatal":
		return SeverityCritical
	}
	return SeverityUnknown
}

// Origin is where a record came from: its provenance. It is part of every event and alert.
type Origin struct {
	// Source names the input: "http", "hec", "syslog-udp", "syslog-tcp", "file", "demo", ...
	Source string `json:"source"`
	// Format is the decoder that read the record: "json", "evtx", "cef", "syslog", "ait-ads", ...
	Format string `json:"format,omitempty"`
	// File is the path of the file the record was read from, when it came from a file.
	File string `json:"file,omitempty"`
	// Record is the 1-based position of the record in its file or request body.
	Record int64 `json:"record,omitempty"`
	// Offset is the byte offset of the record in its file or stream, when known.
	Offset int64 `json:"offset,omitempty"`
	// Peer is the remote address that sent the record (syslog, HTTP).
	Peer string `json:"peer,omitempty"`
	// Received is when vigil received the record.
	Received time.Time `json:"received"`
}

// Event is one normalized telemetry record. Pointer fields are nil when the record has no such
// facet. Raw always holds the record as received (JSON records verbatim; text records as a JSON
// string).
type Event struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Class    Class     `json:"class"`
	ClassUID int       `json:"class_uid"`
	// Activity is the OCSF activity in snake_case: "logon", "launch", "create", "open", ...
	Activity string `json:"activity,omitempty"`
	// Product, Service and Category are the Sigma logsource triple of the record
	// ("windows"/"security"/"", "windows"/"sysmon"/"process_creation", "aws"/"cloudtrail"/"").
	Product  string `json:"product,omitempty"`
	Service  string `json:"service,omitempty"`
	Category string `json:"category,omitempty"`
	// Kind names the normalizer that produced the event: "sysmon", "windows_security", "okta", ...
	Kind string `json:"kind"`
	// Code is the source's own event identifier: Windows EventID, CloudTrail eventName, Okta
	// eventType, syslog program, ...
	Code     string   `json:"code,omitempty"`
	Message  string   `json:"message,omitempty"`
	Severity Severity `json:"severity_id,omitempty"`
	// Status is "success", "failure" or empty.
	Status string `json:"status,omitempty"`
	// StatusDetail carries a failure reason or code when the source gives one.
	StatusDetail string `json:"status_detail,omitempty"`

	User       *User     `json:"user,omitempty"`        // the principal acting or authenticating
	TargetUser *User     `json:"target_user,omitempty"` // the account acted upon, when different
	Device     *Device   `json:"device,omitempty"`      // the host that reported or was acted on
	Src        *Endpoint `json:"src_endpoint,omitempty"`
	Dst        *Endpoint `json:"dst_endpoint,omitempty"`
	Process    *Process  `json:"process,omitempty"`
	File       *File     `json:"file,omitempty"`
	Network    *Network  `json:"connection_info,omitempty"`
	HTTP       *HTTP     `json:"http,omitempty"`
	DNS        *DNS      `json:"dns,omitempty"`
	Registry   *Registry `json:"registry,omitempty"`
	Cloud      *Cloud    `json:"cloud,omitempty"`
	Auth       *Auth     `json:"auth,omitempty"`
	Email      *Email    `json:"email,omitempty"`
	Finding    *Finding  `json:"finding,omitempty"`

	Observables []Observable `json:"observables,omitempty"`
	// Unmapped holds source fields the normalizer did not map, flattened to dotted names.
	Unmapped map[string]string `json:"unmapped,omitempty"`

	Origin Origin          `json:"origin"`
	Raw    json.RawMessage `json:"raw,omitempty"`
}

// User is an account. Name is the bare account name; Domain the Windows domain or identity
// realm; UID a SID, an IdP object ID or an ARN.
type User struct {
	Name   string `json:"name,omitempty"`
	Domain string `json:"domain,omitempty"`
	UID    string `json:"uid,omitempty"`
	Email  string `json:"email_addr,omitempty"`
	Type   string `json:"type,omitempty"` // "user", "admin", "service", "system", "IAMUser", ...
	// Session is a logon/session identifier (Windows LogonId, Okta session, AWS access key).
	Session string `json:"session_uid,omitempty"`
}

// Device is a host.
type Device struct {
	Hostname string `json:"hostname,omitempty"`
	IP       string `json:"ip,omitempty"`
	OS       string `json:"os,omitempty"`
	UID      string `json:"uid,omitempty"`
}

// Endpoint is one side of a network interaction.
type Endpoint struct {
	IP       string `json:"ip,omitempty"`
	Port     int    `json:"port,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	Country  string `json:"country,omitempty"`
	City     string `json:"city,omitempty"`
	// Lat and Lon are the geolocation when the source or a GeoIP database supplies one.
	Lat float64 `json:"lat,omitempty"`
	Lon float64 `json:"lon,omitempty"`
	// Agent is a client user agent or device description.
	Agent string `json:"agent,omitempty"`
}

// Process describes a running program.
type Process struct {
	PID         int64             `json:"pid,omitempty"`
	GUID        string            `json:"uid,omitempty"` // Sysmon ProcessGuid
	Name        string            `json:"name,omitempty"`
	Path        string            `json:"path,omitempty"`
	CommandLine string            `json:"cmd_line,omitempty"`
	User        string            `json:"user,omitempty"`
	Integrity   string            `json:"integrity,omitempty"`
	Hashes      map[string]string `json:"hashes,omitempty"` // "sha256" → hex
	Parent      *Process          `json:"parent_process,omitempty"`
}

// File is a file system object.
type File struct {
	Path   string            `json:"path,omitempty"`
	Name   string            `json:"name,omitempty"`
	Size   int64             `json:"size,omitempty"`
	Hashes map[string]string `json:"hashes,omitempty"`
	// Share is an SMB share name (5140/5145).
	Share string `json:"share,omitempty"`
}

// Network describes a connection.
type Network struct {
	Protocol  string `json:"protocol_name,omitempty"` // tcp, udp, icmp
	Direction string `json:"direction,omitempty"`     // inbound, outbound, lateral
	BytesIn   int64  `json:"bytes_in,omitempty"`
	BytesOut  int64  `json:"bytes_out,omitempty"`
	App       string `json:"app_protocol,omitempty"` // http, dns, smb, ...
}

// HTTP is an HTTP request and response.
type HTTP struct {
	Method    string `json:"http_method,omitempty"`
	URL       string `json:"url,omitempty"`
	Status    int    `json:"status_code,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	Referrer  string `json:"referrer,omitempty"`
	Bytes     int64  `json:"length,omitempty"`
}

// DNS is a DNS query and its answers.
type DNS struct {
	Query   string   `json:"query,omitempty"`
	Type    string   `json:"type,omitempty"`
	Answers []string `json:"answers,omitempty"`
	RCode   string   `json:"rcode,omitempty"`
}

// Registry is a Windows registry key or value.
type Registry struct {
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"`
	Data  string `json:"data,omitempty"`
}

// Cloud is the cloud or SaaS context of an API or identity event.
type Cloud struct {
	Provider  string `json:"provider,omitempty"` // aws, azure, okta, m365, gcp
	Region    string `json:"region,omitempty"`
	Account   string `json:"account_uid,omitempty"`
	Service   string `json:"service,omitempty"`   // eventSource, workload
	Operation string `json:"operation,omitempty"` // API name
	// Resource is the object operated on (bucket, app, mailbox, role).
	Resource string `json:"resource,omitempty"`
	// App is the OAuth client / application involved, when any.
	App string `json:"app,omitempty"`
	// AppID is the OAuth client / application ID.
	AppID string `json:"app_id,omitempty"`
	// Permissions lists scopes or permissions granted or used.
	Permissions []string `json:"permissions,omitempty"`
}

// Auth carries the authentication facet of a logon or sign-in.
type Auth struct {
	LogonType string `json:"logon_type,omitempty"` // Windows logon type number or a word
	LogonID   string `json:"logon_id,omitempty"`
	Protocol  string `json:"auth_protocol,omitempty"`
	MFA       *bool  `json:"is_mfa,omitempty"`
	Method    string `json:"method,omitempty"`
	Elevated  bool   `json:"is_elevated,omitempty"`
}

// Email is a mail message.
type Email struct {
	From    string   `json:"from,omitempty"`
	To      []string `json:"to,omitempty"`
	Subject string   `json:"subject,omitempty"`
	MsgID   string   `json:"message_uid,omitempty"`
}

// Finding is the detection facet of an event that is itself another tool's alert (Wazuh,
// Suricata, an EDR).
type Finding struct {
	Tool     string   `json:"tool,omitempty"`
	RuleID   string   `json:"rule_id,omitempty"`
	Title    string   `json:"title,omitempty"`
	Category string   `json:"category,omitempty"`
	Tags     []string `json:"tags,omitempty"`
}

// Observable is an indicator-like value seen in an event.
type Observable struct {
	Type  string `json:"type"` // ip, hostname, user, hash, url, domain, file, process, email
	Value string `json:"value"`
}
