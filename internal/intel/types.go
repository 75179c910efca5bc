package intel

import (
	"time"
)

// Type is the kind of value an indicator is about.
type Type string

// The indicator types the store indexes. TypePattern is a STIX pattern that is more than a list
// of values (LIKE, MATCHES, AND, NOT, …); it is evaluated against the looked-up value.
const (
	TypeIPv4    Type = "ipv4-addr"
	TypeIPv6    Type = "ipv6-addr"
	TypeDomain  Type = "domain-name"
	TypeURL     Type = "url"
	TypeEmail   Type = "email-addr"
	TypeMD5     Type = "md5"
	TypeSHA1    Type = "sha1"
	TypeSHA256  Type = "sha256"
	TypeSHA512  Type = "sha512"
	TypePattern Type = "stix-pattern"
)

// valueTypes lists the types a looked-up value can have, in a fixed order.
var valueTypes = []Type{TypeIPv4, TypeIPv6, TypeDomain, TypeURL, TypeEmail, TypeMD5, TypeSHA1, TypeSHA256, TypeSHA512}

// How says how a looked-up value matched an indicator.
type How string

// The ways a value matches.
const (
	// HowExact: the indicator's value is the looked-up value.
	HowExact How = "exact"
	// HowRange: the indicator is a CIDR range holding the looked-up address.
	HowRange How = "range"
	// HowSubdomain: the indicator is a parent domain whose subdomains it covers.
	HowSubdomain How = "subdomain"
	// HowHost: the looked-up value is a URL whose host (domain or address) is an indicator.
	HowHost How = "host"
	// HowPattern: a STIX pattern evaluated against the looked-up value held.
	HowPattern How = "pattern"
)

// Format is a feed format.
type Format string

// The feed formats Load reads.
const (
	FormatSTIX    Format = "stix"
	FormatMISP    Format = "misp"
	FormatMISPCSV Format = "misp-csv"
	FormatCSV     Format = "csv"
	FormatList    Format = "list"
)

// Source is one feed: a file the user configured, and how to read it.
type Source struct {
	// Name identifies the feed in matches, stats and snapshots. Required and unique: loading a
	// source again replaces everything the store held under its name.
	Name string
	// Path is the feed file. A ".gz" file (or gzip content) is decompressed on the fly.
	Path string
	// Format of the file; empty means tell from the file name and content.
	Format Format
	// TTL is how long an indicator stays valid after it was last seen (or became valid) when
	// the feed gives no end of validity itself. Zero means such indicators do not expire.
	TTL time.Duration
	// Confidence (0-100) is given to indicators whose feed states none. Zero means not stated.
	Confidence int
	// Subdomains makes every domain indicator of this feed match its subdomains too. A single
	// entry can ask for it by being written "*.example.com" or ".example.com".
	Subdomains bool
	// IncludeNonIDS loads MISP attributes whose to_ids flag is off; by default they are
	// skipped, as MISP's own exports for detection do.
	IncludeNonIDS bool
	// Type forces the type of every value of a list or CSV feed without a type column. Empty
	// means tell each value's type from the value.
	Type Type
	// CSV says how to read a CSV feed.
	CSV CSVOptions
}

// CSVOptions map a CSV feed's columns. A column is named by its header ("dst_ip") or by its
// 1-based number ("2"). A header is the first row, or, as abuse.ch writes it, the last comment
// line before the data ("# first_seen_utc,dst_ip,…").
type CSVOptions struct {
	// Comma separates fields; zero means ','.
	Comma rune
	// Comment starts a comment line; empty means "#".
	Comment string
	// Header says the first row (or last comment line) names the columns. It is implied when a
	// column is named by header.
	Header bool
	// Value is the indicator's column. Empty means the first column whose header is a usual
	// one (value, ioc, ioc_value, indicator, url, dst_ip, ip, domain, …), else column 1.
	Value string
	// Type is a column holding the value's type (STIX, MISP or usual names such as "ip:port",
	// "sha256_hash"); empty means Source.Type or tell the type from the value.
	Type string
	// FirstSeen, LastSeen and Expires are time columns (RFC 3339, "2006-01-02 15:04:05",
	// dates, or Unix seconds).
	FirstSeen, LastSeen, Expires string
	// Confidence is a 0-100 column.
	Confidence string
	// Name, Description, Malware and Tags are free-text columns shown with a match. Tags may
	// hold several tags separated by commas.
	Name, Description, Malware, Tags string
}

// Indicator is one indicator held by the store: a single value, or a STIX pattern evaluated on
// lookup. Indicators are values; the store never hands out pointers into itself.
type Indicator struct {
	// Source is the name of the feed that supplied the indicator.
	Source string `json:"source"`
	// ID is the feed's identifier: a STIX id, a MISP attribute uuid, or "line N".
	ID string `json:"id,omitempty"`
	// Type is the value's type, or TypePattern.
	Type Type `json:"type"`
	// Value is the normalised value ("198.51.100.0/24" for a range); for TypePattern, empty.
	Value string `json:"value,omitempty"`
	// Subdomains: a domain indicator that also matches every subdomain.
	Subdomains bool `json:"subdomains,omitempty"`
	// Pattern is the STIX pattern the indicator came from, if any.
	Pattern string `json:"pattern,omitempty"`
	// Name and Description are the feed's words: a STIX name, a MISP event's info and the
	// attribute's comment, a CSV column.
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Confidence is 0-100; 0 means not stated.
	Confidence int `json:"confidence,omitempty"`
	// Labels are STIX labels and indicator_types, MISP tags, CSV tags.
	Labels []string `json:"labels,omitempty"`
	// ThreatLevel is a MISP event's threat level: "high", "medium", "low" or "undefined".
	ThreatLevel string `json:"threat_level,omitempty"`
	// Malware and Actors name what the indicator points to: through STIX relationships
	// ("indicates", "uses", "attributed-to", "authored-by"), MISP galaxies and tags, CSV
	// columns.
	Malware []string `json:"malware,omitempty"`
	Actors  []string `json:"actors,omitempty"`
	// Related lists every STIX object the indicator was linked to, with the path of
	// relationships that led there.
	Related []Related `json:"related,omitempty"`
	// CreatedBy is the producer: a STIX identity's name (or its id), a MISP event's creator
	// organisation.
	CreatedBy  string              `json:"created_by,omitempty"`
	KillChain  []KillChainPhase    `json:"kill_chain,omitempty"`
	References []ExternalReference `json:"references,omitempty"`
	// ValidFrom is when the indicator became valid (zero: always was). LastSeen is when a feed
	// last vouched for it. ValidUntil is when it stops being valid (zero: never); from the feed
	// or from the source's TTL.
	ValidFrom  time.Time `json:"valid_from,omitzero"`
	LastSeen   time.Time `json:"last_seen,omitzero"`
	ValidUntil time.Time `json:"valid_until,omitzero"`
	// Revoked indicators never match.
	Revoked bool `json:"revoked,omitempty"`
	// Notes say what the loader left out, such as STIX qualifiers it does not evaluate.
	Notes []string `json:"notes,omitempty"`
}

// Active reports whether the indicator may match at time at.
func (ind *Indicator) Active(at time.Time) bool {
	if ind.Revoked {
		return false
	}
	if !ind.ValidFrom.IsZero() && at.Before(ind.ValidFrom) {
		return false
	}
	return ind.ValidUntil.IsZero() || at.Before(ind.ValidUntil)
}

// Related is a STIX object an indicator is linked to.
type Related struct {
	// ID and Type of the object ("malware--…", "malware").
	ID   string `json:"id"`
	Type string `json:"type"`
	// Name is the object's name.
	Name string `json:"name,omitempty"`
	// Via is the chain of relationships from the indicator: "indicates", "indicates/uses".
	Via string `json:"via"`
}

// KillChainPhase is a STIX kill chain phase.
type KillChainPhase struct {
	KillChain string `json:"kill_chain_name"`
	Phase     string `json:"phase_name"`
}

// ExternalReference is a STIX external reference.
type ExternalReference struct {
	SourceName  string `json:"source_name,omitempty"`
	URL         string `json:"url,omitempty"`
	ExternalID  string `json:"external_id,omitempty"`
	Description string `json:"description,omitempty"`
}

// Sighting is one indicator's part in a Match: which source listed the value, and what it
// said.
type Sighting struct {
	Indicator
	// Partial: the indicator is a STIX pattern whose other conditions (another property, another
	// observation) a single value cannot show; the value satisfied its part.
	Partial bool `json:"partial,omitempty"`
}

// Match is what the store knows of a looked-up value under one indicator value: every source
// that lists it, merged.
type Match struct {
	// Type and Value of the indicator that matched: the looked-up value itself for an exact
	// match, the range for HowRange, the parent domain for HowSubdomain, the URL's host for
	// HowHost, the STIX pattern for HowPattern.
	Type  Type   `json:"type"`
	Value string `json:"value"`
	How   How    `json:"how"`
	// Confidence is the highest of the sightings'.
	Confidence int `json:"confidence,omitempty"`
	// Name and Description are those of the most confident sighting that has them.
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Malware and Actors gather the sightings'.
	Malware []string `json:"malware,omitempty"`
	Actors  []string `json:"actors,omitempty"`
	// ValidFrom is the earliest start of the sightings' windows, ValidUntil the latest end
	// (zero when one of them has none).
	ValidFrom  time.Time `json:"valid_from,omitzero"`
	ValidUntil time.Time `json:"valid_until,omitzero"`
	// Partial: every sighting is partial.
	Partial bool `json:"partial,omitempty"`
	// Sightings, one per indicator, in source-name order.
	Sightings []Sighting `json:"sightings"`
}

// Sources lists the names of the sources that list the match's value, without repeats.
func (m *Match) Sources() []string {
	var out []string
	for _, s := range m.Sightings {
		if !contains(out, s.Source) {
			out = append(out, s.Source)
		}
	}
	return out
}

// Stats counts one source's indicators.
type Stats struct {
	// Source and Format of the feed, and when it was loaded.
	Source   string    `json:"source"`
	Format   Format    `json:"format,omitempty"`
	Path     string    `json:"path,omitempty"`
	LoadedAt time.Time `json:"loaded_at,omitzero"`
	// Entries read from the feed (objects, attributes, rows, lines); filled by Load only.
	Entries int `json:"entries,omitempty"`
	// Indicators held, and how many of each type.
	Indicators int          `json:"indicators"`
	ByType     map[Type]int `json:"by_type,omitempty"`
	// Skipped entries are well-formed but not indicators the store can look up (a MISP
	// "filename" attribute, a YARA-typed STIX indicator, …); filled by Load only.
	Skipped int `json:"skipped,omitempty"`
	// Errors are entries that could not be loaded; filled by Load only.
	Errors int `json:"errors,omitempty"`
	// Revoked and Expired indicators held (until Prune removes them). Expired is counted at
	// the store's clock.
	Revoked int `json:"revoked,omitempty"`
	Expired int `json:"expired,omitempty"`
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// appendUnique appends the strings of add not yet in list.
func appendUnique(list []string, add ...string) []string {
	for _, s := range add {
		if s != "" && !contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}
